"""The order service: one pass over A's open orders, reading through ports and applying :mod:`fedcore.lifecycle`.

A pass is level-triggered: it starts from A's current open orders and B's current state, so a lost, repeated or
reordered event, or a crash at any point of an earlier pass, changes nothing about where it converges. Reads are
batched for the REST adapter's budget: one listing of A's open orders, one read of all linked B orders, one B
project lookup and one idempotency listing per project, one resource listing per A project.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from attrs import frozen

from fedcore import lifecycle as lc
from fedcore.errors import Conflict, NotFound, PermanentError, TransientError
from fedcore.ids import Uuid
from fedcore.model import Order, Project, ProjectKey, Resource
from fedcore.ports.orders import SourceOrders, TargetOrders, TargetProjects

MAX_STEPS_PER_ORDER = 24


@frozen
class OrderOutcome:
    """What one pass did for one A order: the steps it applied and how the order's turn ended."""

    order_uuid: Uuid
    order_type: str
    steps: tuple[str, ...]
    end: lc.Wait | lc.Retry | lc.Complete | lc.Fail

    @property
    def status(self) -> str:
        """``completed``, ``failed``, ``waiting`` or ``retrying``."""
        return {lc.Complete: "completed", lc.Fail: "failed", lc.Wait: "waiting", lc.Retry: "retrying"}[type(self.end)]


@frozen
class PassReport:
    """The outcome of one pass over A's open orders."""

    outcomes: tuple[OrderOutcome, ...]

    def count(self, status: str) -> int:
        """How many orders ended their turn with ``status``."""
        return sum(1 for o in self.outcomes if o.status == status)


class _PassReads:
    """Reads shared by the orders of one pass, each made at most once (or once per project)."""

    def __init__(self, source: SourceOrders, target: TargetOrders, projects: TargetProjects, orders: Sequence[Order]):
        self._source, self._target, self._projects = source, target, projects
        self._orders = orders
        self._linked: dict[Uuid, Order] | TransientError | None = None
        self._b_projects: dict[ProjectKey, Project | None] = {}
        self._keyed: dict[Uuid, dict[str, Order]] = {}
        self._a_resources: dict[Uuid, Sequence[Resource]] = {}

    def linked_order(self, uuid: Uuid) -> Order | None:
        if self._linked is None:
            wanted = {Uuid(o.backend_id) for o in self._orders if o.backend_id}
            try:
                self._linked = dict(self._target.get_orders(wanted))
            except TransientError as exc:
                self._linked = exc
        if isinstance(self._linked, TransientError):
            raise self._linked
        return self._linked.get(uuid)

    def b_project(self, key: ProjectKey) -> Project | None:
        if key not in self._b_projects:
            self._b_projects[key] = self._projects.find_project(key)
        return self._b_projects[key]

    def project_created(self, project: Project, key: ProjectKey) -> None:
        self._b_projects[key] = project
        self._keyed[project.uuid] = {}

    def forget(self, step: lc.Write, view: lc.OrderView) -> None:
        """A write failed: what this pass read about its objects may be stale (it may have been applied)."""
        match step:
            case lc.CreateProject(key=key):
                self._b_projects.pop(key, None)
            case lc.LinkResource():
                self._a_resources.pop(view.order.project_uuid, None)
            case lc.SubmitCreate(order=new_order):
                self._keyed.pop(new_order.project_uuid, None)

    def keyed_order(self, b_project: Uuid, a_project: Uuid, key: str) -> Order | None:
        if b_project not in self._keyed:
            keys = {lc.idempotency_key(o.uuid) for o in self._orders if o.project_uuid == a_project} | {key}
            self._keyed[b_project] = dict(self._target.find_orders(b_project, keys))
        return self._keyed[b_project].get(key)

    def project_resources(self, project: Uuid) -> Sequence[Resource]:
        if project not in self._a_resources:
            self._a_resources[project] = self._source.list_project_resources(project)
        return self._a_resources[project]


