"""The emulator's HTTP vocabulary: parsed requests, Waldur-shaped errors, responses, routing and pagination.

No web framework: a route table of (method, path pattern) -> handler, and the few DRF behaviours Waldur clients
depend on (bare-array pages with ``X-Result-Count`` and ``Link``, ``field=`` trimming, ``o=`` ordering, HEAD
counts). Everything here is independent of the marketplace state.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode

import attrs

JSON = Any
T = TypeVar("T")

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 300


class ApiError(Exception):
    """A failure rendered as a Waldur error response: a status and a JSON body."""

    def __init__(self, status: int, body: JSON) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


def bad_request(field: str, message: str) -> ApiError:
    """A 400 validation error on one field, as DRF renders it."""
    return ApiError(400, {field: [message]})


def required(field: str) -> ApiError:
    """DRF's 400 for a missing required field."""
    return bad_request(field, "This field is required.")


def not_found() -> ApiError:
    """404: the object does not exist or the caller may not see it."""
    return ApiError(404, {"detail": "No object matches the given query."})


def forbidden(message: str = "You do not have permission to perform this action.") -> ApiError:
    """403: the caller sees the object but may not act on it."""
    return ApiError(403, {"detail": message})


def conflict(valid_states: Iterable[str]) -> ApiError:
    """409 from Waldur's StateValidator: the object is in the wrong state for the action."""
    return ApiError(409, {"detail": "Valid states for operation: " + ", ".join(valid_states) + "."})


def wrong_offering_type(offering_type: str) -> ApiError:
    """405 from Waldur's OfferingTypeValidator."""
    return ApiError(405, {"detail": f"Action is not allowed for offering type {offering_type}."})


@attrs.define
class Response:
    """What a handler returns: status, JSON body (None for no body) and extra headers."""

    status: int = 200
    body: JSON = None
    headers: list[tuple[str, str]] = attrs.Factory(list)


class Query:
    """Query-string values with the OpenAPI styles Waldur declares (repeated keys vs comma-joined)."""

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self.values: dict[str, list[str]] = parse_qs(raw, keep_blank_values=True)

    def one(self, name: str) -> str | None:
        """The last value of a single-valued parameter; empty strings count as absent (django-filter)."""
        found = self.values.get(name)
        if not found or found[-1] == "":
            return None
        return found[-1]

    def repeated(self, name: str) -> list[str]:
        """All values of a form/explode=true parameter (``state=a&state=b``)."""
        return [v for v in self.values.get(name, []) if v != ""]

    def comma(self, name: str) -> list[str]:
        """All values of a form/explode=false parameter (``offering_uuid=a,b``); repeated keys also accepted."""
        return [part.strip() for v in self.values.get(name, []) for part in v.split(",") if part.strip()]

    def flag(self, name: str) -> bool | None:
        """A django-filter boolean: true/false/1/0, anything else absent."""
        value = self.one(name)
        if value is None:
            return None
        lowered = value.lower()
        if lowered in {"true", "1", "yes"}:
            return True
        if lowered in {"false", "0", "no"}:
            return False
        return None


