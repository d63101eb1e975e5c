"""Component usages: set_usage, set_user_usage(s) and both listings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from . import perms, render_market
from .api_orders import parse_after
from .core import Core, caller, normalize, text, uuid_from_ref
from .store import ComponentUsage, ComponentUserUsage, Resource
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


def register(router: Router, core: Core) -> None:  # noqa: PLR0915
    """Wire the usage routes."""
    state = core.state

    def provider_resource(request: Request, resource: Resource) -> None:
        if not perms.has_provider_access(state, caller(request), state.offerings[resource.offering_uuid]):
            raise forbidden()

    def set_usage(request: Request) -> Response:
        body = request.json()
        usages = body.get("usages")
        if not isinstance(usages, list) or not usages:
            raise bad_request("usages", "This field is required.")
        key = uuid_from_ref(body.get("resource"))
        resource = state.resources.get(key or "")
        if resource is None:
            raise bad_request("resource", "This field is required.")
        provider_resource(request, resource)
        if resource.state == "Terminated":
            raise ApiError(400, {"non_field_errors": ["Resource is not in a valid state for usage reporting."]})
        offering = state.offerings[resource.offering_uuid]
        types = {c.type for c in offering.components}
        moment = _moment(body.get("date"), "date", core.now())
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
            now = core.now()
            if existing is None:
                existing = ComponentUsage(
                    core.new_uuid(), resource.uuid, component_type, amount, moment, period, now, now
                )
                state.usages[existing.uuid] = existing
                state.usages_by_resource.add(resource.uuid, existing.uuid)
            existing.usage, existing.date, existing.modified = amount, moment, now
            existing.description = text(item, "description")
            existing.recurring = bool(item.get("recurring", False))
            existing.modified_by_uuid = caller(request).uuid
        return Response(201, None)

    def visible_usage(request: Request) -> Any:
        from .api_orders import Scope

        scope = Scope(core, caller(request))
        return lambda u: scope.sees(state.resources[u.resource_uuid])

    def list_usages(request: Request) -> Response:
        visible = visible_usage(request)
        q = request.query
        if (v := q.one("resource_uuid")) is not None:
            items = [state.usages[u] for u in state.usages_by_resource.get(normalize(v) or "")]
        else:
            items = list(state.usages.values())
        items = [u for u in items if visible(u)]
        if (v := q.one("resource")) is not None:
            items = [u for u in items if u.resource_uuid == uuid_from_ref(v)]
        for name, attr in (("offering_uuid", "offering_uuid"), ("project_uuid", "project_uuid")):
            if (v := q.one(name)) is not None:
                items = [u for u in items if getattr(state.resources[u.resource_uuid], attr) == normalize(v)]
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

    def get_usage(request: Request) -> ComponentUsage:
        return core.get(state.usages, request.params["uuid"], visible_usage(request))

    def upsert_user_usage(parent: ComponentUsage, item: dict[str, Any]) -> None:
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
        now = core.now()
        if existing is None:
            existing = ComponentUserUsage(
                core.new_uuid(), parent.uuid, username, amount, _moment(item.get("date"), "date", parent.date), now, now
            )
            state.user_usages[existing.uuid] = existing
            state.user_usages_by_usage.add(parent.uuid, existing.uuid)
        existing.usage, existing.modified = amount, now
        existing.user_uuid = user_uuid or existing.user_uuid
        existing.description = text(item, "description")

    def set_user_usage(request: Request) -> Response:
        parent = get_usage(request)
        provider_resource(request, state.resources[parent.resource_uuid])
        upsert_user_usage(parent, request.json())
        return Response(201, None)

    def set_user_usages(request: Request) -> Response:
        parent = get_usage(request)
        provider_resource(request, state.resources[parent.resource_uuid])
        items = request.json().get("usages")
        if not isinstance(items, list):
            raise bad_request("usages", "This field is required.")
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("username"), str) or not item["username"]:
                raise bad_request("usages", "Each usage needs a username.")
            _amount(item.get("usage", 0), "usage")
        for item in items:
            upsert_user_usage(parent, item)
        return Response(201, None)

    def list_user_usages(request: Request) -> Response:
        visible = visible_usage(request)
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

    def retrieve_user_usage(request: Request) -> Response:
        visible = visible_usage(request)
        record = core.get(
            state.user_usages, request.params["uuid"], lambda u: bool(visible(state.usages[u.component_usage_uuid]))
        )
        return retrieve(request, render_market.component_user_usage(state, request.base_url, record))

    p = "/api/marketplace-component-usages/"
    router.add("GET", p, list_usages)
    router.add("POST", p + "set_usage/", set_usage)
    router.add(
        "GET", p + "{uuid}/", lambda r: retrieve(r, render_market.component_usage(state, r.base_url, get_usage(r)))
    )
    router.add("POST", p + "{uuid}/set_user_usage/", set_user_usage)
    router.add("POST", p + "{uuid}/set_user_usages/", set_user_usages)
    router.add("GET", "/api/marketplace-component-user-usages/", list_user_usages)
    router.add("GET", "/api/marketplace-component-user-usages/{uuid}/", retrieve_user_usage)
