"""In-memory Waldur A and Waldur B for the order lifecycle, keeping Waldur's rules.

:class:`MemoryTarget` is B (implements :class:`fedcore.ports.TargetOrders`, :class:`fedcore.ports.TargetResources`
and :class:`fedcore.ports.TargetProjects`); :class:`MemorySource`, A as fedcore's offering sees it, lives in
:mod:`adapters.memory.source` and is imported from here too. They enforce what Waldur enforces (approve only
pending-provider orders, complete only executing ones, update or terminate only resources in a state that allows
it, unique project roles), move resources with their orders, and let tests act as the users of A and as B's own
service provider, inject faults, and inspect everything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence

from adapters.memory._market import Marketplace
from adapters.memory.faults import Faults
from adapters.memory.source import MemorySource
from fedcore.enums import OrderState, OrderType, ResourceState
from fedcore.errors import Conflict, NotFound, PermanentError
from fedcore.ids import Uuid
from fedcore.lifecycle import a_order_of_key, choose_project
from fedcore.model import Member, NewOrder, Order, Project, ProjectKey, Resource, UserIdentity

__all__ = ["MemorySource", "MemoryTarget"]


class MemoryTarget(Marketplace):
    """Waldur B under fedcore's customer. Tests play B's service provider through ``provider_*``."""

    def __init__(
        self,
        offering_uuid: Uuid,
        customer_uuid: Uuid,
        *,
        components: Collection[str] | None = None,
        faults: Faults | None = None,
        users: dict[Uuid, UserIdentity] | None = None,
    ) -> None:
        super().__init__("B", offering_uuid, faults, uuid_prefix=0xB)
        self.customer_uuid = customer_uuid
        self.components = frozenset(components) if components is not None else None
        self.projects: dict[Uuid, Project] = {}
        self.members: dict[Uuid, list[Member]] = {}
        self.users: dict[Uuid, UserIdentity] = users if users is not None else {}
        """B's people by UUID; pass a :class:`~adapters.memory.users.MemoryUsers` ``registry`` to share them."""
        self.unlisted: set[Uuid] = set()
        """B orders that batched reads miss (a paging race, a filter mismatch); single reads still find them."""

    # -- B's service provider (test helpers) ----------------------------------------------------------------

    def provider_approve(self, order_uuid: Uuid) -> None:
        """B's provider approves: pending-provider -> executing."""
        order = self.order(order_uuid)
        if order.state != OrderState.PENDING_PROVIDER:
            raise Conflict(f"order {order_uuid} is {order.state}", where="B", status=409)
        self._set_order(order, state=OrderState.EXECUTING)

    def provider_finish(self, order_uuid: Uuid, state: OrderState, message: str = "") -> None:
        """B's provider takes the order to done, erred, canceled or rejected (approving first where needed)."""
        if state not in (OrderState.DONE, OrderState.ERRED, OrderState.CANCELED, OrderState.REJECTED):
            raise ValueError(f"not a terminal state: {state}")
        self._finish_order(self.order(order_uuid), state, message)

    def orders_with_key(self, key: str) -> list[Order]:
        """Every B order stamped with ``key`` (more than one would be a duplicate)."""
        return [o for o in self.orders.values() if o.key == key]

    def projects_with_key(self, key: ProjectKey) -> list[Project]:
        """Every B project mirroring ``key`` (more than one would be a duplicate)."""
        return [p for p in self.projects.values() if p.backend_id == key.backend_id]

    def open_orders(self) -> list[Order]:
        """B orders not yet terminal."""
        return [o for o in self.orders.values() if not o.state.is_terminal]

    # -- TargetProjects -------------------------------------------------------------------------------------

    def find_project(self, key: ProjectKey) -> Project | None:
        """The project whose backend_id names the key's A project (fedcore's spelling, or the existing agent's)."""
        self._call("find_project")
        found = choose_project(p for p in self.projects.values() if key.names(p.backend_id))
        self._done("find_project", write=False)
        return found

    def create_project(self, key: ProjectKey, name: str, description: str) -> Project:
        """Create a project under fedcore's customer (Waldur allows duplicates: the caller must look first)."""
        self._call("create_project")
        if not name:
            raise PermanentError('{"name": ["This field may not be blank."]}', where="B", status=400)
        project = Project(self.new_uuid(), name, self.customer_uuid, key.backend_id, description, self._now())
        self.projects[project.uuid] = project
        self.members[project.uuid] = []
        self._done("create_project")
        return project

    def projects_with_backend_id(self, backend_id: str) -> Sequence[Project]:
        """Every project with exactly this backend_id."""
        self._call("projects_with_backend_id")
        found = [p for p in self.projects.values() if p.backend_id == backend_id]
        self._done("projects_with_backend_id", write=False)
        return found

    def projects_created_after(self, created_after: dt.datetime) -> Sequence[Project]:
        """Projects created at or after ``created_after`` (the fake's own clock)."""
        self._call("projects_created_after")
        found = [p for p in self.projects.values() if p.created is not None and p.created >= created_after]
        self._done("projects_created_after", write=False)
        return found

    def delete_project(self, project_uuid: Uuid) -> None:
        """Remove the project; 409 while a resource in it is not Terminated, NotFound when it is gone."""
        self._call("delete_project")
        if project_uuid not in self.projects:
            raise NotFound(f"project {project_uuid}", where="B", status=404)
        if any(r.project_uuid == project_uuid and r.state != ResourceState.TERMINATED
               for r in self.resources.values()):
            raise Conflict("Project has active resources.", where="B", status=409)
        del self.projects[project_uuid]
        self.members.pop(project_uuid, None)
        self._done("delete_project")

    def list_members(self, project_uuid: Uuid) -> Sequence[Member]:
        """Every role of every user in the project, each user as B knows them now."""
        self._call("list_members")
        members = [Member(self.users.get(m.user.uuid, m.user), m.role) for m in self._members_of(project_uuid)]
        self._done("list_members", write=False)
        return members

    def add_member(self, project_uuid: Uuid, user_uuid: Uuid, role: str) -> None:
        """Grant a role; 400 when the user already has it, as Waldur answers."""
        self._call("add_member")
        members = self._members_of(project_uuid)
        if any(m.user.uuid == user_uuid and m.role == role for m in members):
            raise PermanentError("User has already the same role in this scope.", where="B", status=400)
        user = self.users.get(user_uuid) or UserIdentity(user_uuid, username=f"user-{user_uuid[-6:]}")
        members.append(Member(user, role))
        self._done("add_member")

    def remove_member(self, project_uuid: Uuid, user_uuid: Uuid, role: str) -> None:
        """Revoke a role; 400 when the user does not have it."""
        self._call("remove_member")
        members = self._members_of(project_uuid)
        match = next((m for m in members if m.user.uuid == user_uuid and m.role == role), None)
        if match is None:
            raise PermanentError("User does not have this role in this scope.", where="B", status=400)
        members.remove(match)
        self._done("remove_member")

    def _members_of(self, project_uuid: Uuid) -> list[Member]:
        if project_uuid not in self.projects:
            raise NotFound(f"project {project_uuid} not found", where="B", status=404)
        return self.members.setdefault(project_uuid, [])

    # -- TargetOrders ---------------------------------------------------------------------------------------

    def create_order(self, order: NewOrder) -> Order:
        """A Create order in the project: a Creating resource and a pending-provider order."""
        self._call("create_order")
        project = self.projects.get(order.project_uuid)
        if project is None:
            raise PermanentError(f'{{"project": ["Invalid project {order.project_uuid}."]}}', where="B", status=400)
        unknown = sorted(set(order.limits) - self.components) if self.components is not None else []
        if unknown:
            raise PermanentError(f'{{"limits": ["Unknown components: {", ".join(unknown)}"]}}', where="B", status=400)
        name = str(order.attributes.get("name", ""))
        resource = Resource(
            self.new_uuid(), ResourceState.CREATING, self.offering_uuid, project.uuid, name=name,
            customer_uuid=self.customer_uuid,
        )
        self.resources[resource.uuid] = resource
        created = self._new_order(
            OrderType.CREATE, project, self.customer_uuid, resource.uuid,
            limits=order.limits, attributes=order.attributes, key=order.key, resource_name=name,
        )
        self._done("create_order")
        return created

    def request_update(self, resource_uuid: Uuid, limits: Mapping[str, int], key: str) -> Uuid:
        """update_limits: needs an OK resource without an order in progress, else 409."""
        self._call("request_update")
        resource = self._changeable(resource_uuid, (ResourceState.OK,))
        self._set_resource(resource, state=ResourceState.UPDATING)
        order = self._new_order(OrderType.UPDATE, resource, self.customer_uuid, resource.uuid, limits=limits, key=key)
        self._done("request_update")
        return order.uuid

    def request_termination(self, resource_uuid: Uuid, key: str) -> Uuid:
        """terminate: needs an OK or Erred resource without an order in progress, else 409."""
        self._call("request_termination")
        resource = self._changeable(resource_uuid, (ResourceState.OK, ResourceState.ERRED))
        self._set_resource(resource, state=ResourceState.TERMINATING)
        order = self._new_order(OrderType.TERMINATE, resource, self.customer_uuid, resource.uuid, key=key)
        self._done("request_termination")
        return order.uuid

    def _changeable(self, resource_uuid: Uuid, states: tuple[ResourceState, ...]) -> Resource:
        resource = self.resource(resource_uuid)
        if resource.state not in states or self._open_order_for(resource_uuid):
            valid = ", ".join(states)
            raise Conflict(f"Valid states for operation: {valid} (resource is {resource.state})", where="B", status=409)
        return resource

    def find_orders(self, project_uuid: Uuid, keys: Collection[str]) -> Sequence[Order]:
        """Orders of the project stamped with one of ``keys``, oldest first."""
        self._call("find_orders")
        wanted = set(keys)
        found = [o for o in self.orders.values() if o.project_uuid == project_uuid and o.key in wanted]
        found.sort(key=lambda o: (o.created is None, o.created, o.uuid))
        self._done("find_orders", write=False)
        return found

    def get_orders(self, order_uuids: Collection[Uuid]) -> Mapping[Uuid, Order]:
        """The orders among ``order_uuids`` that a batched listing finds (not those in :attr:`unlisted`)."""
        self._call("get_orders")
        found = {u: self.orders[u] for u in order_uuids if u in self.orders and u not in self.unlisted}
        self._done("get_orders", write=False)
        return found

    def get_order(self, order_uuid: Uuid) -> Order:
        """One order, or NotFound."""
        self._call("get_order")
        order = self.order(order_uuid)
        self._done("get_order", write=False)
        return order

    def list_keyed_creates(self, modified_after: dt.datetime) -> Sequence[Order]:
        """Create orders modified at or after ``modified_after`` (the fake's own clock) that carry fedcore's key."""
        self._call("list_keyed_creates")
        found = [o for o in self.orders.values() if o.type == OrderType.CREATE and a_order_of_key(o.key)
                 and o.modified is not None and o.modified >= modified_after]
        self._done("list_keyed_creates", write=False)
        return found

    def delete_order(self, order_uuid: Uuid) -> None:
        """Delete a pending-consumer or pending-provider order (its Creating resource goes with it); 409 once it
        has moved on, NotFound when it is gone."""
        self._call("delete_order")
        order = self.order(order_uuid)
        if order.state not in (OrderState.PENDING_CONSUMER, OrderState.PENDING_PROVIDER):
            raise Conflict(f"order {order_uuid} is {order.state}", where="B", status=409)
        del self.orders[order_uuid]
        resource = self.resources.get(order.resource_uuid) if order.resource_uuid else None
        if order.type == OrderType.CREATE and resource is not None and resource.state == ResourceState.CREATING:
            self._set_resource(resource, state=ResourceState.TERMINATED)
        self._done("delete_order")

    def list_resources(self) -> Sequence[Resource]:
        """Every resource of the offering under fedcore's customer."""
        self._call("list_resources")
        found = list(self.resources.values())
        self._done("list_resources", write=False)
        return found

    def set_end_date(self, resource_uuid: Uuid, end_date: dt.date | None) -> None:
        """PATCH end_date on the resource."""
        self._call("set_end_date")
        self._set_resource(self.resource(resource_uuid), end_date=end_date)
        self._done("set_end_date")

    def get_resource(self, resource_uuid: Uuid) -> Resource:
        """The resource, or NotFound."""
        self._call("get_resource")
        resource = self.resource(resource_uuid)
        self._done("get_resource", write=False)
        return resource
