"""marketplace-resources (consumer view) and marketplace-provider-resources (service-provider view)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import effects, orderflow, perms, render, render_market
from .core import Core, caller, flag, limits_of, normalize, text, uuid_from_ref
from .records import User
from .records_market import Resource
from .web import ApiError, Request, Response, Router, bad_request, conflict, forbidden, order_items, paginate, retrieve

RESOURCE_LIST_ORDERINGS: dict[str, Callable[[Resource], object]] = {
    "created": lambda r: r.created,
    "modified": lambda r: r.modified,
    "name": lambda r: r.name,
    "state": lambda r: r.state,
}


class ResourcesApi:
    """Handlers for both resource views; ``scope_factory`` is the per-request visibility helper of api_orders."""

    def __init__(self, core: Core, scope_factory: Callable[[Core, User], Any]) -> None:
        self.core = core
        self.state = core.state
        self.scope = scope_factory

    def _visible(self, request: Request, provider_view: bool) -> Callable[[Resource], bool]:
        scope = self.scope(self.core, caller(request))
        if provider_view:
            return lambda r: bool(scope.provider(r.offering_uuid))
        return lambda r: bool(scope.sees(r))

    def _list(self, request: Request, provider_view: bool) -> Response:
        visible = self._visible(request, provider_view)
        q = request.query
        state = self.state
        if offering_keys := q.comma("offering_uuid"):
            items = [
                state.resources[u] for k in offering_keys for u in state.resources_by_offering.get(normalize(k) or "")
            ]
        elif (v := q.one("project_uuid")) is not None:
            items = [state.resources[u] for u in state.resources_by_project.get(normalize(v) or "")]
        else:
            items = list(state.resources.values())
        items = [r for r in items if visible(r)]
        if (v := q.one("project_uuid")) is not None:
            items = [r for r in items if r.project_uuid == normalize(v)]
        if (v := q.one("offering")) is not None:
            items = [r for r in items if r.offering_uuid == uuid_from_ref(v)]
        if (v := q.one("backend_id")) is not None:
            items = [r for r in items if r.backend_id == v]
        if (v := q.one("name")) is not None:
            items = [r for r in items if v.lower() in r.name.lower()]
        if (v := q.one("name_exact")) is not None:
            items = [r for r in items if r.name == v]
        if states := q.repeated("state"):
            items = [r for r in items if r.state in states]
        if offering_types := q.repeated("offering_type"):
            items = [r for r in items if state.offerings[r.offering_uuid].type in offering_types]
        if (v := q.one("customer_uuid")) is not None:
            items = [r for r in items if state.projects[r.project_uuid].customer_uuid == normalize(v)]
        if (v := q.one("customer")) is not None:
            items = [r for r in items if state.projects[r.project_uuid].customer_uuid == uuid_from_ref(v)]
        if (v := q.one("provider_uuid")) is not None:
            items = [r for r in items if state.offerings[r.offering_uuid].customer_uuid == normalize(v)]
        if (v := q.one("plan_uuid")) is not None:
            items = [r for r in items if r.plan_uuid == normalize(v)]
        if (v := q.one("query")) is not None:
            n = v.lower()
            items = [r for r in items if n in r.uuid or n in r.name.lower() or n in r.backend_id.lower()]
        for name in ("downscaled", "paused", "restrict_member_access"):
            if (b := q.flag(name)) is not None:
                items = [r for r in items if getattr(r, name) == b]
        if order_states := q.repeated("order_state"):
            items = [
                r
                for r in items
                if any(state.orders[o].state in order_states for o in state.orders_by_resource.get(r.uuid))
            ]
        items.reverse()
        items = order_items(request, items, RESOURCE_LIST_ORDERINGS)
        base = request.base_url
        return paginate(request, items, lambda r: render_market.resource(state, base, r))

    def _get(self, request: Request, provider_view: bool) -> Resource:
        return self.core.get(self.state.resources, request.params["uuid"], self._visible(request, provider_view))

    def _provider(self, request: Request) -> Resource:
        resource = self._get(request, True)
        if not perms.has_provider_access(self.state, caller(request), self.state.offerings[resource.offering_uuid]):
            raise forbidden()
        return resource

    def _consumer(self, request: Request) -> Resource:
        resource = self._get(request, False)
        project = self.state.projects[resource.project_uuid]
        if not perms.can_order_in_project(self.state, caller(request), project):
            raise forbidden()
        return resource

    def _update(self, request: Request, resource: Resource) -> Response:
        body = request.json()
        if request.method == "PUT" and "name" not in body:
            raise bad_request("name", "This field is required.")
        if "name" in body:
            resource.name = text(body, "name", max_length=150)
        if "description" in body:
            resource.description = text(body, "description")
        if "end_date" in body:
            resource.end_date = body["end_date"] or None
            resource.end_date_requested_by = render.url(request.base_url, "users", caller(request).uuid)
        resource.modified = self.core.now()
        return Response(
            200, {"name": resource.name, "description": resource.description, "end_date": resource.end_date}
        )

    def consumer_update(self, request: Request) -> Response:
        return self._update(request, self._consumer(request))

    def provider_update(self, request: Request) -> Response:
        return self._update(request, self._provider(request))

    def update_limits(self, request: Request) -> Response:
        resource = self._consumer(request)
        body = request.json()
        if "limits" not in body:
            raise bad_request("limits", "This field is required.")
        limits = limits_of(body)
        text(body, "request_comment", max_length=255)  # validated, but Waldur does not put it on the order
        if resource.state != "OK":
            raise conflict(["OK"])
        if limits == resource.limits:
            raise ApiError(400, ["Impossible to create update orders with limits set to exactly the same."])
        old_limits = {"old_limits": dict(resource.limits)}
        order = orderflow.change_resource(
            self.core, resource, "Update", caller(request), limits=limits, attributes=old_limits
        )
        return Response(200, {"order_uuid": order.uuid})

    def _terminate(self, request: Request, resource: Resource) -> Response:
        if resource.state not in ("OK", "Erred"):
            raise conflict(["OK", "Erred"])
        attributes = request.json().get("attributes") or {}
        if not isinstance(attributes, dict):
            raise bad_request("attributes", "Expected a dictionary.")
        order = orderflow.change_resource(self.core, resource, "Terminate", caller(request), attributes=attributes)
        return Response(200, {"order_uuid": order.uuid})

    def consumer_terminate(self, request: Request) -> Response:
        return self._terminate(request, self._consumer(request))

    def provider_terminate(self, request: Request) -> Response:
        return self._terminate(request, self._provider(request))

    def team(self, request: Request) -> Response:
        resource = self._get(request, request.path.startswith("/api/marketplace-provider-resources/"))
        records = {
            self.state.offering_users[u].user_uuid: self.state.offering_users[u]
            for u in self.state.offering_users_by_offering.get(resource.offering_uuid)
        }
        members = self.state.roles_in(resource.project_uuid)
        base = request.base_url

        def row(assignment: Any) -> dict[str, Any]:
            member = self.state.users[assignment.user_uuid]
            record = records.get(member.uuid)
            out = {
                "url": render.url(base, "users", member.uuid),
                "uuid": member.uuid,
                "username": member.username,
                "full_name": member.full_name,
                "role": assignment.role_name,
                "expiration_time": render.iso(assignment.expiration_time),
                "offering_user_username": record.username if record else None,
                "offering_user_state": record.state if record else None,
            }
            if member.email:
                out["email"] = member.email
            return out

        return paginate(request, members, row)

    def set_backend_id(self, request: Request) -> Response:
        resource = self._provider(request)
        value = text(request.json(), "backend_id")
        changed = value != resource.backend_id
        resource.backend_id = value
        resource.modified = self.core.now()
        word = "has been changed" if changed else "is not changed"
        return Response(200, {"status": f"Resource backend_id {word}."})

    def set_limits(self, request: Request) -> Response:
        resource = self._provider(request)
        body = request.json()
        if "limits" not in body:
            raise bad_request("limits", "This field is required.")
        resource.limits = limits_of(body)
        resource.modified = self.core.now()
        return Response(200, {"status": "Resource limits have been set."})

    def _set_end_date(self, request: Request, resource: Resource) -> Response:
        body = request.json()
        resource.end_date = body.get("end_date") or None
        resource.end_date_requested_by = render.url(request.base_url, "users", caller(request).uuid)
        resource.modified = self.core.now()
        return Response(200, None)

    def set_end_date_by_provider(self, request: Request) -> Response:
        return self._set_end_date(request, self._provider(request))

    def set_end_date_by_staff(self, request: Request) -> Response:
        if not caller(request).is_staff:
            raise forbidden()
        return self._set_end_date(request, self._get(request, False))

    def set_as_ok(self, request: Request) -> Response:
        resource = self._provider(request)
        resource.state, resource.modified = "OK", self.core.now()
        return Response(200, None)

    def set_state_ok(self, request: Request) -> Response:
        self.set_as_ok(request)
        return Response(200, {"status": "Resource state has been set to OK."})

    def set_as_erred(self, request: Request) -> Response:
        resource = self._provider(request)
        body = request.json()
        resource.state, resource.modified = "Erred", self.core.now()
        resource.error_message = text(body, "error_message")
        resource.error_traceback = text(body, "error_traceback")
        return Response(200, None)

    def set_backend_metadata(self, request: Request) -> Response:
        resource = self._provider(request)
        metadata = request.json().get("backend_metadata")
        if not isinstance(metadata, dict):
            raise bad_request("backend_metadata", "This field is required.")
        resource.backend_metadata = dict(metadata)
        return Response(200, {"status": "Resource backend metadata has been set."})

    def refresh_last_sync(self, request: Request) -> Response:
        resource = self._provider(request)
        resource.last_sync = self.core.now()
        return Response(200, None)

    def _flag_setter(self, name: str) -> Callable[[Request], Response]:
        def handler(request: Request) -> Response:
            resource = self._get(request, False)
            offering = self.state.offerings[resource.offering_uuid]
            if not (caller(request).is_staff or perms.has_provider_access(self.state, caller(request), offering)):
                raise forbidden()
            value = flag(request.json(), name, False)
            if getattr(resource, name) != value:
                setattr(resource, name, value)
                resource.modified = self.core.now()
                effects.resource_flags_changed(self.core, resource)
            return Response(200, {"status": f"Resource {name} has been set."})

        return handler

    def register(self, router: Router) -> None:
        """Wire both resource views."""
        c, p = "/api/marketplace-resources/", "/api/marketplace-provider-resources/"
        router.add("GET", c, lambda r: self._list(r, False))
        router.add("GET", p, lambda r: self._list(r, True))
        router.add(
            "GET",
            c + "{uuid}/",
            lambda r: retrieve(r, render_market.resource(self.state, r.base_url, self._get(r, False))),
        )
        router.add(
            "GET",
            p + "{uuid}/",
            lambda r: retrieve(r, render_market.resource(self.state, r.base_url, self._get(r, True))),
        )
        for method in ("PUT", "PATCH"):
            router.add(method, c + "{uuid}/", self.consumer_update)
            router.add(method, p + "{uuid}/", self.provider_update)
        router.add("POST", c + "{uuid}/update_limits/", self.update_limits)
        router.add("POST", c + "{uuid}/terminate/", self.consumer_terminate)
        router.add("POST", p + "{uuid}/terminate/", self.provider_terminate)
        router.add("GET", c + "{uuid}/team/", self.team)
        router.add("GET", p + "{uuid}/team/", self.team)
        router.add("POST", c + "{uuid}/set_end_date_by_staff/", self.set_end_date_by_staff)
        router.add("POST", p + "{uuid}/set_end_date_by_staff/", self.set_end_date_by_staff)
        for name in (
            "set_backend_id",
            "set_limits",
            "set_end_date_by_provider",
            "set_as_ok",
            "set_state_ok",
            "set_as_erred",
            "set_backend_metadata",
            "refresh_last_sync",
        ):
            router.add("POST", p + "{uuid}/" + name + "/", getattr(self, name))
        for name in ("downscaled", "paused", "restrict_member_access"):
            router.add("POST", c + "{uuid}/set_" + name + "/", self._flag_setter(name))
