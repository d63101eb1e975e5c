"""Site-agent identities, their services and the services' processors: how a running agent describes itself."""

from __future__ import annotations

from typing import Any

from . import perms, render_agents
from .api_events import OBJECT_TYPES, EventsApi
from .core import Core, caller, normalize, text
from .records import User
from .records_market import AgentIdentity, AgentProcessor, AgentService, Offering
from .web import ApiError, Request, Response, Router, bad_request, forbidden, paginate, retrieve

IDENTITY_OFFERING_TYPES = ("Marketplace.Slurm", "Marketplace.Script", "OpenStack.Tenant", "Marketplace.Basic")


class AgentsApi:
    """Handlers for site-agent identities, services and processors (and, through identities, event subscriptions)."""

    def __init__(self, core: Core, events: EventsApi) -> None:
        self.core = core
        self.state = core.state
        self.events = events

    def _services_of(self, identity: AgentIdentity) -> list[AgentService]:
        return [self.state.agent_services[s] for s in self.state.agent_services_by_identity.get(identity.uuid)]

    def _processors_of(self, service: AgentService) -> list[AgentProcessor]:
        return [self.state.agent_processors[p] for p in self.state.agent_processors_by_service.get(service.uuid)]

    # identities -----------------------------------------------------------------------------------

    def _may_manage(self, user: User, offering: Offering, identity: AgentIdentity | None = None) -> bool:
        if perms.has_provider_access(self.state, user, offering):
            return True
        isd_manager = user.is_identity_manager and bool(user.managed_isds)
        own = identity is None or identity.created_by_uuid == user.uuid
        return isd_manager and offering.state in perms.ISD_ALLOWED_OFFERING_STATES and own

    def _identity_body(self, request: Request, current: AgentIdentity | None) -> tuple[Offering, dict[str, Any]]:
        body = request.json()
        errors = {f: ["This field is required."] for f in ("offering", "name") if body.get(f) in (None, "")}
        if errors:
            raise ApiError(400, errors)
        offering = self.state.offerings.get(normalize(str(body["offering"])) or "")
        if offering is None:
            raise bad_request("offering", "Offering not found.")
        if current is not None and offering.uuid != current.offering_uuid:
            raise bad_request("offering", "Offering cannot be changed.")
        if offering.type not in IDENTITY_OFFERING_TYPES:
            raise bad_request("offering", f"Offering type {offering.type} is not supported by site agents.")
        if not self._may_manage(caller(request), offering, current):
            raise forbidden()
        text(body, "name", max_length=150)
        return offering, body

    @staticmethod
    def _apply_identity(record: AgentIdentity, body: dict[str, Any]) -> None:
        record.name = body["name"]
        for field in ("version", "config_file_path", "config_file_content", "last_restarted"):
            if field in body:
                setattr(record, field, body[field])
        if "dependencies" in body:
            record.dependencies = list(body["dependencies"] or [])

    def identity_create(self, request: Request) -> Response:
        offering, body = self._identity_body(request, None)
        now = self.core.now()
        record = AgentIdentity(self.core.new_uuid(), offering.uuid, "", caller(request).uuid, now, now)
        self._apply_identity(record, body)
        self.state.add(record)
        return Response(201, render_agents.agent_identity(self.state, request.base_url, record))

    def _visible_identity(self, user: User, record: AgentIdentity) -> bool:
        offering = self.state.offerings.get(record.offering_uuid)
        return offering is not None and (
            record.created_by_uuid == user.uuid
            or perms.sees_everything(user)
            or perms.has_provider_access(self.state, user, offering)
        )

    def _identity(self, request: Request) -> AgentIdentity:
        user = caller(request)
        return self.core.get(
            self.state.agent_identities, request.params["uuid"], lambda r: self._visible_identity(user, r)
        )

    def identity_list(self, request: Request) -> Response:
        user = caller(request)
        items = [r for r in self.state.agent_identities.values() if self._visible_identity(user, r)]
        if (v := request.query.one("name")) is not None:
            items = [r for r in items if r.name == v]
        if (v := request.query.one("offering_uuid")) is not None:
            items = [r for r in items if r.offering_uuid == normalize(v)]
        base = request.base_url
        return paginate(request, items, lambda r: render_agents.agent_identity(self.state, base, r))

    def identity_retrieve(self, request: Request) -> Response:
        return retrieve(request, render_agents.agent_identity(self.state, request.base_url, self._identity(request)))

    def identity_update(self, request: Request) -> Response:
        record = self._identity(request)
        _, body = self._identity_body(request, record)
        self._apply_identity(record, body)
        record.modified = self.core.now()
        return Response(200, render_agents.agent_identity(self.state, request.base_url, record))

    def identity_delete(self, request: Request) -> Response:
        record = self._identity(request)
        if not self._may_manage(caller(request), self.state.offerings[record.offering_uuid], record):
            raise forbidden()
        for service in self._services_of(record):
            for processor in self._processors_of(service):
                self.state.remove(processor)
            self.state.remove(service)
        self.state.remove(record)
        return Response(204)

    def register_service(self, request: Request) -> Response:
        record = self._identity(request)
        body = request.json()
        name = text(body, "name", max_length=150)
        if not name:
            raise bad_request("name", "This field is required.")
        existing = next((s for s in self._services_of(record) if s.name == name), None)
        now = self.core.now()
        if existing is not None:
            existing.mode = text(body, "mode") or existing.mode
            existing.modified = now
            return Response(200, render_agents.agent_service(self.state, request.base_url, existing))
        service = AgentService(self.core.new_uuid(), record.uuid, name, now, now, mode=text(body, "mode"))
        self.state.add(service)
        return Response(201, render_agents.agent_service(self.state, request.base_url, service))

    def register_event_subscription(self, request: Request) -> Response:
        self._identity(request)
        body = request.json()
        object_type = body.get("observable_object_type")
        if object_type not in OBJECT_TYPES:
            raise bad_request("observable_object_type", f'"{object_type}" is not a valid choice.')
        description = text(body, "description", max_length=500)
        return self.events.ensure_subscription(request, caller(request), object_type, description)

    # services and processors -------------------------------------------------------------------------

    def _visible_service(self, user: User, record: AgentService) -> bool:
        return self._visible_identity(user, self.state.agent_identities[record.identity_uuid])

    def _service(self, request: Request) -> AgentService:
        user = caller(request)
        return self.core.get(
            self.state.agent_services, request.params["uuid"], lambda s: self._visible_service(user, s)
        )

    def _managed_service(self, request: Request) -> AgentService:
        service = self._service(request)
        identity = self.state.agent_identities[service.identity_uuid]
        if not self._may_manage(caller(request), self.state.offerings[identity.offering_uuid], identity):
            raise forbidden()
        return service

    def service_list(self, request: Request) -> Response:
        user = caller(request)
        q = request.query
        items = [s for s in self.state.agent_services.values() if self._visible_service(user, s)]
        if (v := q.one("identity_uuid")) is not None:
            items = [s for s in items if s.identity_uuid == normalize(v)]
        if (v := q.one("mode")) is not None:
            items = [s for s in items if s.mode == v]
        if states := q.repeated("state"):
            items = [s for s in items if s.state in states]
        base = request.base_url
        return paginate(request, items, lambda s: render_agents.agent_service(self.state, base, s))

    def service_retrieve(self, request: Request) -> Response:
        return retrieve(request, render_agents.agent_service(self.state, request.base_url, self._service(request)))

    def set_statistics(self, request: Request) -> Response:
        service = self._managed_service(request)
        body = request.json()
        if "statistics" not in body:
            raise bad_request("statistics", "This field is required.")
        service.statistics = body["statistics"]
        service.modified = self.core.now()
        return Response(200, render_agents.agent_service(self.state, request.base_url, service))

    def register_processor(self, request: Request) -> Response:
        service = self._managed_service(request)
        body = request.json()
        errors = {f: ["This field is required."] for f in ("name", "backend_type") if not body.get(f)}
        if errors:
            raise ApiError(400, errors)
        name = text(body, "name", max_length=150)
        backend_type = text(body, "backend_type", max_length=100)
        backend_version = body.get("backend_version")
        if backend_version is not None:
            backend_version = text(body, "backend_version", max_length=100)
        now = self.core.now()
        existing = next((p for p in self._processors_of(service) if p.name == name), None)
        if existing is not None:
            existing.backend_type, existing.modified, existing.last_run = backend_type, now, now
            if "backend_version" in body:
                existing.backend_version = backend_version
            return Response(200, render_agents.agent_processor(self.state, request.base_url, existing))
        processor = AgentProcessor(
            self.core.new_uuid(), service.uuid, name, backend_type, now, now, backend_version, last_run=now
        )
        self.state.add(processor)
        return Response(201, render_agents.agent_processor(self.state, request.base_url, processor))

    def _processor(self, request: Request) -> AgentProcessor:
        user = caller(request)
        return self.core.get(
            self.state.agent_processors,
            request.params["uuid"],
            lambda p: self._visible_service(user, self.state.agent_services[p.service_uuid]),
        )

    def processor_list(self, request: Request) -> Response:
        user = caller(request)
        state = self.state
        q = request.query
        items = [
            p
            for p in state.agent_processors.values()
            if self._visible_service(user, state.agent_services[p.service_uuid])
        ]
        if (v := q.one("service_uuid")) is not None:
            items = [p for p in items if p.service_uuid == normalize(v)]
        if (v := q.one("backend_type")) is not None:
            items = [p for p in items if p.backend_type == v]
        if (v := q.one("backend_version")) is not None:
            items = [p for p in items if p.backend_version == v]
        base = request.base_url
        return paginate(request, items, lambda p: render_agents.agent_processor(state, base, p))

    def processor_retrieve(self, request: Request) -> Response:
        return retrieve(request, render_agents.agent_processor(self.state, request.base_url, self._processor(request)))

    def register(self, router: Router) -> None:
        """Wire every route of this module."""
        i = "/api/marketplace-site-agent-identities/"
        router.add("GET", i, self.identity_list)
        router.add("POST", i, self.identity_create)
        router.add("GET", i + "{uuid}/", self.identity_retrieve)
        router.add("PUT", i + "{uuid}/", self.identity_update)
        router.add("DELETE", i + "{uuid}/", self.identity_delete)
        router.add("POST", i + "{uuid}/register_service/", self.register_service)
        router.add("POST", i + "{uuid}/register_event_subscription/", self.register_event_subscription)
        s = "/api/marketplace-site-agent-services/"
        router.add("GET", s, self.service_list)
        router.add("GET", s + "{uuid}/", self.service_retrieve)
        router.add("POST", s + "{uuid}/set_statistics/", self.set_statistics)
        router.add("POST", s + "{uuid}/register_processor/", self.register_processor)
        p = "/api/marketplace-site-agent-processors/"
        router.add("GET", p, self.processor_list)
        router.add("GET", p + "{uuid}/", self.processor_retrieve)
