"""``--dry-run``: ports that read through to the real Waldurs and write nothing, recording each write instead.

Every read goes to the wrapped port. Every write is recorded in a :class:`WriteJournal` (side, call, arguments,
and the offering and A order it is for) and answered as a successful Waldur would: ``None``, or an object made up
from the request (a B project, order or user with a UUID derived from the request, marked as made up in the
journal). The services then carry on as if the write had happened, so the journal shows each order's whole chain
of writes (approve, create the B project, submit the B order, link both), not only its first step.

Where a made-up answer would mislead, the wrapper reads instead: an identity-bridge push or an eduTEAMS lookup
answers with the B user that already has that username, so memberships already in place are not planned again.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid as uuidlib
from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal

from attrs import frozen

from fedcore.enums import OfferingUserState, OrderState, OrderType, UserMatchField
from fedcore.ids import Uuid, normalize_uuid
from fedcore.model import JsonValue, Member, NewOrder, OfferingUser, Order, Project, ProjectKey, Resource, UserIdentity
from fedcore.model import ResourceUsage as Usage
from fedcore.ports import (
    SourceOrders,
    SourceResources,
    SourceUsage,
    SourceUsers,
    TargetOrders,
    TargetProjects,
    TargetResources,
    TargetUsers,
)
from runners.wiring import Ports

_NAMESPACE = uuidlib.UUID("6f1d3c52-2f5e-4c4b-9a55-2d0f5cfed0c1")


def made_up_uuid(*parts: object) -> Uuid:
    """A UUID derived from ``parts``: the same request always gets the same made-up answer."""
    return normalize_uuid(uuidlib.uuid5(_NAMESPACE, "/".join(map(str, parts))).hex)


@frozen
class Write:
    """One write a dry run did not make: ``side`` (A or B), ``call`` (the port method) and what it would send."""

    side: str
    call: str
    detail: str
    offering: str

    def __str__(self) -> str:
        return f"[{self.offering}] {self.side} {self.call}: {self.detail}"


class WriteJournal:
    """The writes a dry run would have made, in the order the services tried them. Thread-safe."""

    def __init__(self) -> None:
        self._writes: list[Write] = []
        self._lock = threading.Lock()

    def record(self, write: Write) -> None:
        """Remember one write."""
        with self._lock:
            self._writes.append(write)

    @property
    def writes(self) -> tuple[Write, ...]:
        """Every write recorded so far."""
        with self._lock:
            return tuple(self._writes)


class _Recorder:
    def __init__(self, journal: WriteJournal, offering: str, side: str) -> None:
        self._journal, self._offering, self._side = journal, offering, side

    def _would(self, call: str, detail: str) -> None:
        self._journal.record(Write(self._side, call, detail, self._offering))


class DrySourceOrders(_Recorder):
    """A's orders: listing read through; approve, reject, link, complete and fail recorded."""

    def __init__(self, real: SourceOrders, journal: WriteJournal, offering: str) -> None:
        super().__init__(journal, offering, "A")
        self._real = real

    def list_open_orders(self) -> Sequence[Order]:
        """Read through."""
        return self._real.list_open_orders()

    def get_order(self, order_uuid: Uuid) -> Order:
        """Read through."""
        return self._real.get_order(order_uuid)

    def approve(self, order_uuid: Uuid) -> None:
        """Recorded."""
        self._would("approve", f"order {order_uuid}")

    def reject(self, order_uuid: Uuid, reason: str) -> None:
        """Recorded."""
        self._would("reject", f"order {order_uuid}: {reason}")

    def set_order_backend_id(self, order_uuid: Uuid, backend_id: str) -> None:
        """Recorded."""
        self._would("set_order_backend_id", f"order {order_uuid} -> B order {backend_id}")

    def complete(self, order_uuid: Uuid) -> None:
        """Recorded."""
        self._would("complete", f"order {order_uuid}")

    def fail(self, order_uuid: Uuid, message: str) -> None:
        """Recorded."""
        self._would("fail", f"order {order_uuid}: {message}")


class DrySourceResources(_Recorder):
    """A's resources: listings read through; links, end dates and limits recorded."""

    def __init__(self, real: SourceResources, journal: WriteJournal, offering: str) -> None:
        super().__init__(journal, offering, "A")
        self._real = real

    def list_resources(self) -> Sequence[Resource]:
        """Read through."""
        return self._real.list_resources()

    def list_project_resources(self, project_uuid: Uuid) -> Sequence[Resource]:
        """Read through."""
        return self._real.list_project_resources(project_uuid)

    def set_resource_backend_id(self, resource_uuid: Uuid, backend_id: str) -> None:
        """Recorded."""
        self._would("set_resource_backend_id", f"resource {resource_uuid} -> B resource {backend_id}")

    def set_end_date(self, resource_uuid: Uuid, end_date: dt.date | None) -> None:
        """Recorded."""
        self._would("set_end_date", f"resource {resource_uuid}: {end_date}")

    def set_limits(self, resource_uuid: Uuid, limits: Mapping[str, int]) -> None:
        """Recorded."""
        self._would("set_limits", f"resource {resource_uuid}: {dict(limits)}")


