"""Ports for the order lifecycle, shaped for the REST adapter's call budget.

Budget: at most 8 HTTP calls to A and B together per federated Create order, 1 per idle polling cycle.
So reads are batched: A's open orders come in one listing per pass; B's in-flight orders are read
together; the idempotency lookup on B is one listing per B project, not one per order.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

from attrs import field, frozen

from fedcore.ids import Uuid, normalize_uuid
from fedcore.model import JsonValue, Member, Order, Project, ProjectKey, Resource, int_map, json_map


class SourceOrders(Protocol):
    """Waldur A, where fedcore is the service provider of one offering."""

    def list_open_orders(self) -> Sequence[Order]:
        """Every order of the offering in ``pending-provider`` or ``executing`` (one listing)."""
        ...

    def list_project_resources(self, project_uuid: Uuid) -> Sequence[Resource]:
        """The offering's resources in one A project (to resolve Waldur's shadow resources)."""
        ...

    def approve(self, order_uuid: Uuid) -> None:
        """``approve_by_provider``: pending-provider -> executing. Conflict when not pending-provider."""
        ...

    def set_resource_backend_id(self, resource_uuid: Uuid, backend_id: str) -> None:
        """Record the linked B resource on the A resource."""
        ...

    def set_order_backend_id(self, order_uuid: Uuid, backend_id: str) -> None:
        """Record the linked B order on the A order."""
        ...

    def complete(self, order_uuid: Uuid) -> None:
        """``set_state_done``: executing -> done."""
        ...

    def fail(self, order_uuid: Uuid, message: str) -> None:
        """``set_state_erred`` with ``message`` as the error (Waldur's own detail, where there is one)."""
        ...


@frozen
class NewOrder:
    """A Create order fedcore submits on B; ``key`` is its idempotency key."""

    project_uuid: Uuid = field(converter=normalize_uuid)
    key: str
    limits: Mapping[str, int] = field(factory=dict, converter=int_map)
    attributes: Mapping[str, JsonValue] = field(factory=dict, converter=json_map)


class TargetProjects(Protocol):
    """B's projects under fedcore's customer, and their members."""

    def find_project(self, key: ProjectKey) -> Project | None:
        """The B project whose ``backend_id`` is exactly ``key.backend_id``, or None when none exists."""
        ...

    def create_project(self, key: ProjectKey, name: str, description: str) -> Project:
        """Create the B project for ``key`` under the configured B customer."""
        ...

    def list_members(self, project_uuid: Uuid) -> Sequence[Member]:
        """Every role of every user in the B project."""
        ...

    def add_member(self, project_uuid: Uuid, user_uuid: Uuid, role: str) -> None:
        """Grant ``role`` to the B user in the B project."""
        ...

    def remove_member(self, project_uuid: Uuid, user_uuid: Uuid, role: str) -> None:
        """Revoke ``role`` from the B user in the B project."""
        ...


class TargetOrders(Protocol):
    """B's orders and resources of the target offering."""

    def create_order(self, order: NewOrder) -> Order:
        """Submit a Create order on B; the result carries the new B resource UUID at once."""
        ...

    def request_update(self, resource_uuid: Uuid, limits: Mapping[str, int], key: str) -> Uuid:
        """``update_limits`` on the B resource; returns the B Update order's UUID."""
        ...

    def request_termination(self, resource_uuid: Uuid, key: str) -> Uuid:
        """``terminate`` on the B resource; returns the B Terminate order's UUID."""
        ...

    def find_orders(self, project_uuid: Uuid, keys: Collection[str]) -> Mapping[str, Order]:
        """B orders in one B project carrying any of ``keys`` (one listing), by key; newest wins."""
        ...

    def get_orders(self, order_uuids: Collection[Uuid]) -> Mapping[Uuid, Order]:
        """The current state of these B orders; an order missing from the answer does not exist."""
        ...

    def get_resource(self, resource_uuid: Uuid) -> Resource:
        """The B resource; NotFound when it does not exist (or is not visible)."""
        ...
