"""marketplace-orders: creation (with the marketplace resource at once), the state machine actions and lists."""

from __future__ import annotations

import datetime as dt

from . import api_resources, orderflow, perms, render_market
from .core import Core, caller, limits_of, normalize, slugify, text, uuid_from_ref
from .records import User
from .records_market import Order, Resource
from .web import (
    ApiError,
    Request,
    Response,
    Router,
    bad_request,
    conflict,
    forbidden,
    order_items,
    paginate,
    retrieve,
    wrong_offering_type,
)

SLURM = "Marketplace.Slurm"
SUPPORT_TYPES = ("Marketplace.Basic", "Support.OfferingTemplate")


class Scope:
    """What one caller may see, computed once per request (lists of 10,000 orders stay cheap)."""

    def __init__(self, core: Core, user: User) -> None:
        state = core.state
        self.everything = perms.sees_everything(user)
        owned = perms.owned_customer_uuids(state, user)
        customers = perms.customer_uuids(state, user)
        self.projects = perms.project_uuids(state, user) | {
            p.uuid for p in state.projects.values() if p.customer_uuid in customers
        }
        self.provider_offerings = perms.managed_offering_uuids(state, user) | {
            o.uuid for o in state.offerings.values() if o.customer_uuid in owned
        }
        if user.is_staff:
            self.provider_offerings = set(state.offerings)

    def consumer(self, project_uuid: str) -> bool:
        """The caller sees this project's side."""
        return self.everything or project_uuid in self.projects

    def provider(self, offering_uuid: str) -> bool:
        """The caller has provider access to this offering."""
        return offering_uuid in self.provider_offerings

    def sees(self, record: Order | Resource) -> bool:
        """Consumer or provider side."""
        return self.consumer(record.project_uuid) or self.provider(record.offering_uuid)


