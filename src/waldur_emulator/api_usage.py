"""Component usages: set_usage, set_user_usage(s), both listings, and component-user-usage-limits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from . import perms, render_market
from .api_orders import Scope, parse_after
from .core import Core, caller, normalize, text, uuid_from_ref
from .records_market import ComponentUsage, ComponentUserUsage, Resource
from .web import ApiError, Request, Response, Router, bad_request, forbidden, paginate, retrieve


def _amount(value: object, field: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise bad_request(field, "A valid number is required.") from None
    if amount < 0:
        raise bad_request(field, "Ensure this value is greater than or equal to 0.")
    return amount


def _moment(value: object, field: str, default: dt.datetime) -> dt.datetime:
    if value in (None, ""):
        return default
    return parse_after(str(value), field)


def _period(moment: dt.datetime) -> str:
    return moment.date().replace(day=1).isoformat()


class UsageApi:
    """Handlers for marketplace-component-usages, marketplace-component-user-usages and the per-user limits."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.state = core.state

    def _provider_resource(self, request: Request, resource: Resource) -> None:
        if not perms.has_provider_access(self.state, caller(request), self.state.offerings[resource.offering_uuid]):
            raise forbidden()

    def _visible(self, request: Request) -> Callable[[ComponentUsage], bool]:
        scope = Scope(self.core, caller(request))
        return lambda u: scope.sees(self.state.resources[u.resource_uuid])

    # component usages -----------------------------------------------------------------------------------------

    def set_usage(self, request: Request) -> Response:
        state = self.state
        body = request.json()
        usages = body.get("usages")
        if not isinstance(usages, list) or not usages:
            raise bad_request("usages", "This field is required.")
        resource = state.resources.get(uuid_from_ref(body.get("resource")) or "")
        if resource is None:
            raise bad_request("resource", "This field is required.")
        self._provider_resource(request, resource)
        if resource.state == "Terminated":
            raise ApiError(400, {"non_field_errors": ["Resource is not in a valid state for usage reporting."]})
        types = {c.type for c in state.offerings[resource.offering_uuid].components}
        moment = _moment(body.get("date"), "date", self.core.now())
        period = _period(moment)
        parsed = []
        for item in usages:
            if not isinstance(item, dict) or "type" not in item or "amount" not in item:
                raise bad_request("usages", "Each usage needs type and amount.")
            if item["type"] not in types:
                raise bad_request("usages", f"Component {item['type']} is not found.")
            parsed.append((item["type"], _amount(item["amount"], "amount"), item))
        for component_type, amount, item in parsed:
            existing = next(
                (
                    state.usages[u]
                    for u in state.usages_by_resource.get(resource.uuid)
                    if state.usages[u].type == component_type and state.usages[u].billing_period == period
                ),
                None,
            )
            now = self.core.now()
            if existing is None:
                existing = ComponentUsage(
                    self.core.new_uuid(), resource.uuid, component_type, amount, moment, period, now, now
                )
                state.add(existing)
            existing.usage, existing.date, existing.modified = amount, moment, now
            existing.description = text(item, "description")
            existing.recurring = bool(item.get("recurring", False))
            existing.modified_by_uuid = caller(request).uuid
        return Response(201, None)

    def list_usages(self, request: Request) -> Response:
        state = self.state
        visible = self._visible(request)
        q = request.query
        if (v := q.one("resource_uuid")) is not None:
            items = [state.usages[u] for u in state.usages_by_resource.get(normalize(v) or "")]
        else:
            items = list(state.usages.values())
        items = [u for u in items if visible(u)]
        if (v := q.one("resource")) is not None:
            items = [u for u in items if u.resource_uuid == uuid_from_ref(v)]
        for name in ("offering_uuid", "project_uuid"):
            if (v := q.one(name)) is not None:
                items = [u for u in items if getattr(state.resources[u.resource_uuid], name) == normalize(v)]
        if (v := q.one("type")) is not None:
            items = [u for u in items if u.type == v]
        if (v := q.one("billing_period")) is not None:
            items = [u for u in items if u.billing_period == v[:7] + "-01"]
        if (v := q.one("billing_period_year")) is not None:
            items = [u for u in items if u.billing_period[:4] == v]
        if (v := q.one("billing_period_month")) is not None and v.isdigit():
            items = [u for u in items if int(u.billing_period[5:7]) == int(v)]
        base = request.base_url
        return paginate(request, items, lambda u: render_market.component_usage(state, base, u))

    def _usage(self, request: Request) -> ComponentUsage:
        return self.core.get(self.state.usages, request.params["uuid"], self._visible(request))

    def retrieve_usage(self, request: Request) -> Response:
        return retrieve(request, render_market.component_usage(self.state, request.base_url, self._usage(request)))

    # user usages ----------------------------------------------------------------------------------------------

    def _upsert_user_usage(self, parent: ComponentUsage, item: dict[str, Any]) -> None:
        state = self.state
        username = item.get("username")
        if not isinstance(username, str) or not username:
            raise bad_request("username", "This field is required.")
        amount = _amount(item.get("usage", 0), "usage")
        user_uuid = uuid_from_ref(item.get("user")) if item.get("user") else None
        existing = next(
            (
                state.user_usages[u]
                for u in state.user_usages_by_usage.get(parent.uuid)
                if state.user_usages[u].username == username
            ),
            None,
        )
        now = self.core.now()
        if existing is None:
            moment = _moment(item.get("date"), "date", parent.date)
            existing = ComponentUserUsage(self.core.new_uuid(), parent.uuid, username, amount, moment, now, now)
            state.add(existing)
        existing.usage, existing.modified = amount, now
        existing.user_uuid = user_uuid or existing.user_uuid
        existing.description = text(item, "description")

    def set_user_usage(self, request: Request) -> Response:
        parent = self._usage(request)
        self._provider_resource(request, self.state.resources[parent.resource_uuid])
        self._upsert_user_usage(parent, request.json())
        return Response(201, None)

    def set_user_usages(self, request: Request) -> Response:
        parent = self._usage(request)
        self._provider_resource(request, self.state.resources[parent.resource_uuid])
        items = request.json().get("usages")
        if not isinstance(items, list):
            raise bad_request("usages", "This field is required.")
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("username"), str) or not item["username"]:
                raise bad_request("usages", "Each usage needs a username.")
            _amount(item.get("usage", 0), "usage")
        for item in items:
            self._upsert_user_usage(parent, item)
        return Response(201, None)

    def list_user_usages(self, request: Request) -> Response:
        state = self.state
        visible = self._visible(request)
        q = request.query
        items = [u for u in state.user_usages.values() if visible(state.usages[u.component_usage_uuid])]
        if (v := q.one("resource_uuid")) is not None:
            items = [u for u in items if state.usages[u.component_usage_uuid].resource_uuid == normalize(v)]
        if (v := q.one("offering_uuid")) is not None:
            items = [
                u
                for u in items
                if state.resources[state.usages[u.component_usage_uuid].resource_uuid].offering_uuid == normalize(v)
            ]
        if (v := q.one("type")) is not None:
            items = [u for u in items if state.usages[u.component_usage_uuid].type == v]
        if (v := q.one("username")) is not None:
            items = [u for u in items if v.lower() in u.username.lower()]
        if (v := q.one("component_usage__billing_period")) is not None:
            items = [u for u in items if state.usages[u.component_usage_uuid].billing_period == v[:7] + "-01"]
        base = request.base_url
        return paginate(request, items, lambda u: render_market.component_user_usage(state, base, u))

    def retrieve_user_usage(self, request: Request) -> Response:
        visible = self._visible(request)
        record = self.core.get(
            self.state.user_usages, request.params["uuid"], lambda u: visible(self.state.usages[u.component_usage_uuid])
        )
        return retrieve(request, render_market.component_user_usage(self.state, request.base_url, record))

    # per-user limits ------------------------------------------------------------------------------------------

    def list_user_usage_limits(self, request: Request) -> Response:
        """component-user-usage-limits: per-user limits are not modelled (nothing sets them), so always empty."""
        return paginate(request, [], lambda _: {})

    def register(self, router: Router) -> None:
        """Wire every route of this module."""
        p = "/api/marketplace-component-usages/"
        router.add("GET", p, self.list_usages)
        router.add("POST", p + "set_usage/", self.set_usage)
        router.add("GET", p + "{uuid}/", self.retrieve_usage)
        router.add("POST", p + "{uuid}/set_user_usage/", self.set_user_usage)
        router.add("POST", p + "{uuid}/set_user_usages/", self.set_user_usages)
        router.add("GET", "/api/marketplace-component-user-usages/", self.list_user_usages)
        router.add("GET", "/api/marketplace-component-user-usages/{uuid}/", self.retrieve_user_usage)
        router.add("GET", "/api/component-user-usage-limits/", self.list_user_usage_limits)
