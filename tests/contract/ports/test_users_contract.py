"""Contract of the user ports (SourceUsers on A, TargetUsers and TargetMembers on B), for every implementation.

Each test arranges its world through a :class:`UsersWorld` (an implementation's back door: how users, offering users
and projects come to exist) and then speaks only through the ports. Assertions are about what a port promises, never
about a fake's internals. The worlds: ``memory`` (the fakes) and ``emulator`` (the REST adapter against two emulated
Waldurs in-process, every exchange checked against Waldur's schema); the tests named in :data:`OVER_SOCKET` also run
against ``socket`` (the emulators served on 127.0.0.1, the adapter's own client over TCP).

A B user the bridge pushed is read back through :meth:`UsersWorld.b_profile`, not through ``find_users``: Waldur
shows a non-staff token only the users connected to it, and a freshly pushed user is connected to nobody.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal, Protocol

import pytest

from adapters.memory.users import MemoryUsers
from contract.ports.emulated_users_usage import EmulatorUsersWorld
from fedcore.enums import OfferingUserState, UserMatchField
from fedcore.errors import NotFound, PermanentError
from fedcore.ids import Uuid
from fedcore.model import OfferingUser, UserIdentity
from fedcore.ports.users import SourceUsers, TargetMembers, TargetUsers

pytestmark = pytest.mark.contract

S = OfferingUserState
Side = Literal["A", "B"]
MANAGED = ("isd:contract", "isd:second")
"""The identity-bridge sources fedcore's B token manages in every world."""


class UsersWorld(Protocol):
    """Two Waldurs seen through the user ports, with helpers that arrange state behind the ports' back."""

    @property
    def source(self) -> SourceUsers:
        """Waldur A's users port."""
        ...

    @property
    def target(self) -> TargetUsers:
        """Waldur B's users port; it manages the sources in :data:`MANAGED`."""
        ...

    @property
    def members(self) -> TargetMembers:
        """Waldur B's project-members port."""
        ...

    def add_user(self, side: Side, username: str, email: str = "") -> UserIdentity:
        """Create a user on one side."""
        ...

    def add_offering_user(
        self, side: Side, user: UserIdentity, state: OfferingUserState, username: str | None = None,
        *, restricted: bool = False,
    ) -> OfferingUser:  # fmt: skip
        """Give ``user`` an offering user of that side's federated offering, in ``state``."""
        ...

    def add_project(self, side: Side) -> Uuid:
        """Create an empty project on one side."""
        ...

    def grant(self, side: Side, project: Uuid, user: UserIdentity, role: str) -> None:
        """Give ``user`` a role in the project without going through a port."""
        ...

    def eduteams_knows(self, cuid: str, email: str) -> None:
        """Make remote eduTEAMS (behind B) know ``cuid``."""
        ...

    def b_profile(self, username: str) -> UserIdentity | None:
        """The B user with exactly this username, read behind the ports' back (any user, visible or not)."""
        ...

    def unknown_uuid(self) -> Uuid:
        """A UUID that names nothing on either side."""
        ...

    def close(self) -> None:
        """Release what the world holds; may fail on what it observed (schema problems)."""
        ...


