"""The order lifecycle as a pure decision: given what is known about an A order, what happens next.

:func:`decide` looks at an :class:`OrderView` (the A order plus whatever has been read about it in this pass) and
returns one :class:`Step`. A step either asks for a fact (``Need*``: the service reads it through a port and calls
``decide`` again), asks for a write (the service applies it, folds the result into the view, and calls ``decide``
again), or ends the order's turn in this pass (:class:`Wait`, :class:`Retry`, :class:`Complete`, :class:`Fail`).

The rules that make this safe under crashes and faults:

- Every B order fedcore submits carries an idempotency key derived from the A order (:func:`idempotency_key`).
  Before submitting, an A order that is already ``executing`` without a recorded link is looked up by key on B, so a
  crash between any two writes never creates a second B order or resource. An order approved *in this pass* skips
  the lookup: fedcore submits on B only after approving on A, so nothing can exist yet.
- Writes go in an order that leaves a trail: approve on A, submit on B, record the B resource on the A resource,
  record the B order on the A order. A recorded order link therefore implies a recorded resource link.
- An A order is completed only when its B order is done, and failed only when B failed it (erred, canceled,
  rejected) or the request itself is invalid. Transient faults never reach this module: the service turns them
  into :class:`Retry`.
- Update and Terminate orders whose A resource has an empty ``backend_id`` (Waldur's shadow resource) are resolved
  to the real federated resource of the same project, or failed with a clear reason; never silently succeeded.
- Terminate: a B resource already ``Terminated`` counts as done; ``Terminating`` waits; ``Creating`` and
  ``Updating`` retry later.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Final, Protocol, TypeAlias

from attrs import evolve, field, frozen

from fedcore.enums import OrderState, OrderType, ResourceState
from fedcore.ids import Uuid, normalize_uuid
from fedcore.model import JsonValue, Order, Project, ProjectKey, Resource, int_map
from fedcore.ports.orders import NewOrder

KEY_PREFIX: Final = "fedcore-order:"


def idempotency_key(a_order_uuid: Uuid) -> str:
    """The key stamped on the B order fedcore submits for this A order: stable across crashes and restarts."""
    return f"{KEY_PREFIX}{a_order_uuid}"


class LimitConverter(Protocol):
    """Converts A limits to B limits (implemented by :class:`fedcore.conversion.Conversion`).

    Raises ``ValueError`` for a component the mapping does not know: the order is then invalid.
    """

    def limits_to_target(self, a_limits: Mapping[str, int]) -> dict[str, int]:
        """B limits for these A limits."""
        ...


class Unknown(enum.Enum):
    """Marks a fact that has not been read in this pass (distinct from a read that found nothing)."""

    UNKNOWN = "unknown"


UNKNOWN: Final = Unknown.UNKNOWN
Fact: TypeAlias = "Unknown | Order | Project | Resource | None"


@frozen
class OrderView:
    """Everything known about one A order in this pass. ``UNKNOWN`` = not read yet; ``None`` = read, absent."""

    order: Order
    approved_now: bool = False
    project_resources: Sequence[Resource] | None = None
    b_project: Project | Unknown | None = UNKNOWN
    project_created_now: bool = False
    b_order: Order | Unknown | None = UNKNOWN
    keyed_order: Order | Unknown | None = UNKNOWN
    b_resource: Resource | Unknown | None = UNKNOWN
    resource_linked: bool = False

    @property
    def key(self) -> str:
        """This order's idempotency key on B."""
        return idempotency_key(self.order.uuid)

    @property
    def project_key(self) -> ProjectKey:
        """The key of the B project that mirrors this order's A project."""
        return ProjectKey(self.order.customer_uuid, self.order.project_uuid)


# Reads -------------------------------------------------------------------------------------------------------


@frozen
class NeedBOrder:
    """Read the B order linked from the A order's ``backend_id``."""

    uuid: Uuid


