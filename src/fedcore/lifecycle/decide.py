"""The order lifecycle as a pure decision: given what is known about an A order, what happens next.

The rules that make this safe under crashes and faults:

- An order is validated from the A order alone before anything is written: a pending-provider order fedcore
  cannot serve (an unsupported type, limits B's components cannot express, an Update or Terminate of a resource
  that was never federated) is rejected with the reason, never approved and then erred, and never leaves an
  empty B project behind.
- Every B order fedcore submits carries an idempotency key derived from the A order (:func:`idempotency_key`).
  Before submitting, an A order that is already ``executing`` without a recorded link is looked up by key on B
  (before any check of B's resource state, so a crash between "submit on B" and "link on A" never loses B's
  outcome). An order approved *in this pass* skips the lookup: fedcore submits on B only after approving on A.
  A Create with no keyed B order whose A resource already links a B resource (another agent stopped between its
  two links) adopts that B resource instead of submitting again.
- Writes go in an order that leaves a trail: approve on A, submit on B, record the B resource on the A resource,
  record the B order on the A order. A recorded order link therefore implies a recorded resource link.
- An A order is completed only when its B order is done, and failed only when B failed it (erred, canceled,
  rejected), B answered 404 for the linked order itself, or the request is invalid. Transient faults never reach
  this module: the service turns them into :class:`Retry`.
- Terminate: a B resource already ``Terminated`` counts as done; ``Terminating`` waits; ``Creating`` and
  ``Updating`` retry later.
- Several replicas may serve one offering (docs/scaling.md). A B project this turn created is looked up again, and
  the oldest with its ``backend_id`` serves (:func:`choose_project`; the one created here is deleted when it lost).
  A Create order this turn submitted is looked up again by key before anything is linked, and (unless the view
  says not to: events, where latency matters more and the duplicate sweep covers the rest) a linked Create
  whose B order is done is looked up by key before the A order completes: the oldest keyed B order serves
  (:func:`choose_keyed`), A is linked to it, and every other is repaired before completion: deleted while
  ``pending-*``, its resource terminated once ``done``, waited for while B works on it.
"""

from __future__ import annotations

from collections.abc import Sequence

from fedcore.enums import OrderState, OrderType, ResourceState
from fedcore.lifecycle.shadow import resolve_federated_resource
from fedcore.lifecycle.steps import (
    UNKNOWN,
    Approve,
    Complete,
    CreateProject,
    DeleteDuplicate,
    DeleteProject,
    Fail,
    Gone,
    LimitConverter,
    LinkOrder,
    LinkResource,
    NeedBOrder,
    NeedBProject,
    NeedBResource,
    NeedKeyedOrder,
    NeedProjectResources,
    OrderView,
    Reject,
    Retry,
    Step,
    SubmitCreate,
    SubmitTerminate,
    SubmitUpdate,
    TerminateDuplicate,
    Wait,
)
from fedcore.model import JsonValue, NewOrder, Order

SUPPORTED = (OrderType.CREATE, OrderType.UPDATE, OrderType.TERMINATE)
_BUSY = (ResourceState.CREATING, ResourceState.UPDATING, ResourceState.TERMINATING)


def invalid_reason(order: Order, converter: LimitConverter) -> str | None:
    """Why the A order cannot be served, judged from the order alone; None when it can be."""
    if order.type not in SUPPORTED:
        return f"{order.type} orders are not supported by the federation (only Create, Update and Terminate)"
    if order.type in (OrderType.CREATE, OrderType.UPDATE):
        try:
            converter.limits_to_target(order.limits)
        except ValueError as exc:
            return f"cannot convert the order's limits to B's components: {exc}"
    return None


def decide(view: OrderView, converter: LimitConverter, passthrough_attributes: Sequence[str] = ()) -> Step:
    """The next step for one A order. Pure: the same view always gives the same step."""
    order = view.order
    if order.state == OrderState.PENDING_PROVIDER:
        return _review(view, converter)
    if order.state != OrderState.EXECUTING:
        return Wait(f"A order is {order.state}; fedcore acts on pending-provider and executing orders")
    if order.backend_id:
        return _follow_linked(view)
    invalid = invalid_reason(order, converter)
    if order.type == OrderType.CREATE:
        return _submit_create(view, converter, passthrough_attributes, invalid)
    if order.type in (OrderType.UPDATE, OrderType.TERMINATE):
        return _submit_change(view, converter, invalid)
    return Fail(invalid or f"{order.type} orders are not supported")


