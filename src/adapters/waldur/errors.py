"""One boundary where HTTP outcomes become the domain's error tree (:mod:`fedcore.errors`).

| What happened | Raised |
| --- | --- |
| timeout, connection refused or dropped, protocol error | :class:`~fedcore.errors.TransientError` |
| 429 (with ``Retry-After``), 500, 502, 503, 504 and any other 5xx | :class:`~fedcore.errors.TransientError` |
| 404 | :class:`~fedcore.errors.NotFound` |
| 409 | :class:`~fedcore.errors.Conflict` |
| 400, 401, 403, 405 and any other 4xx | :class:`~fedcore.errors.PermanentError` |
| a 2xx body that is not what the schema promises | :class:`InvalidResponse` (transient: a proxy page, a cut body) |

A 500 is transient on writes too: it may mean the change was applied (Waldur's known ``set_state_done``), so
the request is never repeated blindly; the next pass reads the state again and the idempotency lookup finds
what an earlier attempt created. Every message carries Waldur's own detail and names the call (``B POST
marketplace-orders/``); none carries a token.
"""

from __future__ import annotations

import json
import re
from email.utils import parsedate_to_datetime

import httpx

from fedcore.errors import Conflict, NotFound, PermanentError, PortError, TransientError

MAX_DETAIL = 500
"""How much of Waldur's answer an error message keeps."""

_TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


class InvalidResponse(TransientError):
    """Waldur answered 2xx with a body fedcore cannot read: names the call and the field."""


class RateLimited(TransientError):
    """429: ``retry_after`` is how long Waldur asked callers to wait (seconds), when it said."""

    def __init__(self, message: str, *, where: str, status: int, retry_after: float | None) -> None:
        super().__init__(message, where=where, status=status)
        self.retry_after = retry_after


def _clip(text: str) -> str:
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


def detail_of(response: httpx.Response) -> str:
    """Waldur's own words from an error response: ``detail``, field errors, a list, or the page's text."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        text = _SPACE.sub(" ", _TAGS.sub(" ", response.text)).strip()
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        return _clip(f"HTTP {response.status_code} ({kind}): {text}" if text else f"HTTP {response.status_code}")
    return _clip(_flatten(body) or f"HTTP {response.status_code}")


def _flatten(body: object) -> str:
    if isinstance(body, dict):
        if set(body) == {"detail"}:
            return _flatten(body["detail"])
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in body.items())
    if isinstance(body, list):
        return "; ".join(_flatten(item) for item in body)
    return "" if body is None else str(body)


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), or None when absent or unreadable."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    date = response.headers.get("date")
    now = parsedate_to_datetime(date) if date else None
    return max(0.0, (when - now).total_seconds()) if now is not None else None


def from_response(response: httpx.Response, where: str) -> PortError:
    """The domain error for a non-2xx response."""
    status = response.status_code
    detail = detail_of(response)
    if status == 429:
        return RateLimited(detail, where=where, status=status, retry_after=retry_after(response))
    if status in _TRANSIENT_STATUS or status >= 500:
        return TransientError(detail, where=where, status=status)
    if status == 404:
        return NotFound(detail, where=where, status=status)
    if status == 409:
        return Conflict(detail, where=where, status=status)
    return PermanentError(detail, where=where, status=status)


def from_exception(exc: httpx.HTTPError, where: str) -> TransientError:
    """The domain error for a request that got no answer (timeouts, connection and protocol errors)."""
    kind = type(exc).__name__
    reason = str(exc) or kind
    return TransientError(f"{kind}: {reason}" if reason != kind else kind, where=where)