@frozen
class NeedProjectResources:
    """Read the offering's A resources in the order's A project (to find the A resource and resolve shadows)."""

    project_uuid: Uuid


@frozen
class NeedBProject:
    """Look up the B project mirroring the A project."""

    key: ProjectKey


@frozen
class NeedKeyedOrder:
    """Look up, in one B project, a B order carrying this order's idempotency key."""

    project_uuid: Uuid
    key: str


@frozen
class NeedBResource:
    """Read the B resource linked to the A resource."""

    uuid: Uuid


# Writes ------------------------------------------------------------------------------------------------------


@frozen
class Approve:
    """``approve_by_provider`` on A."""


@frozen
class CreateProject:
    """Create the B project for the A project."""

    key: ProjectKey
    name: str
    description: str


@frozen
class SubmitCreate:
    """Submit the Create order on B."""

    order: NewOrder


@frozen
class SubmitUpdate:
    """``update_limits`` on the B resource."""

    resource_uuid: Uuid
    limits: Mapping[str, int] = field(converter=int_map)
    key: str = ""


@frozen
class SubmitTerminate:
    """``terminate`` on the B resource."""

    resource_uuid: Uuid
    key: str


@frozen
class LinkResource:
    """Record the B resource UUID as the A resource's ``backend_id``."""

    a_resource_uuid: Uuid
    b_resource_uuid: Uuid


@frozen
class LinkOrder:
    """Record the B order UUID as the A order's ``backend_id`` (also how an in-flight B order is adopted)."""

    b_order_uuid: Uuid


# Ends of the order's turn ------------------------------------------------------------------------------------


@frozen
class Wait:
    """Nothing to do until B moves: the B order is still in progress."""

    reason: str


@frozen
class Retry:
    """Try again in a later pass (B resource busy, transient fault)."""

    reason: str


@frozen
class Complete:
    """``set_state_done`` on A: the B order is done."""


@frozen
class Fail:
    """``set_state_erred`` on A, carrying B's reason or why the request is invalid."""

    message: str


Read: TypeAlias = NeedBOrder | NeedProjectResources | NeedBProject | NeedKeyedOrder | NeedBResource
Write: TypeAlias = Approve | CreateProject | SubmitCreate | SubmitUpdate | SubmitTerminate | LinkResource | LinkOrder
Final_: TypeAlias = Wait | Retry | Complete | Fail
Step: TypeAlias = Read | Write | Final_


def decide(view: OrderView, converter: LimitConverter, passthrough_attributes: Sequence[str] = ()) -> Step:
    """The next step for one A order. Pure: the same view always gives the same step."""
    order = view.order
    if order.state == OrderState.PENDING_PROVIDER:
        return Approve()
    if order.state != OrderState.EXECUTING:
        return Wait(f"A order is {order.state}; fedcore acts on pending-provider and executing orders")
    if order.backend_id:
        return _follow_linked(view)
    if order.type == OrderType.CREATE:
        return _submit_create(view, converter, passthrough_attributes)
    if order.type in (OrderType.UPDATE, OrderType.TERMINATE):
        return _submit_change(view, converter)
    return Fail(f"{order.type} orders are not supported by the federation (only Create, Update and Terminate)")


def _follow_linked(view: OrderView) -> Step:
    """The A order records its B order: mirror the B order's outcome."""
    b_uuid = view.order.backend_id
    if view.b_order is UNKNOWN:
        return NeedBOrder(Uuid(b_uuid))
    if view.b_order is None:
        return Fail(f"the linked B order {b_uuid} no longer exists on B (or is not visible to fedcore's B token)")
    return _mirror(view, view.b_order)


