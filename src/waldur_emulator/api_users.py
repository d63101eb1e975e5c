"""Users: create by staff with a token, users/me, PATCH of the identity-manager fields, Waldur's filters and the
rule that non-staff callers see only connected users."""

from __future__ import annotations

from typing import Any

from . import perms, render
from .core import Core, caller, flag, normalize, text
from .records import User
from .web import Request, Response, Router, bad_request, forbidden, order_items, paginate, retrieve

USER_TEXT_FIELDS = ("email", "first_name", "last_name", "organization", "phone_number", "job_title", "description")


def _string_list(body: dict[str, Any], field: str) -> list[str]:
    value = body.get(field, [])
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request(field, "Expected a list of strings.")
    return list(value)


class UsersApi:
    """Handlers for /api/users/."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.state = core.state

    def create_user(self, request: Request, *, is_staff: bool = False, token: str | None = None) -> User:
        """Create a user with a token (also used to install the staff user)."""
        body = request.json()
        username = text(body, "username", max_length=128)
        if not username:
            raise bad_request("username", "This field is required.")
        if not is_staff and not text(body, "email"):
            raise bad_request("email", "This field is required.")
        if any(u.username == username for u in self.state.users.values()):
            raise bad_request("username", "A user with that username already exists.")
        user = User(
            uuid=self.core.new_uuid(),
            username=username,
            token=token or self.core.new_token(),
            created=self.core.now(),
            is_staff=is_staff,
        )
        self._apply_user_fields(user, body, staff=True)
        self.state.add_user(user)
        return user

    def _apply_user_fields(self, user: User, body: dict[str, Any], *, staff: bool) -> None:
        for field in USER_TEXT_FIELDS:
            if field in body:
                setattr(user, field, text(body, field))
        if "civil_number" in body:
            user.civil_number = body["civil_number"] if body["civil_number"] not in ("",) else None
        if "affiliations" in body:
            user.affiliations = _string_list(body, "affiliations")
        if staff:
            for field in ("is_staff", "is_support", "is_active", "is_identity_manager"):
                if field in body:
                    setattr(user, field, flag(body, field, False))
            if "managed_isds" in body:
                user.managed_isds = _string_list(body, "managed_isds")
        elif any(f in body for f in ("is_staff", "is_support", "is_identity_manager", "managed_isds")):
            raise forbidden()

    def users_create(self, request: Request) -> Response:
        if not caller(request).is_staff:
            raise forbidden()
        user = self.create_user(request)
        return Response(201, render.user(self.state, request.base_url, user, caller(request)))

    def users_list(self, request: Request) -> Response:
        viewer = caller(request)
        items = list(self.state.users.values())
        if not perms.sees_everything(viewer):
            allowed = perms.connected_user_uuids(self.state, viewer)
            items = [u for u in items if u.uuid in allowed]
        q = request.query
        if (v := q.one("username")) is not None:
            items = [u for u in items if u.username == v]
        if names := q.comma("username_list"):
            items = [u for u in items if u.username in names]
        if (v := q.one("email")) is not None:
            items = [u for u in items if v.lower() in u.email.lower()]
        if (v := q.one("civil_number")) is not None:
            items = [u for u in items if u.civil_number == v]
        if (v := q.one("full_name")) is not None:
            items = [u for u in items if v.lower() in u.full_name.lower()]
        if (v := q.one("organization")) is not None:
            items = [u for u in items if v.lower() in u.organization.lower()]
        for name in ("is_active", "is_staff", "is_support"):
            if (b := q.flag(name)) is not None:
                items = [u for u in items if getattr(u, name) == b]
        if (v := q.one("query")) is not None:
            n = v.lower()
            items = [
                u
                for u in items
                if any(n in (x or "").lower() for x in (u.first_name, u.last_name, u.civil_number, u.username, u.email))
            ]
        for name in ("project_uuid", "customer_uuid"):
            if (v := q.one(name)) is not None:
                members = {a.user_uuid for a in self.state.roles_in(normalize(v) or "")}
                items = [u for u in items if u.uuid in members]
        items = order_items(
            request,
            items,
            {
                "username": lambda u: u.username,
                "email": lambda u: u.email,
                "full_name": lambda u: u.full_name,
                "date_joined": lambda u: u.created,
            },
        )
        base = request.base_url
        return paginate(request, items, lambda u: render.user(self.state, base, u, viewer))

    def _visible_user(self, request: Request) -> User:
        viewer = caller(request)
        if perms.sees_everything(viewer):
            return self.core.get(self.state.users, request.params["uuid"])
        allowed = perms.connected_user_uuids(self.state, viewer)
        return self.core.get(self.state.users, request.params["uuid"], lambda u: u.uuid in allowed)

    def users_me(self, request: Request) -> Response:
        viewer = caller(request)
        return retrieve(request, render.user(self.state, request.base_url, viewer, viewer))

    def users_retrieve(self, request: Request) -> Response:
        return retrieve(
            request, render.user(self.state, request.base_url, self._visible_user(request), caller(request))
        )

    def users_update(self, request: Request) -> Response:
        viewer = caller(request)
        target = self._visible_user(request)
        if not viewer.is_staff and viewer.uuid != target.uuid:
            raise forbidden()
        body = request.json()
        if "username" in body and viewer.is_staff:
            target.username = text(body, "username") or target.username
        old_isds = list(target.managed_isds)
        self._apply_user_fields(target, body, staff=viewer.is_staff)
        del old_isds
        return Response(200, render.user(self.state, request.base_url, target, viewer))

    def users_delete(self, request: Request) -> Response:
        if not caller(request).is_staff:
            raise forbidden()
        target = self._visible_user(request)
        self.state.remove_user(target)
        return Response(204)

    def _token_answer(self, user: User) -> dict[str, Any]:
        return {
            "created": render.iso(self.core.now()), "token": user.token, "user_first_name": user.first_name,
            "user_last_name": user.last_name, "user_username": user.username, "user_is_active": user.is_active,
            "user_token_lifetime": None,
        }

    def users_refresh_token(self, request: Request) -> Response:
        """A new API token for the user (staff, or the user itself); the old one is refused from now on. Like
        Waldur, the RabbitMQ passwords of the user's event subscriptions keep the old token (EVENTS.md §8.4)."""
        viewer = caller(request)
        target = self._visible_user(request)
        if not viewer.is_staff and viewer.uuid != target.uuid:
            raise forbidden()
        self.state.replace_token(target, self.core.new_token())
        return Response(200, self._token_answer(target))

    def users_bridge_status(self, request: Request) -> Response:
        if not caller(request).is_staff:
            raise forbidden()
        target = self._visible_user(request)
        return Response(
            200,
            {
                "active_isds": list(target.active_isds),
                "managed_isds": list(target.managed_isds),
                "attribute_sources": dict(target.attribute_sources),
                "stale_attributes": [],
                "effective_bridge_fields": sorted(target.attribute_sources),
                "is_federated": bool(target.active_isds),
            },
        )

    def register(self, router: Router) -> None:
        """Wire every route of this module."""
        router.add("GET", "/api/users/", self.users_list)
        router.add("POST", "/api/users/", self.users_create)
        router.add("GET", "/api/users/me/", self.users_me)
        router.add("GET", "/api/users/{uuid}/", self.users_retrieve)
        router.add("PATCH", "/api/users/{uuid}/", self.users_update)
        router.add("PUT", "/api/users/{uuid}/", self.users_update)
        router.add("DELETE", "/api/users/{uuid}/", self.users_delete)
        router.add("GET", "/api/users/{uuid}/identity_bridge_status/", self.users_bridge_status)
        router.add("POST", "/api/users/{uuid}/refresh_token/", self.users_refresh_token)