class MemoryUsersWorld:
    """The in-memory fakes: one :class:`MemoryUsers` per side."""

    def __init__(self) -> None:
        self.sides = {"A": MemoryUsers("A"), "B": MemoryUsers("B", managed_sources=MANAGED)}
        self.source: SourceUsers = self.sides["A"]
        self.target: TargetUsers = self.sides["B"]
        self.members: TargetMembers = self.sides["B"]

    def add_user(self, side: Side, username: str, email: str = "") -> UserIdentity:
        """Create a user on one side."""
        return self.sides[side].add_user(username, email)

    def add_offering_user(
        self, side: Side, user: UserIdentity, state: OfferingUserState, username: str | None = None,
        *, restricted: bool = False,
    ) -> OfferingUser:  # fmt: skip
        """Give ``user`` an offering user in ``state``."""
        return self.sides[side].add_offering_user(user, state, username, is_restricted=restricted)

    def add_project(self, side: Side) -> Uuid:
        """Create an empty project."""
        return self.sides[side].add_project()

    def grant(self, side: Side, project: Uuid, user: UserIdentity, role: str) -> None:
        """Grant a role behind the ports."""
        self.sides[side].grant(project, user, role)

    def eduteams_knows(self, cuid: str, email: str) -> None:
        """Register an eduTEAMS profile."""
        self.sides["B"].eduteams[cuid] = UserIdentity(uuid="e" * 32, username=cuid, email=email)

    def b_profile(self, username: str) -> UserIdentity | None:
        """The B fake's user."""
        return self.sides["B"].user_by_username(username)

    def unknown_uuid(self) -> Uuid:
        """A UUID neither fake ever hands out."""
        return Uuid("f" * 32)

    def close(self) -> None:
        """Nothing to release."""


WORLDS: dict[str, Callable[[], UsersWorld]] = {
    "memory": MemoryUsersWorld,
    "emulator": lambda: EmulatorUsersWorld(MANAGED),
    "socket": lambda: EmulatorUsersWorld(MANAGED, socket=True),
}
"""Implementation name -> world factory."""
OVER_SOCKET = frozenset(
    {"test_setting_a_username_moves_the_record_to_ok", "test_push_creates_then_updates_the_same_user",
     "test_one_offering_user_is_read_by_uuid_with_its_user_and_username"}
)
"""The tests that also run over TCP; every other test runs on every world but ``socket``."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Bind ``world`` to each implementation (``socket`` only for :data:`OVER_SOCKET`)."""
    if "world" in metafunc.fixturenames:
        chosen = [n for n in sorted(WORLDS) if n != "socket" or metafunc.function.__name__ in OVER_SOCKET]
        metafunc.parametrize("world", chosen, indirect=True)


@pytest.fixture
def world(request: pytest.FixtureRequest) -> Iterator[UsersWorld]:
    """A fresh world of one implementation, closed after the test."""
    made = WORLDS[request.param]()
    yield made
    made.close()


def names(records: list[OfferingUser] | tuple[OfferingUser, ...]) -> set[str]:
    """The CUIDs of some offering users."""
    return {r.user_username for r in records}


