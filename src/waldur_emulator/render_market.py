"""JSON renderings of marketplace records: orders, resources, offering users and component usages."""

from __future__ import annotations

from typing import Any

from .core import slugify
from .records_market import ComponentUsage, ComponentUserUsage, OfferingUser, Order, Resource
from .render import iso, plan_url, profile, url
from .render_offerings import component
from .store import State

J = dict[str, Any]
OFFERING_USER_STATE_CODES = {
    "Requested": 1,
    "Creating": 2,
    "Pending account linking": 3,
    "Pending additional validation": 4,
    "OK": 5,
    "Requested deletion": 6,
    "Deleting": 7,
    "Deleted": 8,
    "Error creating": 9,
    "Error deleting": 10,
}


def _offering_part(state: State, base: str, offering_uuid: str, plan_uuid: str | None) -> J:
    offering = state.offerings[offering_uuid]
    provider = state.customers[offering.customer_uuid]
    cat = state.categories.get(offering.category_uuid)
    chosen = state.plans.get(plan_uuid or "")
    return {
        "offering": url(base, "marketplace-public-offerings", offering.uuid),
        "offering_name": offering.name,
        "offering_uuid": offering.uuid,
        "offering_description": offering.description,
        "offering_type": offering.type,
        "offering_shared": offering.shared,
        "offering_billable": offering.billable,
        "offering_plugin_options": dict(offering.plugin_options),
        "offering_image": "",
        "offering_thumbnail": "",
        "provider_name": provider.name,
        "provider_uuid": provider.uuid,
        "provider_slug": slugify(provider.name, "customer"),
        "category_icon": "",
        "category_title": cat.title if cat else "",
        "category_uuid": offering.category_uuid,
        "plan": plan_url(base, offering.uuid, chosen.uuid) if chosen else None,
        "plan_unit": chosen.unit if chosen else None,
        "plan_name": chosen.name if chosen else None,
        "plan_uuid": chosen.uuid if chosen else None,
        "plan_description": chosen.description if chosen else None,
    }


def _drop_nulls(out: J, keys: tuple[str, ...]) -> J:
    for key in keys:
        if out.get(key) is None:
            out.pop(key, None)
    return out


def order(state: State, base: str, record: Order) -> J:
    """``OrderDetails``."""
    project = state.projects[record.project_uuid]
    owner = state.customers[project.customer_uuid]
    resource = state.resources.get(record.resource_uuid)
    creator = state.users.get(record.created_by_uuid)
    consumer_reviewer = state.users.get(record.consumer_reviewed_by or "")
    provider_reviewer = state.users.get(record.provider_reviewed_by or "")
    out = _offering_part(state, base, record.offering_uuid, record.plan_uuid)
    out.update(
        {
            "attributes": dict(record.attributes),
            "limits": dict(record.limits),
            "uuid": record.uuid,
            "created": iso(record.created),
            "modified": iso(record.modified),
            "resource_uuid": None,
            "resource_type": None,
            "resource_name": resource.name if resource else "",
            "cost": None,
            "state": record.state,
            "output": "",
            "marketplace_resource_uuid": record.resource_uuid,
            "error_message": record.error_message,
            "error_traceback": record.error_traceback,
            "callback_url": record.callback_url,
            "completed_at": iso(record.completed_at),
            "request_comment": record.request_comment,
            "type": record.type,
            "start_date": record.start_date,
            "slug": record.slug,
            "url": url(base, "marketplace-orders", record.uuid),
            "consumer_reviewed_by": consumer_reviewer.uuid if consumer_reviewer else None,
            "consumer_reviewed_by_full_name": consumer_reviewer.full_name if consumer_reviewer else None,
            "consumer_reviewed_by_username": consumer_reviewer.username if consumer_reviewer else None,
            "consumer_reviewed_at": iso(record.consumer_reviewed_at),
            "provider_reviewed_by": provider_reviewer.uuid if provider_reviewer else None,
            "provider_reviewed_by_full_name": provider_reviewer.full_name if provider_reviewer else None,
            "provider_reviewed_by_username": provider_reviewer.username if provider_reviewer else None,
            "provider_reviewed_at": iso(record.provider_reviewed_at),
            "created_by_username": creator.username if creator else "",
            "created_by_full_name": creator.full_name if creator else "",
            "created_by_civil_number": creator.civil_number if creator else None,
            "created_by_email": (creator.email or None) if creator else None,
            "customer_name": owner.name,
            "customer_uuid": owner.uuid,
            "customer_slug": slugify(owner.name, "customer"),
            "project_name": project.name,
            "project_uuid": project.uuid,
            "project_description": project.description,
            "project_slug": project.slug,
            "old_plan_uuid": record.old_plan_uuid,
            "new_plan_uuid": record.plan_uuid if record.type == "Update" else None,
            "old_plan_name": None,
            "new_plan_name": None,
            "old_cost_estimate": 0.0,
            "new_cost_estimate": None,
            "can_terminate": record.state in {"pending-consumer", "pending-provider"},
            "fixed_price": 0.0,
            "activation_price": 0.0,
            "termination_comment": record.termination_comment,
            "backend_id": record.backend_id,
            "order_subtype": None,
            "consumer_rejection_comment": record.consumer_rejection_comment,
            "provider_rejection_comment": record.provider_rejection_comment,
            "created_by_organization": (creator.organization or None) if creator else None,
            "created_by_organization_registry_code": None,
            "issue": None,
            "attachment": None,
            "consumer_message": "",
            "consumer_message_attachment": None,
            "provider_message": "",
            "provider_message_attachment": None,
            "provider_message_url": "",
        }
    )
    return _drop_nulls(out, ("plan", "plan_unit"))


