"""The order state machine and how resources follow their orders (shared by the REST handlers and the
provider simulation).

States: pending-consumer -> pending-provider -> executing -> done | erred, with rejected and canceled on the
side. A new order starts in pending-consumer and moves on at once when its creator may approve as consumer
(staff, customer owner, project manager), and again when the provider need not review it
(``plugin_options.auto_approve_remote_orders``). Each step sends Waldur's ORDER messages.
"""

from __future__ import annotations

from typing import Any

from . import effects, perms
from .core import Core
from .records import Project, User
from .records_market import Order, Resource

PENDING = ("pending-consumer", "pending-provider", "pending-project", "pending-start-date")
TERMINAL = ("done", "erred", "canceled", "rejected")
RESOURCE_STATE_DURING = {"Create": "Creating", "Update": "Updating", "Terminate": "Terminating", "Restore": "Updating"}


def can_approve_as_consumer(core: Core, user: User, project: Project) -> bool:
    """Staff, the customer's owner or the project's manager."""
    if perms.is_customer_owner(core.state, user, project.customer_uuid):
        return True
    return perms.PROJECT_MANAGER in perms.roles_in_scope(core.state, user, project.uuid)


def _set_state(core: Core, order: Order, state: str) -> None:
    order.state = state
    order.modified = core.now()
    if state in TERMINAL:
        order.completed_at = order.modified
    effects.order_state_changed(core, order)


def _touch(core: Core, resource: Resource, state: str) -> None:
    if resource.state != state:
        resource.state = state
        resource.modified = core.now()


def submit(core: Core, order: Order, creator: User) -> None:
    """Store a new order and run the automatic approvals."""
    core.state.add(order)
    effects.order_state_changed(core, order)
    project = core.state.projects[order.project_uuid]
    if can_approve_as_consumer(core, creator, project):
        approve_by_consumer(core, order, creator)


def _provider_review_needed(core: Core, order: Order) -> bool:
    offering = core.state.offerings[order.offering_uuid]
    if offering.plugin_options.get("auto_approve_remote_orders"):
        return False
    project = core.state.projects[order.project_uuid]
    return not (
        offering.customer_uuid == project.customer_uuid
        and offering.plugin_options.get("auto_approve_in_service_provider_projects")
    )


def approve_by_consumer(core: Core, order: Order, user: User) -> None:
    """pending-consumer -> pending-provider (or executing when the provider need not review)."""
    order.consumer_reviewed_by = user.uuid
    order.consumer_reviewed_at = core.now()
    if _provider_review_needed(core, order):
        _set_state(core, order, "pending-provider")
    else:
        _start_executing(core, order)


def _start_executing(core: Core, order: Order) -> None:
    _set_state(core, order, "executing")
    resource = core.state.resources[order.resource_uuid]
    _touch(core, resource, RESOURCE_STATE_DURING.get(order.type, resource.state))


def approve_by_provider(core: Core, order: Order, user: User | None, attributes: dict[str, Any] | None = None) -> None:
    """pending-provider -> executing."""
    if attributes:
        order.attributes.update(attributes)
    order.provider_reviewed_by = user.uuid if user else None
    order.provider_reviewed_at = core.now()
    _start_executing(core, order)


def set_executing(core: Core, order: Order) -> None:
    """set_state_executing (from pending or erred)."""
    _start_executing(core, order)


def set_done(core: Core, order: Order) -> None:
    """executing -> done; the resource takes the order's effect."""
    resource = core.state.resources[order.resource_uuid]
    if order.type == "Create":
        _touch(core, resource, "OK")
        effects.resource_created(core, resource)
    elif order.type == "Update":
        resource.limits = {**resource.limits, **order.limits}
        if order.plan_uuid:
            resource.plan_uuid = order.plan_uuid
        _touch(core, resource, "OK")
    elif order.type == "Terminate":
        _touch(core, resource, "Terminated")
    else:
        _touch(core, resource, "OK")
    _set_state(core, order, "done")


def set_erred(core: Core, order: Order, message: str = "", traceback: str = "") -> None:
    """Any state -> erred; the resource is marked Erred."""
    order.error_message = message
    order.error_traceback = traceback
    resource = core.state.resources[order.resource_uuid]
    resource.error_message, resource.error_traceback = message, traceback
    _touch(core, resource, "Erred")
    _set_state(core, order, "erred")


def _undo_resource(core: Core, order: Order) -> None:
    resource = core.state.resources[order.resource_uuid]
    _touch(core, resource, "Terminated" if order.type == "Create" else "OK")


def reject(core: Core, order: Order, *, by_provider: bool, comment: str = "") -> None:
    """pending -> rejected; a never-created resource ends Terminated, others go back to OK."""
    if by_provider:
        order.provider_rejection_comment = comment
    else:
        order.consumer_rejection_comment = comment
    _undo_resource(core, order)
    _set_state(core, order, "rejected")


def cancel(core: Core, order: Order) -> None:
    """-> canceled."""
    _undo_resource(core, order)
    _set_state(core, order, "canceled")


def new_order(
    core: Core,
    *,
    order_type: str,
    resource: Resource,
    creator: User,
    limits: dict[str, int] | None = None,
    attributes: dict[str, Any] | None = None,
    plan_uuid: str | None = None,
    request_comment: str | None = None,
) -> Order:
    """A fresh pending-consumer order on ``resource`` (not yet stored)."""
    now = core.now()
    uuid = core.new_uuid()
    return Order(
        uuid=uuid,
        type=order_type,
        state="pending-consumer",
        offering_uuid=resource.offering_uuid,
        project_uuid=resource.project_uuid,
        resource_uuid=resource.uuid,
        created_by_uuid=creator.uuid,
        created=now,
        modified=now,
        plan_uuid=plan_uuid or resource.plan_uuid,
        old_plan_uuid=resource.plan_uuid if order_type == "Update" else None,
        limits=dict(limits or {}),
        attributes=dict(attributes or {}),
        request_comment=request_comment,
        slug=f"order-{uuid[:8]}",
    )


def change_resource(core: Core, resource: Resource, order_type: str, creator: User, **fields: Any) -> Order:
    """update_limits / terminate: a new order on an existing resource, marked Updating or Terminating."""
    order = new_order(core, order_type=order_type, resource=resource, creator=creator, **fields)
    _touch(core, resource, RESOURCE_STATE_DURING[order_type])
    submit(core, order, creator)
    return order
