"""JSON renderings of offerings, their components and plans (public and provider views)."""

from __future__ import annotations

from typing import Any

from . import perms
from .records import User
from .records_market import Component, Offering, Plan
from .render import iso, plan_url, url
from .store import State

J = dict[str, Any]


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


def is_visible_plan(state: State, viewer: User, record: Plan) -> bool:
    """Plans of offerings the viewer can see (provider side) or that are public."""
    offering_ = state.offerings[record.offering_uuid]
    return perms.is_public(offering_) or perms.can_see_offering(state, viewer, offering_)
