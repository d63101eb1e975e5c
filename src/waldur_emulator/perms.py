"""Who may see and do what: Waldur's role-based visibility rules over the emulator's state.

Every list and retrieve is filtered per caller (invisible objects answer 404); actions check a permission on
top (403). The same functions decide event recipients, so REST and STOMP agree.
"""

from __future__ import annotations

from .records import Project, User
from .records_market import Offering, OfferingUser, Order, Resource
from .store import State

CUSTOMER_OWNER = "CUSTOMER.OWNER"
CUSTOMER_MANAGER = "CUSTOMER.MANAGER"
CUSTOMER_SUPPORT = "CUSTOMER.SUPPORT"
PROJECT_ADMIN = "PROJECT.ADMIN"
PROJECT_MANAGER = "PROJECT.MANAGER"
PROJECT_MEMBER = "PROJECT.MEMBER"
OFFERING_MANAGER = "OFFERING.MANAGER"

ISD_ALLOWED_OFFERING_STATES = frozenset({"Active", "Paused", "Unavailable"})


def sees_everything(user: User) -> bool:
    """Staff and support see every object."""
    return user.is_staff or user.is_support


def roles_in_scope(state: State, user: User, scope_uuid: str) -> set[str]:
    """The role names ``user`` holds directly in one scope."""
    return {a.role_name for a in state.roles_in(scope_uuid) if a.user_uuid == user.uuid}


def customer_uuids(state: State, user: User) -> set[str]:
    """Customers where the user has a customer-level role."""
    return {a.scope_uuid for a in state.roles_of(user.uuid) if a.scope_type == "customer"}


def owned_customer_uuids(state: State, user: User) -> set[str]:
    """Customers the user owns or manages (service-provider managers count)."""
    return {
        a.scope_uuid
        for a in state.roles_of(user.uuid)
        if a.scope_type == "customer" and a.role_name in {CUSTOMER_OWNER, CUSTOMER_MANAGER}
    }


def project_uuids(state: State, user: User) -> set[str]:
    """Projects where the user has a project role."""
    return {a.scope_uuid for a in state.roles_of(user.uuid) if a.scope_type == "project"}


def managed_offering_uuids(state: State, user: User) -> set[str]:
    """Offerings where the user is OFFERING.MANAGER."""
    return {a.scope_uuid for a in state.roles_of(user.uuid) if a.scope_type == "offering"}


def is_customer_owner(state: State, user: User, customer_uuid: str) -> bool:
    """Staff or CUSTOMER.OWNER of the customer."""
    return user.is_staff or CUSTOMER_OWNER in roles_in_scope(state, user, customer_uuid)


def can_see_customer(state: State, user: User, customer_uuid: str) -> bool:
    """Staff/support, any customer role, or any role in one of its projects or offerings."""
    if sees_everything(user) or customer_uuid in customer_uuids(state, user):
        return True
    if any(state.projects[p].customer_uuid == customer_uuid for p in project_uuids(state, user) if p in state.projects):
        return True
    return any(
        state.offerings[o].customer_uuid == customer_uuid
        for o in managed_offering_uuids(state, user)
        if o in state.offerings
    )


def can_see_project(state: State, user: User, project: Project) -> bool:
    """Staff/support, a role in the project, or a customer role on its customer."""
    if sees_everything(user):
        return True
    if roles_in_scope(state, user, project.uuid):
        return True
    return bool(roles_in_scope(state, user, project.customer_uuid))


def can_manage_project(state: State, user: User, project: Project) -> bool:
    """Staff, the customer's owner, or the project's manager (may change members)."""
    if is_customer_owner(state, user, project.customer_uuid):
        return True
    return PROJECT_MANAGER in roles_in_scope(state, user, project.uuid)


def can_order_in_project(state: State, user: User, project: Project) -> bool:
    """Staff, the customer's owner, or anyone with a project role."""
    return is_customer_owner(state, user, project.customer_uuid) or bool(roles_in_scope(state, user, project.uuid))


def has_provider_access(state: State, user: User, offering: Offering) -> bool:
    """Staff, owner/manager of the offering's customer, or OFFERING.MANAGER of the offering."""
    if user.is_staff:
        return True
    if roles_in_scope(state, user, offering.customer_uuid) & {CUSTOMER_OWNER, CUSTOMER_MANAGER}:
        return True
    return OFFERING_MANAGER in roles_in_scope(state, user, offering.uuid)


def can_see_offering(state: State, user: User, offering: Offering) -> bool:
    """Provider access, support, or any customer role on the offering's customer."""
    return (
        sees_everything(user)
        or has_provider_access(state, user, offering)
        or bool(roles_in_scope(state, user, offering.customer_uuid))
    )


def is_public(offering: Offering) -> bool:
    """Whether the offering appears in marketplace-public-offerings (orderable)."""
    return offering.state in {"Active", "Paused"} and offering.shared


def can_see_order(state: State, user: User, order: Order) -> bool:
    """Consumer side (sees the project) or provider side (provider access to the offering)."""
    project = state.projects.get(order.project_uuid)
    if project is not None and can_see_project(state, user, project):
        return True
    offering = state.offerings.get(order.offering_uuid)
    return offering is not None and has_provider_access(state, user, offering)


def can_see_resource(state: State, user: User, resource: Resource) -> bool:
    """The same rule as for orders."""
    project = state.projects.get(resource.project_uuid)
    if project is not None and can_see_project(state, user, project):
        return True
    offering = state.offerings.get(resource.offering_uuid)
    return offering is not None and has_provider_access(state, user, offering)


def isd_overlap(manager: User, subject: User) -> bool:
    """An identity manager with non-empty managed_isds whose ISDs overlap the subject's active ISDs."""
    return bool(
        manager.is_identity_manager and manager.managed_isds and set(manager.managed_isds) & set(subject.active_isds)
    )


def offering_allows_offering_users(offering: Offering) -> bool:
    """Waldur lists offering users only for offerings whose provider may create them."""
    return bool(offering.plugin_options.get("service_provider_can_create_offering_user"))


def can_see_offering_user(state: State, user: User, record: OfferingUser) -> bool:
    """Offering-user visibility: own records, provider side, or the ISD identity-manager rule."""
    offering = state.offerings.get(record.offering_uuid)
    if offering is None or not offering_allows_offering_users(offering):
        return False
    if sees_everything(user) or record.user_uuid == user.uuid:
        return True
    if can_see_offering(state, user, offering):
        return True
    subject = state.users.get(record.user_uuid)
    return subject is not None and isd_overlap(user, subject)


def can_manage_offering_user(state: State, user: User, record: OfferingUser) -> bool:
    """UPDATE_OFFERING_USER: provider access to the offering or the ISD identity-manager rule."""
    offering = state.offerings[record.offering_uuid]
    if has_provider_access(state, user, offering):
        return True
    subject = state.users.get(record.user_uuid)
    return subject is not None and isd_overlap(user, subject) and offering.state in ISD_ALLOWED_OFFERING_STATES


def connected_user_uuids(state: State, user: User) -> set[str]:
    """Users sharing a customer or project with ``user`` (plus ``user``): what a non-staff caller may list."""
    scopes = customer_uuids(state, user) | project_uuids(state, user)
    for customer in customer_uuids(state, user):
        scopes |= {p.uuid for p in state.projects.values() if p.customer_uuid == customer}
    found = {user.uuid}
    for scope in scopes:
        found |= {a.user_uuid for a in state.roles_in(scope)}
    return found