def resource(state: State, base: str, record: Resource) -> J:
    """``Resource``."""
    project = state.projects[record.project_uuid]
    owner = state.customers[project.customer_uuid]
    offering = state.offerings[record.offering_uuid]
    in_progress = [
        state.orders[o]
        for o in state.orders_by_resource.get(record.uuid)
        if state.orders[o].state in {"pending-consumer", "pending-provider", "executing"}
    ]
    creation = state.orders.get(record.creation_order_uuid or "")
    out = _offering_part(state, base, record.offering_uuid, record.plan_uuid)
    out.update(
        {
            "attributes": dict(record.attributes),
            "limits": dict(record.limits),
            "uuid": record.uuid,
            "created": iso(record.created),
            "modified": iso(record.modified),
            "url": url(base, "marketplace-resources", record.uuid),
            "scope": "",
            "description": record.description,
            "state": record.state,
            "resource_uuid": None,
            "backend_id": record.backend_id,
            "effective_id": record.effective_id,
            "resource_type": None,
            "project": url(base, "projects", project.uuid),
            "project_uuid": project.uuid,
            "project_name": project.name,
            "project_description": project.description,
            "project_end_date": project.end_date,
            "project_end_date_requested_by": "",
            "project_slug": project.slug,
            "customer_uuid": owner.uuid,
            "customer_name": owner.name,
            "customer_slug": slugify(owner.name, "customer"),
            "offering_slug": offering.slug,
            "offering_backend_id": offering.backend_id,
            "backend_metadata": dict(record.backend_metadata),
            "is_usage_based": any(c.billing_type == "usage" for c in offering.components),
            "is_limit_based": any(c.billing_type == "limit" for c in offering.components),
            "name": record.name,
            "slug": record.slug,
            "current_usages": {},
            "can_terminate": record.state in {"OK", "Erred"},
            "end_date": record.end_date,
            "end_date_requested_by": record.end_date_requested_by,
            "username": None,
            "limit_usage": {},
            "downscaled": record.downscaled,
            "restrict_member_access": record.restrict_member_access,
            "paused": record.paused,
            "endpoints": [],
            "error_message": record.error_message,
            "error_traceback": record.error_traceback,
            "options": None,
            "available_actions": [],
            "last_sync": iso(record.last_sync),
            "offering_state": offering.state,
            "offering_components": [component(c) for c in offering.components],
            "renewal_date": None,
            "report": [],
            "user_requires_reconsent": False,
            "order_in_progress": order(state, base, in_progress[-1]) if in_progress else None,
            "creation_order": order(state, base, creation) if creation is not None else None,
        }
    )
    return _drop_nulls(out, ("plan", "plan_unit"))


