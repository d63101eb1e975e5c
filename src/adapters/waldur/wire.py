"""Waldur's JSON as attrs wire models, read through one private cattrs converter, then turned into domain values.

Lenient with what Waldur adds (extra fields are ignored; optional fields may be missing or null), strict about
what fedcore reads: a missing required field, a wrong type, an unknown state or a UUID that is not one raises
:class:`~adapters.waldur.errors.InvalidResponse` naming the call and the field (``$[3].state``), never a KeyError.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final, TypeVar

import attrs
import cattrs

from adapters.waldur.errors import InvalidResponse
from fedcore.enums import OfferingUserState, OrderState, OrderType, ResourceState
from fedcore.ids import Uuid, normalize_uuid
from fedcore.model import JsonValue, Member, OfferingUser, Order, Project, Resource, UserIdentity

T = TypeVar("T")
W = TypeVar("W")
R = TypeVar("R")

KEY_ATTRIBUTE: Final = "fedcore_order_key"
"""Where a Create or Terminate order on B carries fedcore's idempotency key (in its ``attributes``)."""


def _int(value: object, _: type) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ValueError(f"expected a whole number, got {value!r}")


def _decimal(value: object, _: type) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a decimal, got {value!r}")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"expected a decimal, got {value!r}") from None


def _str(value: object, _: type) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _bool(value: object, _: type) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


_converter = cattrs.Converter(forbid_extra_keys=False)
_converter.register_structure_hook(int, _int)
_converter.register_structure_hook(Decimal, _decimal)
_converter.register_structure_hook(str, _str)
_converter.register_structure_hook(bool, _bool)
_converter.register_structure_hook(Any, lambda value, _: value)


def structure(data: object, cls: type[T], where: str) -> T:
    """``data`` as ``cls``, or :class:`InvalidResponse` naming ``where`` and every bad field."""
    try:
        return _converter.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError) as exc:
        problems = cattrs.transform_error(exc, path="$") if isinstance(exc, cattrs.BaseValidationError) else [str(exc)]
        raise InvalidResponse("unexpected answer: " + "; ".join(problems), where=where) from exc


def structure_list(data: list[object], cls: type[T], where: str) -> list[T]:
    """Every item of a listing as ``cls`` (paths name the item: ``$[3].state``)."""
    return structure(data, list[cls], where)  # type: ignore[valid-type]


def _uuid(value: str, field: str) -> Uuid:
    try:
        return normalize_uuid(value)
    except ValueError as exc:
        raise ValueError(f"{field}: {exc}") from None


