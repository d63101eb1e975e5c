"""Check real HTTP traffic against Waldur 8.0.5's published OpenAPI schema.

Contract tests wrap :class:`ValidatingTransport` around any httpx transport (the emulator's, or the one under
fedcore's REST adapter) so that every request sent and every response returned is checked against
``../shared/waldur/openapi-8.0.5.json``. Bodies are validated with openapi-schema-validator's OAS 3.0 read/write
validators; routing, parameters, headers, status codes and Waldur's error shape are checked here.
docs/contract-testing.md explains the rules and the decisions behind them.
"""

from __future__ import annotations

import functools
import json
import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import attrs
import httpx
from jsonschema import Draft7Validator, FormatChecker, ValidationError  # type: ignore[import-untyped]
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]
from jsonschema.validators import extend  # type: ignore[import-untyped]
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPEC_PATH = REPO_ROOT.parent / "shared" / "waldur" / "openapi-8.0.5.json"
_SPEC_URI = "urn:waldur:openapi-8.0.5"
_PAGE_SIZE_DEFAULT = 10
_PAGE_SIZE_MAX = 300
_BOOLEANS = {"true": True, "True": True, "1": True, "false": False, "False": False, "0": False}
# A request extension (``extensions={SKIP_REQUEST_CHECK: True}``) for deliberately invalid requests: the
# transport then checks only the response (which must still be a conforming error).
SKIP_REQUEST_CHECK = "openapi_check.skip_request"
Direction = Literal["read", "write"]
Report = Callable[[str, str], "Problem"]


class SpecNotFoundError(FileNotFoundError):
    """The Waldur schema file is not where the repository layout says it is."""


class SchemaViolation(AssertionError):
    """Raised by a strict :class:`ValidatingTransport` at the first non-conforming request or response."""


@attrs.frozen
class Problem:
    """One deviation from the contract; ``str()`` is the line tests report (status None: a request problem)."""

    method: str
    template: str
    status: int | None
    where: str
    message: str

    def __str__(self) -> str:
        status = f" -> {self.status}" if self.status is not None else " request"
        return f"{self.method} {self.template}{status} {self.where}: {self.message}"


@attrs.frozen
class Operation:
    """One operation of the schema: its id, method, path template and JSON pointer into the document."""

    operation_id: str
    method: str
    template: str
    pointer: str
    spec: Mapping[str, Any] = attrs.field(repr=False, eq=False)


@attrs.frozen
class QueryParam:
    """A declared query parameter with what is needed to deserialize it (OpenAPI style/explode) and validate it."""

    name: str
    pointer: str
    required: bool
    is_array: bool
    explode: bool
    item_type: str | None


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


