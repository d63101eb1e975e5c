"""The schema itself: loading it, its operations and parameters, and the errors the checks raise."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
from jsonschema import ValidationError  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

REPO_ROOT = Path(__file__).resolve().parents[3]
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
        from contract.openapi_check._validate import _json_path, _leaves, _validator  # they build on Spec

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


