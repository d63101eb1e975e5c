"""identity-bridge (+remove) and remote-eduteams: users pushed in by identity sources, with username = CUID."""

from __future__ import annotations

import re
from typing import Any

from .core import Core, caller
from .records import User
from .web import ApiError, Request, Response, Router, bad_request, forbidden

SOURCE = re.compile(r"^[a-z]+:[a-zA-Z0-9._-]+$")
ALLOWED_FIELDS = ("first_name", "last_name", "email", "organization", "affiliations")
SCHEMA_FIELDS = (
    *ALLOWED_FIELDS,
    "civil_number",
    "phone_number",
    "identity_source",
    "gender",
    "personal_title",
    "birth_date",
    "place_of_birth",
    "country_of_residence",
    "nationality",
    "nationalities",
    "organization_country",
    "organization_type",
    "eduperson_assurance",
)


def _may_bridge(user: User, source: str) -> bool:
    if user.is_staff:
        return True
    return user.is_identity_manager and (not user.managed_isds or source in user.managed_isds)


def _find(core: Core, username: str) -> User | None:
    return next((u for u in core.state.users.values() if u.username == username), None)


def _new_user(core: Core, username: str) -> User:
    user = User(
        uuid=core.new_uuid(),
        username=username,
        token=core.new_token(),
        created=core.now(),
        registration_method="identity_bridge",
    )
    core.state.add_user(user)
    return user


class BridgeApi:
    """Handlers for identity-bridge, identity-bridge/remove and remote-eduteams."""

    def __init__(self, core: Core) -> None:
        self.core = core

    @staticmethod
    def _head(body: dict[str, Any]) -> tuple[str, str]:
        errors = {f: ["This field is required."] for f in ("username", "source") if not body.get(f)}
        if errors:
            raise ApiError(400, errors)
        username, source = body["username"], body["source"]
        if not isinstance(username, str) or len(username) > 128:
            raise bad_request("username", "Ensure this field has no more than 128 characters.")
        if not isinstance(source, str) or not SOURCE.match(source):
            raise bad_request("source", "Source must look like 'isd:<name>'.")
        return username, source

    def bridge(self, request: Request) -> Response:
        body = request.json()
        username, source = self._head(body)
        if not _may_bridge(caller(request), source):
            raise forbidden("You do not have permission to push users from this identity source.")
        disallowed = sorted(k for k in body if k in SCHEMA_FIELDS and k not in ALLOWED_FIELDS)
        if disallowed:
            raise ApiError(
                400,
                {"non_field_errors": ["Fields not allowed by Identity Bridge configuration: " + ", ".join(disallowed)]},
            )
        user = _find(self.core, username)
        created = user is None
        if user is None:
            user = _new_user(self.core, username)
        elif not user.is_active:
            raise ApiError(400, {"non_field_errors": ["User is deactivated."]})
        updated = []
        for field in ALLOWED_FIELDS:
            if field not in body:
                continue
            value = body[field]
            if field == "affiliations":
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise bad_request(field, "Expected a list of strings.")
            elif not isinstance(value, str):
                raise bad_request(field, "Not a valid string.")
            owner = user.attribute_sources.get(field)
            if not value and owner not in (None, source):
                continue
            if getattr(user, field) != value:
                setattr(user, field, list(value) if field == "affiliations" else value)
                updated.append(field)
            user.attribute_sources[field] = source
        if source not in user.active_isds:
            user.active_isds.append(source)
        return Response(200, {"uuid": user.uuid, "created": created, "updated_fields": updated})

    def remove(self, request: Request) -> Response:
        username, source = self._head(request.json())
        if not _may_bridge(caller(request), source):
            raise forbidden("You do not have permission to remove users from this identity source.")
        user = _find(self.core, username)
        if user is None:
            raise ApiError(404, {"detail": "User not found."})
        if source in user.active_isds:
            user.active_isds.remove(source)
        for field, owner in list(user.attribute_sources.items()):
            if owner == source:
                setattr(user, field, [] if field == "affiliations" else "")
                del user.attribute_sources[field]
        deactivated = not user.active_isds and user.is_active
        if deactivated:
            user.is_active = False
        return Response(200, {"uuid": user.uuid, "deactivated": deactivated})

    def eduteams(self, request: Request) -> Response:
        actor = caller(request)
        if not (actor.is_staff or actor.is_identity_manager):
            raise forbidden()
        cuid = request.json().get("cuid")
        if not isinstance(cuid, str) or not cuid:
            raise bad_request("cuid", "This field is required.")
        attributes = self.core.state.known_cuids.get(cuid)
        if attributes is None:
            raise ApiError(404, {"detail": "User with this CUID is not found in eduTEAMS."})
        user = _find(self.core, cuid) or _new_user(self.core, cuid)
        user.registration_method = "eduteams"
        for field in (*ALLOWED_FIELDS, "civil_number", "phone_number"):
            if field in attributes:
                setattr(user, field, attributes[field])
        return Response(200, {"uuid": user.uuid})

    def register(self, router: Router) -> None:
        """Wire every route of this module."""
        router.add("POST", "/api/identity-bridge/", self.bridge)
        router.add("POST", "/api/identity-bridge/remove/", self.remove)
        router.add("POST", "/api/remote-eduteams/", self.eduteams)
