"""marketplace-offering-users: records, username setting, state transitions and the visibility rules."""

from __future__ import annotations

from collections.abc import Callable

from . import effects, perms, render_market
from .api_orders import parse_after
from .core import Core, caller, flag, normalize, text, uuid_from_ref
from .records import User
from .records_market import OfferingUser
from .web import ApiError, Request, Response, Router, bad_request, conflict, forbidden, order_items, paginate, retrieve

TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "begin_creating": (("Requested", "Error creating"), "Creating"),
    "set_ok": (
        (
            "Requested",
            "Creating",
            "Pending account linking",
            "Pending additional validation",
            "Error creating",
            "Error deleting",
        ),
        "OK",
    ),
    "set_pending_account_linking": (
        ("Creating", "Error creating", "Pending additional validation"),
        "Pending account linking",
    ),
    "set_pending_additional_validation": (
        ("Creating", "Error creating", "Pending account linking"),
        "Pending additional validation",
    ),
    "set_validation_complete": (("Pending account linking", "Pending additional validation"), "OK"),
    "set_error_creating": (
        ("Requested", "Creating", "Pending account linking", "Pending additional validation"),
        "Error creating",
    ),
    "request_deletion": (("OK",), "Requested deletion"),
    "set_deleting": (("Requested deletion", "Error deleting"), "Deleting"),
    "set_deleted": (("Deleting",), "Deleted"),
    "set_error_deleting": (("Requested deletion", "Deleting"), "Error deleting"),
}
WITH_COMMENT = ("set_pending_account_linking", "set_pending_additional_validation")


