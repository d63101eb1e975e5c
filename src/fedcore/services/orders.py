"""The order service: one pass over A's open orders, reading through ports and applying :mod:`fedcore.lifecycle`.

A pass is level-triggered: it starts from A's current open orders and B's current state, so a lost, repeated or
reordered event, or a crash at any point of an earlier pass, changes nothing about where it converges. Reads are
batched for the REST adapter's budget: one listing of A's open orders, one batched read of the linked B orders
(with a single read for any the batch did not return), one B project lookup and one idempotency listing per
project, one resource listing per A project. A read that failed is remembered for the rest of the pass, so an
outage of B costs each distinct read once per pass, not once per order.

A runner may leave orders out of a pass (``skip``: orders in backoff) and may process the orders of different A
projects concurrently (:meth:`OrderProcessor.open_pass`): orders of one project share their B project, so they are
always processed one after the other, in listing order.
"""

from __future__ import annotations

from collections.abc import Collection, Generator, Iterable, Sequence
from typing import TypeAlias

from attrs import frozen

from fedcore import lifecycle as lc
from fedcore.enums import OrderState
from fedcore.errors import Conflict, NotFound, PermanentError, PortError, TransientError
from fedcore.ids import Uuid
from fedcore.model import Order, Project, Resource
from fedcore.services._pass_reads import OrderPorts, PassReads

__all__ = ["OPEN_STATES", "OrderOutcome", "OrderPass", "OrderPorts", "OrderProcessor", "PassReport"]

MAX_STEPS_PER_ORDER = 24
OPEN_STATES = frozenset({OrderState.PENDING_PROVIDER, OrderState.EXECUTING})
"""The A order states fedcore acts on (what :meth:`SourceOrders.list_open_orders` lists)."""


_STATUS = {lc.Complete: "completed", lc.Fail: "failed", lc.Reject: "rejected", lc.Wait: "waiting",
           lc.Retry: "retrying"}


@frozen
class OrderOutcome:
    """What one pass did for one A order: the steps it applied and how the order's turn ended.

    ``duplicates`` lists B orders that carry this order's idempotency key besides the one serving it (a second
    replica or an operator's retry created them) and that this turn left as they are: those of Update and
    Terminate orders, failed ones, and any still to be repaired. ``repairs`` says what this turn did about
    duplicates (deleted, terminated) and which repair B refused. ``b_order_uuid`` is
    the B order serving this order, once known (so that logs name the same order on both sides). ``fault`` is
    True when the turn ended because a call failed or was refused and the order stays open to be tried again
    (rather than on a decision, such as waiting for a busy B resource): a runner backs off from such an order.
    """

    order_uuid: Uuid
    order_type: str
    steps: tuple[str, ...]
    end: lc.Final_
    duplicates: tuple[Uuid, ...] = ()
    b_order_uuid: Uuid | None = None
    fault: bool = False
    repairs: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        """``completed``, ``failed``, ``rejected``, ``waiting`` or ``retrying``."""
        return _STATUS[type(self.end)]

    @property
    def reason(self) -> str:
        """Why the turn ended so: the wait or retry reason, the failure or rejection message; "" when completed."""
        end = self.end
        if isinstance(end, lc.Wait | lc.Retry):
            return end.reason
        if isinstance(end, lc.Fail | lc.Reject):
            return end.message
        return ""


@frozen
class PassReport:
    """The outcome of one pass over A's open orders; ``skipped`` lists the open orders left out of it."""

    outcomes: tuple[OrderOutcome, ...]
    skipped: tuple[Uuid, ...] = ()

    def count(self, status: str) -> int:
        """How many orders ended their turn with ``status``."""
        return sum(1 for o in self.outcomes if o.status == status)


_Turn: TypeAlias = Generator[lc.NeedKeyedOrder, None, OrderOutcome]
"""One order's turn (:meth:`OrderProcessor._turn`): pauses at the keyed lookup after a submission."""


