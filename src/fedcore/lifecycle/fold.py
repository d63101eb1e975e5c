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
            return evolve(view, b_project=result, project_created_now=True)
        case SubmitCreate():
            assert isinstance(result, Order)
            return evolve(view, keyed_order=result)
        case SubmitUpdate() | SubmitTerminate():
            assert isinstance(result, str)
            return evolve(view, keyed_order=_placeholder_order(view, Uuid(result)))
        case LinkResource():
            return evolve(view, resource_linked=True)
        case LinkOrder():
            linked = evolve(order, backend_id=step.b_order_uuid)
            known = view.keyed_order if isinstance(view.keyed_order, Order) else UNKNOWN
            return evolve(view, order=linked, b_order=known)
    raise AssertionError(f"unhandled write {step!r}")  # pragma: no cover


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
        case NeedBProject():
            assert fact is None or isinstance(fact, Project)
            return evolve(view, b_project=fact)
        case NeedKeyedOrder():
            assert fact is None or isinstance(fact, KeyedMatch)
            if fact is None:
                return evolve(view, keyed_order=None)
            return evolve(view, keyed_order=fact.winner, duplicates=tuple(o.uuid for o in fact.duplicates))
        case NeedBResource():
            assert fact is None or isinstance(fact, Resource)
            return evolve(view, b_resource=fact)
    raise AssertionError(f"unhandled read {step!r}")  # pragma: no cover