class TestSourceUsers:
    """Waldur A: offering users (listing, per-user read, username PATCH) and project teams."""

    def test_listing_filters_by_state(self, world: UsersWorld) -> None:
        for cuid, state in [("ok@cuid", S.OK), ("req@cuid", S.REQUESTED), ("gone@cuid", S.DELETED)]:
            world.add_offering_user("A", world.add_user("A", cuid), state)
        assert names(list(world.source.list_offering_users({S.OK, S.REQUESTED}))) == {"ok@cuid", "req@cuid"}
        assert names(list(world.source.list_offering_users({S.DELETED}))) == {"gone@cuid"}
        assert list(world.source.list_offering_users(set())) == []

    def test_records_show_the_user_and_their_email(self, world: UsersWorld) -> None:
        ann = world.add_user("A", "ann@cuid", "ann@example.org")
        made = world.add_offering_user("A", ann, S.OK, "ann01", restricted=True)
        [seen] = world.source.list_offering_users({S.OK})
        assert (seen.uuid, seen.user_uuid, seen.user_username) == (made.uuid, ann.uuid, "ann@cuid")
        assert (seen.username, seen.is_restricted, seen.user_email) == ("ann01", True, "ann@example.org")

    def test_setting_a_username_moves_the_record_to_ok(self, world: UsersWorld) -> None:
        record = world.add_offering_user("A", world.add_user("A", "ann@cuid"), S.REQUESTED)
        world.source.set_offering_user_username(record.uuid, "ann01")
        [seen] = world.source.offering_users_of("ann@cuid")
        assert (seen.uuid, seen.username, seen.state) == (record.uuid, "ann01", S.OK)
        world.source.set_offering_user_username(record.uuid, "ann01")  # the same PATCH again changes nothing
        assert [(u.username, u.state) for u in world.source.list_offering_users({S.OK})] == [("ann01", S.OK)]

    def test_setting_the_username_of_an_unknown_record_is_not_found(self, world: UsersWorld) -> None:
        with pytest.raises(NotFound):
            world.source.set_offering_user_username(world.unknown_uuid(), "x")

    def test_per_user_read_is_exact_but_case_insensitive_in_any_state(self, world: UsersWorld) -> None:
        alice = world.add_user("A", "alice@cuid")
        live = world.add_offering_user("A", alice, S.OK, "alice01")
        world.add_offering_user("A", world.add_user("A", "alice@cuid.org"), S.OK, "other")
        assert [u.uuid for u in world.source.offering_users_of("Alice@CUID")] == [live.uuid]
        assert list(world.source.offering_users_of("alice")) == []
        gone = world.add_offering_user("A", world.add_user("A", "bob@cuid"), S.DELETED)
        assert [u.uuid for u in world.source.offering_users_of("bob@cuid")] == [gone.uuid]

    def test_per_user_read_of_an_unknown_user_is_empty(self, world: UsersWorld) -> None:
        assert list(world.source.offering_users_of("nobody@cuid")) == []

    def test_team_lists_every_role_with_the_users_identity(self, world: UsersWorld) -> None:
        project = world.add_project("A")
        ann = world.add_user("A", "ann@cuid", "ann@example.org")
        world.grant("A", project, ann, "PROJECT.MANAGER")
        world.grant("A", project, ann, "PROJECT.MEMBER")
        team = world.source.list_team(project)
        assert {(m.user.uuid, m.user.username, m.user.email, m.role) for m in team} == {
            (ann.uuid, "ann@cuid", "ann@example.org", "PROJECT.MANAGER"),
            (ann.uuid, "ann@cuid", "ann@example.org", "PROJECT.MEMBER"),
        }
        assert list(world.source.list_team(world.add_project("A"))) == []

    def test_team_of_an_unknown_project_is_not_found(self, world: UsersWorld) -> None:
        with pytest.raises(NotFound):
            world.source.list_team(world.unknown_uuid())


def b_user(world: UsersWorld, username: str) -> UserIdentity:
    """The B user with exactly this username (read behind the ports' back: see the module's docstring)."""
    found = world.b_profile(username)
    assert found is not None, f"B has no user {username!r}"
    return found