def _review(view: OrderView, converter: LimitConverter) -> Step:
    """A pending-provider order: approve what fedcore can serve, reject the rest with the reason."""
    order = view.order
    invalid = invalid_reason(order, converter)
    if invalid is not None:
        return Reject(invalid)
    if order.type == OrderType.CREATE:
        return Approve()
    if view.project_resources is None:
        return NeedProjectResources(order.project_uuid)
    resolved = resolve_federated_resource(order, view.project_resources)
    return Reject(resolved.message) if isinstance(resolved, Fail) else Approve()


def _follow_linked(view: OrderView) -> Step:
    """The A order records its B order: mirror the B order's outcome."""
    order = view.order
    if order.link is None:
        return Fail(f"the A order's backend_id {order.backend_id!r} is not a B order UUID, so fedcore cannot tell "
                    "which B order serves it")
    if view.b_order is UNKNOWN:
        return NeedBOrder(order.link)
    if isinstance(view.b_order, Gone):
        return Fail(f"the linked B order {order.link} no longer exists on B (or is not visible to fedcore's B "
                    f"token): {view.b_order.evidence}")
    b_order = view.b_order
    if order.type == OrderType.CREATE and b_order.state == OrderState.DONE and b_order.key == view.key:
        # Before completing: another replica may have submitted a B order with the same key. The oldest serves.
        if not view.keyed_checked and view.check_before_completing:
            return NeedKeyedOrder(b_order.project_uuid, view.key)
        if isinstance(view.keyed_order, Order):
            return _mirror(view, view.keyed_order)
    return _mirror(view, b_order)


def _mirror(view: OrderView, b_order: Order) -> Step:
    """Given the B order that serves this A order: link what is not linked yet, then mirror its state."""
    order = view.order
    linked = order.link == b_order.uuid
    if order.type == OrderType.CREATE and not view.resource_linked and not linked:
        resource_step = _link_created_resource(view, b_order)
        if resource_step is not None:
            return resource_step
    if not linked:
        return LinkOrder(b_order.uuid)
    if order.type == OrderType.CREATE:
        repair = _repair_duplicates(view, b_order)
        if repair is not None:
            return repair
    if b_order.state == OrderState.DONE:
        return Complete()
    if b_order.state.is_failure:
        reason = b_order.error_message or "B gave no reason"
        return Fail(f"B order {b_order.uuid} is {b_order.state}: {reason}")
    return Wait(f"B order {b_order.uuid} is {b_order.state}")


def _repair_duplicates(view: OrderView, winner: Order) -> Step | None:
    """The next repair of a B Create order that duplicates ``winner`` (same key); None when none is left."""
    for duplicate in view.duplicates:
        if duplicate.uuid in view.repaired or duplicate.uuid == winner.uuid or duplicate.state.is_failure:
            continue
        if duplicate.state in (OrderState.PENDING_CONSUMER, OrderState.PENDING_PROVIDER):
            return DeleteDuplicate(duplicate.uuid)
        if duplicate.state == OrderState.DONE:
            if duplicate.resource_uuid is None:
                continue
            return TerminateDuplicate(duplicate.uuid, duplicate.resource_uuid)
        return Wait(f"B order {duplicate.uuid} duplicates B order {winner.uuid}, which serves this order, and is "
                    f"{duplicate.state}: its resource is terminated once B has finished it")
    return None


def _link_created_resource(view: OrderView, b_order: Order) -> Step | None:
    if view.order.resource_uuid is None or b_order.resource_uuid is None:
        return None
    return LinkResource(view.order.resource_uuid, b_order.resource_uuid)


