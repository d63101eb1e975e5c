"""The part of a Waldur marketplace both in-memory sides share: orders and resources of one offering, with
resources following their orders as Waldur moves them, deterministic UUIDs and creation times, and fault hooks.
"""

from __future__ import annotations

import datetime as dt
import itertools

from attrs import evolve

from adapters.memory.faults import Faults
from fedcore.enums import OrderState, OrderType, ResourceState
from fedcore.errors import Conflict, NotFound
from fedcore.ids import Uuid
from fedcore.model import Order, Project, Resource

_RESOURCE_AFTER_DONE = {
    OrderType.CREATE: ResourceState.OK,
    OrderType.UPDATE: ResourceState.OK,
    OrderType.TERMINATE: ResourceState.TERMINATED,
}


class UuidSource:
    """Deterministic UUIDs for fakes (``prefix`` keeps A's and B's apart when reading test output)."""

    def __init__(self, prefix: int) -> None:
        self._prefix = prefix
        self._counter = itertools.count(1)

    def __call__(self) -> Uuid:
        return Uuid(f"{self._prefix:08x}{next(self._counter):024x}")


class Marketplace:
    """Orders and resources of one offering, with resources following their orders."""

    def __init__(self, side: str, offering_uuid: Uuid, faults: Faults | None, uuid_prefix: int) -> None:
        self.side = side
        self.offering_uuid = offering_uuid
        self.faults = faults or Faults()
        self.new_uuid = UuidSource(uuid_prefix)
        self.orders: dict[Uuid, Order] = {}
        self.resources: dict[Uuid, Resource] = {}
        self._ticks = itertools.count(1)

    def _now(self) -> dt.datetime:
        """A creation time that grows with every new order (fakes keep no wall clock)."""
        return dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=next(self._ticks))

    def _call(self, method: str) -> None:
        self.faults.before(self.side, method)

    def _done(self, method: str, *, write: bool = True) -> None:
        self.faults.after(self.side, method, write=write)

    def order(self, uuid: Uuid) -> Order:
        """The order, or NotFound."""
        try:
            return self.orders[uuid]
        except KeyError:
            raise NotFound(f"order {uuid} not found", where=self.side, status=404) from None

    def resource(self, uuid: Uuid) -> Resource:
        """The resource, or NotFound."""
        try:
            return self.resources[uuid]
        except KeyError:
            raise NotFound(f"resource {uuid} not found", where=self.side, status=404) from None

    def _set_order(self, order: Order, **changes: object) -> Order:
        updated = evolve(order, **{"modified": self._now(), **changes})  # type: ignore[arg-type]
        self.orders[order.uuid] = updated
        return updated

    def _set_resource(self, resource: Resource, **changes: object) -> Resource:
        updated = evolve(resource, **changes)  # type: ignore[arg-type]
        self.resources[resource.uuid] = updated
        return updated

    def _open_order_for(self, resource_uuid: Uuid) -> Order | None:
        return next(
            (o for o in self.orders.values() if o.resource_uuid == resource_uuid and not o.state.is_terminal), None
        )

    def _new_order(
        self, type_: OrderType, project: Project | Resource, customer_uuid: Uuid, resource_uuid: Uuid, **fields: object
    ) -> Order:
        order = Order(
            uuid=self.new_uuid(),
            type=type_,
            state=OrderState.PENDING_PROVIDER,
            offering_uuid=self.offering_uuid,
            project_uuid=project.project_uuid if isinstance(project, Resource) else project.uuid,
            customer_uuid=customer_uuid,
            resource_uuid=resource_uuid,
            **{"created": (now := self._now()), "modified": now, **fields},  # type: ignore[arg-type]
        )
        self.orders[order.uuid] = order
        return order

    def _finish_order(self, order: Order, state: OrderState, message: str = "") -> Order:
        """Move an order to a terminal state and its resource with it, as Waldur does."""
        if order.state.is_terminal:
            raise Conflict(f"order {order.uuid} is already {order.state}", where=self.side, status=409)
        finished = self._set_order(order, state=state, error_message=message)
        resource = self.resources.get(order.resource_uuid) if order.resource_uuid else None
        if resource is None:
            return finished
        if state == OrderState.DONE:
            changes: dict[str, object] = {"state": _RESOURCE_AFTER_DONE.get(order.type, ResourceState.OK)}
            if order.type in (OrderType.CREATE, OrderType.UPDATE):
                changes["limits"] = order.limits
            self._set_resource(resource, **changes)
        elif order.type == OrderType.CREATE:
            self._set_resource(resource, state=ResourceState.ERRED)
        elif resource.state in (ResourceState.UPDATING, ResourceState.TERMINATING):
            self._set_resource(resource, state=ResourceState.OK)
        return finished