def _mirror(view: OrderView, b_order: Order) -> Step:
    """Given the B order that serves this A order: link what is not linked yet, then mirror its state."""
    order = view.order
    if order.type == OrderType.CREATE and not view.resource_linked and order.backend_id != b_order.uuid:
        resource_step = _link_created_resource(view, b_order)
        if resource_step is not None:
            return resource_step
    if order.backend_id != b_order.uuid:
        return LinkOrder(b_order.uuid)
    if b_order.state == OrderState.DONE:
        return Complete()
    if b_order.state.is_failure:
        reason = b_order.error_message or "B gave no reason"
        return Fail(f"B order {b_order.uuid} is {b_order.state}: {reason}")
    return Wait(f"B order {b_order.uuid} is {b_order.state}")


def _link_created_resource(view: OrderView, b_order: Order) -> Step | None:
    if view.order.resource_uuid is None or b_order.resource_uuid is None:
        return None
    return LinkResource(view.order.resource_uuid, b_order.resource_uuid)


def _submit_create(view: OrderView, converter: LimitConverter, passthrough_attributes: Sequence[str]) -> Step:
    order = view.order
    if view.b_project is UNKNOWN:
        return NeedBProject(view.project_key)
    if view.b_project is None:
        name = order.project_name or order.project_uuid
        description = order.project_description or f"Federated from project {order.project_uuid} on Waldur A"
        return CreateProject(view.project_key, name, description)
    found = _adoptable(view, view.b_project.uuid)
    if found is not None:
        return found
    if isinstance(view.keyed_order, Order):
        return _mirror(view, view.keyed_order)
    try:
        limits = converter.limits_to_target(order.limits)
    except ValueError as exc:
        return Fail(f"cannot convert the order's limits to B's components: {exc}")
    attributes = _b_attributes(order, passthrough_attributes)
    return SubmitCreate(NewOrder(view.b_project.uuid, view.key, limits, attributes))


def _adoptable(view: OrderView, b_project_uuid: Uuid) -> Step | None:
    """Ask for the idempotency lookup unless nothing can exist on B yet."""
    nothing_yet = view.approved_now or view.project_created_now
    if view.keyed_order is UNKNOWN and not nothing_yet:
        return NeedKeyedOrder(b_project_uuid, view.key)
    return None


def _b_attributes(order: Order, passthrough: Sequence[str]) -> dict[str, JsonValue]:
    attributes: dict[str, JsonValue] = {k: order.attributes[k] for k in passthrough if k in order.attributes}
    name = order.attributes.get("name") or order.resource_name
    if name:
        attributes["name"] = name
    if order.attributes.get("end_date"):
        attributes["end_date"] = order.attributes["end_date"]
    return attributes


def _submit_change(view: OrderView, converter: LimitConverter) -> Step:
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
    if isinstance(view.keyed_order, Order):
        return _mirror(view, view.keyed_order)
    if order.type == OrderType.TERMINATE:
        if b_resource.state == ResourceState.TERMINATED:
            return Complete()
        if b_resource.state == ResourceState.TERMINATING:
            return Wait(f"B resource {b_resource.uuid} is terminating")
    if b_resource.state in (ResourceState.CREATING, ResourceState.UPDATING, ResourceState.TERMINATING):
        return Retry(f"B resource {b_resource.uuid} is {b_resource.state}; {order.type} must wait")
    if b_resource.state == ResourceState.TERMINATED:
        return Fail(f"B resource {b_resource.uuid} is terminated; it cannot be updated")
    if b_resource.state == ResourceState.ERRED and order.type == OrderType.UPDATE:
        return Fail(f"B resource {b_resource.uuid} is Erred; Waldur B only updates the limits of OK resources")
    if view.keyed_order is UNKNOWN:
        return NeedKeyedOrder(b_resource.project_uuid, view.key)
    if order.type == OrderType.TERMINATE:
        return SubmitTerminate(b_resource.uuid, view.key)
    try:
        limits = converter.limits_to_target(order.limits)
    except ValueError as exc:
        return Fail(f"cannot convert the order's limits to B's components: {exc}")
    return SubmitUpdate(b_resource.uuid, limits, view.key)


