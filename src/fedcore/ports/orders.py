"""Ports for the order lifecycle and the resources it links, shaped for the REST adapter's call budget.

Budget: at most 8 HTTP calls to A and B together per federated Create order, 1 per idle polling cycle.
So reads are batched: A's open orders come in one listing per pass; B's in-flight orders are read
together; the idempotency lookup on B is one listing per B project, not one per order.

A failed read raises (:mod:`fedcore.errors`); it never answers "absent". Only a :class:`~fedcore.errors.NotFound`
from a single-object read means an object is gone, and even that may mean "not visible to this token".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

from fedcore.ids import Uuid
from fedcore.model import NewOrder, Order, Project, ProjectKey, Resource
from fedcore.ports.users import TargetMembers

__all__ = [
    "NewOrder",
    "SourceOrders",
    "SourceResources",
    "TargetOrders",
    "TargetProjects",
    "TargetResources",
]


class SourceOrders(Protocol):
    """Waldur A's orders of the offering fedcore serves as service provider."""

    def list_open_orders(self) -> Sequence[Order]:
        """Every order of the offering in ``pending-provider`` or ``executing`` (one listing)."""
        ...

    def get_order(self, order_uuid: Uuid) -> Order:
        """One A order of the offering; NotFound when A answers 404 for it.

        An order of another offering is NotFound too: fedcore serves only its own offering's orders.
        """
        ...

    def approve(self, order_uuid: Uuid) -> None:
        """``approve_by_provider``: pending-provider -> executing. Conflict when not pending-provider."""
        ...

    def reject(self, order_uuid: Uuid, reason: str) -> None:
        """``reject_by_provider`` with ``reason`` as the provider's comment: pending-provider -> rejected."""
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


class SourceResources(Protocol):
    """Waldur A's resources of the offering, as their service provider sees and writes them."""

    def list_resources(self) -> Sequence[Resource]:
        """Every resource of the offering (one paginated listing), in any state."""
        ...

    def list_project_resources(self, project_uuid: Uuid) -> Sequence[Resource]:
        """The offering's resources in one A project (to resolve Waldur's shadow resources)."""
        ...

    def set_resource_backend_id(self, resource_uuid: Uuid, backend_id: str) -> None:
        """Record the linked B resource on the A resource."""
        ...

    def set_end_date(self, resource_uuid: Uuid, end_date: dt.date | None) -> None:
        """``set_end_date_by_provider``: the A resource's end date (None clears it)."""
        ...

    def set_limits(self, resource_uuid: Uuid, limits: Mapping[str, int]) -> None:
        """``set_limits``: write the A resource's limits directly, without an order."""
        ...


class TargetProjects(TargetMembers, Protocol):
    """B's projects under fedcore's customer, and (through :class:`TargetMembers`) their members."""

    def find_project(self, key: ProjectKey) -> Project | None:
        """The B project whose ``backend_id`` names the key's A project, or None when none exists.

        When several do (two replicas created one each), the oldest (:func:`fedcore.lifecycle.choose_project`),
        so that every replica picks the same one.
        """
        ...

    def create_project(self, key: ProjectKey, name: str, description: str) -> Project:
        """Create the B project for ``key`` under the configured B customer."""
        ...

    def projects_with_backend_id(self, backend_id: str) -> Sequence[Project]:
        """Every B project of fedcore's customer whose ``backend_id`` is exactly ``backend_id`` (one listing)."""
        ...

    def projects_created_after(self, created_after: dt.datetime) -> Sequence[Project]:
        """The B projects of fedcore's customer created after ``created_after`` (one paged listing; for the
        duplicate sweep)."""
        ...

    def delete_project(self, project_uuid: Uuid) -> None:
        """Delete a B project (Waldur's soft delete). NotFound when it is gone; Conflict while it holds resources."""
        ...


class TargetOrders(Protocol):
    """B's orders of the target offering.

    Where the idempotency key travels: in the B order's ``attributes``. A Create order gets it when submitted, a
    Terminate order through ``terminate``'s ``attributes``; an Update order is given it right after
    ``update_limits`` (Waldur 8.0.5 keeps neither attributes nor ``request_comment`` from that call), and an
    ``update_limits`` refused because the limits already are these adopts the Update order that set them.
    Whatever the carrier, :meth:`find_orders` reads it back into :attr:`fedcore.model.Order.key`.
    """

    def create_order(self, order: NewOrder) -> Order:
        """Submit a Create order on B; the result carries the new B resource UUID at once."""
        ...

    def request_update(self, resource_uuid: Uuid, limits: Mapping[str, int], key: str) -> Uuid:
        """``update_limits`` on the B resource; returns the B Update order's UUID."""
        ...

    def request_termination(self, resource_uuid: Uuid, key: str) -> Uuid:
        """``terminate`` on the B resource; returns the B Terminate order's UUID."""
        ...

    def find_orders(self, project_uuid: Uuid, keys: Collection[str]) -> Sequence[Order]:
        """Every B order in one B project carrying any of ``keys`` (one listing), oldest first.

        More than one order may carry a key (a second replica, an operator's retry): the caller chooses among
        them (:func:`fedcore.lifecycle.choose_keyed`), so every replica picks the same one.
        """
        ...

    def get_orders(self, order_uuids: Collection[Uuid]) -> Mapping[Uuid, Order]:
        """The current state of those of these B orders that one batched read found.

        An order missing from the answer is *not* known to be gone (a listing may miss it: paging races,
        visibility, filters): read it with :meth:`get_order`.
        """
        ...

    def get_order(self, order_uuid: Uuid) -> Order:
        """One B order; NotFound when B answers 404 for it."""
        ...

    def list_keyed_creates(self, modified_after: dt.datetime) -> Sequence[Order]:
        """The Create orders of the B offering modified after ``modified_after`` that carry fedcore's idempotency
        key (one paged listing; for the duplicate sweep)."""
        ...

    def delete_order(self, order_uuid: Uuid) -> None:
        """Delete a B order that is still ``pending-consumer`` or ``pending-provider`` (as its consumer may): B
        never acts on it. NotFound when it is gone; Conflict once it has moved on."""
        ...


class TargetResources(Protocol):
    """B's resources of the target offering under fedcore's customer."""

    def get_resource(self, resource_uuid: Uuid) -> Resource:
        """The B resource; NotFound when it does not exist (or is not visible)."""
        ...

    def list_resources(self) -> Sequence[Resource]:
        """Every resource of the target offering under fedcore's customer (one paginated listing)."""
        ...

    def set_end_date(self, resource_uuid: Uuid, end_date: dt.date | None) -> None:
        """The B resource's end date as its consumer sets it (``PATCH end_date``; None clears it)."""
        ...