class OfferingUsersApi:
    """Handlers for offering users."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.state = core.state

    def _visibility(self, user: User) -> Callable[[OfferingUser], bool]:
        state = self.state
        allowed = {o.uuid for o in state.offerings.values() if perms.offering_allows_offering_users(o)}
        if perms.sees_everything(user):
            return lambda r: r.offering_uuid in allowed
        provider = {u for u in allowed if perms.can_see_offering(state, user, state.offerings[u])}
        isd = bool(user.is_identity_manager and user.managed_isds)

        def visible(record: OfferingUser) -> bool:
            if record.offering_uuid not in allowed:
                return False
            if record.offering_uuid in provider or record.user_uuid == user.uuid:
                return True
            return isd and perms.isd_overlap(user, state.users[record.user_uuid])

        return visible

    def list(self, request: Request) -> Response:
        visible = self._visibility(caller(request))
        q = request.query
        state = self.state
        if keys := q.comma("offering_uuid"):
            items = [
                state.offering_users[u] for k in keys for u in state.offering_users_by_offering.get(normalize(k) or "")
            ]
        elif (v := q.one("user_uuid")) is not None:
            items = [state.offering_users[u] for u in state.offering_users_by_user.get(normalize(v) or "")]
        else:
            items = list(state.offering_users.values())
        items = [r for r in items if visible(r)]
        if (v := q.one("user_uuid")) is not None:
            items = [r for r in items if r.user_uuid == normalize(v)]
        if (v := q.one("offering")) is not None:
            items = [r for r in items if r.offering_uuid == uuid_from_ref(v)]
        if (v := q.one("user_username")) is not None:
            items = [r for r in items if state.users[r.user_uuid].username.lower() == v.lower()]
        if states := q.repeated("state"):
            items = [r for r in items if r.state in states]
        if (b := q.flag("is_restricted")) is not None:
            items = [r for r in items if r.is_restricted == b]
        if (v := q.one("provider_uuid")) is not None:
            items = [r for r in items if state.offerings[r.offering_uuid].customer_uuid == normalize(v)]
        if (v := q.one("query")) is not None:
            n = v.lower()
            items = [
                r
                for r in items
                if n in (r.username or "").lower()
                or n in state.users[r.user_uuid].username.lower()
                or n in state.users[r.user_uuid].full_name.lower()
            ]
        for name in ("created", "modified"):
            if (v := q.one(name)) is not None:
                after = parse_after(v, name)
                items = [r for r in items if getattr(r, name) >= after]
        items.reverse()
        items = order_items(
            request,
            items,
            {
                "created": lambda r: r.created,
                "modified": lambda r: r.modified,
                "username": lambda r: r.username or "",
                "state": lambda r: r.state,
            },
        )
        base = request.base_url
        return paginate(request, items, lambda r: render_market.offering_user(state, base, r))

    def _get(self, request: Request) -> OfferingUser:
        return self.core.get(self.state.offering_users, request.params["uuid"], self._visibility(caller(request)))

    def _managed(self, request: Request) -> OfferingUser:
        record = self._get(request)
        if not perms.can_manage_offering_user(self.state, caller(request), record):
            raise forbidden()
        return record

    def retrieve(self, request: Request) -> Response:
        return retrieve(request, render_market.offering_user(self.state, request.base_url, self._get(request)))

    def create(self, request: Request) -> Response:
        body = request.json()
        user = self.core.ref(body, "user", self.state.users, required=False)
        if user is None:
            user = self.core.ref({"user": body.get("user_uuid")}, "user", self.state.users)
        offering = self.core.ref(body, "offering", self.state.offerings, required=False)
        if offering is None:
            offering = self.core.ref({"offering": body.get("offering_uuid")}, "offering", self.state.offerings)
        assert user is not None
        assert offering is not None
        actor = caller(request)
        if not perms.has_provider_access(self.state, actor, offering) and not (
            perms.isd_overlap(actor, user) and offering.state in perms.ISD_ALLOWED_OFFERING_STATES
        ):
            raise forbidden()
        if not perms.offering_allows_offering_users(offering):
            raise ApiError(400, {"non_field_errors": ["It is not allowed to create users for current offering."]})
        if any(
            self.state.offering_users[u].offering_uuid == offering.uuid
            for u in self.state.offering_users_by_user.get(user.uuid)
        ):
            raise ApiError(400, {"non_field_errors": ["The fields offering, user must make a unique set."]})
        username = body.get("username") or None
        if username is not None and not isinstance(username, str):
            raise bad_request("username", "Not a valid string.")
        now = self.core.now()
        record = OfferingUser(
            self.core.new_uuid(),
            user.uuid,
            offering.uuid,
            now,
            now,
            username=username,
            state="OK" if username else "Requested",
        )
        self.state.add(record)
        effects.offering_user_created(self.core, record)
        return Response(201, render_market.offering_user(self.state, request.base_url, record))

    def update(self, request: Request) -> Response:
        record = self._managed(request)
        body = request.json()
        changed: list[str] = []
        if "username" in body:
            username = body["username"] or None
            if username is not None and not isinstance(username, str):
                raise bad_request("username", "Not a valid string.")
            if username != record.username:
                record.username = username
                changed.append("username")
            if username:
                if record.state != "OK":
                    record.state = "OK"
                    changed.append("state")
                if record.service_provider_comment or record.service_provider_comment_url:
                    record.service_provider_comment = record.service_provider_comment_url = ""
                    changed += ["service_provider_comment", "service_provider_comment_url"]
        if changed:
            record.modified = self.core.now()
            effects.offering_user_updated(self.core, record, changed)
        return Response(200, render_market.offering_user(self.state, request.base_url, record))

    def destroy(self, request: Request) -> Response:
        record = self._managed(request)
        self.state.remove(record)
        effects.offering_user_deleted(self.core, record)
        return Response(204)

    def _transition(self, name: str) -> Callable[[Request], Response]:
        allowed, target = TRANSITIONS[name]

        def handler(request: Request) -> Response:
            record = self._managed(request)
            if record.state not in allowed:
                raise conflict(allowed)
            body = request.json()
            changed = ["state"]
            if name in WITH_COMMENT:
                record.service_provider_comment = text(body, "comment")
                record.service_provider_comment_url = text(body, "comment_url")
                changed += ["service_provider_comment", "service_provider_comment_url"]
            record.state = target
            record.modified = self.core.now()
            effects.offering_user_updated(self.core, record, changed)
            return Response(200, None)

        return handler

    def update_restricted(self, request: Request) -> Response:
        record = self._managed(request)
        body = request.json()
        if "is_restricted" not in body:
            raise bad_request("is_restricted", "This field is required.")
        value = flag(body, "is_restricted", False)
        if value != record.is_restricted:
            record.is_restricted = value
            record.modified = self.core.now()
            effects.offering_user_updated(self.core, record, ["is_restricted"])
        return Response(200, None)

    def register(self, router: Router) -> None:
        """Wire every route of this module."""
        p = "/api/marketplace-offering-users/"
        router.add("GET", p, self.list)
        router.add("POST", p, self.create)
        router.add("GET", p + "{uuid}/", self.retrieve)
        router.add("PATCH", p + "{uuid}/", self.update)
        router.add("PUT", p + "{uuid}/", self.update)
        router.add("DELETE", p + "{uuid}/", self.destroy)
        router.add("POST", p + "{uuid}/update_restricted/", self.update_restricted)
        for name in TRANSITIONS:
            router.add("POST", p + "{uuid}/" + name + "/", self._transition(name))
