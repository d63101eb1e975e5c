"""The order-port world over the REST adapter and two Waldur emulators (in-process, or served over TCP).

Fedcore's ports are the adapter's :class:`SourceMarketplace` (A) and :class:`TargetMarketplace` (B); everything
the suites arrange goes through the emulators' REST API as Waldur's own users would: A's staff places orders
(staff orders skip consumer review, so they start pending-provider), B's staff plays B's service provider. Every
request the adapter sends is checked against Waldur 8.0.5's schema (:mod:`contract.rest_kit`).
"""

from __future__ import annotations

import uuid as uuid_lib
from collections.abc import Mapping

from contract.rest_kit import Kit, federate
from fedcore.enums import OrderState, OrderType
from fedcore.ids import Uuid, normalize_uuid
from fedcore.model import Order
from fedcore.ports.orders import SourceOrders, SourceResources, TargetOrders, TargetProjects, TargetResources


class EmulatorOrdersWorld:
    """The REST adapter between emulator A and emulator B; ``over_tcp`` serves both on 127.0.0.1."""

    def __init__(self, *, over_tcp: bool = False) -> None:
        self.kit: Kit = federate(over_tcp=over_tcp)
        self.a_orders: SourceOrders = self.kit.source
        self.a_resources: SourceResources = self.kit.source
        self.b_orders: TargetOrders = self.kit.target
        self.b_resources: TargetResources = self.kit.target
        self.b_projects: TargetProjects = self.kit.target
        self.b_customer = self.kit.b_customer

    def a_project(self) -> Uuid:
        """A new A project in an organisation of its own."""
        return self.kit.new_project()

    def a_order_create(self, project: Uuid, limits: Mapping[str, int], name: str = "res") -> Order:
        """A Create order placed by A's staff."""
        return self.kit.order_create(project, limits, name)

    def a_order_change(self, resource: Uuid, type_: OrderType, limits: Mapping[str, int] | None = None) -> Order:
        """``update_limits`` or ``terminate`` on the A resource, by A's staff."""
        return self.kit.order_change(resource, type_, limits)

    def a_order(self, order: Uuid) -> Order:
        """The A order as staff reads it."""
        return self.kit.a_order(order)

    def b_user(self, username: str) -> Uuid:
        """A user created on B by staff."""
        made = self.kit.b.call("POST", "users/", {"username": username, "email": f"{uuid_lib.uuid4().hex}@b.example"})
        return normalize_uuid(made["uuid"])

    def b_provider_approve(self, order: Uuid) -> None:
        """``approve_by_provider`` on B, by staff."""
        self.kit.b_approve(order)

    def b_provider_finish(self, order: Uuid, state: OrderState, message: str = "") -> None:
        """``set_state_done`` (after approval), ``set_state_erred`` or ``reject_by_provider`` on B, by staff."""
        self.kit.b_finish(order, state, message)

    def hide_from_batched_reads(self, order: Uuid) -> None:
        """The adapter's batched read lists in-flight orders only: B's provider finishes the order."""
        self.kit.b_finish(order, OrderState.DONE)

    def unknown_uuid(self) -> Uuid:
        """A fresh random UUID (neither emulator will ever hand it out)."""
        return Uuid(uuid_lib.uuid4().hex)

    def a_next_order_read_fails(self, order: Uuid) -> None:
        """Emulator A answers 503 to as many reads of the order as the adapter attempts, then serves it again."""
        path = f"/marketplace-orders/({order}|{uuid_lib.UUID(order)})/$"
        self.kit.a.fault(path, method="GET", kind="error", status=503, times=self.kit.a.http.retry.attempts)

    def close(self) -> None:
        """Stop the emulators' clients and servers; the adapter's traffic must have conformed to the schema."""
        problems = self.kit.problems()
        self.kit.close()
        assert not problems, "the adapter's traffic broke Waldur's schema:\n" + "\n".join(problems)
