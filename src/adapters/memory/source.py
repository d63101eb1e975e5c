"""In-memory Waldur A for the order lifecycle: :class:`MemorySource`, A as fedcore's offering sees it (implements
:class:`fedcore.ports.SourceOrders` and :class:`fedcore.ports.SourceResources`), keeping Waldur's rules (approve
only pending-provider orders, complete only executing ones) and letting tests act as A's users.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from adapters.memory._market import Marketplace
from adapters.memory.faults import Faults
from fedcore.enums import OrderState, OrderType, ResourceState
from fedcore.errors import Conflict, NotFound
from fedcore.ids import Uuid
from fedcore.model import Order, Project, Resource


class MemorySource(Marketplace):
    """Waldur A, seen by the service provider of one offering. Tests play A's users through ``order_*``."""

    def __init__(self, offering_uuid: Uuid, *, faults: Faults | None = None) -> None:
        super().__init__("A", offering_uuid, faults, uuid_prefix=0xA)
        self.projects: dict[Uuid, Project] = {}

    # -- what A's users do (test helpers) ---------------------------------------------------------------------

    def add_project(self, name: str = "", customer_uuid: Uuid | None = None) -> Project:
        """Create an A project (its customer is made up when not given)."""
        uuid = self.new_uuid()
        project = Project(uuid, name or f"project {uuid[-4:]}", customer_uuid or self.new_uuid())
        self.projects[uuid] = project
        return project

    def order_create(self, project: Project, limits: Mapping[str, int], *, name: str = "res") -> Order:
        """A user orders a new resource: a Creating resource and a pending-provider Create order."""
        resource = Resource(
            self.new_uuid(), ResourceState.CREATING, self.offering_uuid, project.uuid, name=name,
            customer_uuid=project.customer_uuid,
        )
        self.resources[resource.uuid] = resource
        return self._new_order(
            OrderType.CREATE, project, project.customer_uuid, resource.uuid,
            limits=limits, attributes={"name": name}, resource_name=name, project_name=project.name,
        )

    def order_change(
        self, resource_uuid: Uuid, type_: OrderType, limits: Mapping[str, int] | None = None, *, shadow: bool = False
    ) -> Order:
        """A user updates or terminates a resource. ``shadow`` reproduces Waldur's shadow resource: the order then
        points at a new, nameless resource with an empty ``backend_id`` instead of the real one."""
        resource = self.resource(resource_uuid)
        if resource.state not in (ResourceState.OK, ResourceState.ERRED) or self._open_order_for(resource_uuid):
            raise Conflict(
                f"resource {resource_uuid} is {resource.state} or has an order in progress", where="A", status=409
            )
        project = self.projects[resource.project_uuid]
        target = resource.uuid
        if shadow:
            ghost = Resource(
                self.new_uuid(), ResourceState.OK, self.offering_uuid, resource.project_uuid,
                customer_uuid=project.customer_uuid,
            )
            self.resources[ghost.uuid] = ghost
            target = ghost.uuid
        self._set_resource(resource, state=ResourceState.UPDATING if type_ == OrderType.UPDATE else resource.state)
        return self._new_order(
            type_, project, project.customer_uuid, target,
            limits=limits or {}, resource_name="" if shadow else resource.name, project_name=project.name,
        )

    # -- SourceOrders ----------------------------------------------------------------------------------------

    def list_open_orders(self) -> Sequence[Order]:
        """Pending-provider and executing orders of the offering."""
        self._call("list_open_orders")
        open_states = (OrderState.PENDING_PROVIDER, OrderState.EXECUTING)
        found = [o for o in self.orders.values() if o.state in open_states]
        self._done("list_open_orders", write=False)
        return found

    def get_order(self, order_uuid: Uuid) -> Order:
        """One order of the offering; NotFound when unknown or of another offering (as the REST adapter)."""
        self._call("get_order")
        order = self.order(order_uuid)
        if order.offering_uuid != self.offering_uuid:
            raise NotFound(
                f"order {order_uuid} is of offering {order.offering_uuid}, not of {self.offering_uuid}",
                where=self.side,
            )
        self._done("get_order", write=False)
        return order

    def list_resources(self) -> Sequence[Resource]:
        """Every resource of the offering."""
        self._call("list_resources")
        found = list(self.resources.values())
        self._done("list_resources", write=False)
        return found

    def list_project_resources(self, project_uuid: Uuid) -> Sequence[Resource]:
        """The offering's resources in one project."""
        self._call("list_project_resources")
        found = [r for r in self.resources.values() if r.project_uuid == project_uuid]
        self._done("list_project_resources", write=False)
        return found

    def approve(self, order_uuid: Uuid) -> None:
        """approve_by_provider: pending-provider -> executing, else 409."""
        self._call("approve")
        order = self.order(order_uuid)
        if order.state != OrderState.PENDING_PROVIDER:
            raise Conflict(
                f"Valid states for operation: pending-provider (order is {order.state})", where="A", status=409
            )
        self._set_order(order, state=OrderState.EXECUTING)
        self._done("approve")

    def reject(self, order_uuid: Uuid, reason: str) -> None:
        """reject_by_provider: pending-provider -> rejected, else 409; ``reason`` is kept as the error message."""
        self._call("reject")
        order = self.order(order_uuid)
        if order.state != OrderState.PENDING_PROVIDER:
            raise Conflict(
                f"Valid states for operation: pending-provider (order is {order.state})", where="A", status=409
            )
        self._finish_order(order, OrderState.REJECTED, reason)
        self._done("reject")

    def set_end_date(self, resource_uuid: Uuid, end_date: dt.date | None) -> None:
        """set_end_date_by_provider."""
        self._call("set_end_date")
        self._set_resource(self.resource(resource_uuid), end_date=end_date)
        self._done("set_end_date")

    def set_limits(self, resource_uuid: Uuid, limits: Mapping[str, int]) -> None:
        """set_limits on the provider resource: limits written directly, no order."""
        self._call("set_limits")
        self._set_resource(self.resource(resource_uuid), limits=dict(limits))
        self._done("set_limits")

    def set_resource_backend_id(self, resource_uuid: Uuid, backend_id: str) -> None:
        """set_backend_id on the provider resource."""
        self._call("set_resource_backend_id")
        self._set_resource(self.resource(resource_uuid), backend_id=backend_id)
        self._done("set_resource_backend_id")

    def set_order_backend_id(self, order_uuid: Uuid, backend_id: str) -> None:
        """set_backend_id on the order."""
        self._call("set_order_backend_id")
        self._set_order(self.order(order_uuid), backend_id=backend_id)
        self._done("set_order_backend_id")

    def complete(self, order_uuid: Uuid) -> None:
        """set_state_done: executing only, else 409."""
        self._call("complete")
        order = self.order(order_uuid)
        if order.state != OrderState.EXECUTING:
            raise Conflict(f"Valid states for operation: executing (order is {order.state})", where="A", status=409)
        self._finish_order(order, OrderState.DONE)
        self._done("complete")

    def fail(self, order_uuid: Uuid, message: str) -> None:
        """set_state_erred (allowed from any state, as in Waldur)."""
        self._call("fail")
        order = self.order(order_uuid)
        if order.state.is_terminal:
            self._set_order(order, state=OrderState.ERRED, error_message=message)
        else:
            self._finish_order(order, OrderState.ERRED, message)
        self._done("fail")