@attrs.define
class Request:
    """A parsed HTTP request as handlers see it."""

    method: str
    path: str
    query: Query
    headers: Mapping[str, str]
    raw_body: bytes
    base_url: str
    params: dict[str, str] = attrs.Factory(dict)
    user: Any = None

    @property
    def url(self) -> str:
        """The absolute request URL (what Django's build_absolute_uri gives)."""
        return self.base_url + self.path + (("?" + self.query.raw) if self.query.raw else "")

    def json(self) -> dict[str, Any]:
        """The JSON object body; 400 when it is not an object (an empty body is an empty object)."""
        if not self.raw_body.strip():
            return {}
        try:
            parsed = json.loads(self.raw_body)
        except ValueError as exc:
            raise ApiError(400, {"detail": f"JSON parse error - {exc}"}) from exc
        if not isinstance(parsed, dict):
            raise ApiError(400, {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
        return parsed


Handler = Callable[[Request], Response]


class Router:
    """Method + path pattern -> handler. ``{name}`` segments capture one path segment into ``request.params``."""

    def __init__(self) -> None:
        self._exact: dict[str, dict[str, Handler]] = {}
        self._patterns: list[tuple[re.Pattern[str], dict[str, Handler]]] = []
        self._by_template: dict[str, dict[str, Handler]] = {}

    def add(self, method: str, template: str, handler: Handler) -> None:
        """Register ``handler`` for ``method`` on ``template`` (e.g. ``/api/projects/{uuid}/``)."""
        table = self._by_template.get(template)
        if table is None:
            table = {}
            self._by_template[template] = table
            if "{" in template:
                pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")
                self._patterns.append((pattern, table))
            else:
                self._exact[template] = table
        table[method.upper()] = handler
        if method.upper() == "GET" and "HEAD" not in table:
            table["HEAD"] = handler

    def routes(self) -> list[tuple[str, str]]:
        """Every (method, path template) served, HEAD included (for coverage checks)."""
        return [(method, template) for template, table in self._by_template.items() for method in table]

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        """The handler and path parameters; 404 for unknown paths, 405 for known paths with another method."""
        table = self._exact.get(path)
        params: dict[str, str] = {}
        if table is None:
            for pattern, candidate in self._patterns:
                match = pattern.match(path)
                if match:
                    table, params = candidate, match.groupdict()
                    break
        if table is None:
            raise ApiError(404, {"detail": "Not found."})
        handler = table.get(method)
        if handler is None:
            raise ApiError(405, {"detail": f'Method "{method}" not allowed.'})
        return handler, params


def select_fields(item: dict[str, JSON], fields: Sequence[str]) -> dict[str, JSON]:
    """Trim a rendered object to the ``field=`` names (unknown names are ignored)."""
    if not fields:
        return item
    return {k: v for k, v in item.items() if k in fields}


def _sort_key(value: object) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, bool | int | float):
        return (1, value)
    return (2, str(value))


def order_items(request: Request, items: list[T], allowed: Mapping[str, Callable[[T], object]]) -> list[T]:
    """Apply ``o=`` (comma-joined, ``-`` for descending) for the orderings this endpoint supports."""
    keys = [k for k in request.query.comma("o") if k.lstrip("-") in allowed]
    for key in reversed(keys):
        getter = allowed[key.lstrip("-")]
        items = sorted(items, key=lambda obj, g=getter: _sort_key(g(obj)), reverse=key.startswith("-"))  # type: ignore[misc]
    return items


def _page_url(request: Request, page: int | None) -> str:
    values = {k: list(v) for k, v in request.query.values.items() if k != "page"}
    if page is not None:
        values["page"] = [str(page)]
    query = urlencode([(k, v) for k, vs in values.items() for v in vs])
    return request.base_url + request.path + (("?" + query) if query else "")


def paginate(request: Request, items: Sequence[T], render: Callable[[T], dict[str, JSON]]) -> Response:
    """One page of ``items`` as a bare array with ``X-Result-Count`` and ``Link`` (HEAD: headers only)."""
    size_raw = request.query.one("page_size")
    page_raw = request.query.one("page")
    size = DEFAULT_PAGE_SIZE
    if size_raw is not None and size_raw.isdigit() and int(size_raw) > 0:
        size = min(int(size_raw), MAX_PAGE_SIZE)
    count = len(items)
    last = max(1, -(-count // size))
    page = 1
    if page_raw is not None:
        if page_raw == "last":
            page = last
        elif page_raw.isdigit() and int(page_raw) >= 1:
            page = int(page_raw)
        else:
            raise ApiError(404, {"detail": "Invalid page."})
        if page > last:
            raise ApiError(404, {"detail": "Invalid page."})
    links = [f'<{_page_url(request, None)}>; rel="first"']
    if page > 1:
        links.append(f'<{_page_url(request, None if page == 2 else page - 1)}>; rel="prev"')
    if page < last:
        links.append(f'<{_page_url(request, page + 1)}>; rel="next"')
    links.append(f'<{_page_url(request, last if last > 1 else None)}>; rel="last"')
    headers = [("X-Result-Count", str(count)), ("Link", ", ".join(links))]
    if request.method == "HEAD":
        return Response(200, None, headers)
    fields = request.query.repeated("field")
    chunk = items[(page - 1) * size : page * size]
    return Response(200, [select_fields(render(obj), fields) for obj in chunk], headers)


def retrieve(request: Request, item: dict[str, JSON]) -> Response:
    """A single object with ``field=`` applied."""
    return Response(200, select_fields(item, request.query.repeated("field")))
