"""Customers, service providers, categories and projects."""

from __future__ import annotations

from typing import Any

from . import api_roles, perms, render
from .api_orders import parse_after
from .core import Core, caller, flag, normalize, slugify, text
from .records import Category, Customer, Project, ServiceProvider
from .web import ApiError, Request, Response, Router, bad_request, forbidden, order_items, paginate, retrieve


class IdentityApi:
    """Handlers for the organisation side of Waldur."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.state = core.state

    # customers --------------------------------------------------------------------------------------------

    def customers_create(self, request: Request) -> Response:
        if not caller(request).is_staff:
            raise forbidden()
        body = request.json()
        api_roles.required_fields(body, "name")
        record = Customer(uuid=self.core.new_uuid(), name=text(body, "name", max_length=150), created=self.core.now())
        self._apply_customer(record, body)
        self.state.add(record)
        return Response(201, render.customer(self.state, request.base_url, record))

    def _apply_customer(self, record: Customer, body: dict[str, Any]) -> None:
        for field in ("name", "abbreviation", "native_name", "backend_id", "email", "description"):
            if field in body:
                setattr(record, field, text(body, field))
        for field in ("blocked", "archived"):
            if field in body:
                setattr(record, field, flag(body, field, False))

    def _customer(self, request: Request) -> Customer:
        viewer = caller(request)
        return self.core.get(
            self.state.customers, request.params["uuid"], lambda c: perms.can_see_customer(self.state, viewer, c.uuid)
        )

    def customers_list(self, request: Request) -> Response:
        viewer = caller(request)
        items = [c for c in self.state.customers.values() if perms.can_see_customer(self.state, viewer, c.uuid)]
        q = request.query
        if (v := q.one("name")) is not None:
            items = [c for c in items if v.lower() in c.name.lower()]
        if (v := q.one("name_exact")) is not None:
            items = [c for c in items if c.name == v]
        if (v := q.one("backend_id")) is not None:
            items = [c for c in items if c.backend_id == v]
        if (v := q.one("abbreviation")) is not None:
            items = [c for c in items if v.lower() in c.abbreviation.lower()]
        if q.flag("owned_by_current_user"):
            owned = perms.owned_customer_uuids(self.state, viewer)
            items = [c for c in items if c.uuid in owned]
        items = order_items(request, items, {"name": lambda c: c.name, "created": lambda c: c.created})
        base = request.base_url
        return paginate(request, items, lambda c: render.customer(self.state, base, c))

    def customers_retrieve(self, request: Request) -> Response:
        return retrieve(request, render.customer(self.state, request.base_url, self._customer(request)))

    def customers_update(self, request: Request) -> Response:
        record = self._customer(request)
        if not perms.is_customer_owner(self.state, caller(request), record.uuid):
            raise forbidden()
        self._apply_customer(record, request.json())
        return Response(200, render.customer(self.state, request.base_url, record))

    def customers_delete(self, request: Request) -> Response:
        record = self._customer(request)
        if not caller(request).is_staff:
            raise forbidden()
        if any(p.customer_uuid == record.uuid and not p.is_removed for p in self.state.projects.values()):
            raise ApiError(409, {"detail": "Cannot delete organization with existing projects."})
        self.state.remove(record)
        return Response(204)

    # service providers and categories ---------------------------------------------------------------------

    def providers_create(self, request: Request) -> Response:
        body = request.json()
        owner = self.core.ref(body, "customer", self.state.customers)
        assert owner is not None
        if not perms.is_customer_owner(self.state, caller(request), owner.uuid):
            raise forbidden()
        if any(sp.customer_uuid == owner.uuid for sp in self.state.service_providers.values()):
            raise bad_request("customer", "Service provider with this customer already exists.")
        record = ServiceProvider(self.core.new_uuid(), owner.uuid, self.core.now(), text(body, "description"))
        self.state.add(record)
        return Response(201, render.service_provider(self.state, request.base_url, record))

    def providers_list(self, request: Request) -> Response:
        items = list(self.state.service_providers.values())
        if (v := request.query.one("customer_uuid")) is not None:
            items = [sp for sp in items if sp.customer_uuid == normalize(v)]
        base = request.base_url
        return paginate(request, items, lambda sp: render.service_provider(self.state, base, sp))

    def providers_retrieve(self, request: Request) -> Response:
        record = self.core.get(self.state.service_providers, request.params["uuid"])
        return retrieve(request, render.service_provider(self.state, request.base_url, record))

    def providers_delete(self, request: Request) -> Response:
        record = self.core.get(self.state.service_providers, request.params["uuid"])
        if not perms.is_customer_owner(self.state, caller(request), record.customer_uuid):
            raise forbidden()
        self.state.remove(record)
        return Response(204)

    def categories_create(self, request: Request) -> Response:
        if not caller(request).is_staff:
            raise forbidden()
        body = request.json()
        api_roles.required_fields(body, "title")
        record = Category(self.core.new_uuid(), text(body, "title"), self.core.now(), text(body, "description"))
        self.state.add(record)
        return Response(201, render.category(self.state, request.base_url, record))

    def categories_list(self, request: Request) -> Response:
        base = request.base_url
        return paginate(request, list(self.state.categories.values()), lambda c: render.category(self.state, base, c))

    def categories_retrieve(self, request: Request) -> Response:
        record = self.core.get(self.state.categories, request.params["uuid"])
        return retrieve(request, render.category(self.state, request.base_url, record))

    def categories_delete(self, request: Request) -> Response:
        if not caller(request).is_staff:
            raise forbidden()
        record = self.core.get(self.state.categories, request.params["uuid"])
        self.state.remove(record)
        return Response(204)

    # projects ---------------------------------------------------------------------------------------------

    def _apply_project(self, record: Project, body: dict[str, Any]) -> None:
        for field in ("name", "backend_id", "description", "slug"):
            if field in body:
                setattr(record, field, text(body, field))
        for field in ("start_date", "end_date"):
            if field in body:
                setattr(record, field, body[field] or None)
        if "kind" in body:
            if body["kind"] not in ("default", "course", "public"):
                raise bad_request("kind", f'"{body["kind"]}" is not a valid choice.')
            record.kind = body["kind"]
        if "is_industry" in body:
            record.is_industry = flag(body, "is_industry", False)

    def projects_create(self, request: Request) -> Response:
        body = request.json()
        api_roles.required_fields(body, "name", "customer")
        owner = self.core.ref(body, "customer", self.state.customers)
        assert owner is not None
        if not perms.is_customer_owner(self.state, caller(request), owner.uuid):
            raise forbidden()
        record = Project(uuid=self.core.new_uuid(), name="", customer_uuid=owner.uuid, created=self.core.now())
        self._apply_project(record, body)
        record.slug = record.slug or slugify(record.name, "project")
        self.state.add(record)
        return Response(201, render.project(self.state, request.base_url, record))

    def _project(self, request: Request) -> Project:
        viewer = caller(request)
        return self.core.get(
            self.state.projects,
            request.params["uuid"],
            lambda p: not p.is_removed and perms.can_see_project(self.state, viewer, p),
        )

    def projects_list(self, request: Request) -> Response:
        viewer = caller(request)
        items = [p for p in self.state.projects.values() if not p.is_removed]
        if not perms.sees_everything(viewer):
            items = [p for p in items if perms.can_see_project(self.state, viewer, p)]
        q = request.query
        if (v := q.one("backend_id")) is not None:
            items = [p for p in items if p.backend_id == v]
        if customers := q.comma("customer"):
            keys = {normalize(c) for c in customers}
            items = [p for p in items if p.customer_uuid in keys]
        if (v := q.one("name")) is not None:
            items = [p for p in items if v.lower() in p.name.lower()]
        if (v := q.one("name_exact")) is not None:
            items = [p for p in items if p.name == v]
        if (v := q.one("slug")) is not None:
            items = [p for p in items if p.slug == v]
        if (v := q.one("query")) is not None:
            n = v.lower()
            items = [p for p in items if n in p.name.lower() or n in p.uuid or n in p.backend_id.lower()]
        if (v := q.one("user_uuid")) is not None:
            with_user = {a.scope_uuid for a in self.state.roles_of(normalize(v) or "")}
            items = [p for p in items if p.uuid in with_user]
        if (v := q.one("created")) is not None:  # "created after", as Waldur's filter means it
            after = parse_after(v, "created")
            items = [p for p in items if p.created >= after]
        items = order_items(request, items, {"name": lambda p: p.name, "created": lambda p: p.created})
        base = request.base_url
        return paginate(request, items, lambda p: render.project(self.state, base, p))

    def projects_retrieve(self, request: Request) -> Response:
        return retrieve(request, render.project(self.state, request.base_url, self._project(request)))

    def projects_update(self, request: Request) -> Response:
        record = self._project(request)
        if not perms.can_manage_project(self.state, caller(request), record):
            raise forbidden()
        self._apply_project(record, request.json())
        return Response(200, render.project(self.state, request.base_url, record))

    def projects_delete(self, request: Request) -> Response:
        record = self._project(request)
        if not perms.is_customer_owner(self.state, caller(request), record.customer_uuid):
            raise forbidden()
        active = [self.state.resources[r] for r in self.state.resources_by_project.get(record.uuid)]
        if any(r.state != "Terminated" for r in active):
            raise ApiError(409, {"detail": "Project has active resources."})
        record.is_removed = True
        return Response(204)

    def register(self, router: Router) -> None:
        """Wire every route of this module."""
        router.add("GET", "/api/customers/", self.customers_list)
        router.add("POST", "/api/customers/", self.customers_create)
        router.add("GET", "/api/customers/{uuid}/", self.customers_retrieve)
        router.add("PATCH", "/api/customers/{uuid}/", self.customers_update)
        router.add("PUT", "/api/customers/{uuid}/", self.customers_update)
        router.add("DELETE", "/api/customers/{uuid}/", self.customers_delete)
        router.add("GET", "/api/marketplace-service-providers/", self.providers_list)
        router.add("POST", "/api/marketplace-service-providers/", self.providers_create)
        router.add("GET", "/api/marketplace-service-providers/{uuid}/", self.providers_retrieve)
        router.add("DELETE", "/api/marketplace-service-providers/{uuid}/", self.providers_delete)
        router.add("GET", "/api/marketplace-categories/", self.categories_list)
        router.add("POST", "/api/marketplace-categories/", self.categories_create)
        router.add("GET", "/api/marketplace-categories/{uuid}/", self.categories_retrieve)
        router.add("DELETE", "/api/marketplace-categories/{uuid}/", self.categories_delete)
        router.add("GET", "/api/projects/", self.projects_list)
        router.add("POST", "/api/projects/", self.projects_create)
        router.add("GET", "/api/projects/{uuid}/", self.projects_retrieve)
        router.add("PATCH", "/api/projects/{uuid}/", self.projects_update)
        router.add("PUT", "/api/projects/{uuid}/", self.projects_update)
        router.add("DELETE", "/api/projects/{uuid}/", self.projects_delete)

        members = api_roles.ScopeMembers
        customers = members(self.core, scope_type="customer", lookup=self._customer_scope, can_manage=self._owns)
        customers.register(router, "/api/customers/")
        projects = members(self.core, scope_type="project", lookup=self._project_scope, can_manage=self._manages)
        projects.register(router, "/api/projects/")
        providers = members(self.core, scope_type="customer", lookup=self._provider_scope, can_manage=self._owns)
        providers.register(router, "/api/marketplace-service-providers/")

    # membership scopes ------------------------------------------------------------------------------------

    def _customer_scope(self, request: Request) -> str:
        return self._customer(request).uuid

    def _project_scope(self, request: Request) -> str:
        return self._project(request).uuid

    def _provider_scope(self, request: Request) -> str:
        return self.core.get(self.state.service_providers, request.params["uuid"]).customer_uuid

    def _owns(self, request: Request, customer_uuid: str) -> bool:
        return perms.is_customer_owner(self.state, caller(request), customer_uuid)

    def _manages(self, request: Request, project_uuid: str) -> bool:
        return perms.can_manage_project(self.state, caller(request), self.state.projects[project_uuid])