class DrySourceUsers(_Recorder):
    """A's offering users and teams: read through; username patches recorded."""

    def __init__(self, real: SourceUsers, journal: WriteJournal, offering: str) -> None:
        super().__init__(journal, offering, "A")
        self._real = real

    def list_offering_users(self, states: Collection[OfferingUserState]) -> Sequence[OfferingUser]:
        """Read through."""
        return self._real.list_offering_users(states)

    def offering_users_of(self, user_username: str) -> Sequence[OfferingUser]:
        """Read through."""
        return self._real.offering_users_of(user_username)

    def list_team(self, project_uuid: Uuid) -> Sequence[Member]:
        """Read through."""
        return self._real.list_team(project_uuid)

    def set_offering_user_username(self, offering_user_uuid: Uuid, username: str) -> None:
        """Recorded."""
        self._would("set_offering_user_username", f"offering user {offering_user_uuid}: {username!r}")


class DrySourceUsage(_Recorder):
    """A's usage: read through; totals and per-user usage recorded."""

    def __init__(self, real: SourceUsage, journal: WriteJournal, offering: str) -> None:
        super().__init__(journal, offering, "A")
        self._real = real

    def read_usage(self, resource_uuid: Uuid, billing_period: dt.date) -> Usage:
        """Read through."""
        return self._real.read_usage(resource_uuid, billing_period)

    def set_usage(self, resource_uuid: Uuid, billing_period: dt.date, totals: Mapping[str, Decimal]) -> None:
        """Recorded."""
        shown = {k: str(v) for k, v in totals.items()}
        self._would("set_usage", f"resource {resource_uuid} {billing_period:%Y-%m}: {shown}")

    def set_user_usages(
        self, resource_uuid: Uuid, billing_period: dt.date, component: str, usages: Mapping[str, Decimal]
    ) -> None:
        """Recorded."""
        shown = {k: str(v) for k, v in usages.items()}
        self._would("set_user_usages", f"resource {resource_uuid} {billing_period:%Y-%m} {component}: {shown}")


class DryTargetMarketplace(_Recorder):
    """B's orders, resources and projects: reads through; submissions, projects, members and end dates recorded."""

    def __init__(
        self,
        orders: TargetOrders,
        resources: TargetResources,
        projects: TargetProjects,
        journal: WriteJournal,
        offering: str,
        *,
        b_offering: Uuid,
        b_customer: Uuid,
    ) -> None:
        super().__init__(journal, offering, "B")
        self._orders, self._resources, self._projects = orders, resources, projects
        self._b_offering, self._b_customer = b_offering, b_customer

    # TargetOrders
    def create_order(self, order: NewOrder) -> Order:
        """Recorded; answered with a made-up pending B order and resource."""
        made_up = Order(
            made_up_uuid("order", order.key), OrderType.CREATE, OrderState.PENDING_CONSUMER, self._b_offering,
            order.project_uuid, self._b_customer, made_up_uuid("resource", order.key), order.limits,
            order.attributes, key=order.key,
        )  # fmt: skip
        self._would("create_order", f"Create in B project {order.project_uuid}, limits {dict(order.limits)}, "
                                    f"key {order.key} (made-up B order {made_up.uuid})")
        return made_up

    def request_update(self, resource_uuid: Uuid, limits: Mapping[str, int], key: str) -> Uuid:
        """Recorded; answered with a made-up B order UUID."""
        made_up = made_up_uuid("update", key)
        self._would("request_update",
                    f"resource {resource_uuid}: {dict(limits)}, key {key} (made-up B order {made_up})")
        return made_up

    def request_termination(self, resource_uuid: Uuid, key: str) -> Uuid:
        """Recorded; answered with a made-up B order UUID."""
        made_up = made_up_uuid("terminate", key)
        self._would("request_termination", f"resource {resource_uuid}, key {key} (made-up B order {made_up})")
        return made_up

    def find_orders(self, project_uuid: Uuid, keys: Collection[str]) -> Sequence[Order]:
        """Read through (nothing for a made-up project)."""
        return self._orders.find_orders(project_uuid, keys)

    def get_orders(self, order_uuids: Collection[Uuid]) -> Mapping[Uuid, Order]:
        """Read through."""
        return self._orders.get_orders(order_uuids)

    def get_order(self, order_uuid: Uuid) -> Order:
        """Read through."""
        return self._orders.get_order(order_uuid)

    def list_keyed_creates(self, modified_after: dt.datetime) -> Sequence[Order]:
        """Read through."""
        return self._orders.list_keyed_creates(modified_after)

    def delete_order(self, order_uuid: Uuid) -> None:
        """Recorded."""
        self._would("delete_order", f"B order {order_uuid} (a duplicate)")

    # TargetResources
    def get_resource(self, resource_uuid: Uuid) -> Resource:
        """Read through."""
        return self._resources.get_resource(resource_uuid)

    def list_resources(self) -> Sequence[Resource]:
        """Read through."""
        return self._resources.list_resources()

    def set_end_date(self, resource_uuid: Uuid, end_date: dt.date | None) -> None:
        """Recorded."""
        self._would("set_end_date", f"resource {resource_uuid}: {end_date}")

    # TargetProjects
    def find_project(self, key: ProjectKey) -> Project | None:
        """Read through."""
        return self._projects.find_project(key)

    def create_project(self, key: ProjectKey, name: str, description: str) -> Project:
        """Recorded; answered with a made-up project."""
        made_up = Project(made_up_uuid("project", key.backend_id), name, self._b_customer, key.backend_id, description)
        self._would("create_project", f"{name!r} with backend_id {key.backend_id} (made-up B project {made_up.uuid})")
        return made_up

    def projects_with_backend_id(self, backend_id: str) -> Sequence[Project]:
        """Read through."""
        return self._projects.projects_with_backend_id(backend_id)

    def projects_created_after(self, created_after: dt.datetime) -> Sequence[Project]:
        """Read through."""
        return self._projects.projects_created_after(created_after)

    def delete_project(self, project_uuid: Uuid) -> None:
        """Recorded."""
        self._would("delete_project", f"B project {project_uuid} (a duplicate)")

    def list_members(self, project_uuid: Uuid) -> Sequence[Member]:
        """Read through."""
        return self._projects.list_members(project_uuid)

    def add_member(self, project_uuid: Uuid, user_uuid: Uuid, role: str) -> None:
        """Recorded."""
        self._would("add_member", f"user {user_uuid} as {role} in B project {project_uuid}")

    def remove_member(self, project_uuid: Uuid, user_uuid: Uuid, role: str) -> None:
        """Recorded."""
        self._would("remove_member", f"user {user_uuid} as {role} from B project {project_uuid}")


