"""Event subscriptions and their queues (RabbitMQ through the EventBus); agent identities subscribe through here."""

from __future__ import annotations

from typing import Any

from . import perms, render_agents
from .core import Core, caller, normalize, text
from .events import EventBusError, queue_name, vhost_name
from .records import User
from .records_market import EventQueue, EventSubscription
from .web import ApiError, Request, Response, Router, bad_request, paginate, retrieve

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


class EventsApi:
    """Handlers for event-subscriptions and event-subscription-queues."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.state = core.state

    # event subscriptions --------------------------------------------------------------------------------

    def create_subscription(
        self, request: Request, user: User, objects: list[dict[str, Any]], description: str
    ) -> EventSubscription:
        """Provision the subscription's RabbitMQ user, then store it (400 when the broker refuses)."""
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
        self.state.add(record)
        return record

    def delete_subscription(self, record: EventSubscription) -> None:
        """Delete the subscription's queues, the subscription and its RabbitMQ user (and vhost when last)."""
        for q in [q for q in self.state.queues.values() if q.subscription_uuid == record.uuid]:
            self.core.bus.delete_queue(vhost=q.vhost, queue_name=q.queue_name)
            self.state.remove(q)
        self.state.remove(record)
        last = not any(s.user_uuid == record.user_uuid for s in self.state.subscriptions.values())
        self.core.bus.remove_subscription(user_uuid=record.user_uuid, subscription_uuid=record.uuid, delete_vhost=last)

    def ensure_subscription(self, request: Request, user: User, object_type: str, description: str) -> Response:
        """register_event_subscription: the caller's subscription to exactly ``object_type``, reused (200) while its
        RabbitMQ user is provisioned, otherwise (re)created (201)."""
        wanted = [{"object_type": object_type}]
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
                return Response(200, render_agents.subscription(self.state, request.base_url, existing))
            self.delete_subscription(existing)
        created = self.create_subscription(request, user, wanted, description)
        return Response(201, render_agents.subscription(self.state, request.base_url, created))

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
        record = self.create_subscription(
            request, caller(request), [dict(o) for o in objects], text(body, "description")
        )
        return Response(201, render_agents.subscription(self.state, request.base_url, record))

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
        return paginate(request, items, lambda s: render_agents.subscription(self.state, base, s))

    def _subscription(self, request: Request) -> EventSubscription:
        user = caller(request)
        return self.core.get(
            self.state.subscriptions, request.params["uuid"], lambda s: self._sees_subscription(user, s)
        )

    def subscription_delete(self, request: Request) -> Response:
        self.delete_subscription(self._subscription(request))
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
            return Response(200, render_agents.queue(self.state, request.base_url, existing))
        queue = EventQueue(
            self.core.new_uuid(), record.uuid, offering.uuid, body["object_type"], name, vhost, self.core.now()
        )
        self.state.add(queue)
        return Response(201, render_agents.queue(self.state, request.base_url, queue))

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
        return paginate(request, items, lambda r: render_agents.queue(self.state, base, r))

    def _queue(self, request: Request) -> EventQueue:
        user = caller(request)
        return self.core.get(self.state.queues, request.params["uuid"], lambda r: self._sees_queue(user, r))

    def queue_delete(self, request: Request) -> Response:
        record = self._queue(request)
        self.core.bus.delete_queue(vhost=record.vhost, queue_name=record.queue_name)
        self.state.remove(record)
        return Response(204)

    def register(self, router: Router) -> None:
        """Wire every route of this module."""
        s = "/api/event-subscriptions/"
        router.add("GET", s, self.subscription_list)
        router.add("POST", s, self.subscription_create)
        router.add(
            "GET",
            s + "{uuid}/",
            lambda r: retrieve(r, render_agents.subscription(self.state, r.base_url, self._subscription(r))),
        )
        router.add("DELETE", s + "{uuid}/", self.subscription_delete)
        router.add("POST", s + "{uuid}/create_queue/", self.create_queue)
        q = "/api/event-subscription-queues/"
        router.add("GET", q, self.queue_list)
        router.add(
            "GET", q + "{uuid}/", lambda r: retrieve(r, render_agents.queue(self.state, r.base_url, self._queue(r)))
        )
        router.add("DELETE", q + "{uuid}/", self.queue_delete)