def _submit_create(
    view: OrderView, converter: LimitConverter, passthrough_attributes: Sequence[str], invalid: str | None
) -> Step:
    order = view.order
    if view.b_project is UNKNOWN:
        return NeedBProject(view.project_key)
    if view.b_project is None:
        if invalid is not None:
            return Fail(invalid)  # nothing can exist on B without its project: fail before any write
        name = order.project_name or order.project_uuid
        description = order.project_description or f"Federated from project {order.project_uuid} on Waldur A"
        return CreateProject(view.project_key, name, description)
    if view.project_created_now and not view.project_checked:
        return NeedBProject(view.project_key, fresh=True)
    if view.abandoned_project is not None:
        return DeleteProject(view.abandoned_project)
    nothing_yet = view.approved_now or view.project_created_now
    if view.keyed_order is UNKNOWN and not nothing_yet:
        return NeedKeyedOrder(view.b_project.uuid, view.key)
    if view.submitted_now and not view.keyed_checked:
        return NeedKeyedOrder(view.b_project.uuid, view.key, fresh=True)
    if isinstance(view.keyed_order, Order):
        return _mirror(view, view.keyed_order)
    if not nothing_yet:
        adopted = _adopt_linked_resource(view)
        if adopted is not None:
            return adopted
    if invalid is not None:
        return Fail(invalid)
    limits = converter.limits_to_target(order.limits)
    attributes = _b_attributes(order, passthrough_attributes)
    return SubmitCreate(NewOrder(view.b_project.uuid, view.key, limits, attributes))


def _adopt_linked_resource(view: OrderView) -> Step | None:
    """An executing Create with no B order carrying its key, whose A resource already links a B resource: another
    agent (waldur-site-agent, before a migration) made that B resource and stopped between linking the resource
    and linking the order. That B resource serves the order: its state decides, and nothing is submitted again.
    None when the A resource links nothing (or a B resource that is not there): submit as usual."""
    order = view.order
    if order.resource_uuid is None:
        return None
    if view.project_resources is None:
        return NeedProjectResources(order.project_uuid)
    a_resource = next((r for r in view.project_resources if r.uuid == order.resource_uuid), None)
    if a_resource is None or a_resource.link is None:
        return None
    if view.b_resource is UNKNOWN:
        return NeedBResource(a_resource.link)
    if view.b_resource is None:
        return None
    b_resource = view.b_resource
    if b_resource.state == ResourceState.OK:
        return Complete()
    if b_resource.state == ResourceState.CREATING:
        return Wait(f"B resource {b_resource.uuid}, which the A resource links, is being created")
    return Fail(f"B resource {b_resource.uuid}, which the A resource links, is {b_resource.state}")


def _b_attributes(order: Order, passthrough: Sequence[str]) -> dict[str, JsonValue]:
    attributes: dict[str, JsonValue] = {k: order.attributes[k] for k in passthrough if k in order.attributes}
    name = order.attributes.get("name") or order.resource_name
    if name:
        attributes["name"] = name
    if order.attributes.get("end_date"):
        attributes["end_date"] = order.attributes["end_date"]
    return attributes


def _submit_change(view: OrderView, converter: LimitConverter, invalid: str | None) -> Step:
    order = view.order
    if view.project_resources is None:
        return NeedProjectResources(order.project_uuid)
    resolved = resolve_federated_resource(order, view.project_resources)
    if isinstance(resolved, Fail):
        return resolved
    if view.b_resource is UNKNOWN:
        return NeedBResource(resolved)
    if view.b_resource is None:
        return Fail(f"B resource {resolved} does not exist on B (or is not visible to fedcore's B token)")
    b_resource = view.b_resource
    if view.keyed_order is UNKNOWN and not view.approved_now:
        return NeedKeyedOrder(b_resource.project_uuid, view.key)
    if isinstance(view.keyed_order, Order):
        return _mirror(view, view.keyed_order)
    if invalid is not None:
        return Fail(invalid)
    if order.type == OrderType.TERMINATE:
        if b_resource.state == ResourceState.TERMINATED:
            return Complete()
        if b_resource.state == ResourceState.TERMINATING:
            return Wait(f"B resource {b_resource.uuid} is terminating")
    if b_resource.state in _BUSY:
        return Retry(f"B resource {b_resource.uuid} is {b_resource.state}; {order.type} must wait")
    if b_resource.state == ResourceState.TERMINATED:
        return Fail(f"B resource {b_resource.uuid} is terminated; it cannot be updated")
    if b_resource.state == ResourceState.ERRED and order.type == OrderType.UPDATE:
        return Fail(f"B resource {b_resource.uuid} is Erred; Waldur B only updates the limits of OK resources")
    if order.type == OrderType.TERMINATE:
        return SubmitTerminate(b_resource.uuid, view.key)
    return SubmitUpdate(b_resource.uuid, converter.limits_to_target(order.limits), view.key)
