"""Roles and scope membership: ``/api/roles/`` and the add_user/delete_user/update_user/list_users actions of
customers, projects, offerings and service providers (one implementation, parameterised by scope)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from . import effects, render
from .core import Core, caller, normalize
from .records import Role, RoleAssignment, User
from .web import ApiError, Request, Response, Router, bad_request, forbidden, paginate, retrieve

BUILTIN_ROLES = (
    ("CUSTOMER.OWNER", "customer", "Organization owner"),
    ("CUSTOMER.MANAGER", "customer", "Service provider manager"),
    ("CUSTOMER.SUPPORT", "customer", "Organization support"),
    ("PROJECT.ADMIN", "project", "Project administrator"),
    ("PROJECT.MANAGER", "project", "Project manager"),
    ("PROJECT.MEMBER", "project", "Project member"),
    ("OFFERING.MANAGER", "offering", "Offering manager"),
)


def install_builtin_roles(core: Core) -> None:
    """Create the system roles federation depends on."""
    for name, content_type, description in BUILTIN_ROLES:
        core.state.add_role(Role(core.new_uuid(), name, content_type, description, []))


def _role_json(core: Core, role: Role) -> dict[str, Any]:
    return {
        "uuid": role.uuid,
        "name": role.name,
        "description": role.description,
        "permissions": list(role.permissions),
        "is_system_role": True,
        "is_active": True,
        "users_count": sum(1 for a in core.state.assignments.values() if a.role_name == role.name),
        "content_type": role.content_type,
    }


def find_role(core: Core, value: object) -> Role | None:
    """A role by name or by UUID."""
    if not isinstance(value, str):
        return None
    if value in core.state.roles:
        return core.state.roles[value]
    key = normalize(value)
    return next((r for r in core.state.roles.values() if r.uuid == key), None)


def _parse_expiration(body: dict[str, Any]) -> dt.datetime | None:
    value = body.get("expiration_time")
    if value in (None, ""):
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise bad_request("expiration_time", "Datetime has wrong format.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


ScopeLookup = Callable[[Request], str]
ManageCheck = Callable[[Request, str], bool]


class ScopeMembers:
    """add_user/delete_user/update_user/list_users under ``{prefix}{uuid}/`` for one kind of scope.

    ``lookup`` turns a request into the scope UUID (404 when invisible); ``can_manage`` decides who may change
    its members (403 otherwise).
    """

    def __init__(self, core: Core, *, scope_type: str, lookup: ScopeLookup, can_manage: ManageCheck) -> None:
        self.core = core
        self.scope_type = scope_type
        self.lookup = lookup
        self.can_manage = can_manage

    def _role_and_user(self, request: Request, scope_uuid: str) -> tuple[Role, User]:
        if not self.can_manage(request, scope_uuid):
            raise forbidden()
        body = request.json()
        errors: dict[str, list[str]] = {}
        if body.get("role") in (None, ""):
            errors["role"] = ["This field is required."]
        if body.get("user") in (None, ""):
            errors["user"] = ["This field is required."]
        if errors:
            raise ApiError(400, errors)
        role = find_role(self.core, body["role"])
        if role is None:
            raise bad_request("role", "Role not found.")
        if role.content_type != self.scope_type:
            raise bad_request("role", "Role is not valid for this scope.")
        user_key = normalize(str(body["user"]).rstrip("/").rsplit("/", 1)[-1])
        target = self.core.state.users.get(user_key or "")
        if target is None:
            raise bad_request("user", "User not found.")
        return role, target

    def _current(self, scope_uuid: str, role: Role, target: User) -> RoleAssignment | None:
        return next(
            (
                a
                for a in self.core.state.roles_in(scope_uuid)
                if a.user_uuid == target.uuid and a.role_name == role.name
            ),
            None,
        )

    def _held(self, request: Request) -> RoleAssignment:
        scope_uuid = self.lookup(request)
        role, target = self._role_and_user(request, scope_uuid)
        assignment = self._current(scope_uuid, role, target)
        if assignment is None:
            raise ApiError(400, {"non_field_errors": ["User does not have this role in this scope."]})
        return assignment

    def add_user(self, request: Request) -> Response:
        scope_uuid = self.lookup(request)
        role, target = self._role_and_user(request, scope_uuid)
        if self._current(scope_uuid, role, target) is not None:
            raise ApiError(400, {"non_field_errors": ["User has already the same role in this scope."]})
        assignment = RoleAssignment(
            uuid=self.core.new_uuid(),
            user_uuid=target.uuid,
            role_name=role.name,
            scope_type=self.scope_type,
            scope_uuid=scope_uuid,
            created=self.core.now(),
            created_by_uuid=caller(request).uuid,
            expiration_time=_parse_expiration(request.json()),
        )
        self.core.state.add(assignment)
        effects.role_granted(self.core, assignment)
        return Response(201, render.role_assignment_expiration(assignment))

    def delete_user(self, request: Request) -> Response:
        assignment = self._held(request)
        self.core.state.remove(assignment)
        effects.role_revoked(self.core, assignment)
        return Response(200, None)

    def update_user(self, request: Request) -> Response:
        assignment = self._held(request)
        assignment.expiration_time = _parse_expiration(request.json())
        return Response(200, render.role_assignment_expiration(assignment))

    def list_users(self, request: Request) -> Response:
        state = self.core.state
        scope_uuid = self.lookup(request)
        q = request.query
        items = state.roles_in(scope_uuid)
        if (value := q.one("role")) is not None:
            role = find_role(self.core, value)
            items = [a for a in items if role is not None and a.role_name == role.name]
        if (value := q.one("user")) is not None:
            key = normalize(value)
            items = [a for a in items if a.user_uuid == key]
        if (value := q.one("username")) is not None:
            items = [a for a in items if state.users[a.user_uuid].username == value]
        if (value := q.one("full_name")) is not None:
            items = [a for a in items if value.lower() in state.users[a.user_uuid].full_name.lower()]
        if (value := q.one("search_string")) is not None:
            needle = value.lower()
            items = [
                a
                for a in items
                if needle in state.users[a.user_uuid].username.lower()
                or needle in state.users[a.user_uuid].full_name.lower()
                or needle in state.users[a.user_uuid].email.lower()
            ]
        base = request.base_url
        return paginate(request, items, lambda a: render.user_role(state, base, a))

    def register(self, router: Router, prefix: str) -> None:
        """Wire the four membership actions under ``{prefix}{uuid}/``."""
        router.add("POST", prefix + "{uuid}/add_user/", self.add_user)
        router.add("POST", prefix + "{uuid}/delete_user/", self.delete_user)
        router.add("POST", prefix + "{uuid}/update_user/", self.update_user)
        router.add("GET", prefix + "{uuid}/list_users/", self.list_users)


class RolesApi:
    """Handlers for ``/api/roles/``."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def list_roles(self, request: Request) -> Response:
        roles = list(self.core.state.roles.values())
        if (name := request.query.one("name")) is not None:
            roles = [r for r in roles if r.name == name]
        if request.query.flag("is_active") is False:
            roles = []
        return paginate(request, roles, lambda r: _role_json(self.core, r))

    def retrieve_role(self, request: Request) -> Response:
        role = find_role(self.core, request.params["uuid"])
        if role is None or role.name == request.params["uuid"]:
            raise ApiError(404, {"detail": "No Role matches the given query."})
        return retrieve(request, _role_json(self.core, role))

    def register(self, router: Router) -> None:
        """Wire ``/api/roles/``."""
        router.add("GET", "/api/roles/", self.list_roles)
        router.add("GET", "/api/roles/{uuid}/", self.retrieve_role)


def required_fields(body: dict[str, Any], *names: str) -> None:
    """400 listing every missing required field at once."""
    missing = {n: ["This field is required."] for n in names if body.get(n) in (None, "")}
    if missing:
        raise ApiError(400, missing)