def resolve_federated_resource(order: Order, project_resources: Sequence[Resource]) -> Uuid | Fail:
    """The B resource UUID an Update/Terminate order acts on, resolving Waldur's shadow resources.

    The order's own A resource answers when it carries a ``backend_id``. A named resource without one was never
    created on B, and the order fails saying so (resolving it elsewhere could change the wrong resource). A
    shadow (nameless, no ``backend_id``, or absent from the listing) is resolved to the one other federated
    resource (neither still creating nor terminated) of the offering in the same A project, narrowed by name when
    the order names its resource. None or several candidates fail the order with the reason.
    """
    own = next((r for r in project_resources if r.uuid == order.resource_uuid), None)
    if own is not None and own.backend_id:
        return _as_uuid(own.backend_id, own.uuid)
    where = f"A resource {order.resource_uuid} (project {order.project_uuid})"
    if own is not None and own.name:
        return Fail(f"{where} has no link to B: it was never created there, so there is nothing to {order.type}")
    candidates = [
        r
        for r in project_resources
        if r.backend_id
        and r.uuid != order.resource_uuid
        and r.state not in (ResourceState.CREATING, ResourceState.TERMINATED)
    ]
    if order.resource_name:
        candidates = [r for r in candidates if r.name == order.resource_name]
    if len(candidates) == 1:
        return _as_uuid(candidates[0].backend_id, candidates[0].uuid)
    if not candidates:
        return Fail(f"{where} is a shadow with no link to B, and no federated resource in its project to resolve")
    listed = ", ".join(sorted(r.uuid for r in candidates))
    count = len(candidates)
    return Fail(f"{where} is a shadow with no link to B; {count} federated resources could be meant: {listed}")


def _as_uuid(backend_id: str, a_resource: Uuid) -> Uuid | Fail:
    try:
        return normalize_uuid(backend_id)
    except ValueError:
        return Fail(f"A resource {a_resource} has backend_id {backend_id!r}, which is not a B resource UUID")


def on_refusal(step: Write | Complete | Fail, error_detail: str, *, conflict: bool) -> Final_:
    """What a permanent refusal of ``step`` means for the order (transient faults never get here).

    B refusing an order or project is the request's own fault: the A order fails with B's detail. A conflict
    (the object moved to another state) is retried: the next pass reads the new state. Refusals on A (approve,
    links, completion) are a token or permission problem, not the order's: they are retried, never failed.
    """
    if conflict:
        return Retry(f"{_describe(step)} was refused as in the wrong state: {error_detail}")
    if isinstance(step, SubmitCreate | SubmitUpdate | SubmitTerminate | CreateProject):
        return Fail(f"Waldur B refused to {_describe(step)}: {error_detail}")
    return Retry(f"Waldur A refused to {_describe(step)}: {error_detail}")


def _describe(step: Write | Complete | Fail) -> str:
    return {
        Approve: "approve the order",
        CreateProject: "create the project",
        SubmitCreate: "create the order",
        SubmitUpdate: "update the resource's limits",
        SubmitTerminate: "terminate the resource",
        LinkResource: "record the B resource on the A resource",
        LinkOrder: "record the B order on the A order",
        Complete: "mark the order done",
        Fail: "mark the order erred",
    }[type(step)]


def after_write(view: OrderView, step: Write, result: Order | Project | Uuid | None) -> OrderView:
    """Fold a successful write's result into the view, so the next :func:`decide` sees the new state."""
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
            assert fact is None or isinstance(fact, Order)
            return evolve(view, b_order=fact)
        case NeedProjectResources():
            assert isinstance(fact, Sequence)
            return evolve(view, project_resources=tuple(fact))
        case NeedBProject():
            assert fact is None or isinstance(fact, Project)
            return evolve(view, b_project=fact)
        case NeedKeyedOrder():
            assert fact is None or isinstance(fact, Order)
            return evolve(view, keyed_order=fact)
        case NeedBResource():
            assert fact is None or isinstance(fact, Resource)
            return evolve(view, b_resource=fact)
    raise AssertionError(f"unhandled read {step!r}")  # pragma: no cover