class DryTargetUsers(_Recorder):
    """B's users: reads through; identity pushes, releases and eduTEAMS look-ups recorded."""

    def __init__(self, real: TargetUsers, journal: WriteJournal, offering: str) -> None:
        super().__init__(journal, offering, "B")
        self._real = real

    def _existing(self, username: str) -> Uuid | None:
        found = [u for u in self._real.find_users(UserMatchField.USERNAME, username) if u.username == username]
        return found[0].uuid if len(found) == 1 else None

    def push_identity(self, username: str, source: str, attributes: Mapping[str, JsonValue]) -> Uuid:
        """Recorded; answered with the B user of that username, or a made-up one."""
        user = self._existing(username) or made_up_uuid("user", username)
        self._would("push_identity", f"{username!r} from {source}, attributes {sorted(attributes)} (B user {user})")
        return user

    def remove_identity(self, username: str, source: str) -> None:
        """Recorded."""
        self._would("remove_identity", f"{username!r} from {source}")

    def resolve_eduteams(self, cuid: str) -> Uuid:
        """Recorded; answered with the B user of that username, or a made-up one."""
        user = self._existing(cuid) or made_up_uuid("user", cuid)
        self._would("resolve_eduteams", f"{cuid!r} (B user {user})")
        return user

    def find_users(self, match_field: UserMatchField, value: str) -> Sequence[UserIdentity]:
        """Read through."""
        return self._real.find_users(match_field, value)

    def list_offering_users(self, states: Collection[OfferingUserState]) -> Sequence[OfferingUser]:
        """Read through."""
        return self._real.list_offering_users(states)

    def offering_users_of(self, user_username: str) -> Sequence[OfferingUser]:
        """Read through."""
        return self._real.offering_users_of(user_username)

    def get_offering_user(self, offering_user_uuid: Uuid) -> OfferingUser:
        """Read through."""
        return self._real.get_offering_user(offering_user_uuid)


def dry_ports(ports: Ports, journal: WriteJournal, *, offering: str, b_offering: Uuid, b_customer: Uuid) -> Ports:
    """``ports`` with every write recorded in ``journal`` instead of made (B's usage is only ever read)."""
    b_market = DryTargetMarketplace(ports.b_orders, ports.b_resources, ports.b_projects, journal, offering,
                                    b_offering=b_offering, b_customer=b_customer)
    return Ports(
        a_orders=DrySourceOrders(ports.a_orders, journal, offering),
        a_resources=DrySourceResources(ports.a_resources, journal, offering),
        a_users=DrySourceUsers(ports.a_users, journal, offering),
        a_usage=DrySourceUsage(ports.a_usage, journal, offering),
        b_orders=b_market,
        b_resources=b_market,
        b_projects=b_market,
        b_users=DryTargetUsers(ports.b_users, journal, offering),
        b_usage=ports.b_usage,
        clock=ports.clock,
    )