def parse_after(value: str, field: str) -> dt.datetime:
    """A django-filter date-time value (naive values are UTC)."""
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise bad_request(field, "Enter a valid date/time.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class OrdersApi:
    """Handlers for marketplace-orders and (through api_resources) marketplace resources."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.state = core.state

    def create(self, request: Request) -> Response:
        user = caller(request)
        body = request.json()
        errors = {f: ["This field is required."] for f in ("offering", "project") if body.get(f) in (None, "")}
        if errors:
            raise ApiError(400, errors)
        scope = Scope(self.core, user)
        project_key = uuid_from_ref(body["project"])
        project = self.state.projects.get(project_key or "")
        if project is None or project.is_removed or not scope.consumer(project.uuid):
            raise bad_request("project", f'Invalid hyperlink - Object does not exist. "{body["project"]}"')
        offering = self.core.ref(body, "offering", self.state.offerings)
        assert offering is not None
        if not (perms.is_public(offering) or perms.can_see_offering(self.state, user, offering)):
            raise bad_request("offering", f'Invalid hyperlink - Object does not exist. "{body["offering"]}"')
        if offering.state != "Active":
            raise bad_request("offering", "Offering is not available.")
        if not orderflow.can_approve_as_consumer(self.core, user, project) and not perms.can_order_in_project(
            self.state, user, project
        ):
            raise forbidden()
        order_type = body.get("type", "Create")
        if order_type != "Create":
            raise bad_request("type", "Only Create orders can be submitted here; use the resource actions.")
        plan_uuid = None
        if body.get("plan") not in (None, ""):
            plan = self.core.ref(body, "plan", self.state.plans)
            if plan is None or plan.offering_uuid != offering.uuid:
                raise bad_request("plan", "This plan is not available for selected offering.")
            plan_uuid = plan.uuid
        attributes = body.get("attributes") or {}
        if not isinstance(attributes, dict):
            raise bad_request("attributes", "Expected a dictionary.")
        name = attributes.get("name", "")
        if not isinstance(name, str) or len(name) > 150:
            raise bad_request("attributes", "Resource name must be a string of at most 150 characters.")
        limits = limits_of(body)
        unknown = set(limits) - {c.type for c in offering.components}
        if unknown:
            raise bad_request("limits", f"Unknown components: {', '.join(sorted(unknown))}.")
        now = self.core.now()
        resource = Resource(
            uuid=self.core.new_uuid(),
            name=name,
            offering_uuid=offering.uuid,
            project_uuid=project.uuid,
            plan_uuid=plan_uuid,
            created=now,
            modified=now,
            limits=limits,
            attributes=dict(attributes),
            end_date=attributes.get("end_date") if isinstance(attributes.get("end_date"), str) else None,
        )
        resource.slug = slugify(name, "resource")
        order = orderflow.new_order(
            self.core,
            order_type="Create",
            resource=resource,
            creator=user,
            limits=limits,
            attributes=attributes,
            plan_uuid=plan_uuid,
            request_comment=text(body, "request_comment") or None,
        )
        order.callback_url = body.get("callback_url") or None
        order.start_date = body.get("start_date") or None
        resource.creation_order_uuid = order.uuid
        self.state.add(resource)
        orderflow.submit(self.core, order, user)
        return Response(201, render_market.order(self.state, request.base_url, order))

    def _candidates(self, request: Request) -> list[Order]:
        q = request.query
        state = self.state
        keys: list[str] | None = None
        for name, index in (
            ("resource_uuid", state.orders_by_resource),
            ("offering_uuid", state.orders_by_offering),
            ("project_uuid", state.orders_by_project),
        ):
            values = q.comma(name)
            if values:
                found = [u for v in values for u in index.get(normalize(v) or "")]
                if keys is None:
                    keys = found
                else:
                    wanted = set(found)  # once, not once per key: a B project's keyed listing scanned the offering
                    keys = [k for k in keys if k in wanted]
        if keys is None:
            return list(state.orders.values())
        return [state.orders[k] for k in keys]

    def list(self, request: Request) -> Response:
        scope = Scope(self.core, caller(request))
        q = request.query
        items = [o for o in self._candidates(request) if scope.sees(o)]
        for name, attr in (("offering", "offering_uuid"), ("resource", "resource_uuid")):
            if (v := q.one(name)) is not None:
                items = [o for o in items if getattr(o, attr) == uuid_from_ref(v)]
        if states := q.repeated("state"):
            items = [o for o in items if o.state in states]
        if types := q.repeated("type"):
            items = [o for o in items if o.type in types]
        if offering_types := q.repeated("offering_type"):
            items = [o for o in items if self.state.offerings[o.offering_uuid].type in offering_types]
        if (v := q.one("customer_uuid")) is not None:
            items = [o for o in items if self.state.projects[o.project_uuid].customer_uuid == normalize(v)]
        if (v := q.one("provider_uuid")) is not None:
            items = [o for o in items if self.state.offerings[o.offering_uuid].customer_uuid == normalize(v)]
        if (v := q.one("resource_name")) is not None:
            items = [o for o in items if v.lower() in self.state.resources[o.resource_uuid].name.lower()]
        for name in ("created", "modified"):
            if (v := q.one(name)) is not None:
                after = parse_after(v, name)
                items = [o for o in items if getattr(o, name) >= after]
        if (v := q.one("query")) is not None:
            n = v.lower()
            items = [
                o
                for o in items
                if n in o.uuid
                or n in o.slug
                or n in self.state.projects[o.project_uuid].name.lower()
                or n in self.state.resources[o.resource_uuid].name.lower()
            ]
        if q.flag("can_approve_as_provider"):
            items = [o for o in items if o.state == "pending-provider" and scope.provider(o.offering_uuid)]
        if q.flag("can_approve_as_consumer"):
            user = caller(request)
            items = [
                o
                for o in items
                if o.state == "pending-consumer"
                and orderflow.can_approve_as_consumer(self.core, user, self.state.projects[o.project_uuid])
            ]
        items.reverse()
        items = order_items(
            request,
            items,
            {"created": lambda o: o.created, "modified": lambda o: o.modified, "state": lambda o: o.state},
        )
        base = request.base_url
        return paginate(request, items, lambda o: render_market.order(self.state, base, o))

    def get(self, request: Request) -> Order:
        """The order in the path, 404 when invisible."""
        scope = Scope(self.core, caller(request))
        return self.core.get(self.state.orders, request.params["uuid"], scope.sees)

    def retrieve(self, request: Request) -> Response:
        return retrieve(request, render_market.order(self.state, request.base_url, self.get(request)))

    def _provider_order(self, request: Request) -> Order:
        order = self.get(request)
        if not perms.has_provider_access(self.state, caller(request), self.state.offerings[order.offering_uuid]):
            raise forbidden()
        return order

    def _consumer_order(self, request: Request) -> Order:
        order = self.get(request)
        if not orderflow.can_approve_as_consumer(self.core, caller(request), self.state.projects[order.project_uuid]):
            raise forbidden()
        return order

    @staticmethod
    def _require(order: Order, *states: str) -> None:
        if order.state not in states:
            raise conflict(states)

    def _offering_type(self, order: Order) -> str:
        return self.state.offerings[order.offering_uuid].type

    def update(self, request: Request) -> Response:
        order = self.get(request)
        if not perms.can_order_in_project(self.state, caller(request), self.state.projects[order.project_uuid]):
            raise forbidden()
        self._require(order, "pending-consumer", "pending-provider")
        body = request.json()
        if "limits" in body:
            order.limits = limits_of(body)
        if isinstance(body.get("attributes"), dict):
            order.attributes = dict(body["attributes"])
        if "start_date" in body:
            order.start_date = body["start_date"] or None
        order.modified = self.core.now()
        return Response(
            200, {"limits": dict(order.limits), "attributes": dict(order.attributes), "start_date": order.start_date}
        )

    def destroy(self, request: Request) -> Response:
        order = self.get(request)
        if not perms.can_order_in_project(self.state, caller(request), self.state.projects[order.project_uuid]):
            raise forbidden()
        self._require(order, "pending-consumer", "pending-provider")
        orderflow.cancel(self.core, order)
        self.state.remove(order)
        return Response(204)

    def approve_by_provider(self, request: Request) -> Response:
        order = self._provider_order(request)
        self._require(order, "pending-provider")
        attributes = request.json().get("attributes")
        orderflow.approve_by_provider(
            self.core, order, caller(request), attributes if isinstance(attributes, dict) else None
        )
        return Response(200, {"detail": "Order has been approved."})

    def approve_by_consumer(self, request: Request) -> Response:
        order = self._consumer_order(request)
        self._require(order, "pending-consumer")
        orderflow.approve_by_consumer(self.core, order, caller(request))
        return Response(200, {"detail": "Order has been approved."})

    def reject_by_provider(self, request: Request) -> Response:
        order = self._provider_order(request)
        self._require(order, "pending-provider")
        orderflow.reject(self.core, order, by_provider=True, comment=text(request.json(), "provider_rejection_comment"))
        return Response(200, None)

    def reject_by_consumer(self, request: Request) -> Response:
        order = self._consumer_order(request)
        self._require(order, "pending-consumer")
        orderflow.reject(
            self.core, order, by_provider=False, comment=text(request.json(), "consumer_rejection_comment")
        )
        return Response(200, None)

    def set_state_executing(self, request: Request) -> Response:
        order = self._provider_order(request)
        if self._offering_type(order) != SLURM:
            raise wrong_offering_type(self._offering_type(order))
        self._require(order, "pending-consumer", "pending-provider", "erred")
        orderflow.set_executing(self.core, order)
        return Response(200, None)

    def set_state_done(self, request: Request) -> Response:
        order = self._provider_order(request)
        if self._offering_type(order) not in (SLURM, *SUPPORT_TYPES):
            raise wrong_offering_type(self._offering_type(order))
        self._require(order, "executing")
        orderflow.set_done(self.core, order)
        return Response(200, None)

    def set_state_erred(self, request: Request) -> Response:
        order = self._provider_order(request)
        if self._offering_type(order) != SLURM:
            raise wrong_offering_type(self._offering_type(order))
        body = request.json()
        orderflow.set_erred(self.core, order, text(body, "error_message"), text(body, "error_traceback"))
        return Response(200, None)

    def set_backend_id(self, request: Request) -> Response:
        order = self._provider_order(request)
        body = request.json()
        if "backend_id" not in body or not isinstance(body["backend_id"], str):
            raise bad_request("backend_id", "This field is required.")
        if order.backend_id == body["backend_id"]:
            return Response(200, {"status": "Order backend_id is not changed."})
        order.backend_id = body["backend_id"]
        order.modified = self.core.now()
        return Response(200, {"status": "Order backend_id has been changed."})

    def cancel(self, request: Request) -> Response:
        order = self.get(request)
        if not perms.can_order_in_project(self.state, caller(request), self.state.projects[order.project_uuid]):
            raise forbidden()
        if self._offering_type(order) not in SUPPORT_TYPES:
            raise wrong_offering_type(self._offering_type(order))
        self._require(order, "pending-consumer", "pending-provider", "pending-start-date", "executing")
        orderflow.cancel(self.core, order)
        return Response(202, None)

    def register(self, router: Router) -> None:
        """Wire the order routes and the resource routes."""
        p = "/api/marketplace-orders/"
        router.add("GET", p, self.list)
        router.add("POST", p, self.create)
        router.add("GET", p + "{uuid}/", self.retrieve)
        router.add("PUT", p + "{uuid}/", self.update)
        router.add("PATCH", p + "{uuid}/", self.update)
        router.add("DELETE", p + "{uuid}/", self.destroy)
        for name in (
            "approve_by_provider",
            "approve_by_consumer",
            "reject_by_provider",
            "reject_by_consumer",
            "set_state_executing",
            "set_state_done",
            "set_state_erred",
            "set_backend_id",
            "cancel",
        ):
            router.add("POST", p + "{uuid}/" + name + "/", getattr(self, name))
        api_resources.ResourcesApi(self.core, Scope).register(router)
