"""Provider and public offerings, their components, and plans."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from . import api_roles, perms, render_offerings
from .core import Core, caller, flag, normalize, slugify, text
from .records_market import Component, Offering, Plan
from .web import ApiError, Request, Response, Router, bad_request, conflict, forbidden, paginate, retrieve

BILLING_TYPES = ("fixed", "usage", "limit", "one", "few")
BILLING_UNITS = ("month", "quarter", "half_month", "day", "hour", "quantity")
COMPONENT_OPTIONAL = (
    "description",
    "measured_unit",
    "unit_factor",
    "limit_period",
    "limit_amount",
    "article_code",
    "max_value",
    "min_value",
    "max_available_limit",
    "is_boolean",
    "default_limit",
    "is_prepaid",
    "overage_component",
    "min_prepaid_duration",
    "max_prepaid_duration",
)


def _price(value: object, field: str) -> str:
    try:
        return f"{Decimal(str(value)):.7f}"
    except InvalidOperation:
        raise bad_request(field, "A valid number is required.") from None


class OfferingsApi:
    """Handlers for offerings, components and plans."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.state = core.state

    def _component(self, body: dict[str, Any], existing: list[Component]) -> Component:
        api_roles.required_fields(body, "billing_type", "type", "name")
        if body["billing_type"] not in BILLING_TYPES:
            raise bad_request("billing_type", f'"{body["billing_type"]}" is not a valid choice.')
        if any(c.type == body["type"] for c in existing):
            raise bad_request("type", "Component with this type already exists.")
        fields = {k: body[k] for k in COMPONENT_OPTIONAL if k in body}
        return Component(self.core.new_uuid(), text(body, "type"), text(body, "name"), body["billing_type"], fields)

    def _plan(self, offering: Offering, body: dict[str, Any]) -> Plan:
        api_roles.required_fields(body, "name")
        unit = body.get("unit", "month")
        if unit not in BILLING_UNITS:
            raise bad_request("unit", f'"{unit}" is not a valid choice.')
        record = Plan(
            self.core.new_uuid(), offering.uuid, text(body, "name", max_length=150), self.core.now(), unit=unit
        )
        self._apply_plan(record, body)
        return record

    def _apply_plan(self, record: Plan, body: dict[str, Any]) -> None:
        for field in ("name", "description", "article_code", "backend_id"):
            if field in body:
                setattr(record, field, text(body, field))
        if "unit_price" in body:
            record.unit_price = _price(body["unit_price"], "unit_price")
        if "max_amount" in body:
            record.max_amount = body["max_amount"]
        if "archived" in body:
            record.archived = flag(body, "archived", False)
        if isinstance(body.get("prices"), dict):
            record.prices = {k: _price(v, "prices") for k, v in body["prices"].items()}
        if isinstance(body.get("quotas"), dict):
            record.quotas = {k: int(v) for k, v in body["quotas"].items()}

    def _apply_offering(self, record: Offering, body: dict[str, Any]) -> None:
        for field in ("name", "description", "backend_id", "slug"):
            if field in body:
                setattr(record, field, text(body, field))
        for field in ("shared", "billable"):
            if field in body:
                setattr(record, field, flag(body, field, True))
        for field in ("plugin_options", "secret_options", "attributes"):
            if field in body:
                if not isinstance(body[field], dict):
                    raise bad_request(field, "Expected a dictionary.")
                setattr(record, field, dict(body[field]))

    def create(self, request: Request) -> Response:
        body = request.json()
        api_roles.required_fields(body, "name", "category", "type", "customer")
        owner = self.core.ref(body, "customer", self.state.customers)
        cat = self.core.ref(body, "category", self.state.categories)
        assert owner is not None
        assert cat is not None
        if not perms.is_customer_owner(
            self.state, caller(request), owner.uuid
        ) and perms.CUSTOMER_MANAGER not in perms.roles_in_scope(self.state, caller(request), owner.uuid):
            raise forbidden()
        if not any(sp.customer_uuid == owner.uuid for sp in self.state.service_providers.values()):
            raise bad_request("customer", "Customer is not a service provider.")
        record = Offering(
            self.core.new_uuid(),
            text(body, "name", max_length=150),
            text(body, "type"),
            owner.uuid,
            cat.uuid,
            self.core.now(),
        )
        self._apply_offering(record, body)
        record.slug = record.slug or slugify(record.name, "offering")
        for item in body.get("components") or []:
            record.components.append(self._component(item, record.components))
        plans = [self._plan(record, item) for item in body.get("plans") or []]
        self.state.add(record)
        for p in plans:
            self.state.add(p)
        return Response(201, render_offerings.offering(self.state, request.base_url, record, public=False))

    def _visible(self, request: Request) -> Offering:
        viewer = caller(request)
        return self.core.get(
            self.state.offerings, request.params["uuid"], lambda o: perms.can_see_offering(self.state, viewer, o)
        )

    def _managed(self, request: Request) -> Offering:
        record = self._visible(request)
        if not perms.has_provider_access(self.state, caller(request), record):
            raise forbidden()
        return record

    def _filter(self, request: Request, items: list[Offering]) -> list[Offering]:
        q = request.query
        if (v := q.one("customer_uuid")) is not None:
            items = [o for o in items if o.customer_uuid == normalize(v)]
        if states := q.repeated("state"):
            items = [o for o in items if o.state in states]
        if types := q.repeated("type"):
            items = [o for o in items if o.type in types]
        if (v := q.one("name")) is not None:
            items = [o for o in items if v.lower() in o.name.lower()]
        if (v := q.one("name_exact")) is not None:
            items = [o for o in items if o.name == v]
        if uuids := q.comma("uuid_list"):
            keys = {normalize(u) for u in uuids}
            items = [o for o in items if o.uuid in keys]
        if (v := q.one("category_uuid")) is not None:
            items = [o for o in items if o.category_uuid == normalize(v)]
        if (b := q.flag("shared")) is not None:
            items = [o for o in items if o.shared == b]
        return items

    def provider_list(self, request: Request) -> Response:
        viewer = caller(request)
        items = [o for o in self.state.offerings.values() if perms.can_see_offering(self.state, viewer, o)]
        base = request.base_url
        return paginate(
            request,
            self._filter(request, items),
            lambda o: render_offerings.offering(self.state, base, o, public=False),
        )

    def provider_retrieve(self, request: Request) -> Response:
        return retrieve(
            request, render_offerings.offering(self.state, request.base_url, self._visible(request), public=False)
        )

    def update_overview(self, request: Request) -> Response:
        record = self._managed(request)
        body = request.json()
        api_roles.required_fields(body, "name")
        self._apply_offering(record, {k: body[k] for k in ("name", "description", "slug") if k in body})
        return Response(200, None)

    def update_integration(self, request: Request) -> Response:
        record = self._managed(request)
        body = request.json()
        self._apply_offering(
            record, {k: body[k] for k in ("plugin_options", "secret_options", "backend_id") if k in body}
        )
        return Response(200, None)

    def update_attributes(self, request: Request) -> Response:
        record = self._managed(request)
        record.attributes = request.json()
        return Response(200, None)

    def _transition(self, request: Request, allowed: set[str], target: str) -> Response:
        record = self._managed(request)
        if record.state not in allowed:
            raise conflict(sorted(allowed))
        record.state = target
        return Response(200, {"detail": f"Offering state has been changed to {target}.", "state": target})

    def activate(self, request: Request) -> Response:
        return self._transition(request, {"Draft", "Paused", "Unavailable"}, "Active")

    def draft(self, request: Request) -> Response:
        return self._transition(request, {"Active", "Paused", "Unavailable", "Archived"}, "Draft")

    def pause(self, request: Request) -> Response:
        return self._transition(request, {"Active"}, "Paused")

    def archive(self, request: Request) -> Response:
        return self._transition(request, {"Draft", "Active", "Paused", "Unavailable"}, "Archived")

    def create_component(self, request: Request) -> Response:
        record = self._managed(request)
        record.components.append(self._component(request.json(), record.components))
        return Response(201, None)

    def update_component(self, request: Request) -> Response:
        record = self._managed(request)
        body = request.json()
        key = normalize(str(body.get("uuid", "")))
        found = next((c for c in record.components if c.uuid == key), None)
        if found is None:
            raise bad_request("uuid", "Component not found.")
        for field in ("name", "type", "billing_type"):
            if field in body:
                setattr(found, field, body[field])
        found.fields.update({k: body[k] for k in COMPONENT_OPTIONAL if k in body})
        return Response(200, None)

    def remove_component(self, request: Request) -> Response:
        record = self._managed(request)
        key = normalize(str(request.json().get("uuid", "")))
        if not any(c.uuid == key for c in record.components):
            raise bad_request("uuid", "Component not found.")
        record.components = [c for c in record.components if c.uuid != key]
        return Response(200, None)

    def public_list(self, request: Request) -> Response:
        viewer = caller(request)
        items = [
            o
            for o in self.state.offerings.values()
            if perms.is_public(o) or (perms.can_see_offering(self.state, viewer, o) and o.state == "Active")
        ]
        base = request.base_url
        return paginate(
            request, self._filter(request, items), lambda o: render_offerings.offering(self.state, base, o, public=True)
        )

    def _public(self, request: Request) -> Offering:
        viewer = caller(request)
        return self.core.get(
            self.state.offerings,
            request.params["uuid"],
            lambda o: perms.is_public(o) or perms.can_see_offering(self.state, viewer, o),
        )

    def public_retrieve(self, request: Request) -> Response:
        return retrieve(
            request, render_offerings.offering(self.state, request.base_url, self._public(request), public=True)
        )

    def public_plans(self, request: Request) -> Response:
        record = self._public(request)
        items = [p for p in self.state.plans.values() if p.offering_uuid == record.uuid]
        base = request.base_url
        return paginate(request, items, lambda p: render_offerings.plan(self.state, base, p, public=True))

    def public_plan(self, request: Request) -> Response:
        record = self._public(request)
        found = self.core.get(self.state.plans, request.params["plan_uuid"], lambda p: p.offering_uuid == record.uuid)
        return retrieve(request, render_offerings.plan(self.state, request.base_url, found, public=True))

    # marketplace-plans -----------------------------------------------------------------------------------

    def plans_list(self, request: Request) -> Response:
        viewer = caller(request)
        items = [p for p in self.state.plans.values() if render_offerings.is_visible_plan(self.state, viewer, p)]
        if (v := request.query.one("offering_uuid")) is not None:
            items = [p for p in items if p.offering_uuid == normalize(v)]
        base = request.base_url
        return paginate(
            request, items, lambda p: render_offerings.plan(self.state, base, p, public=False, with_offering=True)
        )

    def plans_create(self, request: Request) -> Response:
        body = request.json()
        api_roles.required_fields(body, "name", "offering")
        offering = self.core.ref(body, "offering", self.state.offerings)
        assert offering is not None
        if not perms.has_provider_access(self.state, caller(request), offering):
            raise forbidden()
        record = self._plan(offering, body)
        self.state.add(record)
        return Response(
            201, render_offerings.plan(self.state, request.base_url, record, public=False, with_offering=True)
        )

    def _plan_managed(self, request: Request) -> Plan:
        viewer = caller(request)
        record = self.core.get(
            self.state.plans, request.params["uuid"], lambda p: render_offerings.is_visible_plan(self.state, viewer, p)
        )
        if not perms.has_provider_access(self.state, viewer, self.state.offerings[record.offering_uuid]):
            raise forbidden()
        return record

    def plans_retrieve(self, request: Request) -> Response:
        viewer = caller(request)
        record = self.core.get(
            self.state.plans, request.params["uuid"], lambda p: render_offerings.is_visible_plan(self.state, viewer, p)
        )
        return retrieve(
            request, render_offerings.plan(self.state, request.base_url, record, public=False, with_offering=True)
        )

    def plans_update(self, request: Request) -> Response:
        record = self._plan_managed(request)
        if any(r.plan_uuid == record.uuid for r in self.state.resources.values()):
            raise ApiError(409, {"detail": "Plan cannot be updated because it is used by resources."})
        self._apply_plan(record, request.json())
        return Response(
            200, render_offerings.plan(self.state, request.base_url, record, public=False, with_offering=True)
        )

    def plans_delete(self, request: Request) -> Response:
        record = self._plan_managed(request)
        self.state.remove(record)
        return Response(204)

    def plans_archive(self, request: Request) -> Response:
        record = self._plan_managed(request)
        if record.archived:
            raise ApiError(400, {"detail": "Plan is already archived."})
        record.archived = True
        return Response(200, None)

    def plans_prices(self, request: Request) -> Response:
        record = self._plan_managed(request)
        prices = request.json().get("prices")
        if not isinstance(prices, dict):
            raise bad_request("prices", "This field is required.")
        record.prices.update({k: _price(v, "prices") for k, v in prices.items()})
        return Response(200, None)

    def plans_quotas(self, request: Request) -> Response:
        record = self._plan_managed(request)
        quotas = request.json().get("quotas")
        if not isinstance(quotas, dict):
            raise bad_request("quotas", "This field is required.")
        record.quotas.update({k: int(v) for k, v in quotas.items()})
        return Response(200, None)

    def register(self, router: Router) -> None:
        """Wire every route of this module."""
        p = "/api/marketplace-provider-offerings/"
        router.add("GET", p, self.provider_list)
        router.add("POST", p, self.create)
        router.add("GET", p + "{uuid}/", self.provider_retrieve)
        router.add("POST", p + "{uuid}/update_overview/", self.update_overview)
        router.add("POST", p + "{uuid}/update_integration/", self.update_integration)
        router.add("POST", p + "{uuid}/update_attributes/", self.update_attributes)
        router.add("POST", p + "{uuid}/draft/", self.draft)
        router.add("POST", p + "{uuid}/activate/", self.activate)
        router.add("POST", p + "{uuid}/pause/", self.pause)
        router.add("POST", p + "{uuid}/archive/", self.archive)
        router.add("POST", p + "{uuid}/create_offering_component/", self.create_component)
        router.add("POST", p + "{uuid}/update_offering_component/", self.update_component)
        router.add("POST", p + "{uuid}/remove_offering_component/", self.remove_component)
        pub = "/api/marketplace-public-offerings/"
        router.add("GET", pub, self.public_list)
        router.add("GET", pub + "{uuid}/", self.public_retrieve)
        router.add("GET", pub + "{uuid}/plans/", self.public_plans)
        router.add("GET", pub + "{uuid}/plans/{plan_uuid}/", self.public_plan)
        pl = "/api/marketplace-plans/"
        router.add("GET", pl, self.plans_list)
        router.add("POST", pl, self.plans_create)
        router.add("GET", pl + "{uuid}/", self.plans_retrieve)
        router.add("PATCH", pl + "{uuid}/", self.plans_update)
        router.add("PUT", pl + "{uuid}/", self.plans_update)
        router.add("DELETE", pl + "{uuid}/", self.plans_delete)
        router.add("POST", pl + "{uuid}/archive/", self.plans_archive)
        router.add("POST", pl + "{uuid}/update_prices/", self.plans_prices)
        router.add("POST", pl + "{uuid}/update_quotas/", self.plans_quotas)

        members = api_roles.ScopeMembers(
            self.core, scope_type="offering", lookup=self._offering_scope, can_manage=self._manages
        )
        members.register(router, p)

    def _offering_scope(self, request: Request) -> str:
        return self._visible(request).uuid

    def _manages(self, request: Request, offering_uuid: str) -> bool:
        return perms.has_provider_access(self.state, caller(request), self.state.offerings[offering_uuid])