def offering_user(state: State, base: str, record: OfferingUser) -> J:
    """``OfferingUser``."""
    subject = state.users[record.user_uuid]
    offering = state.offerings[record.offering_uuid]
    owner = state.customers[offering.customer_uuid]
    out: J = {
        "url": url(base, "marketplace-offering-users", record.uuid),
        "uuid": record.uuid,
        "user": url(base, "users", subject.uuid),
        "offering": url(base, "marketplace-public-offerings", offering.uuid),
        "username": record.username,
        "offering_uuid": offering.uuid,
        "offering_name": offering.name,
        "user_uuid": subject.uuid,
        "user_username": subject.username,
        "user_full_name": subject.full_name,
        "user_first_name": subject.first_name,
        "user_last_name": subject.last_name,
        "user_organization": subject.organization,
        "user_affiliations": list(subject.affiliations),
        "user_civil_number": subject.civil_number,
        "user_identity_source": subject.identity_source,
        "user_active_isds": list(subject.active_isds),
        "created": iso(record.created),
        "modified": iso(record.modified),
        "customer_uuid": owner.uuid,
        "customer_name": owner.name,
        "is_restricted": record.is_restricted,
        "state": record.state,
        "service_provider_comment": record.service_provider_comment,
        "has_consent": True,
        "requires_reconsent": False,
        "has_compliance_checklist": False,
        "consent_data": None,
        "is_profile_complete": True,
        "missing_profile_attributes": [],
        "service_provider_comment_url": record.service_provider_comment_url,
        "user_email": subject.email,
        "user_job_title": subject.job_title,
        "user_phone_number": subject.phone_number,
    }
    out.update({f"user_{name}": value for name, value in profile(subject).items()})
    return out


def _usage_context(state: State, resource_uuid: str) -> J:
    res = state.resources[resource_uuid]
    project = state.projects[res.project_uuid]
    offering = state.offerings[res.offering_uuid]
    owner = state.customers[project.customer_uuid]
    return {
        "resource_name": res.name,
        "resource_uuid": res.uuid,
        "offering_name": offering.name,
        "offering_uuid": offering.uuid,
        "project_name": project.name,
        "project_uuid": project.uuid,
        "customer_name": owner.name,
        "customer_uuid": owner.uuid,
    }


def _component_of(state: State, resource_uuid: str, component_type: str) -> tuple[str, str]:
    offering = state.offerings[state.resources[resource_uuid].offering_uuid]
    for c in offering.components:
        if c.type == component_type:
            return c.name, str(c.fields.get("measured_unit", ""))
    return component_type, ""


def component_usage(state: State, base: str, record: ComponentUsage) -> J:  # noqa: ARG001 (uniform renderer signature)
    """``ComponentUsage`` (``usage`` is an integer in the schema; decimals are truncated)."""
    name, unit = _component_of(state, record.resource_uuid, record.type)
    out: J = {
        "uuid": record.uuid,
        "created": iso(record.created),
        "description": record.description,
        "type": record.type,
        "name": name,
        "measured_unit": unit,
        "usage": int(record.usage),
        "date": iso(record.date),
        "recurring": record.recurring,
        "billing_period": record.billing_period,
        "modified_by": None,
    }
    out.update(_usage_context(state, record.resource_uuid))
    return out


def component_user_usage(state: State, base: str, record: ComponentUserUsage) -> J:
    """``ComponentUserUsage``."""
    parent = state.usages[record.component_usage_uuid]
    _, unit = _component_of(state, parent.resource_uuid, parent.type)
    out: J = {
        "uuid": record.uuid,
        "username": record.username,
        "component_usage": url(base, "marketplace-component-usages", parent.uuid),
        "usage": int(record.usage),
        "measured_unit": unit,
        "description": record.description,
        "created": iso(record.created),
        "modified": iso(record.modified),
        "backend_id": record.backend_id,
        "component_type": parent.type,
        "date": iso(record.date),
        "billing_period": parent.billing_period,
    }
    if record.user_uuid:
        out["user"] = url(base, "users", record.user_uuid)
    out.update(_usage_context(state, parent.resource_uuid))
    return out
