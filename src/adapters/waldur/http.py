"""Waldur's REST conventions over one injected :class:`httpx.Client`: pagination, field selection, retries.

- Listings ask for ``page_size=300`` (the server's cap) and follow ``Link: rel="next"`` to the end, taking only
  the ``page`` number from the link (behind a TLS-terminating proxy its scheme and host may be wrong).
- ``field=`` trims answers to what fedcore reads.
- Query parameters are given as pairs, so a parameter declared ``explode=true`` repeats its key
  (``state=OK&state=Creating``); a comma-style one is joined by the caller (:func:`comma`).
- Reads and idempotent writes are retried with exponential backoff and jitter (stamina), honouring
  ``Retry-After``; a write that creates something is never repeated blindly (recovery goes through the
  idempotency lookup). :class:`RetryPolicy.instant` makes retries immediate, for tests.
- Every failure leaves through :mod:`adapters.waldur.errors`.
- An optional :class:`CallObserver` hears of every attempt (its endpoint template, status or error class and
  duration) and of every retry: the runners' telemetry, without this module knowing about metrics.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TypeVar
from urllib.parse import parse_qs, urlsplit

import attrs
import httpx
import stamina
import stamina.instrumentation

from adapters.waldur.errors import InvalidResponse, RateLimited, from_exception, from_response
from fedcore.errors import PortError, TransientError

PAGE_SIZE = 300
"""Waldur's largest page (``max_page_size``)."""

log = logging.getLogger("adapters.waldur")

# stamina's default hook logs "stamina.retry_scheduled" without the call or the fault; WaldurHttp logs both itself.
stamina.instrumentation.set_on_retry_hooks([])

T = TypeVar("T")
Params = Sequence[tuple[str, str]]


_ID_SEGMENT = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}|[0-9]+")


def endpoint_template(path: str) -> str:
    """``path`` with every UUID segment replaced by ``{uuid}`` (and a numeric one by ``{id}``): a bounded name
    for a call, ``marketplace-orders/{uuid}/approve_by_provider/``."""
    segments = path.lstrip("/").split("/")
    return "/".join(
        ("{id}" if s.isdigit() else "{uuid}") if _ID_SEGMENT.fullmatch(s) else s for s in segments
    )


class CallObserver(Protocol):
    """Hears of every HTTP attempt and every retry (the runners' telemetry satisfies it)."""

    def api_call(self, server: str, method: str, endpoint: str, status: str, seconds: float) -> None:
        """One attempt ended: ``status`` is the HTTP status (``"200"``) or the transport error's class name."""
        ...

    def retry(self, server: str, endpoint: str) -> None:
        """A call is about to be attempted again after a passing fault."""
        ...


def comma(values: Iterable[str]) -> str:
    """One comma-joined value, for parameters declared ``style=form, explode=false``."""
    return ",".join(values)


@attrs.frozen
class RetryPolicy:
    """How transient failures of safe requests are retried: bounded attempts and time, exponential backoff.

    ``Retry-After`` from a 429 is honoured up to ``wait_max``.
    """

    attempts: int = 4
    timeout: float = 30.0
    wait_initial: float = 0.2
    wait_max: float = 5.0
    wait_jitter: float = 0.5

    @classmethod
    def instant(cls, attempts: int = 4) -> RetryPolicy:
        """The same number of attempts with no waiting at all (tests)."""
        return cls(attempts=attempts, timeout=0.0, wait_initial=0.0, wait_max=0.0, wait_jitter=0.0)

    @classmethod
    def never(cls) -> RetryPolicy:
        """One attempt only."""
        return cls(attempts=1)

    def _hook(self, exc: Exception) -> bool | float:
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return min(exc.retry_after, self.wait_max)
        return isinstance(exc, TransientError)

    def call(self, attempt: Callable[[], T]) -> T:
        """``attempt()`` until it succeeds, fails for good, or the attempts or time run out."""
        if self.attempts <= 1:
            return attempt()
        for retrying in stamina.retry_context(
            on=self._hook,
            attempts=self.attempts,
            timeout=self.timeout or None,
            wait_initial=self.wait_initial,
            wait_max=self.wait_max,
            wait_jitter=self.wait_jitter,
        ):
            with retrying:
                return attempt()
        raise AssertionError("unreachable: stamina re-raises the last failure")  # pragma: no cover