class Spec:
    """The parsed schema with its path-template index; loaded once per process by :func:`load_spec`."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.registry: Registry[Any] = Registry().with_resource(
            _SPEC_URI, Resource.from_contents(document, default_specification=DRAFT4)
        )
        self._routes: dict[tuple[int, str], list[tuple[int, tuple[str, ...], str]]] = {}
        for template in document["paths"]:
            segments = tuple(template.strip("/").split("/"))
            literal = sum(not s.startswith("{") for s in segments)
            routes = self._routes.setdefault((len(segments), segments[1] if len(segments) > 1 else ""), [])
            routes.append((literal, segments, template))
        for routes in self._routes.values():
            routes.sort(key=lambda route: -route[0])  # literal segments win: /users/me/ before /users/{uuid}/
        self._operations: dict[tuple[str, str], Operation | None] = {}
        self._query: dict[str, dict[str, QueryParam]] = {}

    def route(self, path: str) -> tuple[str, dict[str, str]] | None:
        """The path template a concrete path (``/api/...``) instantiates, with its path parameters."""
        segments = path.strip("/").split("/")
        for _, pattern, template in self._routes.get((len(segments), segments[1] if len(segments) > 1 else ""), []):
            if all(p == s or (p.startswith("{") and s) for p, s in zip(pattern, segments, strict=True)):
                return template, {p[1:-1]: s for p, s in zip(pattern, segments, strict=True) if p.startswith("{")}
        return None

    def operation(self, method: str, template: str) -> Operation | None:
        """The operation declared for an HTTP method on a path template, if any."""
        key = (method.lower(), template)
        if key not in self._operations:
            spec = self.document["paths"][template].get(key[0])
            pointer = f"/paths/{_escape(template)}/{key[0]}"
            self._operations[key] = spec and Operation(spec["operationId"], method.upper(), template, pointer, spec)
        return self._operations[key]

    def query_params(self, operation: Operation) -> dict[str, QueryParam]:
        """The declared query parameters of an operation by name."""
        if operation.pointer not in self._query:
            params: dict[str, QueryParam] = {}
            for index, declared in enumerate(operation.spec.get("parameters", [])):
                pointer = declared["$ref"][1:] if "$ref" in declared else f"{operation.pointer}/parameters/{index}"
                param = self.at(pointer)
                if param["in"] == "query":
                    schema = self.deref(param.get("schema", {}))
                    is_array = schema.get("type") == "array"
                    item = self.deref(schema.get("items", {})) if is_array else schema
                    explode = param.get("explode", param.get("style", "form") == "form")
                    params[param["name"]] = QueryParam(param["name"], f"{pointer}/schema", bool(param.get("required")),
                                                       is_array, explode, item.get("type"))
            self._query[operation.pointer] = params
        return self._query[operation.pointer]

    def at(self, pointer: str) -> Any:
        """The node at a JSON pointer (``/components/schemas/X``) of the document."""
        node: Any = self.document
        for token in pointer.strip("/").split("/"):
            key = token.replace("~1", "/").replace("~0", "~")
            node = node[int(key)] if isinstance(node, list) else node[key]
        return node

    def deref(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        """A schema with top-level ``$ref``s and single-entry ``allOf`` wrappers followed (to read its type)."""
        while True:
            if "$ref" in schema:
                schema = self.at(schema["$ref"][1:])
            elif len(schema.get("allOf", ())) == 1:
                schema = schema["allOf"][0]
            else:
                return schema

    def errors(self, pointer: str, instance: Any, direction: Direction, *, closed: bool = False,
               complete: bool = False) -> Iterator[ValidationError]:
        """Leaf errors of ``instance`` against the schema at ``pointer``, by JSON path ($refs resolve in the spec)."""
        validator = _validator(self, pointer, direction, closed, complete)
        leaves = [leaf for error in validator.iter_errors(instance) for leaf in _leaves(error)]
        yield from sorted(leaves, key=lambda leaf: (_json_path(leaf.absolute_path), leaf.message))


@functools.cache
def load_spec(path: Path = DEFAULT_SPEC_PATH) -> Spec:
    """Load and index the schema once per process; fails with a clear message when the file is missing."""
    if not path.is_file():
        raise SpecNotFoundError(
            f"Waldur's OpenAPI schema is missing: expected {path} (shared/waldur/ next to the repository root "
            f"{REPO_ROOT}); the contract checks cannot run without it"
        )
    with path.open("rb") as handle:
        return Spec(json.load(handle))


# --- validators: OAS 3.0 read/write validators with Waldur's conventions ----------------------------------------


class MissingProperty(ValidationError):  # type: ignore[misc]
    """A required (or, in complete mode, declared) property absent from an object."""

    def __init__(self, name: str, why: str, *, required: bool = True) -> None:
        super().__init__(f"property {name!r} is missing ({why})")
        self.property_name = name
        self.required = required


def _nullable_aware(check: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    # drf-spectacular writes nullable enums and references as {allOf: [$ref], nullable: true}, meaning "or null".
    def nullable_check(validator: Any, value: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[Any]:
        if instance is None and schema.get("nullable") is True:
            return
        yield from check(validator, value, instance, schema)

    return nullable_check


@functools.cache
def _validator_class(direction: Direction, closed: bool, complete: bool) -> Any:
    base = OAS30ReadValidator if direction == "read" else OAS30WriteValidator
    skip = "writeOnly" if direction == "read" else "readOnly"
    forbidden = "readOnly" if direction == "write" else "writeOnly"
    base_properties = base.VALIDATORS["properties"]

    def required(validator: Any, names: list[str], instance: Any, schema: Mapping[str, Any]) -> Iterator[Any]:
        if validator.is_type(instance, "object"):
            props = schema.get("properties", {})
            for name in names:
                if name not in instance and not props.get(name, {}).get(skip):
                    yield MissingProperty(name, "required")

    def properties(validator: Any, props: Mapping[str, Any], instance: Any, schema: Mapping[str, Any]) -> Iterator[Any]:
        yield from base_properties(validator, props, instance, schema)
        if not validator.is_type(instance, "object"):
            return
        if closed and "additionalProperties" not in schema:
            for extra in sorted(set(instance) - set(props)):
                yield ValidationError(f"property {extra!r} is not declared by the schema", path=(extra,))
        if complete:
            for name in sorted(set(props) - set(instance) - set(schema.get("required", ()))):
                if not props[name].get(skip):
                    yield MissingProperty(name, "declared; Waldur's serializers render every field", required=False)

    def forbid(validator: Any, flag: bool, instance: Any, schema: Mapping[str, Any]) -> Iterator[Any]:
        if flag:
            yield ValidationError(f"{forbidden} property in a {'request' if direction == 'write' else 'response'}")

    def type_(validator: Any, kind: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[Any]:
        if instance is not None:
            yield from base.VALIDATORS["type"](validator, kind, instance, schema)
        elif schema.get("nullable") is not True:
            yield ValidationError("null where the schema is not nullable")

    def enum(validator: Any, values: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[Any]:
        if instance is not None or "type" not in schema:  # a typed null is reported by "type" alone
            yield from base.VALIDATORS["enum"](validator, values, instance, schema)

    overrides = {name: _nullable_aware(base.VALIDATORS[name]) for name in ("allOf", "oneOf", "anyOf")}
    overrides |= {"type": type_, "enum": _nullable_aware(enum), "required": required, "properties": properties,
                  forbidden: forbid}
    return extend(base, overrides)


@functools.cache
def _validator(spec: Spec, pointer: str, direction: Direction, closed: bool, complete: bool) -> Any:
    cls = _validator_class(direction, closed, complete)
    return cls({"$ref": f"{_SPEC_URI}#{pointer}"}, registry=spec.registry, format_checker=_FORMATS)


def _leaves(error: ValidationError) -> Iterator[ValidationError]:
    # A oneOf/anyOf with one real branch (drf-spectacular's wrappers) is reported by that branch's own errors.
    if error.validator in ("oneOf", "anyOf") and error.context:
        branches = {sub.relative_schema_path[0] for sub in error.context}
        if len(branches) == 1:
            for sub in error.context:
                yield from _leaves(sub)
            return
        error.message += f" (closest: {best_match(error.context).message})"
    yield error


def _is_uuid(value: object) -> bool:
    # Waldur renders UUIDs as 32 hex digits; generated clients may send the hyphenated form.
    pattern = r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    return not isinstance(value, str) or re.fullmatch(pattern, value) is not None


def _is_uri(value: object) -> bool:
    # "" is how Django renders a blank URLField; Waldur sends it although the schema does not say so.
    parts = urlsplit(value) if isinstance(value, str) and value else None
    return parts is None or (bool(parts.scheme) and bool(parts.netloc) and not re.search(r"\s", str(value)))


def _is_email(value: object) -> bool:
    # A blank EmailField renders as "" (for example a customer's email).
    return not isinstance(value, str) or value == "" or re.fullmatch(r"[^@\s]+@[^@\s]+", value) is not None


_FORMATS = FormatChecker(formats=())
_FORMATS.checkers = dict(oas30_format_checker.checkers)
_FORMATS.checks("uuid")(_is_uuid)
_FORMATS.checks("uri")(_is_uri)
_FORMATS.checks("email")(_is_email)

# Waldur (DRF) error bodies: {"detail": "..."}, {"field": ["msg"]}, {"non_field_errors": [...]}, nested field
# errors, or a bare list of messages.
_NESTED = {"$ref": "#/definitions/errors"}
ERROR_SHAPE: Mapping[str, Any] = {
    "if": {"type": "object"},
    "then": {"minProperties": 1, "additionalProperties": _NESTED},
    "else": {"type": "array", "minItems": 1, "items": {"type": "string"}},
    "definitions": {"errors": {"anyOf": [{"type": "string"}, {"type": "array", "items": _NESTED},
                                         {"type": "object", "minProperties": 1, "additionalProperties": _NESTED}]}},
}
_ERROR_SHAPE = Draft7Validator(ERROR_SHAPE)


def _coerce(value: str, kind: str | None) -> Any:
    """A query, path or header string as the JSON value its schema type expects (left as is if it is not one)."""
    if kind == "integer" and re.fullmatch(r"-?\d+", value):
        return int(value)
    if kind == "number" and re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", value):
        return float(value)
    if kind == "boolean" and value in _BOOLEANS:
        return _BOOLEANS[value]
    return value


def _json_path(parts: Iterable[object]) -> str:
    rendered = "$"
    for part in parts:
        is_name = isinstance(part, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part)
        rendered += f".{part}" if is_name else f"[{json.dumps(part)}]"
    return rendered


def _message(error: ValidationError) -> str:
    message: str = error.message
    return message if len(message) <= 300 else message[:297] + "..."


def _api_path(url: httpx.URL) -> str:
    index = url.path.find("/api/")  # the API may be mounted under a prefix; Waldur's paths start at /api/
    return url.path[index:] if index >= 0 else url.path


def _media_type(headers: httpx.Headers) -> str:
    return str(headers.get("content-type", "")).split(";")[0].strip().lower()


def _int(values: Mapping[str, list[str]], name: str, default: int) -> int:
    raw = values.get(name, [""])[0]
    return int(raw) if raw.isdigit() and int(raw) > 0 else default


def link_problems(value: str | None, page: int, pages: int) -> list[str]:
    """Problems of a list response's ``Link`` header (Waldur: first/prev/next/last, absolute URLs)."""
    if value is None:
        return ["missing"]
    entries = re.findall(r'<([^>]*)>\s*;\s*rel="([^"]*)"', value)
    rels = {rel: parse_qs(urlsplit(url).query).get("page", [None])[0] for url, rel in entries}
    problems = [f"unknown rel {rel!r}" for rel in rels if rel not in ("first", "prev", "next", "last")]
    problems += [f"not an absolute URL: {url}" for url, _ in entries if not _is_uri(url) or not url.startswith("http")]
    if len(rels) != len(entries) or ", ".join(f"<{u}>; rel=\"{r}\"" for u, r in entries) != value.strip():
        problems.append(f"not a list of <url>; rel=\"...\" entries joined by ', ': {value!r}")
    expected = {"first": None, "last": str(pages) if pages > 1 else None}
    if page > 1:
        expected["prev"] = str(page - 1) if page > 2 else None
    if page < pages:
        expected["next"] = str(page + 1)
    if set(rels) != set(expected):
        problems.append(f"rels {sorted(rels)} on page {page} of {pages}; expected {sorted(expected)}")
    problems += [f"rel={rel} points at page {rels[rel]}, expected {want}"
                 for rel, want in expected.items() if rel in rels and rels[rel] != want and not (rel == "prev" and
                                                                                                  rels[rel] == "1")]
    return problems


