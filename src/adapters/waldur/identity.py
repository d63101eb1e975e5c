"""Port-free reads of who a token is and what it can see: ``users/me/``, an offering, an organisation.

``fedcore validate --check-connectivity`` uses these to check tokens and rights before the daemon starts
(API.md §4: "call ``GET /api/users/me/`` with each token and check ``is_identity_manager``, ``managed_isds`` and
``permissions``"). They are not ports: no service decides anything on them. Each read asks only for the fields
it uses (``users/me/`` never for ``token``), and fails through :mod:`adapters.waldur.errors` like every other call.
"""

from __future__ import annotations

import attrs

from adapters.waldur.http import WaldurHttp
from adapters.waldur.wire import structure, to_domain
from fedcore.ids import Uuid, normalize_uuid, optional_uuid

ME_FIELDS = ("uuid", "username", "is_staff", "is_identity_manager", "managed_isds", "permissions", "token_expires_at")
OFFERING_FIELDS = ("uuid", "name", "customer_uuid", "customer_name", "state", "type", "components", "plans")
CUSTOMER_FIELDS = ("uuid", "name", "blocked", "archived")


@attrs.frozen
class _WirePermission:
    role_name: str
    scope_uuid: str | None = None
    scope_type: str | None = None
    customer_uuid: str | None = None


@attrs.frozen
class _WireMe:
    uuid: str
    username: str
    is_staff: bool | None = None
    is_identity_manager: bool | None = None
    managed_isds: list[str] | None = None
    permissions: list[_WirePermission] = attrs.Factory(list)
    token_expires_at: str | None = None


@attrs.frozen
class _WireComponent:
    type: str


@attrs.frozen
class _WirePlan:
    archived: bool | None = None


@attrs.frozen
class _WireOffering:
    uuid: str
    name: str | None = None
    customer_uuid: str | None = None
    customer_name: str | None = None
    state: str | None = None
    type: str | None = None
    components: list[_WireComponent] = attrs.Factory(list)
    plans: list[_WirePlan] = attrs.Factory(list)


@attrs.frozen
class _WireCustomer:
    uuid: str
    name: str | None = None
    blocked: bool | None = None
    archived: bool | None = None


@attrs.frozen
class Role:
    """One role the caller holds: its name and the UUID of its scope (a customer, project or offering)."""

    name: str
    scope_uuid: Uuid | None
    scope_type: str = ""


@attrs.frozen
class Me:
    """The caller of a token as ``users/me/`` shows it.

    ``is_identity_manager`` and ``managed_isds`` are None when Waldur did not show them (they are visible to the
    user themselves and to staff only).
    """

    uuid: Uuid
    username: str
    is_staff: bool
    roles: tuple[Role, ...]
    is_identity_manager: bool | None = None
    managed_isds: tuple[str, ...] | None = None
    token_expires_at: str | None = None

    def holds(self, role_names: frozenset[str], scope_uuid: Uuid | None) -> bool:
        """True when the caller holds one of ``role_names`` on the scope ``scope_uuid``."""
        return scope_uuid is not None and any(r.name in role_names and r.scope_uuid == scope_uuid for r in self.roles)


@attrs.frozen
class OfferingInfo:
    """An offering as a provider (or a customer, through the public view) sees it."""

    uuid: Uuid
    name: str
    customer_uuid: Uuid | None
    customer_name: str
    state: str
    type: str
    components: tuple[str, ...]
    active_plans: int


@attrs.frozen
class CustomerInfo:
    """An organisation: its name and whether Waldur lets anything be created under it."""

    uuid: Uuid
    name: str
    blocked: bool
    archived: bool


def _uuid_or_none(value: str | None) -> Uuid | None:
    try:
        return optional_uuid(value)
    except ValueError:
        return None


def _me(wire: _WireMe) -> Me:
    roles = tuple(Role(p.role_name, _uuid_or_none(p.scope_uuid), p.scope_type or "") for p in wire.permissions)
    return Me(
        uuid=normalize_uuid(wire.uuid),
        username=wire.username,
        is_staff=bool(wire.is_staff),
        roles=roles,
        is_identity_manager=wire.is_identity_manager,
        managed_isds=None if wire.managed_isds is None else tuple(wire.managed_isds),
        token_expires_at=wire.token_expires_at,
    )


def _offering_info(wire: _WireOffering) -> OfferingInfo:
    return OfferingInfo(
        uuid=normalize_uuid(wire.uuid),
        name=wire.name or "",
        customer_uuid=_uuid_or_none(wire.customer_uuid),
        customer_name=wire.customer_name or "",
        state=wire.state or "",
        type=wire.type or "",
        components=tuple(c.type for c in wire.components),
        active_plans=sum(1 for p in wire.plans if not p.archived),
    )


def _customer_info(wire: _WireCustomer) -> CustomerInfo:
    return CustomerInfo(normalize_uuid(wire.uuid), wire.name or "", bool(wire.blocked), bool(wire.archived))


def read_me(http: WaldurHttp) -> Me:
    """``GET users/me/``: who the token belongs to, its roles and identity-manager fields."""
    path = "users/me/"
    where = http.where("GET", path)
    return to_domain(where, _me, structure(http.get(path, fields=ME_FIELDS), _WireMe, where))


def _offering(http: WaldurHttp, path: str) -> OfferingInfo:
    where = http.where("GET", path)
    return to_domain(where, _offering_info, structure(http.get(path, fields=OFFERING_FIELDS), _WireOffering, where))


def read_provider_offering(http: WaldurHttp, offering_uuid: Uuid) -> OfferingInfo:
    """``GET marketplace-provider-offerings/{uuid}/``: the offering as its service provider sees it."""
    return _offering(http, f"marketplace-provider-offerings/{offering_uuid}/")


def read_public_offering(http: WaldurHttp, offering_uuid: Uuid) -> OfferingInfo:
    """``GET marketplace-public-offerings/{uuid}/``: the offering as a customer who orders it sees it."""
    return _offering(http, f"marketplace-public-offerings/{offering_uuid}/")


def read_customer(http: WaldurHttp, customer_uuid: Uuid) -> CustomerInfo:
    """``GET customers/{uuid}/``: an organisation, if the token may see it."""
    path = f"customers/{customer_uuid}/"
    where = http.where("GET", path)
    return to_domain(where, _customer_info, structure(http.get(path, fields=CUSTOMER_FIELDS), _WireCustomer, where))
