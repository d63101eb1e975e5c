"""The domain's values: frozen attrs classes over normalised UUIDs and Waldur's enums.

These mirror only what federation needs. Wire formats live in the adapters, which build these values
through their own ``to_domain`` functions; nothing here knows about JSON or HTTP.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TypeAlias

from attrs import field, frozen

from fedcore.enums import OfferingUserState, OrderState, OrderType, ResourceState
from fedcore.ids import Uuid, link_uuid, normalize_link, normalize_uuid, optional_uuid

JsonValue: TypeAlias = "str | int | float | bool | list[JsonValue] | dict[str, JsonValue] | None"
"""A JSON value: what Waldur's open ``attributes`` objects may hold."""


# The converters below copy a field's value so that callers cannot mutate a frozen value through it. There is
# one per field type, not one generic ``frozen_dict[K, V]``/``as_tuple[T]``: mypy's attrs plugin does not bind a
# generic converter's type variables (``__init__`` would take ``Mapping[K, V]`` and reject every argument; plain
# ``dict``/``tuple`` fail the same way) and refuses aliases or ``attrs.Converter`` objects. Reuse these instead
# of adding private copies.


def int_map(value: Mapping[str, int]) -> Mapping[str, int]:
    """Converter for attrs fields holding a component -> integer map (copies, so callers cannot mutate it)."""
    return dict(value)


def json_map(value: Mapping[str, JsonValue]) -> Mapping[str, JsonValue]:
    """Converter for attrs fields holding an open JSON object (copies it)."""
    return dict(value)


def str_tuple(value: Iterable[str]) -> tuple[str, ...]:
    """Converter for attrs fields holding a tuple of strings (typed, so mypy accepts any iterable of str)."""
    return tuple(value)


def decimal_map(value: Mapping[str, Decimal]) -> Mapping[str, Decimal]:
    """Converter for attrs fields holding a component -> Decimal map (copies it)."""
    return dict(value)


def str_map(value: Mapping[str, str]) -> Mapping[str, str]:
    """Converter for attrs fields holding a name -> name map, e.g. A role -> B role (copies it)."""
    return dict(value)


@frozen
class Order:
    """A marketplace order, on A or on B.

    ``resource_uuid`` is Waldur's ``marketplace_resource_uuid`` (known as soon as the order exists).
    ``backend_id`` on an A order holds the linked B order's UUID once fedcore has recorded it; it is normalised
    on the way in (:func:`fedcore.ids.normalize_link`), so a hyphenated link equals a bare one, and :attr:`link`
    is the B order UUID it names.
    ``key`` is the idempotency key fedcore stamped on a B order it created ("" elsewhere).
    """

    uuid: Uuid = field(converter=normalize_uuid)
    type: OrderType
    state: OrderState
    offering_uuid: Uuid = field(converter=normalize_uuid)
    project_uuid: Uuid = field(converter=normalize_uuid)
    customer_uuid: Uuid = field(converter=normalize_uuid)
    resource_uuid: Uuid | None = field(default=None, converter=optional_uuid)
    limits: Mapping[str, int] = field(factory=dict, converter=int_map)
    attributes: Mapping[str, JsonValue] = field(factory=dict, converter=json_map)
    backend_id: str = field(default="", converter=normalize_link)
    error_message: str = ""
    resource_name: str = ""
    project_name: str = ""
    project_description: str = ""
    customer_name: str = ""
    key: str = ""
    created: dt.datetime | None = None
    modified: dt.datetime | None = None

    @property
    def link(self) -> Uuid | None:
        """The B order UUID ``backend_id`` names; None when it is empty or not a UUID."""
        return link_uuid(self.backend_id)


@frozen
class Resource:
    """A marketplace resource. On A, ``backend_id`` holds the linked B resource's UUID once recorded.

    ``backend_id`` is normalised like :attr:`Order.backend_id`; :attr:`link` is the B resource UUID it names.
    ``customer_uuid`` is the customer of the resource's project (None when the source did not show it): with
    ``project_uuid`` it names the A project's B project (:class:`ProjectKey`).
    """

    uuid: Uuid = field(converter=normalize_uuid)
    state: ResourceState
    offering_uuid: Uuid = field(converter=normalize_uuid)
    project_uuid: Uuid = field(converter=normalize_uuid)
    name: str = ""
    backend_id: str = field(default="", converter=normalize_link)
    limits: Mapping[str, int] = field(factory=dict, converter=int_map)
    end_date: dt.date | None = None
    customer_uuid: Uuid | None = field(default=None, converter=optional_uuid)

    @property
    def link(self) -> Uuid | None:
        """The B resource UUID ``backend_id`` names; None when it is empty or not a UUID."""
        return link_uuid(self.backend_id)


