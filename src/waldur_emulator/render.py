"""JSON renderings of the emulator's records, field by field as the Waldur 8.0.5 schema declares them.

Response schemas declare no required fields (``field=`` may trim anything), so renderings carry the fields
clients use, with the declared types and nullability. URLs are absolute from the request's base URL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .core import slugify
from .records import Category, Customer, Project, RoleAssignment, ServiceProvider, User
from .store import State

J = dict[str, Any]

# The user profile attributes 8.0.5 declares that nothing in the emulator sets (identity sources may later): their
# values live in ``User.extra``; these are what Waldur renders for a user without them.
PROFILE_DEFAULTS: dict[str, Any] = {
    "birth_date": None,
    "gender": None,
    "personal_title": "",
    "place_of_birth": "",
    "country_of_residence": "",
    "nationality": "",
    "nationalities": [],
    "organization_country": "",
    "organization_type": "",
    "organization_registry_code": "",
    "eduperson_assurance": [],
}


def profile(subject: User) -> J:
    """The user's profile attributes (``PROFILE_DEFAULTS`` where unset), fresh copies."""
    return {name: _copy(subject.extra.get(name, default)) for name, default in PROFILE_DEFAULTS.items()}


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def iso(moment: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z`` suffix, as DRF renders aware datetimes."""
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def url(base: str, collection: str, uuid: str) -> str:
    """The absolute URL of an object: ``{base}/api/{collection}/{uuid}/``."""
    return f"{base}/api/{collection}/{uuid}/"


def plan_url(base: str, offering_uuid: str, plan_uuid: str) -> str:
    """A plan's public URL, the form an order's ``plan`` field carries."""
    return f"{base}/api/marketplace-public-offerings/{offering_uuid}/plans/{plan_uuid}/"


def user(state: State, base: str, subject: User, viewer: User) -> J:
    """``User``: every field 8.0.5 declares for the user themselves and for staff; the token, session and
    identity-bridge fields are left out for other viewers, as Waldur's serializer drops them."""
    own = viewer.is_staff or viewer.uuid == subject.uuid
    out: J = {
        "url": url(base, "users", subject.uuid),
        "uuid": subject.uuid,
        "username": subject.username,
        "slug": slugify(subject.username, "user"),
        "full_name": subject.full_name,
        "native_name": "",
        "job_title": subject.job_title,
        "email": subject.email,
        "phone_number": subject.phone_number,
        "organization": subject.organization,
        "civil_number": subject.civil_number,
        "description": subject.description,
        "is_staff": subject.is_staff,
        "is_active": subject.is_active,
        "is_support": subject.is_support,
        "registration_method": subject.registration_method,
        "date_joined": iso(subject.created),
        "agreement_date": None,
        "first_name": subject.first_name,
        "last_name": subject.last_name,
        "affiliations": list(subject.affiliations),
        "identity_source": subject.identity_source,
        "preferred_language": "",
        "notifications_enabled": True,
        "image": None,
        "requested_email": None,
        "identity_provider_name": "",
        "identity_provider_label": "",
        "identity_provider_management_url": "",
        "identity_provider_fields": [],
        "ip_address": None,
        "token_expires_at": None,
        "permissions": permissions(state, subject),
    }
    out.update(profile(subject))
    if own:
        out.update(
            token=subject.token,
            token_lifetime=None,
            has_active_session=True,
            is_identity_manager=subject.is_identity_manager,
            managed_isds=list(subject.managed_isds),
            active_isds=list(subject.active_isds),
            attribute_sources=dict(subject.attribute_sources),
        )
    return out


def _scope_name_and_customer(state: State, assignment: RoleAssignment) -> tuple[str, str, str]:
    if assignment.scope_type == "customer":
        customer = state.customers.get(assignment.scope_uuid)
        return (customer.name if customer else "", assignment.scope_uuid, customer.name if customer else "")
    if assignment.scope_type == "project":
        project = state.projects.get(assignment.scope_uuid)
        if project is None:
            return ("", "", "")
        customer = state.customers[project.customer_uuid]
        return (project.name, customer.uuid, customer.name)
    offering = state.offerings.get(assignment.scope_uuid)
    if offering is None:
        return ("", "", "")
    customer = state.customers[offering.customer_uuid]
    return (offering.name, customer.uuid, customer.name)


def permissions(state: State, subject: User) -> list[J]:
    """``Permission[]`` of users/me: one item per role assignment."""
    out = []
    for assignment in state.roles_of(subject.uuid):
        name, customer_uuid, customer_name = _scope_name_and_customer(state, assignment)
        role = state.roles.get(assignment.role_name)
        out.append(
            {
                "user_uuid": subject.uuid,
                "user_name": subject.full_name,
                "user_slug": slugify(subject.username, "user"),
                "created": iso(assignment.created),
                "expiration_time": iso(assignment.expiration_time),
                "created_by_full_name": "",
                "created_by_username": "",
                "role_name": assignment.role_name,
                "role_description": role.description if role else "",
                "role_uuid": role.uuid if role else assignment.uuid,
                "scope_type": assignment.scope_type,
                "scope_uuid": assignment.scope_uuid,
                "scope_name": name,
                "customer_uuid": customer_uuid,
                "customer_name": customer_name,
            }
        )
    return out


def user_role(state: State, base: str, assignment: RoleAssignment) -> J:  # noqa: ARG001 (uniform renderer signature)
    """``UserRoleDetails``: ``uuid`` is the assignment's, ``user_uuid`` the user's."""
    subject = state.users[assignment.user_uuid]
    creator = state.users.get(assignment.created_by_uuid or "")
    role = state.roles.get(assignment.role_name)
    out: J = {
        "uuid": assignment.uuid,
        "created": iso(assignment.created),
        "expiration_time": iso(assignment.expiration_time),
        "role_name": assignment.role_name,
        "role_uuid": role.uuid if role else assignment.uuid,
        "user_email": subject.email,
        "user_full_name": subject.full_name,
        "user_username": subject.username,
        "user_uuid": subject.uuid,
        "created_by_full_name": creator.full_name if creator else "",
    }
    if subject.email:
        out["user_email"] = subject.email
    if creator is not None:
        out["created_by_uuid"] = creator.uuid
    return out


def customer(state: State, base: str, record: Customer) -> J:
    """``Customer``."""
    provider = next((sp for sp in state.service_providers.values() if sp.customer_uuid == record.uuid), None)
    out: J = {
        "url": url(base, "customers", record.uuid),
        "uuid": record.uuid,
        "created": iso(record.created),
        "display_name": record.name,
        "backend_id": record.backend_id,
        "image": None,
        "blocked": record.blocked,
        "archived": record.archived,
        "display_billing_info_in_projects": False,
        "projects_count": sum(
            1 for p in state.projects.values() if p.customer_uuid == record.uuid and not p.is_removed
        ),
        "users_count": len({a.user_uuid for a in state.roles_in(record.uuid)}),
        "name": record.name,
        "slug": slugify(record.name, "customer"),
        "native_name": record.native_name,
        "abbreviation": record.abbreviation,
        "description": record.description,
        "is_service_provider": provider is not None,
        "service_provider": url(base, "marketplace-service-providers", provider.uuid) if provider else None,
        "service_provider_uuid": provider.uuid if provider else None,
    }
    if record.email:
        out["email"] = record.email
    return out


def service_provider(state: State, base: str, record: ServiceProvider) -> J:
    """``ServiceProvider``."""
    owner = state.customers[record.customer_uuid]
    return {
        "url": url(base, "marketplace-service-providers", record.uuid),
        "uuid": record.uuid,
        "created": iso(record.created),
        "description": record.description,
        "enable_notifications": record.enable_notifications,
        "customer": url(base, "customers", owner.uuid),
        "customer_name": owner.name,
        "customer_uuid": owner.uuid,
        "customer_abbreviation": owner.abbreviation,
        "customer_native_name": owner.native_name,
        "image": None,
        "offering_count": sum(1 for o in state.offerings.values() if o.customer_uuid == owner.uuid),
    }


def category(state: State, base: str, record: Category) -> J:
    """``MarketplaceCategory``."""
    count = sum(1 for o in state.offerings.values() if o.category_uuid == record.uuid)
    return {
        "url": url(base, "marketplace-categories", record.uuid),
        "uuid": record.uuid,
        "title": record.title,
        "description": record.description,
        "icon": None,
        "offering_count": count,
        "available_offerings_count": count,
    }


def project(state: State, base: str, record: Project) -> J:
    """``Project``."""
    owner = state.customers[record.customer_uuid]
    resources = [state.resources[r] for r in state.resources_by_project.get(record.uuid)]
    return {
        "url": url(base, "projects", record.uuid),
        "uuid": record.uuid,
        "name": record.name,
        "slug": record.slug,
        "customer": url(base, "customers", owner.uuid),
        "customer_uuid": owner.uuid,
        "customer_name": owner.name,
        "customer_native_name": owner.native_name,
        "customer_abbreviation": owner.abbreviation,
        "description": record.description,
        "created": iso(record.created),
        "type": None,
        "type_name": None,
        "type_uuid": None,
        "backend_id": record.backend_id,
        "start_date": record.start_date,
        "end_date": record.end_date,
        "end_date_requested_by": None,
        "is_industry": record.is_industry,
        "image": None,
        "resources_count": sum(1 for r in resources if r.state != "Terminated"),
        "kind": record.kind,
        "is_removed": record.is_removed,
        "termination_metadata": None,
        "marketplace_resource_count": {},
    }


def role_assignment_expiration(assignment: RoleAssignment) -> J:
    """``UserRoleExpirationTime``."""
    return {"expiration_time": iso(assignment.expiration_time)}
