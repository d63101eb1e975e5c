"""Side effects Waldur runs on state changes: offering-user auto-creation and the STOMP messages of EVENTS.md §5."""

from __future__ import annotations

from . import perms
from .core import Core
from .notify import PENDING_EVENT_TYPES, SLURM, publish
from .records import RoleAssignment
from .records_market import Offering, OfferingUser, Order, Resource
from .render_market import OFFERING_USER_STATE_CODES

# Offering users (Waldur's marketplace handlers create_offering_users_when_project_role_granted,
# create_offering_users_if_order_is_valid and create_offering_user_for_new_resource, which all run the
# create-or-restore tasks for a user or for every member of the project).
OFFERING_USER_TYPES = frozenset({"Marketplace.Basic", "Marketplace.Slurm", "Marketplace.Script"})
DELETION_FLOW_STATES = frozenset({"Requested deletion", "Deleting", "Error deleting"})
ORDER_STATES_ADMITTING_USERS = frozenset({"pending-provider", "executing"})


def _live_offerings_in_project(core: Core, project_uuid: str) -> list[str]:
    state = core.state
    seen: dict[str, None] = {}
    for resource_uuid in state.resources_by_project.get(project_uuid):
        resource = state.resources[resource_uuid]
        if resource.state != "Terminated":
            seen[resource.offering_uuid] = None
    return list(seen)


def _admits_offering_users(offering: Offering) -> bool:
    return offering.type in OFFERING_USER_TYPES and perms.offering_allows_offering_users(offering)


def _being_created(core: Core, resource: Resource) -> bool:
    """A Creating resource whose Create order is with the provider (pending-provider or executing)."""
    orders = (core.state.orders[o] for o in core.state.orders_by_resource.get(resource.uuid))
    return resource.state == "Creating" and any(
        o.type == "Create" and o.state in ORDER_STATES_ADMITTING_USERS for o in orders
    )


def _eligible_offerings(core: Core, project_uuid: str) -> list[Offering]:
    """Offerings of the project's OK (or being-created) resources that let the provider create offering users."""
    state = core.state
    seen: dict[str, Offering] = {}
    for resource in (state.resources[r] for r in state.resources_by_project.get(project_uuid)):
        offering = state.offerings[resource.offering_uuid]
        if offering.uuid in seen or not _admits_offering_users(offering):
            continue
        if resource.state == "OK" or _being_created(core, resource):
            seen[offering.uuid] = offering
    return list(seen.values())


def _create_or_restore(core: Core, user_uuid: str, offering: Offering) -> OfferingUser | None:
    """A new Requested offering user, or an existing one brought back from deletion; None when nothing changed."""
    state = core.state
    existing = next(
        (
            state.offering_users[u]
            for u in state.offering_users_by_user.get(user_uuid)
            if state.offering_users[u].offering_uuid == offering.uuid
        ),
        None,
    )
    now = core.now()
    if existing is None:
        record = OfferingUser(core.new_uuid(), user_uuid, offering.uuid, now, now)
        state.add(record)
        offering_user_created(core, record)
        return record
    if existing.state in DELETION_FLOW_STATES:
        existing.state = "OK" if existing.username else "Requested"
    elif existing.state == "Deleted":
        existing.state = "Requested"
    else:
        return None
    existing.modified = now
    offering_user_updated(core, existing, ["state"])
    return None


def ensure_offering_users(core: Core, user_uuid: str, project_uuid: str) -> list[OfferingUser]:
    """create_or_restore_offering_users_for_user: the user's record on every eligible offering of the project."""
    created = [_create_or_restore(core, user_uuid, offering) for offering in _eligible_offerings(core, project_uuid)]
    return [record for record in created if record is not None]


def ensure_project_offering_users(core: Core, project_uuid: str) -> list[OfferingUser]:
    """create_or_restore_offering_users_for_project: the same for every member of the project."""
    members = dict.fromkeys(a.user_uuid for a in core.state.roles_in(project_uuid))
    return [record for user_uuid in members for record in ensure_offering_users(core, user_uuid, project_uuid)]


def resource_created(core: Core, resource: Resource) -> None:
    """A resource's Create order is done: its project's members get offering users (the first resource of an
    offering in a project whose members already hold their roles)."""
    if _admits_offering_users(core.state.offerings[resource.offering_uuid]):
        ensure_project_offering_users(core, resource.project_uuid)


def _user_role_payload(core: Core, assignment: RoleAssignment, granted: bool) -> dict[str, object]:
    subject = core.state.users[assignment.user_uuid]
    project = core.state.projects[assignment.scope_uuid]
    return {
        "user_uuid": subject.uuid,
        "user_username": subject.username,
        "project_uuid": project.uuid,
        "project_name": project.name,
        "role_name": assignment.role_name,
        "granted": granted,
    }