@frozen
class NewOrder:
    """A Create order fedcore submits on B; ``key`` is its idempotency key (``fedcore.lifecycle.idempotency_key``)."""

    project_uuid: Uuid = field(converter=normalize_uuid)
    key: str
    limits: Mapping[str, int] = field(factory=dict, converter=int_map)
    attributes: Mapping[str, JsonValue] = field(factory=dict, converter=json_map)


@frozen
class ProjectKey:
    """Identifies an A project on B: B's project ``backend_id`` is ``<A customer uuid>_<A project uuid>``."""

    customer_uuid: Uuid = field(converter=normalize_uuid)
    project_uuid: Uuid = field(converter=normalize_uuid)

    @property
    def backend_id(self) -> str:
        """The string fedcore stores in B's project ``backend_id`` (UUIDs as 32 hex digits)."""
        return f"{self.customer_uuid}_{self.project_uuid}"

    @property
    def spellings(self) -> tuple[str, str]:
        """Every ``backend_id`` that names this A project on B: fedcore's, then the existing agent's (the same
        UUIDs with hyphens: projects it federated before a migration are found, not made twice)."""
        return self.backend_id, f"{_hyphenated(self.customer_uuid)}_{_hyphenated(self.project_uuid)}"

    def names(self, backend_id: str) -> bool:
        """Whether a B project's ``backend_id`` names this A project, in any spelling of its two UUIDs."""
        customer, sep, project = backend_id.strip().partition("_")
        if not sep:
            return False
        try:
            return (normalize_uuid(customer), normalize_uuid(project)) == (self.customer_uuid, self.project_uuid)
        except ValueError:
            return False


@frozen
class Project:
    """A project on B (or A). ``created`` orders projects that share a ``backend_id`` (the oldest one serves)."""

    uuid: Uuid = field(converter=normalize_uuid)
    name: str
    customer_uuid: Uuid = field(converter=normalize_uuid)
    backend_id: str = ""
    description: str = ""
    created: dt.datetime | None = None


@frozen
class UserIdentity:
    """A person as one Waldur knows them. ``username`` is the CUID in federated deployments."""

    uuid: Uuid = field(converter=normalize_uuid)
    username: str
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    organization: str = ""
    civil_number: str = ""
    affiliations: tuple[str, ...] = field(default=(), converter=str_tuple)


@frozen
class Member:
    """One role of one user in a project (a ``list_users``/``team`` row reduced to what matters)."""

    user: UserIdentity
    role: str


@frozen
class OfferingUser:
    """A marketplace offering user: a user's account on one offering.

    ``user_username`` is the user's CUID; ``username`` the offering-local account name (None when unset).
    ``user_email`` is the user's email as the offering shows it ("" when the offering does not expose it);
    it identifies the person when users are matched by email.
    """

    uuid: Uuid = field(converter=normalize_uuid)
    user_uuid: Uuid = field(converter=normalize_uuid)
    user_username: str
    offering_uuid: Uuid = field(converter=normalize_uuid)
    state: OfferingUserState
    username: str | None = None
    is_restricted: bool = False
    user_email: str = ""


@frozen
class ComponentMapping:
    """How one A component maps onto B components: ``targets`` is B component -> factor.

    B value = A value x factor. An empty ``targets`` means passthrough (same name, factor 1).
    """

    source: str
    targets: Mapping[str, Decimal] = field(factory=dict, converter=decimal_map)

    @property
    def is_passthrough(self) -> bool:
        """True when the component is forwarded unchanged under its own name."""
        return not self.targets


@frozen
class UserUsage:
    """One user's usage of one component in a billing period."""

    component: str
    username: str
    amount: Decimal


def _user_usages(value: Iterable[UserUsage]) -> tuple[UserUsage, ...]:
    return tuple(value)


@frozen
class ResourceUsage:
    """A resource's usage in one billing period: totals per component and the per-user split."""

    resource_uuid: Uuid = field(converter=normalize_uuid)
    billing_period: dt.date
    totals: Mapping[str, Decimal] = field(factory=dict, converter=decimal_map)
    per_user: tuple[UserUsage, ...] = field(default=(), converter=_user_usages)


def _hyphenated(uuid: Uuid) -> str:
    """A 32-hex UUID in the 8-4-4-4-12 spelling."""
    return f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}"