def _date(value: str | None, field: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise ValueError(f"{field}: not a date: {value!r}") from None


def _instant(value: str | None, field: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{field}: not a date-time: {value!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def _enum(cls: type[Any], value: str, field: str) -> Any:
    try:
        return cls(value)
    except ValueError:
        known = ", ".join(m.value for m in cls)
        raise ValueError(f"{field}: unknown value {value!r} (known: {known})") from None


def to_domain(where: str, build: Callable[[W], R], wire: W) -> R:
    """Run a ``*_to_domain`` function, turning its ValueErrors into :class:`InvalidResponse` naming ``where``."""
    try:
        return build(wire)
    except ValueError as exc:
        raise InvalidResponse(f"unexpected answer: {exc}", where=where) from exc


@attrs.frozen
class WireOrder:
    """An ``OrderDetails`` as fedcore reads it."""

    uuid: str
    type: str
    state: str
    offering_uuid: str
    project_uuid: str
    customer_uuid: str
    marketplace_resource_uuid: str | None = None
    limits: dict[str, int] | None = None
    attributes: dict[str, Any] | None = None
    backend_id: str | None = None
    error_message: str | None = None
    provider_rejection_comment: str | None = None
    consumer_rejection_comment: str | None = None
    resource_name: str | None = None
    project_name: str | None = None
    project_description: str | None = None
    customer_name: str | None = None
    request_comment: str | None = None
    created: str | None = None
    modified: str | None = None


ORDER_FIELDS: Final = tuple(a.name for a in attrs.fields(WireOrder))


def order_key(wire: WireOrder) -> str:
    """The idempotency key a B order carries: in ``attributes`` (Create, Terminate) or ``request_comment`` (Update)."""
    attributes = wire.attributes or {}
    key = attributes.get(KEY_ATTRIBUTE)
    if isinstance(key, str) and key:
        return key
    comment = (wire.request_comment or "").strip()
    return comment if comment.startswith("fedcore-order:") else ""


def order_to_domain(wire: WireOrder) -> Order:
    """The domain :class:`Order`.

    Its ``error_message`` is Waldur's, or else the rejection comment: ``reject_by_provider`` (and
    ``reject_by_consumer``) keep their reason in a comment field and leave ``error_message`` empty.
    """
    attributes: dict[str, JsonValue] = {k: v for k, v in (wire.attributes or {}).items() if k != KEY_ATTRIBUTE}
    return Order(
        uuid=_uuid(wire.uuid, "uuid"),
        type=_enum(OrderType, wire.type, "type"),
        state=_enum(OrderState, wire.state, "state"),
        offering_uuid=_uuid(wire.offering_uuid, "offering_uuid"),
        project_uuid=_uuid(wire.project_uuid, "project_uuid"),
        customer_uuid=_uuid(wire.customer_uuid, "customer_uuid"),
        resource_uuid=_uuid(wire.marketplace_resource_uuid, "marketplace_resource_uuid")
        if wire.marketplace_resource_uuid
        else None,
        limits=wire.limits or {},
        attributes=attributes,
        backend_id=wire.backend_id or "",
        error_message=wire.error_message or wire.provider_rejection_comment or wire.consumer_rejection_comment or "",
        resource_name=wire.resource_name or "",
        project_name=wire.project_name or "",
        project_description=wire.project_description or "",
        customer_name=wire.customer_name or "",
        key=order_key(wire),
        created=_instant(wire.created, "created"),
        modified=_instant(wire.modified, "modified"),
    )


@attrs.frozen
class WireResource:
    """A ``Resource`` as fedcore reads it."""

    uuid: str
    state: str
    offering_uuid: str
    project_uuid: str
    name: str | None = None
    backend_id: str | None = None
    limits: dict[str, int] | None = None
    end_date: str | None = None
    customer_uuid: str | None = None


RESOURCE_FIELDS: Final = tuple(a.name for a in attrs.fields(WireResource))


def resource_to_domain(wire: WireResource) -> Resource:
    """The domain :class:`Resource`."""
    return Resource(
        uuid=_uuid(wire.uuid, "uuid"),
        state=_enum(ResourceState, wire.state, "state"),
        offering_uuid=_uuid(wire.offering_uuid, "offering_uuid"),
        project_uuid=_uuid(wire.project_uuid, "project_uuid"),
        name=wire.name or "",
        backend_id=wire.backend_id or "",
        limits=wire.limits or {},
        end_date=_date(wire.end_date, "end_date"),
        customer_uuid=_uuid(wire.customer_uuid, "customer_uuid") if wire.customer_uuid else None,
    )


@attrs.frozen
class WireProject:
    """A ``Project`` as fedcore reads it."""

    uuid: str
    name: str
    customer_uuid: str
    backend_id: str | None = None
    description: str | None = None
    created: str | None = None


PROJECT_FIELDS: Final = tuple(a.name for a in attrs.fields(WireProject))


def project_to_domain(wire: WireProject) -> Project:
    """The domain :class:`Project`."""
    return Project(
        uuid=_uuid(wire.uuid, "uuid"),
        name=wire.name,
        customer_uuid=_uuid(wire.customer_uuid, "customer_uuid"),
        backend_id=wire.backend_id or "",
        description=wire.description or "",
        created=_instant(wire.created, "created"),
    )


@attrs.frozen
class WireRoleUser:
    """One row of ``projects/{uuid}/list_users/`` (``UserRoleDetails``): ``uuid`` is the role, not the user."""

    user_uuid: str
    user_username: str
    role_name: str
    user_email: str | None = None


ROLE_USER_FIELDS: Final = tuple(a.name for a in attrs.fields(WireRoleUser))


def member_to_domain(wire: WireRoleUser) -> Member:
    """The domain :class:`Member`."""
    user = UserIdentity(uuid=_uuid(wire.user_uuid, "user_uuid"), username=wire.user_username,
                        email=wire.user_email or "")
    return Member(user, wire.role_name)


@attrs.frozen
class WireProjectUser:
    """One row of ``marketplace-provider-resources/{uuid}/team/`` (``ProjectUser``): ``uuid`` is the user's."""

    uuid: str
    username: str
    role: str
    email: str | None = None


def project_user_to_domain(wire: WireProjectUser) -> Member:
    """The domain :class:`Member`."""
    return Member(UserIdentity(uuid=_uuid(wire.uuid, "uuid"), username=wire.username, email=wire.email or ""),
                  wire.role)


@attrs.frozen
class WireResourceRef:
    """A resource reduced to what finding one in a project needs."""

    uuid: str
    state: str


@attrs.frozen
class WireUser:
    """A ``User`` as fedcore reads it."""

    uuid: str
    username: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    organization: str | None = None
    civil_number: str | None = None
    affiliations: list[str] | None = None


USER_FIELDS: Final = tuple(a.name for a in attrs.fields(WireUser))


def user_to_domain(wire: WireUser) -> UserIdentity:
    """The domain :class:`UserIdentity`."""
    return UserIdentity(
        uuid=_uuid(wire.uuid, "uuid"),
        username=wire.username,
        email=wire.email or "",
        first_name=wire.first_name or "",
        last_name=wire.last_name or "",
        organization=wire.organization or "",
        civil_number=wire.civil_number or "",
        affiliations=tuple(wire.affiliations or ()),
    )


@attrs.frozen
class WireOfferingUser:
    """An ``OfferingUser`` as fedcore reads it."""

    uuid: str
    user_uuid: str
    user_username: str
    offering_uuid: str
    state: str
    username: str | None = None
    is_restricted: bool | None = None
    user_email: str | None = None


OFFERING_USER_FIELDS: Final = tuple(a.name for a in attrs.fields(WireOfferingUser))


def offering_user_to_domain(wire: WireOfferingUser) -> OfferingUser:
    """The domain :class:`OfferingUser`."""
    return OfferingUser(
        uuid=_uuid(wire.uuid, "uuid"),
        user_uuid=_uuid(wire.user_uuid, "user_uuid"),
        user_username=wire.user_username,
        offering_uuid=_uuid(wire.offering_uuid, "offering_uuid"),
        state=_enum(OfferingUserState, wire.state, "state"),
        username=wire.username or None,
        is_restricted=bool(wire.is_restricted),
        user_email=wire.user_email or "",
    )


def json_object(data: object, where: str) -> Mapping[str, Any]:
    """``data`` as a JSON object, or :class:`InvalidResponse`."""
    if not isinstance(data, dict):
        raise InvalidResponse(f"expected a JSON object, got {type(data).__name__}", where=where)
    return data


def uuid_field(data: object, field: str, where: str) -> Uuid:
    """One UUID field of a JSON object answer (``order_uuid`` of ``update_limits``, ``uuid`` of the bridge)."""
    value = json_object(data, where).get(field)
    if not isinstance(value, str):
        raise InvalidResponse(f"unexpected answer: ${'.' + field}: missing or not a string", where=where)
    return to_domain(where, lambda v: _uuid(v, field), value)
