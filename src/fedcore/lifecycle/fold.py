"""Folding what the service learnt back into an :class:`OrderView`, and what a refusal means for the order."""

from __future__ import annotations

from collections.abc import Sequence

from attrs import evolve

from fedcore.enums import OrderState
from fedcore.ids import Uuid
from fedcore.lifecycle.steps import (
    UNKNOWN,
    Approve,
    Complete,
    CreateProject,
    DeleteDuplicate,
    DeleteProject,
    Fact,
    Fail,
    Final_,
    Finish,
    Gone,
    KeyedMatch,
    LinkOrder,
    LinkResource,
    NeedBOrder,
    NeedBProject,
    NeedBResource,
    NeedKeyedOrder,
    NeedProjectResources,
    OrderView,
    Read,
    Reject,
    Retry,
    SubmitCreate,
    SubmitTerminate,
    SubmitUpdate,
    TerminateDuplicate,
    Write,
)
from fedcore.model import Order, Project, Resource

_B_SUBMISSIONS = (SubmitCreate, SubmitUpdate, SubmitTerminate, CreateProject)


def on_refusal(step: Write | Finish, error_detail: str, *, conflict: bool) -> Final_:
    """What a permanent refusal of ``step`` means for the order (transient faults never get here).

    B refusing an order or project is the request's own fault: the A order fails with B's detail. A conflict
    (the object moved to another state) is retried: the next pass reads the new state. Refusals on A (approve,
    reject, links, completion) are a token or permission problem, not the order's: they are retried, never failed.
    """
    if conflict:
        return Retry(f"{describe(step)} was refused as in the wrong state: {error_detail}")
    if isinstance(step, _B_SUBMISSIONS):
        return Fail(f"Waldur B refused to {describe(step)}: {error_detail}")
    return Retry(f"Waldur A refused to {describe(step)}: {error_detail}")


def describe(step: Write | Finish) -> str:
    """What ``step`` does and to which object, for messages ("create the order in B project 1f…")."""
    match step:
        case CreateProject(key=key):
            return f"create the project for A project {key.project_uuid}"
        case SubmitCreate(order=new_order):
            return f"create the order in B project {new_order.project_uuid}"
        case SubmitUpdate(resource_uuid=resource):
            return f"update the limits of B resource {resource}"
        case SubmitTerminate(resource_uuid=resource):
            return f"terminate B resource {resource}"
        case LinkResource(a_resource_uuid=a_resource, b_resource_uuid=b_resource):
            return f"record B resource {b_resource} on A resource {a_resource}"
        case LinkOrder(b_order_uuid=b_order):
            return f"record B order {b_order} on the A order"
        case DeleteProject(project_uuid=project):
            return f"delete B project {project}, a duplicate"
        case DeleteDuplicate(order_uuid=b_order):
            return f"delete B order {b_order}, a duplicate"
        case TerminateDuplicate(order_uuid=b_order, resource_uuid=resource):
            return f"terminate B resource {resource} of B order {b_order}, a duplicate"
    return {
        Approve: "approve the order",
        Complete: "mark the order done",
        Fail: "mark the order erred",
        Reject: "reject the order",
    }[type(step)]


def after_write(view: OrderView, step: Write, result: Order | Project | Uuid | None) -> OrderView:
    """Fold a successful write's result into the view, so the next decision sees the new state."""
    order = view.order
    match step:
        case Approve():
            return evolve(view, order=evolve(order, state=OrderState.EXECUTING), approved_now=True)
        case CreateProject():
            assert isinstance(result, Project)
            return evolve(view, b_project=result, project_created_now=True, project_checked=False)
        case SubmitCreate():
            assert isinstance(result, Order)
            return evolve(view, keyed_order=result, submitted_now=True, keyed_checked=False)
        case SubmitUpdate() | SubmitTerminate():
            assert isinstance(result, str)
            return evolve(view, keyed_order=_placeholder_order(view, Uuid(result)))
        case LinkResource():
            return evolve(view, resource_linked=True)
        case LinkOrder():
            linked = evolve(order, backend_id=step.b_order_uuid)
            known = view.keyed_order if isinstance(view.keyed_order, Order) else UNKNOWN
            return evolve(view, order=linked, b_order=known)
        case DeleteProject():
            return evolve(view, abandoned_project=None)
        case DeleteDuplicate(order_uuid=b_order) | TerminateDuplicate(order_uuid=b_order):
            return evolve(view, repaired=(*view.repaired, b_order))
    raise AssertionError(f"unhandled write {step!r}")  # pragma: no cover


def with_moved_duplicate(view: OrderView, moved: Order) -> OrderView:
    """A duplicate B order read again (B's provider took it up before fedcore could delete it): its new state."""
    return evolve(view, duplicates=tuple(moved if d.uuid == moved.uuid else d for d in view.duplicates))


def _checked_project(view: OrderView, found: Project | None) -> OrderView:
    """The B project looked up again after this turn created one: the oldest with its ``backend_id`` serves.

    When it is another (a second replica created it first), this turn's project is abandoned (and deleted next),
    and the order continues in the winner, looking its key up there as for any project it did not just create.
    """
    mine = view.b_project
    if found is None or not isinstance(mine, Project) or found.uuid == mine.uuid:
        return evolve(view, project_checked=True)
    return evolve(view, b_project=found, project_created_now=False, project_checked=True, abandoned_project=mine.uuid)


def _placeholder_order(view: OrderView, b_order_uuid: Uuid) -> Order:
    """A just-submitted B Update/Terminate order, known only by its UUID: it is pending until read again."""
    order = view.order
    return Order(
        uuid=b_order_uuid,
        type=order.type,
        state=OrderState.PENDING_PROVIDER,
        offering_uuid=order.offering_uuid,
        project_uuid=order.project_uuid,
        customer_uuid=order.customer_uuid,
        key=view.key,
    )


def with_fact(view: OrderView, step: Read, fact: Fact | Sequence[Resource]) -> OrderView:
    """Fold a read's answer into the view."""
    match step:
        case NeedBOrder():
            assert isinstance(fact, Order | Gone)
            return evolve(view, b_order=fact)
        case NeedProjectResources():
            assert isinstance(fact, Sequence)
            return evolve(view, project_resources=tuple(fact))
        case NeedBProject(fresh=False):
            assert fact is None or isinstance(fact, Project)
            return evolve(view, b_project=fact)
        case NeedBProject(fresh=True):
            assert fact is None or isinstance(fact, Project)
            return _checked_project(view, fact)
        case NeedKeyedOrder(fresh=fresh):
            assert fact is None or isinstance(fact, KeyedMatch)
            if fact is None:
                # A fresh read that misses this turn's own submission (a listing lagging behind) keeps it.
                return evolve(view, keyed_order=view.keyed_order if fresh else None, keyed_checked=True)
            return evolve(view, keyed_order=fact.winner, duplicates=fact.duplicates, keyed_checked=True)
        case NeedBResource():
            assert fact is None or isinstance(fact, Resource)
            return evolve(view, b_resource=fact)
    raise AssertionError(f"unhandled read {step!r}")  # pragma: no cover