class OrderProcessor:
    """Runs passes of the order lifecycle for one federated offering.

    Holds no state between passes: everything is read anew, so a processor built after a crash behaves exactly
    like the one that crashed would have.
    """

    def __init__(
        self, ports: OrderPorts, converter: lc.LimitConverter, *, passthrough_attributes: Iterable[str] = ()
    ) -> None:
        self._ports = ports
        self._converter = converter
        self._passthrough = tuple(passthrough_attributes)

    def run_pass(self, *, skip: Collection[Uuid] = ()) -> PassReport:
        """Process every open A order once, except those in ``skip``, one after the other in listing order.

        A failure to list A's orders propagates: there is nothing to do.
        """
        opened = self.open_pass(skip=skip)
        return PassReport(opened.process(opened.orders), opened.skipped)

    def open_pass(self, *, skip: Collection[Uuid] = ()) -> OrderPass:
        """List A's open orders and prepare a pass over those not in ``skip``, in batches of one A project each.

        The batches may be processed concurrently (:meth:`OrderPass.process`). A failure to list A's orders
        propagates.
        """
        # A listing paged while orders change state can show one order twice (it moved between pages): once each,
        # with the later copy's state, so that no order is given two turns in one pass.
        listed = tuple({o.uuid: o for o in self._ports.a_orders.list_open_orders()}.values())
        excluded = frozenset(skip)
        orders = tuple(o for o in listed if o.uuid not in excluded)
        reads = PassReads(self._ports, orders)
        batches: dict[Uuid, list[Order]] = {}
        for order in orders:
            batches.setdefault(order.project_uuid, []).append(order)
        if len(batches) > 1 and any(o.link is not None and o.state == OrderState.EXECUTING for o in orders):
            reads.warm()
        skipped = tuple(o.uuid for o in listed if o.uuid in excluded)
        return OrderPass(self, listed=listed, orders=orders, batches=tuple(tuple(b) for b in batches.values()),
                         skipped=skipped, reads=reads)

    def read_open_order(self, order_uuid: Uuid) -> Order | None:
        """The A order ``order_uuid`` as A shows it now, when it is open (``pending-provider`` or ``executing``):
        the one read an event costs before :meth:`process_order`. None when it is in another state or A answers
        404 for it (gone, or of another offering); any other failure propagates."""
        try:
            order = self._ports.a_orders.get_order(order_uuid)
        except NotFound:
            return None
        return order if order.state in OPEN_STATES else None

    def process_order(self, order: Order) -> OrderOutcome:
        """Give one open A order (as just read: :meth:`read_open_order`) its turn with fresh reads of B.

        For events: the caller serialises it with any pass over the same A project (the two would otherwise share
        the B project and the idempotency lookup without seeing each other's writes). The turn completes a linked
        Create without looking its key up once more: an event is answered within milliseconds, and a duplicate a
        second replica made after this turn's own check is the duplicate sweep's (docs/scaling.md).
        """
        [outcome] = self._turns((order,), PassReads(self._ports, (order,)), check_before_completing=False)
        return outcome

    def _turns(
        self, orders: Sequence[Order], reads: PassReads, *, check_before_completing: bool = True
    ) -> tuple[OrderOutcome, ...]:
        """Give each order its turn, in order. A turn that submitted a Create on B pauses until every turn has
        paused or ended; then each paused project's keys are listed once (not once per order), and the paused
        turns go on in order, seeing every B order submitted before the listing (another replica's too)."""
        outcomes: dict[int, OrderOutcome] = {}
        paused: list[tuple[int, _Turn, lc.NeedKeyedOrder]] = []

        def advance(index: int, turn: _Turn) -> None:
            try:
                step = next(turn)
            except StopIteration as ended:
                outcomes[index] = ended.value
            else:
                paused.append((index, turn, step))

        for index, order in enumerate(orders):
            advance(index, self._turn(order, reads, check_before_completing))
        while paused:
            resumed = list(paused)
            paused.clear()
            for project in {step.project_uuid for _, _, step in resumed}:
                reads.list_keys_again(project)
            for index, turn, _ in resumed:
                advance(index, turn)
        return tuple(outcomes[index] for index in range(len(orders)))

    def _turn(self, order: Order, reads: PassReads, check_before_completing: bool = True) -> _Turn:
        """One order's turn: decide, read or write, until the turn ends (the generator's value). It yields the
        fresh keyed lookup after a submission: :meth:`_turns` lists the project's keys again before resuming it."""
        view = lc.OrderView(order, check_before_completing=check_before_completing)
        applied: list[str] = []
        repairs: list[str] = []
        for _ in range(MAX_STEPS_PER_ORDER):
            step = lc.decide(view, self._converter, self._passthrough)
            try:
                if isinstance(step, lc.Wait | lc.Retry):
                    return self._outcome(view, applied, step, repairs=repairs)
                if isinstance(step, lc.Complete | lc.Fail | lc.Reject):
                    self._finish(order, step)
                    applied.append(type(step).__name__)
                    return self._outcome(view, applied, step, repairs=repairs)
                if isinstance(step, lc.NeedKeyedOrder) and step.fresh:
                    yield step
                    fact = reads.keyed_order(step.project_uuid, order.project_uuid, step.key)
                    view = lc.with_fact(view, step, fact)
                    continue
                if isinstance(step, lc.Read):
                    view = lc.with_fact(view, step, self._read(step, view, reads))
                    continue
                if isinstance(step, lc.Repair):
                    view = self._repair(step, view, applied, repairs)
                    continue
                try:
                    result = self._write(step, reads, view)
                except PortError:
                    reads.forget(step, view)
                    raise
                applied.append(type(step).__name__)
                view = lc.after_write(view, step, result)
            except TransientError as exc:
                return self._outcome(view, applied, lc.Retry(f"transient: {exc}"), fault=True, repairs=repairs)
            except PermanentError as exc:
                if not isinstance(step, lc.Write | lc.Complete | lc.Fail | lc.Reject):
                    return self._outcome(view, applied, lc.Retry(f"read refused: {exc}"), fault=True, repairs=repairs)
                conflict = isinstance(exc, Conflict)
                end = lc.on_refusal(step, exc.detail, conflict=conflict)
                if isinstance(end, lc.Fail) and not isinstance(step, lc.Fail | lc.Reject | lc.Complete):
                    return self._fail_after_refusal(view, applied, end)
                # A conflict is the object's state moving under us (another actor, a stale listing), not a failing
                # call: the next turn reads the new state, with no backoff.
                return self._outcome(view, applied, end, fault=not conflict, repairs=repairs)
        return self._outcome(view, applied, lc.Retry("too many steps in one pass"), fault=True)  # pragma: no cover

    def _repair(self, step: lc.Repair, view: lc.OrderView, applied: list[str], repairs: list[str]) -> lc.OrderView:
        """Apply one repair of a duplicate. B refusing it never fails the A order: an object already gone counts
        as repaired, another refusal is reported in the outcome and the order goes on. A duplicate order that B's
        provider took up before it could be deleted (Conflict) is read again, and the turn goes on with its new state
        (its resource is terminated once it is done). Transient faults propagate: the order stays open, so the
        repair is tried again."""
        what = lc.describe(step)
        try:
            self._apply_repair(step)
        except NotFound:
            repairs.append(f"{what}: already gone")
        except Conflict:
            if isinstance(step, lc.DeleteDuplicate):
                moved = self._ports.b_orders.get_order(step.order_uuid)
                return lc.with_moved_duplicate(view, moved)
            repairs.append(f"{what}: B refused it as in the wrong state (already being removed)")
        except PermanentError as exc:
            repairs.append(f"{what}: B refused: {exc.detail}")
        else:
            applied.append(type(step).__name__)
            repairs.append(what)
        return lc.after_write(view, step, None)

    def _fail_after_refusal(self, view: lc.OrderView, applied: list[str], end: lc.Fail) -> OrderOutcome:
        try:
            self._finish(view.order, end)
        except TransientError as exc:
            return self._outcome(view, applied, lc.Retry(f"transient while failing the order: {exc}"), fault=True)
        except PermanentError as exc:
            refused = lc.Retry(f"Waldur A refused to mark the order erred: {exc}")
            return self._outcome(view, applied, refused, fault=True)
        applied.append("Fail")
        return self._outcome(view, applied, end)

    def _read(self, step: lc.Read, view: lc.OrderView, reads: PassReads) -> lc.Fact | Sequence[Resource]:
        match step:
            case lc.NeedBOrder(uuid=uuid):
                return reads.linked_order(uuid, view.order)
            case lc.NeedProjectResources(project_uuid=project):
                return reads.project_resources(project)
            case lc.NeedBProject(key=key, fresh=fresh):
                return reads.b_project_again(key) if fresh else reads.b_project(key)
            case lc.NeedKeyedOrder(project_uuid=b_project, key=key):
                return reads.keyed_order(b_project, view.order.project_uuid, key)
            case lc.NeedBResource(uuid=uuid):
                return reads.b_resource(uuid)
        raise AssertionError(step)  # pragma: no cover

    def _write(self, step: lc.Write, reads: PassReads, view: lc.OrderView) -> Order | Project | Uuid | None:
        ports, order = self._ports, view.order
        match step:
            case lc.Approve():
                ports.a_orders.approve(order.uuid)
                return None
            case lc.CreateProject(key=key, name=name, description=description):
                project = ports.b_projects.create_project(key, name, description)
                reads.project_created(project, key)
                return project
            case lc.SubmitCreate(order=new_order):
                return ports.b_orders.create_order(new_order)
            case lc.SubmitUpdate(resource_uuid=resource, limits=limits, key=key):
                return ports.b_orders.request_update(resource, limits, key)
            case lc.SubmitTerminate(resource_uuid=resource, key=key):
                return ports.b_orders.request_termination(resource, key)
            case lc.LinkResource(a_resource_uuid=a_resource, b_resource_uuid=b_resource):
                ports.a_resources.set_resource_backend_id(a_resource, b_resource)
                return None
            case lc.LinkOrder(b_order_uuid=b_order):
                ports.a_orders.set_order_backend_id(order.uuid, b_order)
                return None
        raise AssertionError(step)  # pragma: no cover

    def _apply_repair(self, step: lc.Repair) -> None:
        ports = self._ports
        match step:
            case lc.DeleteProject(project_uuid=project):
                ports.b_projects.delete_project(project)
            case lc.DeleteDuplicate(order_uuid=b_order):
                ports.b_orders.delete_order(b_order)
            case lc.TerminateDuplicate(order_uuid=b_order, resource_uuid=resource):
                ports.b_orders.request_termination(resource, lc.discard_key(b_order))  # pragma: no cover

    def _finish(self, order: Order, step: lc.Finish) -> None:
        match step:
            case lc.Complete():
                self._ports.a_orders.complete(order.uuid)
            case lc.Fail(message=message):
                self._ports.a_orders.fail(order.uuid, message)
            case lc.Reject(message=message):
                self._ports.a_orders.reject(order.uuid, message)

    @staticmethod
    def _outcome(
        view: lc.OrderView, applied: list[str], end: lc.Final_, *, fault: bool = False, repairs: Sequence[str] = ()
    ) -> OrderOutcome:
        order = view.order
        left = tuple(d.uuid for d in view.duplicates if d.uuid not in view.repaired)
        return OrderOutcome(
            order.uuid, str(order.type), tuple(applied), end, left, _b_order_of(view), fault=fault,
            repairs=tuple(repairs),
        )


