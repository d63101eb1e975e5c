"""Typed decoding of one STOMP message body into an :class:`Event` or a :class:`Malformed` (EVENTS.md §5).

Pure functions, no I/O: the listener calls :func:`decode` on stomp.py's thread and enqueues the result. Anything
the decoder cannot vouch for becomes :class:`Malformed` with a reason and an excerpt, so a bad frame never stops
the stream and nothing untyped reaches the domain.

Object types fedcore does not act on (``service_account``, ``course_account``, ``importable_resources``,
``resource_periodic_limits``) decode to an :class:`Event` carrying only ``offering_uuid`` and ``action``: they are
well-formed messages, and the consumer acknowledges and ignores them. An ``action`` fedcore does not know on a
known type also decodes (the identifiers it carries are still useful to a handler that re-reads state); a
malformed *field* on any message makes the whole message :class:`Malformed`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TypeVar

from fedcore.enums import ObjectType, OfferingUserState, OrderState, Side
from fedcore.events import Event, Malformed
from fedcore.ids import Uuid, normalize_uuid

MAX_BODY = 64 * 1024
"""Bodies longer than this (in bytes) are not parsed: Waldur's payloads are a few hundred bytes."""

USERNAME_SET = "username_set"
"""The ``offering_user`` action whose ``state`` is the raw integer code (every other action: the display value)."""

_E = TypeVar("_E", OrderState, OfferingUserState)
_QUEUE_PREFIX = re.compile(r"^subscription_[0-9a-f]{32}_offering_[0-9a-f]{32}_")


class _Invalid(Exception):
    """A field is missing or has the wrong type; the message is the reason given in :class:`Malformed`."""


def object_type_of(queue_name: str) -> ObjectType:
    """The object type of a Waldur queue ``subscription_<hex>_offering_<hex>_<type>`` (prefix stripped, never
    split on ``_``: type names contain underscores). ``ValueError`` for another name or an unknown type."""
    match = _QUEUE_PREFIX.match(queue_name)
    if match is None:
        raise ValueError(f"not a Waldur subscription queue name: {queue_name!r}")
    suffix = queue_name[match.end() :]
    try:
        return ObjectType(suffix)
    except ValueError:
        raise ValueError(f"queue {queue_name!r} is for an unknown object type {suffix!r}") from None


def decode(side: Side, queue: str, object_type: ObjectType, body: bytes | str) -> Event | Malformed:
    """The body of one message from ``queue`` (of ``object_type``, on ``side``), decoded."""
    raw = body.encode("utf-8", "surrogateescape") if isinstance(body, str) else bytes(body)
    if len(raw) > MAX_BODY:
        return _malformed(side, queue, f"body of {len(raw)} bytes exceeds the {MAX_BODY}-byte limit", raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _malformed(side, queue, "body is not UTF-8", raw)
    try:
        payload = json.loads(text)
    except ValueError:
        return _malformed(side, queue, "body is not JSON", raw)
    if not isinstance(payload, dict):
        return _malformed(side, queue, f"body is JSON {type(payload).__name__}, not an object", raw)
    try:
        return _event(side, object_type, payload)
    except _Invalid as exc:
        return _malformed(side, queue, f"{object_type} message: {exc}", raw)


def _malformed(side: Side, queue: str, reason: str, raw: bytes) -> Malformed:
    return Malformed(side, queue=queue, reason=reason, excerpt=raw[:400].decode("utf-8", "replace"))


def _event(side: Side, object_type: ObjectType, payload: Mapping[str, object]) -> Event:
    offering = _uuid(payload, "offering_uuid", required=True)
    assert offering is not None
    action = _text(payload, "action")
    if object_type is ObjectType.ORDER:
        state = _text(payload, "order_state")
        return Event(
            side,
            object_type,
            offering,
            action=action,
            order_uuid=_uuid(payload, "order_uuid", required=True),
            order_state=_enum(OrderState, state, "order_state") if state else None,
        )
    if object_type is ObjectType.USER_ROLE:
        return Event(
            side,
            object_type,
            offering,
            action=action,
            project_uuid=_uuid(payload, "project_uuid", required=True),
            user_uuid=_uuid(payload, "user_uuid"),
            user_username=_text(payload, "user_username"),
            role_name=_text(payload, "role_name"),
            granted=_flag(payload, "granted"),
        )
    if object_type is ObjectType.RESOURCE:
        return Event(side, object_type, offering, action=action, resource_uuid=_uuid(payload, "resource_uuid", True))
    if object_type is ObjectType.OFFERING_USER:
        if not action:
            raise _Invalid("'action' is missing")
        return Event(
            side,
            object_type,
            offering,
            action=action,
            offering_user_uuid=_uuid(payload, "offering_user_uuid", required=True),
            user_uuid=_uuid(payload, "user_uuid"),
            username=_text(payload, "username"),
            state=_offering_user_state(action, payload.get("state")),
        )
    return Event(side, object_type, offering, action=action)


def _uuid(payload: Mapping[str, object], key: str, required: bool = False) -> Uuid | None:
    value = payload.get(key)
    if value is None or value == "":
        if required:
            raise _Invalid(f"{key!r} is missing")
        return None
    if not isinstance(value, str):
        raise _Invalid(f"{key!r} is a {type(value).__name__}, not a UUID string")
    try:
        return normalize_uuid(value)
    except ValueError:
        raise _Invalid(f"{key!r} is not a UUID: {value[:60]!r}") from None


def _text(payload: Mapping[str, object], key: str) -> str:
    value = payload.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _Invalid(f"{key!r} is a {type(value).__name__}, not a string")
    return value


def _flag(payload: Mapping[str, object], key: str) -> bool | None:
    value = payload.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise _Invalid(f"{key!r} is a {type(value).__name__}, not a boolean")


def _enum(kind: type[_E], value: str, key: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        raise _Invalid(f"{key!r} is not a known value: {value[:60]!r}") from None


def _offering_user_state(action: str, value: object) -> OfferingUserState | None:
    """``username_set`` carries the integer code, every other action the display value (EVENTS.md §5.4)."""
    if value is None:
        return None
    if action == USERNAME_SET:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _Invalid(f"'state' of {USERNAME_SET} is a {type(value).__name__}, not an integer code")
        try:
            return OfferingUserState.from_code(value)
        except ValueError as exc:
            raise _Invalid(str(exc)) from None
    if not isinstance(value, str):
        raise _Invalid(f"'state' of {action} is a {type(value).__name__}, not a display value")
    return _enum(OfferingUserState, value, "state")
