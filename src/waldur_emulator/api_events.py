"""Site-agent identities and services, event subscriptions and their queues (RabbitMQ through the EventBus)."""

from __future__ import annotations

from typing import Any

from . import perms, render_market
from .core import Core, caller, normalize, text
from .events import EventBusError, queue_name, vhost_name
from .store import AgentIdentity, AgentService, EventQueue, EventSubscription, Offering, User
from .web import ApiError, Request, Response, Router, bad_request, forbidden, paginate, retrieve

OBJECT_TYPES = (
    "order",
    "user_role",
    "resource",
    "offering_user",
    "importable_resources",
    "service_account",
    "course_account",
    "resource_periodic_limits",
)
IDENTITY_OFFERING_TYPES = ("Marketplace.Slurm", "Marketplace.Script", "OpenStack.Tenant", "Marketplace.Basic")


class EventsApi:
    """Handlers for agent identities, services and event subscriptions."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.state = core.state

    # agent identities -----------------------------------------------------------------------------------

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
        self.state.agent_identities[record.uuid] = record
        return Response(201, render_market.agent_identity(self.state, request.base_url, record))

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
        return paginate(request, items, lambda r: render_market.agent_identity(self.state, base, r))

    def identity_update(self, request: Request) -> Response:
        record = self._identity(request)
        _, body = self._identity_body(request, record)
        self._apply_identity(record, body)
        record.modified = self.core.now()
        return Response(200, render_market.agent_identity(self.state, request.base_url, record))

    def identity_delete(self, request: Request) -> Response:
        record = self._identity(request)
        if not self._may_manage(caller(request), self.state.offerings[record.offering_uuid], record):
            raise forbidden()
        for service in [s for s in self.state.agent_services.values() if s.identity_uuid == record.uuid]:
            del self.state.agent_services[service.uuid]
        del self.state.agent_identities[record.uuid]
        return Response(204)

    def register_service(self, request: Request) -> Response:
        record = self._identity(request)
        body = request.json()
        name = text(body, "name", max_length=150)
        if not name:
            raise bad_request("name", "This field is required.")
        existing = next(
            (s for s in self.state.agent_services.values() if s.identity_uuid == record.uuid and s.name == name), None
        )
        now = self.core.now()
        if existing is not None:
            existing.mode = text(body, "mode") or existing.mode
            existing.modified = now
            return Response(200, render_market.agent_service(self.state, request.base_url, existing))
        service = AgentService(self.core.new_uuid(), record.uuid, name, now, now, mode=text(body, "mode"))
        self.state.agent_services[service.uuid] = service
        return Response(201, render_market.agent_service(self.state, request.base_url, service))

    def register_event_subscription(self, request: Request) -> Response:
        record = self._identity(request)
        user = caller(request)
        body = request.json()
        object_type = body.get("observable_object_type")
        if object_type not in OBJECT_TYPES:
            raise bad_request("observable_object_type", f'"{object_type}" is not a valid choice.')
        wanted = [{"object_type": object_type}]
        del record
        existing = next(
            (
                s
                for s in self.state.subscriptions.values()
                if s.user_uuid == user.uuid and s.observable_objects == wanted
            ),
            None,
        )
        if existing is not None:
            if self.core.bus.subscription_provisioned(user_uuid=user.uuid, subscription_uuid=existing.uuid):
                return Response(200, render_market.subscription(self.state, request.base_url, existing))
            self._delete_subscription(existing)
        created = self._create_subscription(request, user, wanted, text(body, "description", max_length=500))
        return Response(201, render_market.subscription(self.state, request.base_url, created))

    # event subscriptions --------------------------------------------------------------------------------

    def _create_subscription(
        self, request: Request, user: User, objects: list[dict[str, Any]], description: str
    ) -> EventSubscription:
        now = self.core.now()
        record = EventSubscription(
            self.core.new_uuid(), user.uuid, objects, now, now, description, request.headers.get("x-remote-addr")
        )
        try:
            self.core.bus.provision_subscription(
                user_uuid=user.uuid, subscription_uuid=record.uuid, password=user.token
            )
        except EventBusError as exc:
            raise ApiError(400, {"non_field_errors": [f"Unable to create event subscription: {exc}"]}) from exc
        self.state.subscriptions[record.uuid] = record
        return record

    def _delete_subscription(self, record: EventSubscription) -> None:
        for q in [q for q in self.state.queues.values() if q.subscription_uuid == record.uuid]:
            self.core.bus.delete_queue(vhost=q.vhost, queue_name=q.queue_name)
            del self.state.queues[q.uuid]
        del self.state.subscriptions[record.uuid]
        last = not any(s.user_uuid == record.user_uuid for s in self.state.subscriptions.values())
        self.core.bus.remove_subscription(user_uuid=record.user_uuid, subscription_uuid=record.uuid, delete_vhost=last)

    def subscription_create(self, request: Request) -> Response:
        body = request.json()
        objects = body.get("observable_objects", [])
        if not isinstance(objects, list):
            raise bad_request("observable_objects", "Expected a list.")
        for item in objects:
            if not isinstance(item, dict) or set(item) - {"object_type", "object_id"}:
                raise bad_request("observable_objects", "Only object_type and object_id keys are allowed.")
            if item.get("object_type") not in OBJECT_TYPES:
                raise bad_request("observable_objects", f"Invalid object_type: {item.get('object_type')}.")
        record = self._create_subscription(
            request, caller(request), [dict(o) for o in objects], text(body, "description")
        )
        return Response(201, render_market.subscription(self.state, request.base_url, record))

    def _sees_subscription(self, user: User, record: EventSubscription) -> bool:
        return user.is_staff or record.user_uuid == user.uuid

    def subscription_list(self, request: Request) -> Response:
        user = caller(request)
        items = [s for s in self.state.subscriptions.values() if self._sees_subscription(user, s)]
        if (v := request.query.one("user_uuid")) is not None:
            items = [s for s in items if s.user_uuid == normalize(v)]
        if (v := request.query.one("user_username")) is not None:
            items = [s for s in items if self.state.users[s.user_uuid].username == v]
        base = request.base_url
        return paginate(request, items, lambda s: render_market.subscription(self.state, base, s))

    def _subscription(self, request: Request) -> EventSubscription:
        user = caller(request)
        return self.core.get(
            self.state.subscriptions, request.params["uuid"], lambda s: self._sees_subscription(user, s)
        )

    def subscription_delete(self, request: Request) -> Response:
        self._delete_subscription(self._subscription(request))
        return Response(204)

    def create_queue(self, request: Request) -> Response:
        record = self._subscription(request)
        body = request.json()
        errors = {f: ["This field is required."] for f in ("offering_uuid", "object_type") if not body.get(f)}
        if errors:
            raise ApiError(400, errors)
        if body["object_type"] not in OBJECT_TYPES:
            raise bad_request("object_type", f'"{body["object_type"]}" is not a valid choice.')
        offering = self.state.offerings.get(normalize(str(body["offering_uuid"])) or "")
        if offering is None:
            raise bad_request("offering_uuid", "Offering not found.")
        user = caller(request)
        isd = user.is_identity_manager and bool(user.managed_isds)
        if not (
            perms.can_see_offering(self.state, user, offering)
            or (isd and offering.state in perms.ISD_ALLOWED_OFFERING_STATES)
        ):
            raise ApiError(400, {"non_field_errors": ["You do not have access to this offering"]})
        name = queue_name(record.uuid, offering.uuid, body["object_type"])
        vhost = vhost_name(record.user_uuid)
        try:
            self.core.bus.declare_queue(vhost=vhost, queue_name=name)
        except EventBusError as exc:
            raise ApiError(400, {"non_field_errors": [f"Unable to declare queue: {exc}"]}) from exc
        existing = next((q for q in self.state.queues.values() if q.queue_name == name), None)
        if existing is not None:
            return Response(200, render_market.queue(self.state, request.base_url, existing))
        queue = EventQueue(
            self.core.new_uuid(), record.uuid, offering.uuid, body["object_type"], name, vhost, self.core.now()
        )
        self.state.queues[queue.uuid] = queue
        return Response(201, render_market.queue(self.state, request.base_url, queue))

    def _sees_queue(self, user: User, record: EventQueue) -> bool:
        subscription = self.state.subscriptions.get(record.subscription_uuid)
        return subscription is not None and self._sees_subscription(user, subscription)

    def queue_list(self, request: Request) -> Response:
        user = caller(request)
        q = request.query
        items = [r for r in self.state.queues.values() if self._sees_queue(user, r)]
        for name, attr in (("event_subscription_uuid", "subscription_uuid"), ("offering_uuid", "offering_uuid")):
            if (v := q.one(name)) is not None:
                items = [r for r in items if getattr(r, attr) == normalize(v)]
        if (v := q.one("object_type")) is not None:
            items = [r for r in items if r.object_type == v]
        base = request.base_url
        return paginate(request, items, lambda r: render_market.queue(self.state, base, r))

    def _queue(self, request: Request) -> EventQueue:
        user = caller(request)
        return self.core.get(self.state.queues, request.params["uuid"], lambda r: self._sees_queue(user, r))

    def queue_delete(self, request: Request) -> Response:
        record = self._queue(request)
        self.core.bus.delete_queue(vhost=record.vhost, queue_name=record.queue_name)
        del self.state.queues[record.uuid]
        return Response(204)

    def register(self, router: Router) -> None:
        """Wire every route of this module."""
        i = "/api/marketplace-site-agent-identities/"
        router.add("GET", i, self.identity_list)
        router.add("POST", i, self.identity_create)
        router.add(
            "GET",
            i + "{uuid}/",
            lambda r: retrieve(r, render_market.agent_identity(self.state, r.base_url, self._identity(r))),
        )
        router.add("PUT", i + "{uuid}/", self.identity_update)
        router.add("DELETE", i + "{uuid}/", self.identity_delete)
        router.add("POST", i + "{uuid}/register_service/", self.register_service)
        router.add("POST", i + "{uuid}/register_event_subscription/", self.register_event_subscription)
        s = "/api/event-subscriptions/"
        router.add("GET", s, self.subscription_list)
        router.add("POST", s, self.subscription_create)
        router.add(
            "GET",
            s + "{uuid}/",
            lambda r: retrieve(r, render_market.subscription(self.state, r.base_url, self._subscription(r))),
        )
        router.add("DELETE", s + "{uuid}/", self.subscription_delete)
        router.add("POST", s + "{uuid}/create_queue/", self.create_queue)
        q = "/api/event-subscription-queues/"
        router.add("GET", q, self.queue_list)
        router.add(
            "GET", q + "{uuid}/", lambda r: retrieve(r, render_market.queue(self.state, r.base_url, self._queue(r)))
        )
        router.add("DELETE", q + "{uuid}/", self.queue_delete)
