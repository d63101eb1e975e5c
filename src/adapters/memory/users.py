"""An in-memory Waldur user world: users, one offering's users, project teams, identity bridge.

One :class:`MemoryUsers` stands for one Waldur (A or B) and satisfies :class:`~fedcore.ports.users.SourceUsers`,
:class:`~fedcore.ports.users.TargetUsers` and :class:`~fedcore.ports.users.TargetMembers`. It follows
Waldur's rules where fedcore depends on them: setting a username moves an offering user to OK; the
identity bridge needs a managed, well-formed source, refuses fields it does not allow and creates or
updates idempotently; removing a source clears what it owned and deactivates a user left with none
(policy ``all_isds_removed``); the ``email`` lookup is a case-insensitive substring match; the per-user
offering-user read is exact but case-insensitive; offering users show their user's current email; unknown
UUIDs are NotFound. Its :class:`~adapters.memory.faults.Faults` make chosen calls fail, to show one failure
stops nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Mapping, Sequence

import attrs

from adapters.memory.faults import Faults
from fedcore.enums import OfferingUserState, UserMatchField
from fedcore.errors import NotFound, PermanentError
from fedcore.ids import Uuid, is_identity_source, normalize_uuid
from fedcore.model import JsonValue, Member, OfferingUser, UserIdentity

_BRIDGE_DEFAULT = frozenset({"first_name", "last_name", "email", "organization", "affiliations"})


class MemoryUsers:
    """One Waldur's users, the offering users of one offering, project teams and identity sources.

    ``side`` ("A" or "B") names it in fault plans and errors; ``managed_sources`` are the identity-bridge
    sources fedcore's token may push for; ``bridge_attributes`` the profile fields the bridge accepts;
    ``eduteams`` the CUIDs (with profiles) eduTEAMS knows. Pass one ``faults`` to several fakes to share
    a fault plan and call counters.
    """

    def __init__(
        self,
        side: str,
        *,
        offering_uuid: str | None = None,
        managed_sources: Iterable[str] = (),
        bridge_attributes: Iterable[str] = _BRIDGE_DEFAULT,
        faults: Faults | None = None,
    ) -> None:
        self.side = side
        self._counter = itertools.count(1)
        self._prefix = 0xA5E if side == "A" else 0xB5E
        self.offering_uuid = normalize_uuid(offering_uuid) if offering_uuid else self.new_uuid()
        self.managed_sources = set(managed_sources)
        self.bridge_attributes = frozenset(bridge_attributes)
        self.eduteams: dict[str, UserIdentity] = {}
        self.faults = faults or Faults()
        self._users: dict[Uuid, UserIdentity] = {}
        self._sources: dict[Uuid, set[str]] = {}
        self._owners: dict[Uuid, dict[str, str]] = {}
        self._inactive: set[Uuid] = set()
        self._offering_users: dict[Uuid, OfferingUser] = {}
        self._teams: dict[Uuid, set[tuple[Uuid, str]]] = {}

    # --- helpers for tests: arrange and inspect --------------------------------------------------

    def new_uuid(self) -> Uuid:
        """A fresh UUID, deterministic per fake (readable in test output)."""
        return Uuid(f"{self._prefix:08x}{next(self._counter):024x}")

    def add_user(
        self, username: str, email: str = "", *, first_name: str = "", last_name: str = "", organization: str = ""
    ) -> UserIdentity:
        """Create a user (a fresh UUID) and return it."""
        user = UserIdentity(
            uuid=self.new_uuid(),
            username=username,
            email=email,
            first_name=first_name,
            last_name=last_name,
            organization=organization,
        )
        self._users[user.uuid] = user
        return user

    @property
    def registry(self) -> dict[Uuid, UserIdentity]:
        """The live table of this Waldur's people, to share with the :class:`~adapters.memory.orders.MemoryTarget`
        of the same Waldur (``MemoryTarget(..., users=b_users.registry)``) so both fakes know the same people."""
        return self._users

    def user(self, user_uuid: Uuid) -> UserIdentity:
        """The user with this UUID (KeyError when absent)."""
        return self._users[user_uuid]

    def user_by_username(self, username: str) -> UserIdentity | None:
        """The user with exactly this username, if any."""
        return next((u for u in self._users.values() if u.username == username), None)

    def users(self) -> list[UserIdentity]:
        """Every user."""
        return list(self._users.values())

    def active_sources(self, user_uuid: Uuid) -> set[str]:
        """The identity-bridge sources currently vouching for the user (Waldur's ``active_isds``)."""
        return set(self._sources.get(user_uuid, ()))

    def is_active(self, user_uuid: Uuid) -> bool:
        """False once the user was deactivated by removing their last identity source."""
        return user_uuid not in self._inactive

    def add_offering_user(
        self,
        user: UserIdentity,
        state: OfferingUserState = OfferingUserState.REQUESTED,
        username: str | None = None,
        *,
        is_restricted: bool = False,
    ) -> OfferingUser:
        """Create an offering user of this Waldur's offering for ``user``."""
        record = OfferingUser(
            uuid=self.new_uuid(),
            user_uuid=user.uuid,
            user_username=user.username,
            offering_uuid=self.offering_uuid,
            state=state,
            username=username,
            is_restricted=is_restricted,
            user_email=user.email,
        )
        self._offering_users[record.uuid] = record
        return record

    def offering_user(self, offering_user_uuid: Uuid) -> OfferingUser:
        """The offering user with this UUID (KeyError when absent)."""
        return self._render(self._offering_users[offering_user_uuid])

    def offering_users(self) -> list[OfferingUser]:
        """Every offering user, in any state."""
        return [self._render(u) for u in self._offering_users.values()]

    def add_project(self, project_uuid: str | None = None) -> Uuid:
        """Create an empty project and return its UUID."""
        uuid = normalize_uuid(project_uuid) if project_uuid else self.new_uuid()
        self._teams.setdefault(uuid, set())
        return uuid

    def grant(self, project_uuid: Uuid, user: UserIdentity, role: str) -> None:
        """Give ``user`` the ``role`` in the project, bypassing the port (arranging a test)."""
        self._teams[project_uuid].add((user.uuid, role))

    def roles_in(self, project_uuid: Uuid) -> set[tuple[Uuid, str]]:
        """The project's (user UUID, role) pairs."""
        return set(self._teams[project_uuid])

    # --- SourceUsers / TargetUsers --------------------------------------------------------------

    def list_offering_users(self, states: Collection[OfferingUserState]) -> Sequence[OfferingUser]:
        """Offering users of the offering in any of ``states``."""
        self._call("list_offering_users")
        found = [self._render(u) for u in self._offering_users.values() if u.state in states]
        self._done("list_offering_users", write=False)
        return found

    def offering_users_of(self, user_username: str) -> Sequence[OfferingUser]:
        """Offering users of the offering whose user is ``user_username`` (exact, case-insensitive), any state."""
        self._call("offering_users_of")
        wanted = user_username.casefold()
        found = [self._render(u) for u in self._offering_users.values() if u.user_username.casefold() == wanted]
        self._done("offering_users_of", write=False)
        return found

    def get_offering_user(self, offering_user_uuid: Uuid) -> OfferingUser:
        """One offering user of the offering by UUID; NotFound when there is none."""
        self._call("get_offering_user")
        record = self._offering_users.get(normalize_uuid(offering_user_uuid))
        if record is None:
            raise NotFound("no such offering user", where=f"{self.side} GET offering-users", status=404)
        self._done("get_offering_user", write=False)
        return self._render(record)

    def set_offering_user_username(self, offering_user_uuid: Uuid, username: str) -> None:
        """Set the username; like Waldur, this moves the record to OK."""
        self._call("set_offering_user_username")
        record = self._offering_users.get(normalize_uuid(offering_user_uuid))
        if record is None:
            raise NotFound("no such offering user", where=f"{self.side} PATCH offering-users", status=404)
        self._offering_users[record.uuid] = attrs.evolve(record, username=username, state=OfferingUserState.OK)
        self._done("set_offering_user_username", write=True)

    def list_team(self, project_uuid: Uuid) -> Sequence[Member]:
        """Every role in the project, with the users' identities."""
        self._call("list_team")
        members = self._members(project_uuid)
        self._done("list_team", write=False)
        return members

    def push_identity(self, username: str, source: str, attributes: Mapping[str, JsonValue]) -> Uuid:
        """Identity bridge: create or update the user ``username``; the same call twice changes nothing."""
        self._call("push_identity")
        where = f"{self.side} POST identity-bridge"
        if not username or len(username) > 128:
            raise PermanentError("username must be 1-128 characters", where=where, status=400)
        if not is_identity_source(source):
            raise PermanentError(f"invalid source {source!r}", where=where, status=400)
        if source not in self.managed_sources:
            raise PermanentError("source is not managed by the caller", where=where, status=403)
        refused = sorted(set(attributes) - self.bridge_attributes)
        if refused:
            message = f"Fields not allowed by Identity Bridge configuration: {', '.join(refused)}"
            raise PermanentError(message, where=where, status=400)
        known = self.user_by_username(username)
        if known is not None and known.uuid in self._inactive:
            raise PermanentError("the user is deactivated", where=where, status=400)
        uuid = self._upsert(username, attributes)
        self._sources.setdefault(uuid, set()).add(source)
        owners = self._owners.setdefault(uuid, {})
        owners.update({name: source for name, value in attributes.items() if _given(value)})
        self._done("push_identity", write=True)
        return uuid

    def remove_identity(self, username: str, source: str) -> None:
        """Identity bridge removal: drop ``source`` and what it owned; deactivate a user left with no source.

        Removing a source that does not vouch for the user changes nothing (and never deactivates them).
        """
        self._call("remove_identity")
        where = f"{self.side} POST identity-bridge/remove"
        if not is_identity_source(source):
            raise PermanentError(f"invalid source {source!r}", where=where, status=400)
        if source not in self.managed_sources:
            raise PermanentError("source is not managed by the caller", where=where, status=403)
        user = self.user_by_username(username)
        if user is None:
            raise NotFound("no such user", where=where, status=404)
        sources = self._sources.setdefault(user.uuid, set())
        if source in sources:
            sources.discard(source)
            owners = self._owners.setdefault(user.uuid, {})
            owned = {name for name, owner in owners.items() if owner == source}
            for name in owned:
                del owners[name]
            self._users[user.uuid] = _cleared(user, owned)
            if not sources:
                self._inactive.add(user.uuid)
        self._done("remove_identity", write=True)

    def resolve_eduteams(self, cuid: str) -> Uuid:
        """Remote eduTEAMS: create or update the user from the eduTEAMS profile; NotFound when unknown."""
        self._call("resolve_eduteams")
        profile = self.eduteams.get(cuid)
        if profile is None:
            raise NotFound("eduTEAMS does not know this CUID", where=f"{self.side} POST remote-eduteams", status=404)
        uuid = self._upsert(cuid, {"email": profile.email, "first_name": profile.first_name})
        self._done("resolve_eduteams", write=True)
        return uuid

    def find_users(self, match_field: UserMatchField, value: str) -> Sequence[UserIdentity]:
        """Like ``GET /api/users/``: ``email`` is a case-insensitive substring filter, ``username`` exact."""
        self._call("find_users")
        if match_field is UserMatchField.EMAIL:
            found = [u for u in self._users.values() if value.casefold() in u.email.casefold()]
        else:
            found = [u for u in self._users.values() if u.username == value]
        self._done("find_users", write=False)
        return found

    # --- TargetMembers -------------------------------------------------------------------------

    def list_members(self, project_uuid: Uuid) -> Sequence[Member]:
        """Every role in the B project."""
        self._call("list_members")
        members = self._members(project_uuid)
        self._done("list_members", write=False)
        return members

    def add_member(self, project_uuid: Uuid, user_uuid: Uuid, role: str) -> None:
        """Grant a role; 400 when the user is unknown or already has it, like Waldur."""
        self._call("add_member")
        team = self._team(project_uuid)
        where = f"{self.side} POST projects/add_user"
        if user_uuid not in self._users:
            raise PermanentError('{"user": ["Invalid pk - object does not exist."]}', where=where, status=400)
        if (user_uuid, role) in team:
            raise PermanentError("User has already the same role in this scope.", where=where, status=400)
        team.add((user_uuid, role))
        self._done("add_member", write=True)

    def remove_member(self, project_uuid: Uuid, user_uuid: Uuid, role: str) -> None:
        """Revoke a role; 400 when the user does not have it."""
        self._call("remove_member")
        team = self._team(project_uuid)
        if (user_uuid, role) not in team:
            where = f"{self.side} POST projects/delete_user"
            raise PermanentError("User does not have this role in this scope.", where=where, status=400)
        team.discard((user_uuid, role))
        self._done("remove_member", write=True)

    # --- internals -----------------------------------------------------------------------------

    def _call(self, method: str) -> None:
        self.faults.before(self.side, method)

    def _done(self, method: str, *, write: bool) -> None:
        self.faults.after(self.side, method, write=write)

    def _render(self, record: OfferingUser) -> OfferingUser:
        # Waldur shows an offering user's profile fields from the user as they are now.
        user = self._users.get(record.user_uuid)
        return attrs.evolve(record, user_email=user.email) if user is not None else record

    def _team(self, project_uuid: Uuid) -> set[tuple[Uuid, str]]:
        team = self._teams.get(normalize_uuid(project_uuid))
        if team is None:
            raise NotFound("no such project", where=f"{self.side} projects/{project_uuid}", status=404)
        return team

    def _members(self, project_uuid: Uuid) -> list[Member]:
        team = self._team(project_uuid)
        return [Member(user=self._users[u], role=r) for u, r in sorted(team)]

    def _upsert(self, username: str, attributes: Mapping[str, JsonValue]) -> Uuid:
        # Like Waldur, an empty value does not erase what the user already has; fields the domain does not
        # model (e.g. phone_number) are accepted and not kept.
        base = self.user_by_username(username) or UserIdentity(uuid=self.new_uuid(), username=username)

        def text(name: str, current: str) -> str:
            value = attributes.get(name)
            return value.strip() if isinstance(value, str) and value.strip() else current

        affiliations = attributes.get("affiliations")
        updated = UserIdentity(
            uuid=base.uuid,
            username=username,
            email=text("email", base.email),
            first_name=text("first_name", base.first_name),
            last_name=text("last_name", base.last_name),
            organization=text("organization", base.organization),
            civil_number=text("civil_number", base.civil_number),
            affiliations=tuple(str(a) for a in affiliations)
            if isinstance(affiliations, list) and affiliations
            else base.affiliations,
        )
        self._users[updated.uuid] = updated
        return updated.uuid


_CLEARABLE = frozenset({"email", "first_name", "last_name", "organization", "civil_number"})


def _given(value: JsonValue) -> bool:
    # An empty value from the bridge is ignored, so it does not make its source the owner of the attribute.
    if isinstance(value, str):
        return bool(value.strip())
    return bool(value)


def _cleared(user: UserIdentity, names: Collection[str]) -> UserIdentity:
    texts = {n: "" for n in names if n in _CLEARABLE}
    cleared = attrs.evolve(user, **texts)
    return attrs.evolve(cleared, affiliations=()) if "affiliations" in names else cleared