class TestTargetUsers:
    """Waldur B: identity bridge push and removal, remote eduTEAMS, user lookup, offering users."""

    def test_push_creates_then_updates_the_same_user(self, world: UsersWorld) -> None:
        first = world.target.push_identity("ann@cuid", MANAGED[0], {"email": "ann@example.org", "first_name": "Ann"})
        again = world.target.push_identity("ann@cuid", MANAGED[0], {"email": "ann@example.org", "first_name": "Ann"})
        assert first == again
        world.target.push_identity("ann@cuid", MANAGED[0], {"first_name": "Anna"})
        ann = b_user(world, "ann@cuid")
        assert (ann.uuid, ann.email, ann.first_name) == (first, "ann@example.org", "Anna")

    def test_push_for_an_unmanaged_source_is_refused_not_absent(self, world: UsersWorld) -> None:
        with pytest.raises(PermanentError) as refused:
            world.target.push_identity("ann@cuid", "isd:elsewhere", {})
        assert not isinstance(refused.value, NotFound)
        assert refused.value.status == 403

    @pytest.mark.parametrize(
        ("source", "attributes"),
        [("puhuri", {}), ("ISD:x", {}), (MANAGED[0], {"phone_number": "+1"})],
        ids=["no-kind", "upper-kind", "disallowed-field"],
    )
    def test_push_with_a_bad_source_or_field_is_a_400(
        self, world: UsersWorld, source: str, attributes: dict[str, str]
    ) -> None:
        with pytest.raises(PermanentError) as refused:
            world.target.push_identity("ann@cuid", source, dict(attributes))
        assert refused.value.status == 400

    def test_removing_one_of_two_sources_clears_what_it_owned(self, world: UsersWorld) -> None:
        uuid = world.target.push_identity("ann@cuid", MANAGED[0], {"email": "ann@example.org"})
        world.target.push_identity("ann@cuid", MANAGED[1], {"first_name": "Ann"})
        world.target.remove_identity("ann@cuid", MANAGED[0])
        ann = b_user(world, "ann@cuid")
        assert (ann.uuid, ann.email, ann.first_name) == (uuid, "", "Ann")
        assert world.target.push_identity("ann@cuid", MANAGED[1], {"first_name": "Ann"}) == uuid  # still active

    def test_removing_the_last_source_deactivates_the_user(self, world: UsersWorld) -> None:
        world.target.push_identity("ann@cuid", MANAGED[0], {"first_name": "Ann"})
        world.target.remove_identity("ann@cuid", MANAGED[0])
        with pytest.raises(PermanentError) as refused:
            world.target.push_identity("ann@cuid", MANAGED[0], {"first_name": "Ann"})
        assert not isinstance(refused.value, NotFound)

    def test_removing_from_an_unknown_user_is_not_found(self, world: UsersWorld) -> None:
        with pytest.raises(NotFound):
            world.target.remove_identity("nobody@cuid", MANAGED[0])

    def test_removing_an_unmanaged_source_is_a_403(self, world: UsersWorld) -> None:
        world.target.push_identity("ann@cuid", MANAGED[0], {})
        with pytest.raises(PermanentError) as refused:
            world.target.remove_identity("ann@cuid", "isd:elsewhere")
        assert not isinstance(refused.value, NotFound)
        assert refused.value.status == 403

    def test_eduteams_creates_the_user_once_and_misses_are_not_found(self, world: UsersWorld) -> None:
        world.eduteams_knows("known@cuid", "k@example.org")
        first = world.target.resolve_eduteams("known@cuid")
        assert world.target.resolve_eduteams("known@cuid") == first
        assert b_user(world, "known@cuid").uuid == first
        with pytest.raises(NotFound):
            world.target.resolve_eduteams("stranger@cuid")

    def test_email_lookup_is_a_case_insensitive_substring_candidate_list(self, world: UsersWorld) -> None:
        ann = world.add_user("B", "ann-b", "Ann@Example.org")
        jo = world.add_user("B", "jo", "joann@example.org")
        world.add_user("B", "bob", "bob@example.org")
        found = world.target.find_users(UserMatchField.EMAIL, "ann@example.org")
        assert {u.uuid for u in found} == {ann.uuid, jo.uuid}

    @pytest.mark.parametrize("match_field", [UserMatchField.USERNAME, UserMatchField.CUID])
    def test_username_and_cuid_lookups_are_exact(self, world: UsersWorld, match_field: UserMatchField) -> None:
        ann = world.add_user("B", "ann", "ann@example.org")
        world.add_user("B", "anna")
        assert [u.uuid for u in world.target.find_users(match_field, "ann")] == [ann.uuid]
        assert list(world.target.find_users(match_field, "nobody")) == []

    def test_offering_users_filter_by_state_and_read_per_user(self, world: UsersWorld) -> None:
        ok = world.add_offering_user("B", world.add_user("B", "alice@cuid"), S.OK, "alice01")
        world.add_offering_user("B", world.add_user("B", "bob@cuid"), S.CREATING)
        assert [u.uuid for u in world.target.list_offering_users({S.OK})] == [ok.uuid]
        assert [u.username for u in world.target.offering_users_of("ALICE@cuid")] == ["alice01"]
        assert [u.state for u in world.target.offering_users_of("bob@cuid")] == [S.CREATING]
        assert list(world.target.offering_users_of("carol@cuid")) == []

    def test_one_offering_user_is_read_by_uuid_with_its_user_and_username(self, world: UsersWorld) -> None:
        alice = world.add_user("B", "alice@cuid", "alice@example.org")
        made = world.add_offering_user("B", alice, S.OK, "alice01", restricted=True)
        world.add_offering_user("B", world.add_user("B", "bob@cuid"), S.CREATING)
        seen = world.target.get_offering_user(made.uuid)
        assert (seen.uuid, seen.user_uuid, seen.offering_uuid) == (made.uuid, alice.uuid, made.offering_uuid)
        assert (seen.user_username, seen.username, seen.state) == ("alice@cuid", "alice01", S.OK)
        assert (seen.is_restricted, seen.user_email) == (True, "alice@example.org")
        assert seen == next(u for u in world.target.offering_users_of("alice@cuid") if u.uuid == made.uuid)

    def test_an_offering_user_without_a_username_reads_as_such(self, world: UsersWorld) -> None:
        made = world.add_offering_user("B", world.add_user("B", "bob@cuid"), S.CREATING)
        seen = world.target.get_offering_user(made.uuid)
        assert (seen.uuid, seen.user_username, seen.state) == (made.uuid, "bob@cuid", S.CREATING)
        assert not seen.username  # None or "": no offering-local username yet

    def test_an_unknown_offering_user_is_not_found(self, world: UsersWorld) -> None:
        with pytest.raises(NotFound) as refused:
            world.target.get_offering_user(world.unknown_uuid())
        assert isinstance(refused.value, PermanentError)