def _send_user_role(core: Core, assignment: RoleAssignment, granted: bool) -> None:
    if assignment.scope_type != "project" or assignment.scope_uuid not in core.state.projects:
        return
    payload = _user_role_payload(core, assignment, granted)
    for offering_uuid in _live_offerings_in_project(core, assignment.scope_uuid):
        offering = core.state.offerings[offering_uuid]
        if offering.type == SLURM:
            publish(core, offering, "user_role", payload, project_uuids={assignment.scope_uuid})


def role_granted(core: Core, assignment: RoleAssignment) -> None:
    """A role was granted: auto-create offering users (project roles) and send ``user_role``."""
    if assignment.scope_type == "project":
        ensure_offering_users(core, assignment.user_uuid, assignment.scope_uuid)
    _send_user_role(core, assignment, True)


def role_revoked(core: Core, assignment: RoleAssignment) -> None:
    """A role was revoked: send ``user_role`` with ``granted: false``."""
    _send_user_role(core, assignment, False)


def order_state_changed(core: Core, order: Order) -> None:
    """A Create order reaching the provider admits the project's members as offering users; ORDER messages for
    pending-consumer/pending-provider (site-agent types) and done (Slurm only)."""
    offering = core.state.offerings[order.offering_uuid]
    if order.type == "Create" and order.state in ORDER_STATES_ADMITTING_USERS and _admits_offering_users(offering):
        ensure_project_offering_users(core, order.project_uuid)
    if order.state in {"pending-consumer", "pending-provider"} and offering.type in PENDING_EVENT_TYPES:
        pass
    elif not (order.state == "done" and offering.type == SLURM):
        return
    publish(
        core,
        offering,
        "order",
        {"order_uuid": order.uuid, "order_state": order.state},
        project_uuids={order.project_uuid},
    )


def resource_flags_changed(core: Core, resource: Resource) -> None:
    """RESOURCE message when downscaled, restrict_member_access or paused changed (Slurm only)."""
    offering = core.state.offerings[resource.offering_uuid]
    if offering.type != SLURM:
        return
    payload = {
        "resource_uuid": resource.uuid,
        "resource_backend_id": resource.backend_id,
        "downscaled": resource.downscaled,
        "restrict_member_access": resource.restrict_member_access,
        "paused": resource.paused,
    }
    publish(core, offering, "resource", payload, project_uuids={resource.project_uuid})


def _offering_user_projects(core: Core, record: OfferingUser) -> set[str]:
    return {a.scope_uuid for a in core.state.roles_of(record.user_uuid) if a.scope_type == "project"}


def _offering_user_base(record: OfferingUser) -> dict[str, object]:
    return {
        "offering_user_uuid": record.uuid,
        "user_uuid": record.user_uuid,
        "username": record.username or "",
    }


def _send_offering_user(core: Core, record: OfferingUser, payload: dict[str, object]) -> None:
    offering = core.state.offerings[record.offering_uuid]
    publish(
        core,
        offering,
        "offering_user",
        payload,
        project_uuids=_offering_user_projects(core, record),
        subject=core.state.users.get(record.user_uuid),
    )


def _username_set(core: Core, record: OfferingUser) -> None:
    offering = core.state.offerings[record.offering_uuid]
    if offering.type != SLURM or not record.username:
        return
    backend_ids = [
        r.backend_id
        for r in (core.state.resources[u] for u in core.state.resources_by_offering.get(offering.uuid))
        if r.state != "Terminated"
        and r.backend_id
        and core.state.projects.get(r.project_uuid) is not None
        and r.project_uuid in _offering_user_projects(core, record)
    ]
    payload = _offering_user_base(record)
    payload.update(
        action="username_set", state=OFFERING_USER_STATE_CODES[record.state], resource_backend_ids=backend_ids
    )
    _send_offering_user(core, record, payload)


def offering_user_created(core: Core, record: OfferingUser) -> None:
    """OFFERING_USER ``create`` (and ``username_set`` when it was created with a username)."""
    subject = core.state.users[record.user_uuid]
    payload = _offering_user_base(record)
    payload.update(
        action="create",
        state=record.state,
        attributes={
            "username": subject.username,
            "email": subject.email,
            "first_name": subject.first_name,
            "last_name": subject.last_name,
            "full_name": subject.full_name,
            "organization": subject.organization,
        },
    )
    _send_offering_user(core, record, payload)
    if record.username:
        _username_set(core, record)


def offering_user_updated(core: Core, record: OfferingUser, changed_fields: list[str]) -> None:
    """OFFERING_USER ``update`` with ``changed_fields`` (and ``username_set`` when the username changed)."""
    if not changed_fields:
        return
    payload = _offering_user_base(record)
    payload.update(action="update", state=record.state, changed_fields=sorted(changed_fields))
    _send_offering_user(core, record, payload)
    if "username" in changed_fields:
        _username_set(core, record)


def offering_user_deleted(core: Core, record: OfferingUser) -> None:
    """OFFERING_USER ``delete``."""
    payload = _offering_user_base(record)
    payload["action"] = "delete"
    _send_offering_user(core, record, payload)
