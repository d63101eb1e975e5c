"""JSON renderings of the emulator's records, field by field as the Waldur 8.0.5 schema declares them.

Response schemas declare no required fields (``field=`` may trim anything), so renderings carry the fields
clients use, with the declared types and nullability. URLs are absolute from the request's base URL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from . import perms
from .core import slugify
from .records import Category, Customer, Project, RoleAssignment, ServiceProvider, User
from .records_market import Component, Offering, Plan
from .store import State

J = dict[str, Any]


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
    """``User``; the token and identity-bridge fields only for the user themselves or staff."""
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
    }
    if own:
        out.update(
            token=subject.token,
            token_lifetime=None,
            token_expires_at=None,
            permissions=permissions(state, subject),
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


def component(record: Component) -> J:
    """``OfferingComponent``."""
    out: J = {
        "uuid": record.uuid,
        "billing_type": record.billing_type,
        "type": record.type,
        "name": record.name,
        "description": "",
        "measured_unit": "",
        "unit_factor": 1,
        "limit_period": None,
        "limit_amount": None,
        "article_code": "",
        "max_value": None,
        "min_value": None,
        "max_available_limit": None,
        "is_boolean": False,
        "default_limit": None,
        "factor": None,
        "is_builtin": False,
        "is_prepaid": False,
        "overage_component": None,
        "min_prepaid_duration": None,
        "max_prepaid_duration": None,
    }
    out.update(record.fields)
    return out


def plan(state: State, base: str, record: Plan, *, public: bool, with_offering: bool = False) -> J:
    """``BasePublicPlan`` / ``BaseProviderPlan`` / ``ProviderPlanDetails`` (``with_offering``)."""
    offering = state.offerings[record.offering_uuid]
    components = [
        {
            "type": c.type,
            "name": c.name,
            "measured_unit": str(c.fields.get("measured_unit", "")),
            "amount": int(record.quotas.get(c.type, 0)),
            "price": record.prices.get(c.type, "0.0000000"),
            "future_price": None,
            "discount_threshold": None,
            "discount_rate": None,
        }
        for c in offering.components
    ]
    out: J = {
        "url": plan_url(base, offering.uuid, record.uuid) if public else url(base, "marketplace-plans", record.uuid),
        "uuid": record.uuid,
        "name": record.name,
        "description": record.description,
        "article_code": record.article_code,
        "max_amount": record.max_amount,
        "archived": record.archived,
        "is_active": not record.archived,
        "unit_price": record.unit_price,
        "unit": record.unit,
        "init_price": 0.0,
        "switch_price": 0.0,
        "backend_id": record.backend_id,
        "organization_groups": [],
        "components": components,
        "prices": {k: float(v) for k, v in record.prices.items()},
        "future_prices": {},
        "quotas": dict(record.quotas),
        "resources_count": sum(1 for r in state.resources.values() if r.plan_uuid == record.uuid),
        "plan_type": "limit",
        "minimal_price": 0.0,
    }
    if with_offering:
        out["offering"] = url(base, "marketplace-provider-offerings", offering.uuid)
    return out


def offering(state: State, base: str, record: Offering, *, public: bool) -> J:
    """``PublicOfferingDetails`` or ``ProviderOfferingDetails``."""
    owner = state.customers[record.customer_uuid]
    cat = state.categories.get(record.category_uuid)
    plans = [p for p in state.plans.values() if p.offering_uuid == record.uuid]
    out: J = {
        "url": url(base, "marketplace-public-offerings" if public else "marketplace-provider-offerings", record.uuid),
        "uuid": record.uuid,
        "created": iso(record.created),
        "name": record.name,
        "slug": record.slug,
        "description": record.description,
        "full_description": "",
        "customer": url(base, "customers", owner.uuid),
        "customer_uuid": owner.uuid,
        "customer_name": owner.name,
        "category": url(base, "marketplace-categories", record.category_uuid),
        "category_uuid": record.category_uuid,
        "category_title": cat.title if cat else "",
        "attributes": dict(record.attributes),
        "components": [component(c) for c in record.components],
        "plugin_options": dict(record.plugin_options),
        "state": record.state,
        "type": record.type,
        "shared": record.shared,
        "billable": record.billable,
        "backend_id": record.backend_id,
        "order_count": len(state.orders_by_offering.get(record.uuid)),
        "plans": [plan(state, base, p, public=public) for p in plans],
        "thumbnail": None,
        "image": None,
        "paused_reason": "",
        "roles": [],
        "endpoints": [],
    }
    if not public:
        out["secret_options"] = dict(record.secret_options)
        out["service_attributes"] = {}
        out["backend_id_rules"] = {}
        out["integration_status"] = None
    return out


def role_assignment_expiration(assignment: RoleAssignment) -> J:
    """``UserRoleExpirationTime``."""
    return {"expiration_time": iso(assignment.expiration_time)}


def is_visible_plan(state: State, viewer: User, record: Plan) -> bool:
    """Plans of offerings the viewer can see (provider side) or that are public."""
    offering_ = state.offerings[record.offering_uuid]
    return perms.is_public(offering_) or perms.can_see_offering(state, viewer, offering_)
