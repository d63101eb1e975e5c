"""The reads one order pass shares (:class:`PassReads`), each made at most once per pass (or once per project,
resource or order), and the ports the order lifecycle talks to (:class:`OrderPorts`).

A read that failed is remembered for the rest of the pass, so an outage of B costs each distinct read once per pass,
not once per order. A write that failed makes the pass forget what it read about the written object.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence

from attrs import frozen

from fedcore import lifecycle as lc
from fedcore.enums import OrderType
from fedcore.errors import NotFound, PortError
from fedcore.ids import Uuid
from fedcore.model import Order, Project, ProjectKey, Resource
from fedcore.ports.orders import SourceOrders, SourceResources, TargetOrders, TargetProjects, TargetResources
from fedcore.services._memo import Memo


@frozen
class OrderPorts:
    """Everything the order lifecycle talks to: A's orders and resources, B's orders, resources and projects."""

    a_orders: SourceOrders
    a_resources: SourceResources
    b_orders: TargetOrders
    b_resources: TargetResources
    b_projects: TargetProjects


class PassReads:
    """Reads shared by the orders of one pass, each made at most once (or once per project, resource, order)."""

    def __init__(self, ports: OrderPorts, orders: Sequence[Order]) -> None:
        self._ports = ports
        self._orders = orders
        self._keys_of: dict[Uuid, set[str]] = {}  # A project -> the keys of its orders in the pass
        for order in orders:
            self._keys_of.setdefault(order.project_uuid, set()).add(lc.idempotency_key(order.uuid))
        self._linked = Memo[None, dict[Uuid, Order]](self._read_linked)
        self._single = Memo[Uuid, Order | lc.Gone](self._read_order)
        self._b_projects = Memo[ProjectKey, Project | None](ports.b_projects.find_project)
        self._keyed: dict[Uuid, Memo[None, dict[str, lc.KeyedMatch]]] = {}
        self._a_resources = Memo[Uuid, Sequence[Resource]](ports.a_resources.list_project_resources)
        self._b_resources = Memo[Uuid, Resource | None](self._read_resource)

    def warm(self) -> None:
        """Make the one read every order may share (the batch of linked B orders) now, before concurrent use.

        A failure is remembered like any other read and reaches the orders that need it.
        """
        with contextlib.suppress(PortError):
            self._linked.get(None)

    def _read_linked(self, _: None) -> dict[Uuid, Order]:
        wanted = {o.link for o in self._orders if o.link is not None}
        return dict(self._ports.b_orders.get_orders(wanted)) if wanted else {}

    def _read_order(self, uuid: Uuid) -> Order | lc.Gone:
        try:
            return self._ports.b_orders.get_order(uuid)
        except NotFound as exc:
            return lc.Gone(str(exc))

    def _read_resource(self, uuid: Uuid) -> Resource | None:
        try:
            return self._ports.b_resources.get_resource(uuid)
        except NotFound:
            return None

    def linked_order(self, uuid: Uuid, order: Order) -> Order | lc.Gone:
        """The B order the A ``order`` links: from the batched read of in-flight orders; else, for a Create, from
        the keyed listing of its B project (one per project per pass, which the check before completing reads
        anyway); else read alone (only its 404 means gone)."""
        found = self._linked.get(None).get(uuid)
        if found is None and order.type == OrderType.CREATE:
            found = self._from_keyed_listing(uuid, order)
        return found if found is not None else self._single.get(uuid)

    def _from_keyed_listing(self, uuid: Uuid, order: Order) -> Order | None:
        key = lc.idempotency_key(order.uuid)
        project = self.b_project(ProjectKey(order.customer_uuid, order.project_uuid))
        match = self.keyed_order(project.uuid, order.project_uuid, key) if project is not None else None
        if match is None:
            return None
        return next((o for o in (match.winner, *match.duplicates) if o.uuid == uuid), None)

    def b_project(self, key: ProjectKey) -> Project | None:
        return self._b_projects.get(key)

    def b_project_again(self, key: ProjectKey) -> Project | None:
        """Look the project up anew (after this turn created one); later orders of the pass use the answer."""
        found = self._ports.b_projects.find_project(key)
        if found is not None:
            self._b_projects.put(key, found)
        return found

    def project_created(self, project: Project, key: ProjectKey) -> None:
        self._b_projects.put(key, project)
        self._keyed_memo(project.uuid, ()).put(None, {})

    def keyed_order(self, b_project: Uuid, a_project: Uuid, key: str) -> lc.KeyedMatch | None:
        """The B orders carrying ``key`` in ``b_project``: one listing per B project per pass (until
        :meth:`list_keys_again`) for every key of the A project's orders."""
        if b_project in self._keyed:
            return self._keyed[b_project].get(None).get(key)
        keys = self._keys_of.get(a_project, set()) | {key}
        return self._keyed_memo(b_project, keys).get(None).get(key)

    def list_keys_again(self, b_project: Uuid) -> None:
        """The next :meth:`keyed_order` in ``b_project`` lists again (after submissions), for every later order."""
        self._keyed.pop(b_project, None)

    def _keyed_memo(self, b_project: Uuid, keys: Iterable[str]) -> Memo[None, dict[str, lc.KeyedMatch]]:
        if b_project not in self._keyed:
            wanted = frozenset(keys)
            find = self._ports.b_orders.find_orders
            self._keyed[b_project] = Memo(lambda _: lc.choose_keyed(find(b_project, wanted)))
        return self._keyed[b_project]

    def project_resources(self, project: Uuid) -> Sequence[Resource]:
        return self._a_resources.get(project)

    def b_resource(self, uuid: Uuid) -> Resource | None:
        return self._b_resources.get(uuid)

    def forget(self, step: lc.Write, view: lc.OrderView) -> None:
        """A write failed: what this pass read about its objects may be stale (it may have been applied)."""
        match step:
            case lc.CreateProject(key=key):
                self._b_projects.forget(key)
            case lc.LinkResource():
                self._a_resources.forget(view.order.project_uuid)
            case lc.SubmitCreate(order=new_order):
                self._keyed.pop(new_order.project_uuid, None)
            case lc.SubmitUpdate(resource_uuid=resource) | lc.SubmitTerminate(resource_uuid=resource):
                self._b_resources.forget(resource)
            case lc.DeleteProject() | lc.DeleteDuplicate() | lc.TerminateDuplicate():
                pass  # nothing this pass read depends on them (a keyed listing is read anew after submissions)
