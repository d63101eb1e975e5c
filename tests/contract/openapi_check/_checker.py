"""SchemaChecker: one exchange (request and response) checked against the schema."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs

import httpx

from contract.openapi_check._spec import (
    _PAGE_SIZE_DEFAULT,
    _PAGE_SIZE_MAX,
    Direction,
    Operation,
    Problem,
    Report,
    Spec,
    _escape,
    load_spec,
)
from contract.openapi_check._validate import (
    _ERROR_SHAPE,
    MissingProperty,
    _api_path,
    _coerce,
    _int,
    _json_path,
    _leaves,
    _media_type,
    _message,
    link_problems,
)


class SchemaChecker:
    """Checks httpx requests and responses against Waldur 8.0.5's schema; each check returns problem lines.

    ``closed`` (default) reports properties the schema does not declare: Waldur silently ignores unknown request
    fields, and generated clients never see undeclared response fields. ``complete`` also reports declared response
    properties that are absent (Waldur's serializers render every field unless ``field=`` selects some).
    """

    def __init__(self, spec: Spec | None = None, *, closed: bool = True, complete: bool = False) -> None:
        self.spec = spec if spec is not None else load_spec()
        self.closed = closed
        self.complete = complete

    def operation_for(self, request: httpx.Request) -> tuple[Operation, dict[str, str]] | None:
        """The operation a request addresses and its path parameters, or None when the schema has none."""
        routed = self.spec.route(_api_path(request.url))
        operation = self.spec.operation(request.method, routed[0]) if routed else None
        return (operation, routed[1]) if operation and routed else None

    def check_request(self, request: httpx.Request) -> list[str]:
        """Problems of a request: unknown operation, path and query parameters, content type and JSON body."""
        routed = self.operation_for(request)
        if routed is None:
            return [str(Problem(request.method, _api_path(request.url), None, "route", "no such operation"))]
        operation, path_params = routed

        def report(where: str, message: str) -> Problem:
            return Problem(operation.method, operation.template, None, where, message)

        problems: list[Problem] = []
        for index, declared in enumerate(operation.spec.get("parameters", [])):
            if declared.get("in") == "path" and declared["name"] in path_params:
                value = _coerce(path_params[declared["name"]], self.spec.deref(declared["schema"]).get("type"))
                pointer = f"{operation.pointer}/parameters/{index}/schema"
                problems += [report(f"path {declared['name']}", _message(e))
                             for e in self.spec.errors(pointer, value, "write")]
        problems += self._query_problems(operation, request, report)
        problems += self._request_body_problems(operation, request, report)
        return [str(problem) for problem in problems]

    def check_response(self, response: httpx.Response, request: httpx.Request | None = None) -> list[str]:
        """Problems of a response: success status, content type, body, headers, Waldur's error shape.

        Each line names the method, path template, status and the JSON path inside the body. An error status the
        schema does not declare is not a problem here (see :meth:`undocumented_status`); its body must still
        have Waldur's error shape.
        """
        request = request if request is not None else response.request
        routed = self.operation_for(request)
        status = response.status_code
        if routed is None:
            return [str(Problem(request.method, _api_path(request.url), status, "route", "no such operation"))]
        operation = routed[0]

        def report(where: str, message: str) -> Problem:
            return Problem(operation.method, operation.template, status, where, message)

        return [str(problem) for problem in self._response_problems(operation, request, response, report)]

    def undocumented_status(self, response: httpx.Response, request: httpx.Request | None = None) -> str | None:
        """A line naming an error status (4xx/5xx) that the operation does not declare, else None."""
        request = request if request is not None else response.request
        routed = self.operation_for(request)
        status = response.status_code
        if routed is None or status < 400 or str(status) in routed[0].spec["responses"]:
            return None
        return f"{routed[0].method} {routed[0].template} -> {status}: status not declared by the schema"

    def _query_problems(self, operation: Operation, request: httpx.Request, report: Report) -> Iterator[Problem]:
        declared = self.spec.query_params(operation)
        values: dict[str, list[str]] = {}
        for name, value in request.url.params.multi_items():
            values.setdefault(name, []).append(value)
        for name in sorted(set(values) - set(declared)):
            yield report(f"query {name}", "parameter not declared by the schema (Waldur would ignore it)")
        for name, param in declared.items():
            raw = values.get(name)
            if raw is None:
                if param.required:
                    yield report(f"query {name}", "required parameter missing")
                continue
            if len(raw) > 1 and not (param.is_array and param.explode):
                yield report(f"query {name}", f"repeated key {raw!r}; this parameter takes one (comma-joined) value")
            instance: Any = _coerce(raw[-1], param.item_type)
            if param.is_array:
                items = raw if param.explode else [part for value in raw for part in value.split(",")]
                instance = [_coerce(item, param.item_type) for item in items]
            for error in self.spec.errors(param.pointer, instance, "write"):
                yield report(f"query {name}", _message(error))

    def _request_body_problems(
        self, operation: Operation, request: httpx.Request, report: Report
    ) -> Iterator[Problem]:
        body = request.read()
        declared = operation.spec.get("requestBody")
        if declared is None or not body:
            if declared is None and body:
                yield report("body", "the operation takes no request body")
            elif declared is not None and declared.get("required"):
                yield report("body", "required request body missing")
            return
        media = _media_type(request.headers)
        if media not in declared["content"]:
            yield report("content-type", f"{media or 'none'} not among {sorted(declared['content'])}")
        elif media == "application/json":
            pointer = f"{operation.pointer}/requestBody/content/application~1json/schema"
            yield from self._json_problems(pointer, body, "write", report)

    def _json_problems(
        self, pointer: str, body: bytes, direction: Direction, report: Report, selected: set[str] | None = None
    ) -> Iterator[Problem]:
        try:
            instance = json.loads(body)
        except ValueError as exc:
            yield report("body", f"not JSON: {exc}")
            return
        depth = 1 if isinstance(instance, list) else 0
        complete = self.complete and direction == "read"
        for error in self.spec.errors(pointer, instance, direction, closed=self.closed, complete=complete):
            missing = isinstance(error, MissingProperty)
            # Completeness covers the serializer's own fields, not nested free-form JSON such as secret_options.
            if missing and not error.required and len(error.absolute_path) > depth:
                continue
            trimmed = missing and len(error.absolute_path) == depth
            if not (selected and trimmed and error.property_name not in selected):
                yield report(f"body {_json_path(error.absolute_path)}", _message(error))
        for index, item in enumerate(instance if depth else [instance]):
            extra = sorted(set(item) - selected) if selected and isinstance(item, dict) else []
            if extra:
                yield report(f"body {_json_path([index] if depth else [])}", f"fields {extra} not selected by field=")

    def _response_problems(
        self, operation: Operation, request: httpx.Request, response: httpx.Response, report: Report
    ) -> Iterator[Problem]:
        status = response.status_code
        body = response.read()
        if operation.method == "HEAD" and body:
            yield report("body", "a HEAD response carries no body")
        declared = operation.spec["responses"].get(str(status))
        if status >= 400 and not (declared and declared.get("content")):
            yield from self._error_problems(operation, response, report)
            return
        if declared is None:
            yield report("status", f"undocumented status; the schema declares {sorted(operation.spec['responses'])}")
            return
        yield from self._header_problems(operation, request, response, declared, report)
        content = declared.get("content") or {}
        media = _media_type(response.headers)
        if operation.method == "HEAD":
            return
        if not content or not body:
            if bool(content) != bool(body):
                yield report("body", f"body is {'present' if body else 'empty'}; the schema declares {sorted(content)}")
        elif media not in content:
            yield report("content-type", f"{media or 'none'} not among {sorted(content)}")
        elif media == "application/json":
            pointer = f"{operation.pointer}/responses/{status}/content/application~1json/schema"
            fields = "field" in self.spec.query_params(operation)
            selected = set(request.url.params.get_list("field")) if fields else None
            yield from self._json_problems(pointer, body, "read", report, selected)

    def _header_problems(
        self, operation: Operation, request: httpx.Request, response: httpx.Response,
        declared: Mapping[str, Any], report: Report,
    ) -> Iterator[Problem]:
        headers = {name.lower(): spec for name, spec in declared.get("headers", {}).items()}
        listing = self.spec.operation("GET", operation.template)
        if operation.method == "HEAD" and listing and "headers" in listing.spec["responses"].get("200", {}):
            # HEAD on a list answers only with the count; the schema declares it on the GET only.
            headers.update({name.lower(): spec for name, spec in listing.spec["responses"]["200"]["headers"].items()})
        for name, spec in headers.items():
            value = response.headers.get(name)
            pointer = spec["$ref"][1:] if "$ref" in spec else f"{operation.pointer}/responses/{response.status_code}"
            pointer = f"{pointer}/schema" if "$ref" in spec else f"{pointer}/headers/{_escape(name)}/schema"
            if value is None:
                yield report(f"header {name}", "missing")
                continue
            instance = _coerce(value, self.spec.deref(self.spec.at(pointer)).get("type"))
            yield from (report(f"header {name}", _message(e)) for e in self.spec.errors(pointer, instance, "read"))
        count = response.headers.get("x-result-count", "")
        if operation.method == "GET" and "x-result-count" in headers and count.isdigit():
            query = parse_qs(request.url.query.decode())
            page_size = min(_int(query, "page_size", _PAGE_SIZE_DEFAULT), _PAGE_SIZE_MAX)
            pages = max(1, math.ceil(int(count) / page_size))
            for message in link_problems(response.headers.get("link"), _int(query, "page", 1), pages):
                yield report("header link", message)

    def _error_problems(self, operation: Operation, response: httpx.Response, report: Report) -> Iterator[Problem]:
        # 5xx bodies belong to the server (or a fault injector); 4xx bodies must have Waldur's (DRF's) shape.
        if response.status_code >= 500 or operation.method == "HEAD":
            return
        media = _media_type(response.headers)
        if media != "application/json":
            yield report("content-type", f"error body is {media or 'untyped'}, not application/json")
            return
        try:
            instance = json.loads(response.content)
        except ValueError as exc:
            yield report("body", f"not JSON: {exc}")
            return
        for leaf in (leaf for error in _ERROR_SHAPE.iter_errors(instance) for leaf in _leaves(error)):
            yield report(f"body {_json_path(leaf.absolute_path)}", f"not Waldur's error shape: {_message(leaf)}")


# --- the transport -------------------------------------------------------------------------------------------------


