"""Membership diff A team -> B project: grants, revocations, role changes, and who is never touched."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.memory.users import MemoryUsers
from fedcore.enums import OfferingUserState, UserMatchField
from fedcore.ids import Uuid
from fedcore.memberships import ChangeKind, MembershipChange, RoleMap, known_identities, plan_memberships
from fedcore.model import Member, OfferingUser, UserIdentity

pytestmark = pytest.mark.unit

ROLES = RoleMap({"PROJECT.MANAGER": "PROJECT.MANAGER"}, default="PROJECT.ADMIN")
CUID = UserMatchField.CUID


def a_user(n: int, cuid: str, email: str = "") -> UserIdentity:
    return UserIdentity(uuid=f"a{n:031x}", username=cuid, email=email)


def b_user(n: int, cuid: str, email: str = "") -> UserIdentity:
    return UserIdentity(uuid=f"b{n:031x}", username=cuid, email=email)


def add(user: UserIdentity, role: str) -> MembershipChange:
    return MembershipChange(ChangeKind.ADD, user.uuid, role)


def remove(user: UserIdentity, role: str) -> MembershipChange:
    return MembershipChange(ChangeKind.REMOVE, user.uuid, role)


ANN_A, ANN_B = a_user(1, "ann"), b_user(1, "ann")
BOB_A, BOB_B = a_user(2, "bob"), b_user(2, "bob")
FEDCORE_B = b_user(99, "fedcore-bot")
HAND_B = b_user(98, "local-admin")


def test_role_map_uses_the_default_for_unmapped_roles() -> None:
    assert ROLES.b_role("PROJECT.MANAGER") == "PROJECT.MANAGER"
    assert ROLES.b_role("PROJECT.MEMBER") == "PROJECT.ADMIN"


def test_without_a_default_an_unmapped_role_keeps_its_name() -> None:
    roles = RoleMap({"PROJECT.ADMIN": "PROJECT.MANAGER"})
    assert roles.b_role("PROJECT.ADMIN") == "PROJECT.MANAGER"
    assert RoleMap().b_role("PROJECT.MANAGER") == "PROJECT.MANAGER"
    assert roles.b_role("PROJECT.MEMBER") == "PROJECT.MEMBER"
    assert roles.b_role("CUSTOM.ROLE") == "CUSTOM.ROLE"


_NAMES = st.sampled_from(["PROJECT.ADMIN", "PROJECT.MANAGER", "PROJECT.MEMBER", "X"])


@given(st.dictionaries(_NAMES, st.text(min_size=1)), _NAMES | st.text())
def test_a_mapped_role_wins_over_the_default_and_the_name(mapping: dict[str, str], a_role: str) -> None:
    for default in (None, "PROJECT.MEMBER"):
        expected = mapping.get(a_role, default if default is not None else a_role)
        assert RoleMap(mapping, default).b_role(a_role) == expected


def test_an_unmapped_member_is_granted_the_same_role_name_on_b() -> None:
    plan = plan_memberships(
        a_team=[Member(ANN_A, "PROJECT.MANAGER")],
        resolved={ANN_A.uuid: ANN_B.uuid},
        b_members=[],
        roles=RoleMap(),
        match_field=CUID,
    )
    assert plan.changes == (add(ANN_B, "PROJECT.MANAGER"),)


def test_new_team_members_are_granted_their_mapped_role() -> None:
    plan = plan_memberships(
        a_team=[Member(ANN_A, "PROJECT.MEMBER"), Member(BOB_A, "PROJECT.MANAGER")],
        resolved={ANN_A.uuid: ANN_B.uuid, BOB_A.uuid: BOB_B.uuid},
        b_members=[],
        roles=ROLES,
        match_field=CUID,
    )
    assert set(plan.changes) == {add(ANN_B, "PROJECT.ADMIN"), add(BOB_B, "PROJECT.MANAGER")}


def test_role_change_is_a_grant_then_a_revocation() -> None:
    plan = plan_memberships(
        a_team=[Member(ANN_A, "PROJECT.MANAGER")],
        resolved={ANN_A.uuid: ANN_B.uuid},
        b_members=[Member(ANN_B, "PROJECT.ADMIN")],
        roles=ROLES,
        match_field=CUID,
    )
    assert plan.changes == (add(ANN_B, "PROJECT.MANAGER"), remove(ANN_B, "PROJECT.ADMIN"))


def test_former_members_known_on_a_are_revoked_but_unmappable_ones_never() -> None:
    plan = plan_memberships(
        a_team=[Member(ANN_A, "PROJECT.MEMBER")],
        resolved={ANN_A.uuid: ANN_B.uuid},
        b_members=[
            Member(ANN_B, "PROJECT.ADMIN"),
            Member(BOB_B, "PROJECT.ADMIN"),
            Member(FEDCORE_B, "PROJECT.ADMIN"),
            Member(HAND_B, "PROJECT.MANAGER"),
        ],
        roles=ROLES,
        match_field=CUID,
        known=[ANN_A, BOB_A],
    )
    assert plan.changes == (remove(BOB_B, "PROJECT.ADMIN"),)


def test_protected_users_are_never_revoked_even_when_they_map_to_a() -> None:
    plan = plan_memberships(
        a_team=[],
        resolved={},
        b_members=[Member(BOB_B, "PROJECT.ADMIN")],
        roles=ROLES,
        match_field=CUID,
        known=[BOB_A],
        protected=[BOB_B.uuid],
    )
    assert plan.is_empty


def test_a_team_member_whose_lookup_failed_keeps_their_b_roles() -> None:
    plan = plan_memberships(
        a_team=[Member(BOB_A, "PROJECT.MEMBER")],
        resolved={},
        b_members=[Member(BOB_B, "PROJECT.ADMIN")],
        roles=ROLES,
        match_field=CUID,
        known=[BOB_A],
    )
    assert plan.is_empty


def test_email_identity_space_matches_exactly() -> None:
    carol_a = a_user(3, "carol-a", "carol@example.org")
    carol_b = b_user(3, "carol-b", "Carol@Example.org")
    lookalike_b = b_user(4, "x", "carol@example.org.uk")
    plan = plan_memberships(
        a_team=[],
        resolved={},
        b_members=[Member(carol_b, "PROJECT.ADMIN"), Member(lookalike_b, "PROJECT.ADMIN")],
        roles=ROLES,
        match_field=UserMatchField.EMAIL,
        known=[carol_a],
    )
    assert plan.changes == (remove(carol_b, "PROJECT.ADMIN"),)


def test_known_identities_come_from_offering_users() -> None:
    record = OfferingUser(
        uuid=f"{1:032x}",
        user_uuid=ANN_A.uuid,
        user_username="ann",
        offering_uuid=f"{2:032x}",
        state=OfferingUserState.OK,
    )
    assert known_identities([record]) == [UserIdentity(uuid=ANN_A.uuid, username="ann")]


def offering_user(n: int, user: UserIdentity, email: str = "") -> OfferingUser:
    return OfferingUser(
        uuid=f"{n:032x}",
        user_uuid=user.uuid,
        user_username=user.username,
        offering_uuid=f"{2:032x}",
        state=OfferingUserState.OK,
        user_email=email,
    )


def test_known_identities_carry_the_email_once_per_person() -> None:
    carol = a_user(3, "carol@cuid")
    records = [offering_user(1, carol, "carol@example.org"), offering_user(2, carol, "carol@example.org")]
    expected = UserIdentity(uuid=carol.uuid, username="carol@cuid", email="carol@example.org")
    assert known_identities(records) == [expected]


@pytest.mark.parametrize(("match_field", "revoked"), [(CUID, True), (UserMatchField.USERNAME, False)])
def test_a_former_member_is_recognised_by_cuid_whatever_its_case(match_field: UserMatchField, revoked: bool) -> None:
    former = known_identities([offering_user(1, a_user(5, "Bob@CUID"))])
    bob_b = b_user(5, "bob@cuid")
    plan = plan_memberships(
        a_team=[], resolved={}, b_members=[Member(bob_b, "PROJECT.ADMIN")], roles=ROLES, match_field=match_field,
        known=former,
    )  # fmt: skip
    assert plan.changes == ((remove(bob_b, "PROJECT.ADMIN"),) if revoked else ())


def test_a_former_member_is_recognised_by_the_email_offering_users_now_carry() -> None:
    former = known_identities([offering_user(1, a_user(6, "dan-a"), "Dan@Example.org")])
    dan_b, lookalike = b_user(6, "dan-b", "dan@example.org"), b_user(7, "x", "dan@example.org.uk")
    plan = plan_memberships(
        a_team=[], resolved={}, b_members=[Member(dan_b, "PROJECT.ADMIN"), Member(lookalike, "PROJECT.ADMIN")],
        roles=ROLES, match_field=UserMatchField.EMAIL, known=former,
    )  # fmt: skip
    assert plan.changes == (remove(dan_b, "PROJECT.ADMIN"),)


# --- properties: on the fake, one apply converges and unmappable members survive -------------------------

A_ROLES = ["PROJECT.ADMIN", "PROJECT.MANAGER", "PROJECT.MEMBER"]
people = st.sampled_from(["ann", "bob", "cid", "dan", "eve", "fay"])


@given(
    team=st.lists(st.tuples(people, st.sampled_from(A_ROLES)), max_size=8),
    b_rows=st.lists(st.tuples(people | st.sampled_from(["fedcore-bot", "local-admin"]), st.sampled_from(A_ROLES))),
    former=st.sets(people),
    unresolved=st.sets(people),
)
def test_one_apply_converges_and_never_revokes_unmappable_members(
    team: list[tuple[str, str]],
    b_rows: list[tuple[str, str]],
    former: set[str],
    unresolved: set[str],
) -> None:
    a_side, b_side = MemoryUsers("A"), MemoryUsers("B")
    for name in ["ann", "bob", "cid", "dan", "eve", "fay"]:
        a_side.add_user(name)
        b_side.add_user(name)
    bot, local = b_side.add_user("fedcore-bot"), b_side.add_user("local-admin")
    project = b_side.add_project()
    for name, role in b_rows:
        who = b_side.user_by_username(name)
        assert who is not None
        b_side.grant(project, who, role)
    a_of = {u.username: u for u in a_side.users()}
    a_team = [Member(a_of[name], role) for name, role in team]
    resolved: dict[Uuid, Uuid] = {}
    for name, _ in team:
        target = b_side.user_by_username(name)
        if name not in unresolved and target is not None:
            resolved[a_of[name].uuid] = target.uuid
    known = [a_of[name] for name in former]

    def plan() -> list[MembershipChange]:
        return list(
            plan_memberships(
                a_team=a_team,
                resolved=resolved,
                b_members=b_side.list_members(project),
                roles=ROLES,
                match_field=CUID,
                known=known,
                protected=[bot.uuid],
            ).changes
        )

    before = b_side.roles_in(project)
    for change in plan():
        apply = b_side.add_member if change.kind is ChangeKind.ADD else b_side.remove_member
        apply(project, change.user_uuid, change.role)
    after = b_side.roles_in(project)
    assert plan() == []
    untouchable = {bot.uuid, local.uuid} | {
        u.uuid for u in b_side.users() if u.username in unresolved and u.username in {n for n, _ in team}
    }
    assert {(u, r) for u, r in before if u in untouchable} <= after
    desired = {(resolved[m.user.uuid], ROLES.b_role(m.role)) for m in a_team if m.user.uuid in resolved}
    assert desired <= after