class OrderProcessor:
    """Runs passes of the order lifecycle for one federated offering.

    Holds no state between passes: everything is read anew, so a processor built after a crash behaves exactly
    like the one that crashed would have.
    """

    def __init__(
        self,
        source: SourceOrders,
        target: TargetOrders,
        projects: TargetProjects,
        converter: lc.LimitConverter,
        *,
        passthrough_attributes: Iterable[str] = (),
    ) -> None:
        self._source, self._target, self._projects = source, target, projects
        self._converter = converter
        self._passthrough = tuple(passthrough_attributes)

    def run_pass(self) -> PassReport:
        """Process every open A order once. A failure to list A's orders propagates: there is nothing to do."""
        orders = self._source.list_open_orders()
        reads = _PassReads(self._source, self._target, self._projects, orders)
        return PassReport(tuple(self._process(order, reads) for order in orders))

    def _process(self, order: Order, reads: _PassReads) -> OrderOutcome:
        view = lc.OrderView(order)
        applied: list[str] = []
        for _ in range(MAX_STEPS_PER_ORDER):
            step = lc.decide(view, self._converter, self._passthrough)
            try:
                if isinstance(step, lc.Wait | lc.Retry):
                    return self._outcome(order, applied, step)
                if isinstance(step, lc.Complete | lc.Fail):
                    self._finish(order, step)
                    applied.append(type(step).__name__)
                    return self._outcome(order, applied, step)
                if isinstance(step, lc.Read):
                    view = lc.with_fact(view, step, self._read(step, view, reads))
                    continue
                try:
                    result = self._write(step, reads, view)
                except (TransientError, PermanentError):
                    reads.forget(step, view)
                    raise
                applied.append(type(step).__name__)
                view = lc.after_write(view, step, result)
            except TransientError as exc:
                return self._outcome(order, applied, lc.Retry(f"transient: {exc}"))
            except PermanentError as exc:
                if not isinstance(step, lc.Write | lc.Complete | lc.Fail):
                    return self._outcome(order, applied, lc.Retry(f"read refused: {exc}"))
                end = lc.on_refusal(step, exc.detail, conflict=isinstance(exc, Conflict))
                if isinstance(end, lc.Fail) and not isinstance(step, lc.Fail):
                    return self._fail_after_refusal(order, applied, end)
                return self._outcome(order, applied, end)
        return self._outcome(order, applied, lc.Retry("too many steps in one pass"))  # pragma: no cover

    def _fail_after_refusal(self, order: Order, applied: list[str], end: lc.Fail) -> OrderOutcome:
        try:
            self._finish(order, end)
        except TransientError as exc:
            return self._outcome(order, applied, lc.Retry(f"transient while failing the order: {exc}"))
        except PermanentError as exc:
            return self._outcome(order, applied, lc.Retry(f"Waldur A refused to mark the order erred: {exc}"))
        applied.append("Fail")
        return self._outcome(order, applied, end)

    def _read(self, step: lc.Read, view: lc.OrderView, reads: _PassReads) -> lc.Fact | Sequence[Resource]:
        match step:
            case lc.NeedBOrder(uuid=uuid):
                return reads.linked_order(uuid)
            case lc.NeedProjectResources(project_uuid=project):
                return reads.project_resources(project)
            case lc.NeedBProject(key=key):
                return reads.b_project(key)
            case lc.NeedKeyedOrder(project_uuid=b_project, key=key):
                return reads.keyed_order(b_project, view.order.project_uuid, key)
            case lc.NeedBResource(uuid=uuid):
                try:
                    return self._target.get_resource(uuid)
                except NotFound:
                    return None
        raise AssertionError(step)  # pragma: no cover

    def _write(self, step: lc.Write, reads: _PassReads, view: lc.OrderView) -> Order | Project | Uuid | None:
        order = view.order
        match step:
            case lc.Approve():
                self._source.approve(order.uuid)
                return None
            case lc.CreateProject(key=key, name=name, description=description):
                project = self._projects.create_project(key, name, description)
                reads.project_created(project, key)
                return project
            case lc.SubmitCreate(order=new_order):
                return self._target.create_order(new_order)
            case lc.SubmitUpdate(resource_uuid=resource, limits=limits, key=key):
                return self._target.request_update(resource, limits, key)
            case lc.SubmitTerminate(resource_uuid=resource, key=key):
                return self._target.request_termination(resource, key)
            case lc.LinkResource(a_resource_uuid=a_resource, b_resource_uuid=b_resource):
                self._source.set_resource_backend_id(a_resource, b_resource)
                return None
            case lc.LinkOrder(b_order_uuid=b_order):
                self._source.set_order_backend_id(order.uuid, b_order)
                return None
        raise AssertionError(step)  # pragma: no cover

    def _finish(self, order: Order, step: lc.Complete | lc.Fail) -> None:
        if isinstance(step, lc.Complete):
            self._source.complete(order.uuid)
        else:
            self._source.fail(order.uuid, step.message)

    @staticmethod
    def _outcome(order: Order, applied: list[str], end: lc.Final_) -> OrderOutcome:
        return OrderOutcome(order.uuid, str(order.type), tuple(applied), end)