def _b_order_of(view: lc.OrderView) -> Uuid | None:
    """The B order serving the A order, as far as this pass knows it."""
    for known in (view.b_order, view.keyed_order):
        if isinstance(known, Order):
            return known.uuid
    return view.order.link


class OrderPass:
    """One pass, opened: A's open orders as listed, those to process now, in batches of one A project each.

    :meth:`process` may run different batches in different threads: the one read they share is made when the
    pass is opened, and every other read is keyed by a project, resource or order of one batch.
    """

    def __init__(
        self,
        processor: OrderProcessor,
        *,
        listed: tuple[Order, ...],
        orders: tuple[Order, ...],
        batches: tuple[tuple[Order, ...], ...],
        skipped: tuple[Uuid, ...],
        reads: PassReads,
    ) -> None:
        self.listed = listed
        """Every open A order of the offering, as listed at the start of the pass (skipped ones included)."""
        self.orders = orders
        """The orders this pass processes, in listing order."""
        self.batches = batches
        """``orders`` grouped by A project, each group in listing order."""
        self.skipped = skipped
        """The listed orders left out (``skip``)."""
        self._reads = reads
        self._processor = processor

    def process(self, batch: Sequence[Order]) -> tuple[OrderOutcome, ...]:
        """Give each order of ``batch`` (one of :attr:`batches`, or :attr:`orders`) its turn, one after the other."""
        return self._processor._turns(batch, self._reads)