class TestTargetMembers:
    """Waldur B: project roles granted and revoked one at a time."""

    def test_grant_and_revoke_one_role(self, world: UsersWorld) -> None:
        project, ann = world.add_project("B"), world.add_user("B", "ann@cuid")
        world.members.add_member(project, ann.uuid, "PROJECT.ADMIN")
        world.members.add_member(project, ann.uuid, "PROJECT.MEMBER")
        world.members.remove_member(project, ann.uuid, "PROJECT.ADMIN")
        assert [(m.user.uuid, m.user.username, m.role) for m in world.members.list_members(project)] == [
            (ann.uuid, "ann@cuid", "PROJECT.MEMBER")
        ]

    def test_granting_a_role_twice_is_refused(self, world: UsersWorld) -> None:
        project, ann = world.add_project("B"), world.add_user("B", "ann@cuid")
        world.members.add_member(project, ann.uuid, "PROJECT.ADMIN")
        with pytest.raises(PermanentError) as refused:
            world.members.add_member(project, ann.uuid, "PROJECT.ADMIN")
        assert not isinstance(refused.value, NotFound)

    def test_granting_to_an_unknown_user_is_refused(self, world: UsersWorld) -> None:
        with pytest.raises(PermanentError):
            world.members.add_member(world.add_project("B"), world.unknown_uuid(), "PROJECT.ADMIN")

    def test_revoking_a_role_not_held_is_refused(self, world: UsersWorld) -> None:
        project, ann = world.add_project("B"), world.add_user("B", "ann@cuid")
        world.grant("B", project, ann, "PROJECT.MEMBER")
        with pytest.raises(PermanentError) as refused:
            world.members.remove_member(project, ann.uuid, "PROJECT.ADMIN")
        assert not isinstance(refused.value, NotFound)
        assert [m.role for m in world.members.list_members(project)] == ["PROJECT.MEMBER"]

    def test_an_unknown_project_is_not_found(self, world: UsersWorld) -> None:
        ann, missing = world.add_user("B", "ann@cuid"), world.unknown_uuid()
        with pytest.raises(NotFound):
            world.members.list_members(missing)
        with pytest.raises(NotFound):
            world.members.add_member(missing, ann.uuid, "PROJECT.ADMIN")
        with pytest.raises(NotFound):
            world.members.remove_member(missing, ann.uuid, "PROJECT.ADMIN")