# --- the checker ---------------------------------------------------------------------------------------------------


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


class ValidatingTransport(httpx.BaseTransport):
    """An httpx transport that checks every request and response passing through it.

    ``problems`` collects request and response problems, ``undocumented`` the error statuses the schema does not
    declare (informational), ``calls`` the exchanges per operation id. ``strict`` raises :class:`SchemaViolation`
    at the first problem. Requests carrying the :data:`SKIP_REQUEST_CHECK` extension are sent unchecked.
    """

    def __init__(self, inner: httpx.BaseTransport, checker: SchemaChecker, *, strict: bool = False) -> None:
        self.inner = inner
        self.checker = checker
        self.strict = strict
        self.problems: list[str] = []
        self.undocumented: list[str] = []
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Check the request, forward it, read and check the response, and return it unchanged."""
        routed = self.checker.operation_for(request)
        with self._lock:
            self.calls[routed[0].operation_id if routed else f"<no operation: {request.method}>"] += 1
        if request.extensions.get(SKIP_REQUEST_CHECK) is not True:
            self._record(self.checker.check_request(request))
        response = self.inner.handle_request(request)
        response.read()
        if routed is not None:
            self._record(self.checker.check_response(response, request))
            undocumented = self.checker.undocumented_status(response, request)
            if undocumented is not None:
                with self._lock:
                    self.undocumented.append(undocumented)
        return response

    def close(self) -> None:
        """Close the wrapped transport."""
        self.inner.close()

    def assert_clean(self) -> None:
        """Fail listing every recorded problem, one per line."""
        if self.problems:
            raise SchemaViolation(f"{len(self.problems)} schema problems:\n" + "\n".join(self.problems))

    def _record(self, found: list[str]) -> None:
        with self._lock:
            self.problems.extend(found)
        if found and self.strict:
            raise SchemaViolation("\n".join(found))
