"""Validators with Waldur's conventions (nullable references, formats, error shapes) and small helpers."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from jsonschema import Draft7Validator, FormatChecker, ValidationError  # type: ignore[import-untyped]
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]
from jsonschema.validators import extend  # type: ignore[import-untyped]
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator, oas30_format_checker

from contract.openapi_check._spec import _BOOLEANS, _SPEC_URI, Direction, Spec

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