class WaldurHttp:
    """One Waldur's REST API as seen by one token. ``side`` ("A" or "B") names it in every error.

    ``observer`` (optional) hears of every attempt and retry, with the server named ``server`` (the side unless
    given).
    """

    def __init__(
        self,
        client: httpx.Client,
        *,
        side: str,
        retry: RetryPolicy | None = None,
        observer: CallObserver | None = None,
        server: str | None = None,
    ) -> None:
        self._client = client
        self.side = side
        self.retry = retry or RetryPolicy()
        self._observer = observer
        self.server = server or side  # how the observer names this server

    @property
    def base_url(self) -> str:
        """``https://host/api/`` as the client was given it."""
        return str(self._client.base_url)

    def url(self, path: str) -> str:
        """The absolute URL of an API object (what Waldur expects in ``project``, ``offering`` fields)."""
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def where(self, method: str, path: str) -> str:
        """How errors name a call: ``B POST marketplace-orders/``."""
        return f"{self.side} {method} {path.lstrip('/')}"

    def _send(self, method: str, path: str, *, params: Params = (), body: object = None) -> httpx.Response:
        where = self.where(method, path)
        started = time.perf_counter()
        try:
            response = self._client.request(method, path.lstrip("/"), params=list(params), json=body)
        except httpx.HTTPError as exc:
            self._observe(method, path, type(exc).__name__, started)
            raise from_exception(exc, where) from exc
        self._observe(method, path, str(response.status_code), started)
        if response.is_success:
            return response
        raise from_response(response, where)

    def _observe(self, method: str, path: str, status: str, started: float) -> None:
        if self._observer is not None:
            seconds = time.perf_counter() - started
            self._observer.api_call(self.server, method, endpoint_template(path), status, seconds)

    def _attempts(self, policy: RetryPolicy, method: str, path: str, attempt: Callable[[], T]) -> T:
        """``policy.call(attempt)``: every attempt after the first is logged with the call and the fault that
        made it necessary (stamina's own log line names neither), and told to the observer."""
        tries = 0
        last: PortError | None = None

        def counted() -> T:
            nonlocal tries, last
            tries += 1
            if tries > 1:
                log.warning("%s: attempt %d after a passing fault: %s", self.where(method, path), tries, last)
                if self._observer is not None:
                    self._observer.retry(self.server, endpoint_template(path))
            try:
                return attempt()
            except PortError as exc:
                last = exc
                raise

        return policy.call(counted)

    def _json(self, response: httpx.Response, where: str) -> object:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise InvalidResponse(f"the body is not JSON: {response.text[:120]!r}", where=where) from exc

    def get(self, path: str, params: Params = (), *, fields: Iterable[str] = ()) -> object:
        """GET one object (retried)."""
        query = [*params, *(("field", f) for f in fields)]
        return self._attempts(
            self.retry, "GET", path, lambda: self._json(self._send("GET", path, params=query), self.where("GET", path))
        )

    def list(
        self, path: str, params: Params = (), *, fields: Iterable[str] = (), declared: bool = True
    ) -> list[object]:
        """Every item of a listing, page after page (each page retried on its own).

        ``declared=False`` is for actions whose schema declares no paging parameters although Waldur pages them
        (``…/team/``): the first page is asked for plainly, and ``page`` is added only to follow ``next``.
        """
        where = self.where("GET", path)
        paging = [("page_size", str(PAGE_SIZE))] if declared else []
        query = [*params, *(("field", f) for f in fields), *paging]
        items: list[object] = []
        page: str | None = "1"
        while page is not None:
            current = [*query, ("page", page)] if declared or page != "1" else list(query)
            response = self._attempts(
                self.retry, "GET", path, lambda q=current: self._send("GET", path, params=q)  # type: ignore[misc]
            )
            body = self._json(response, where)
            if not isinstance(body, list):
                raise InvalidResponse(f"a listing must be a JSON array, got {type(body).__name__}", where=where)
            items.extend(body)
            following = next_page(response)
            if following is not None and following == page:
                raise InvalidResponse(f"the next page link points at page {page} again", where=where)
            page = following
        return items

    def count(self, path: str, params: Params = ()) -> int:
        """``X-Result-Count`` of a listing, read with a one-item page."""
        where = self.where("GET", path)
        query = [*params, ("page_size", "1")]
        response = self._attempts(self.retry, "GET", path, lambda: self._send("GET", path, params=query))
        try:
            return int(response.headers["x-result-count"])
        except (KeyError, ValueError) as exc:
            raise InvalidResponse("no X-Result-Count header", where=where) from exc

    def post(self, path: str, body: object = None, *, idempotent: bool) -> object:
        """POST an action or a creation; retried only when repeating it cannot do harm.

        ``body`` None sends no body at all: some actions (``set_state_done``) declare none.
        """
        where = self.where("POST", path)
        policy = self.retry if idempotent else RetryPolicy.never()
        return self._attempts(policy, "POST", path, lambda: self._json(self._send("POST", path, body=body), where))

    def patch(self, path: str, body: object) -> object:
        """PATCH fields of an object (setting a value twice is harmless: retried)."""
        where = self.where("PATCH", path)
        return self._attempts(self.retry, "PATCH", path,
                              lambda: self._json(self._send("PATCH", path, body=body), where))

    def put(self, path: str, body: object) -> object:
        """PUT a whole object (replacing it with the same body twice is harmless: retried)."""
        where = self.where("PUT", path)
        return self._attempts(self.retry, "PUT", path, lambda: self._json(self._send("PUT", path, body=body), where))

    def delete(self, path: str) -> None:
        """DELETE an object (retried: a repeat answers 404, which the caller may take as done)."""
        self._attempts(self.retry, "DELETE", path, lambda: self._send("DELETE", path))


def next_page(response: httpx.Response) -> str | None:
    """The ``page`` number of ``Link: <…>; rel="next"``, or None on the last page."""
    link = response.links.get("next")
    if not link or "url" not in link:
        return None
    pages = parse_qs(urlsplit(link["url"]).query).get("page")
    return pages[0] if pages else None


def iso_date(value: dt.date | None) -> str | None:
    """A date as Waldur reads it in JSON bodies."""
    return value.isoformat() if value is not None else None
