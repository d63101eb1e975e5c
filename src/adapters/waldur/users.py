"""The user ports over Waldur's REST API: offering users and teams on A, people and offering users on B.

:class:`SourceUsers` implements :class:`fedcore.ports.SourceUsers` against Waldur A with the offering
manager's token; :class:`TargetUsers` implements :class:`fedcore.ports.TargetUsers` against Waldur B with the
token of fedcore's customer owner, who is also an identity manager of fedcore's identity sources. B's
project members (:class:`fedcore.ports.TargetMembers`) are served by
:class:`~adapters.waldur.orders.TargetMarketplace`.

Every read is one paginated listing; every write names in its docstring whether it is repeated on a passing
fault. A lookup with an empty value answers "nobody" without asking Waldur, because Waldur ignores an empty
filter and would list every user it shows the token.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from adapters.waldur.http import Params, WaldurHttp
from adapters.waldur.wire import (
    OFFERING_USER_FIELDS,
    USER_FIELDS,
    WireOfferingUser,
    WireProjectUser,
    WireResourceRef,
    WireUser,
    offering_user_to_domain,
    project_user_to_domain,
    structure,
    structure_list,
    to_domain,
    user_to_domain,
    uuid_field,
)
from fedcore.enums import OfferingUserState, UserMatchField
from fedcore.errors import NotFound
from fedcore.ids import Uuid, normalize_uuid
from fedcore.model import JsonValue, Member, OfferingUser, UserIdentity

OFFERING_USERS = "marketplace-offering-users/"


def _offering_users(http: WaldurHttp, offering_uuid: Uuid, params: Params) -> list[OfferingUser]:
    where = http.where("GET", OFFERING_USERS)
    data = http.list(OFFERING_USERS, [("offering_uuid", offering_uuid), *params], fields=OFFERING_USER_FIELDS)
    return [to_domain(where, offering_user_to_domain, w) for w in structure_list(data, WireOfferingUser, where)]


def _in_states(http: WaldurHttp, offering_uuid: Uuid, states: Collection[OfferingUserState]) -> list[OfferingUser]:
    if not states:
        return []
    # ``state`` is declared explode=true: one key per state, as display strings ("Pending account linking").
    return _offering_users(http, offering_uuid, [("state", s.value) for s in sorted(states)])


def _of_user(http: WaldurHttp, offering_uuid: Uuid, user_username: str) -> list[OfferingUser]:
    if not user_username.strip():
        return []
    return _offering_users(http, offering_uuid, [("user_username", user_username)])


class SourceUsers:
    """Waldur A's offering users of fedcore's offering, and the teams of A projects."""

    def __init__(self, http: WaldurHttp, offering_uuid: Uuid) -> None:
        self._http = http
        self.offering_uuid = offering_uuid

    def list_offering_users(self, states: Collection[OfferingUserState]) -> Sequence[OfferingUser]:
        """``GET marketplace-offering-users/?offering_uuid=…&state=…`` (repeated key); no call for no states."""
        return _in_states(self._http, self.offering_uuid, states)

    def offering_users_of(self, user_username: str) -> Sequence[OfferingUser]:
        """``GET marketplace-offering-users/?offering_uuid=…&user_username=…`` (exact, case-insensitive)."""
        return _of_user(self._http, self.offering_uuid, user_username)

    def set_offering_user_username(self, offering_user_uuid: Uuid, username: str) -> None:
        """``PATCH marketplace-offering-users/{uuid}/ {"username"}`` (setting it twice is harmless: retried)."""
        self._http.patch(f"{OFFERING_USERS}{offering_user_uuid}/", {"username": username})

    def list_team(self, project_uuid: Uuid) -> Sequence[Member]:
        """The team of an A project as the offering's provider sees it: ``marketplace-provider-resources/{uuid}/
        team/`` of one of the offering's resources in the project (all pages; users by their own ``uuid``).

        A provider's token cannot read ``projects/{uuid}/list_users/`` of a consumer's project, but it reads the
        team of its own resources there. A project without a resource of the offering has no team fedcore may
        see: that is NotFound, never an empty team (which would revoke everyone on B).
        """
        resources = "marketplace-provider-resources/"
        where = self._http.where("GET", resources)
        params: Params = [("offering_uuid", self.offering_uuid), ("project_uuid", project_uuid)]
        found = structure_list(self._http.list(resources, params, fields=("uuid", "state")), WireResourceRef, where)
        live = sorted(to_domain(where, _resource_uuid, r) for r in found if r.state != "Terminated")
        if not live:
            raise NotFound(f"project {project_uuid} holds no resource of offering {self.offering_uuid}", where=where)
        path = f"{resources}{live[0]}/team/"
        where = self._http.where("GET", path)
        rows = structure_list(self._http.list(path, declared=False), WireProjectUser, where)
        return [to_domain(where, project_user_to_domain, row) for row in rows]


def _resource_uuid(resource: WireResourceRef) -> Uuid:
    try:
        return normalize_uuid(resource.uuid)
    except ValueError as exc:
        raise ValueError(f"uuid: {exc}") from None


def _bridge_value(value: JsonValue) -> bool:
    # Only non-empty values are sent: an empty one would not clear anything the source does not own, and the
    # schema refuses some of them (``email`` must be an address, ``affiliations`` items non-empty).
    if isinstance(value, str):
        return bool(value.strip())
    return value is not None and value not in ([], {})


class TargetUsers:
    """Waldur B's people as fedcore's token may find, push or release them, and B's offering users."""

    def __init__(self, http: WaldurHttp, offering_uuid: Uuid) -> None:
        self._http = http
        self.offering_uuid = offering_uuid

    def push_identity(self, username: str, source: str, attributes: Mapping[str, JsonValue]) -> Uuid:
        """``POST identity-bridge/`` with the non-empty attributes; the user's UUID.

        Waldur creates or updates the user, so the call is idempotent and retried on a passing fault.
        """
        path = "identity-bridge/"
        given = {name: value for name, value in attributes.items() if _bridge_value(value)}
        data = self._http.post(path, {**given, "username": username, "source": source}, idempotent=True)
        return uuid_field(data, "uuid", self._http.where("POST", path))

    def remove_identity(self, username: str, source: str) -> None:
        """``POST identity-bridge/remove/`` (removing a source twice changes nothing more: retried)."""
        self._http.post("identity-bridge/remove/", {"username": username, "source": source}, idempotent=True)

    def resolve_eduteams(self, cuid: str) -> Uuid:
        """``POST remote-eduteams/ {"cuid"}`` (create or update: retried); NotFound when eduTEAMS has no such CUID."""
        path = "remote-eduteams/"
        data = self._http.post(path, {"cuid": cuid}, idempotent=True)
        return uuid_field(data, "uuid", self._http.where("POST", path))

    def find_users(self, match_field: UserMatchField, value: str) -> Sequence[UserIdentity]:
        """``GET users/?email=…`` (a case-insensitive substring) or ``?username=…`` (exact; the CUID is B's username).

        The answer is Waldur's candidate list, limited to the users the token may see; the caller picks.
        """
        if not value.strip():
            return []
        name = "email" if match_field is UserMatchField.EMAIL else "username"
        path = "users/"
        where = self._http.where("GET", path)
        found = structure_list(self._http.list(path, [(name, value)], fields=USER_FIELDS), WireUser, where)
        return [to_domain(where, user_to_domain, user) for user in found]

    def list_offering_users(self, states: Collection[OfferingUserState]) -> Sequence[OfferingUser]:
        """``GET marketplace-offering-users/?offering_uuid=…&state=…`` (repeated key); no call for no states."""
        return _in_states(self._http, self.offering_uuid, states)

    def offering_users_of(self, user_username: str) -> Sequence[OfferingUser]:
        """``GET marketplace-offering-users/?offering_uuid=…&user_username=…`` (exact, case-insensitive)."""
        return _of_user(self._http, self.offering_uuid, user_username)

    def get_offering_user(self, offering_user_uuid: Uuid) -> OfferingUser:
        """``GET marketplace-offering-users/{uuid}/`` (one record, decoded as a listing's); NotFound on 404."""
        path = f"{OFFERING_USERS}{offering_user_uuid}/"
        where = self._http.where("GET", path)
        data = self._http.get(path, fields=OFFERING_USER_FIELDS)
        return to_domain(where, offering_user_to_domain, structure(data, WireOfferingUser, where))
