"""Username sync planning B -> A: who gets patched, and the plan's idempotence on the fake."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.memory.users import MemoryUsers
from fedcore.enums import OfferingUserState, UserMatchField, UserResolveMethod
from fedcore.matching import MatchSettings
from fedcore.model import OfferingUser
from fedcore.usernames import SOURCE_STATES, TARGET_STATES, UsernamePlan, plan_username_patches

pytestmark = pytest.mark.unit

S = OfferingUserState


def ou(
    n: int,
    cuid: str,
    state: OfferingUserState,
    username: str | None,
    *,
    restricted: bool = False,
    email: str = "",
    user: int | None = None,
) -> OfferingUser:
    return OfferingUser(
        uuid=f"{n:032x}",
        user_uuid=f"{(n + 1000 if user is None else user):032x}",
        user_username=cuid,
        offering_uuid=f"{7:032x}",
        state=state,
        username=username,
        is_restricted=restricted,
        user_email=email,
    )


def test_mismatched_username_is_patched_to_bs() -> None:
    plan = plan_username_patches([ou(1, "ann", S.OK, "placeholder")], [ou(2, "ann", S.OK, "inttest-sync-1")])
    assert [(p.offering_user_uuid, p.username, p.previous) for p in plan.patches] == [
        (f"{1:032x}", "inttest-sync-1", "placeholder")
    ]


@pytest.mark.parametrize("state", [S.OK, S.CREATING, S.REQUESTED])
def test_live_and_pending_a_users_are_patched(state: OfferingUserState) -> None:
    plan = plan_username_patches([ou(1, "ann", state, None)], [ou(2, "ann", S.OK, "ann01")])
    assert [p.username for p in plan.patches] == ["ann01"]


@pytest.mark.parametrize("state", sorted(set(S) - SOURCE_STATES))
def test_other_a_states_are_left_alone(state: OfferingUserState) -> None:
    assert plan_username_patches([ou(1, "ann", state, None)], [ou(2, "ann", S.OK, "ann01")]).is_empty


@pytest.mark.parametrize("state", sorted(set(S) - TARGET_STATES))
def test_b_users_not_ok_are_not_copied(state: OfferingUserState) -> None:
    assert plan_username_patches([ou(1, "ann", S.OK, "x")], [ou(2, "ann", state, "ann01")]).is_empty


@pytest.mark.parametrize("b_name", [None, "", "   "])
def test_b_users_without_a_username_are_not_copied(b_name: str | None) -> None:
    assert plan_username_patches([ou(1, "ann", S.OK, "x")], [ou(2, "ann", S.OK, b_name)]).is_empty


def test_a_restricted_a_user_is_not_patched() -> None:
    # A's operator froze that record; the existing agent leaves it alone too.
    assert plan_username_patches([ou(1, "ann", S.OK, "x", restricted=True)], [ou(2, "ann", S.OK, "y")]).is_empty


def test_a_restricted_b_users_username_is_still_copied() -> None:
    # Restriction is about access, not identity: the B account keeps its name.
    plan = plan_username_patches([ou(1, "ann", S.OK, "x")], [ou(2, "ann", S.OK, "y", restricted=True)])
    assert [(p.cuid, p.username) for p in plan.patches] == [("ann", "y")]


def test_matching_is_on_the_cuid_only() -> None:
    plan = plan_username_patches([ou(1, "ann", S.OK, "x"), ou(3, "bob", S.OK, "y")], [ou(2, "bob", S.OK, "bob01")])
    assert [(p.cuid, p.username) for p in plan.patches] == [("bob", "bob01")]


def test_matching_username_in_a_pending_state_is_still_patched_to_reach_ok() -> None:
    plan = plan_username_patches([ou(1, "ann", S.CREATING, "ann01")], [ou(2, "ann", S.OK, "ann01")])
    assert [p.username for p in plan.patches] == ["ann01"]
    assert plan_username_patches([ou(1, "ann", S.OK, "ann01")], [ou(2, "ann", S.OK, "ann01")]).is_empty


def test_conflicting_b_usernames_for_one_cuid_are_skipped_and_reported() -> None:
    b_users = [ou(2, "ann", S.OK, "ann01"), ou(3, "ann", S.OK, "ann02"), ou(4, "ann", S.OK, "ann01")]
    plan = plan_username_patches([ou(1, "ann", S.OK, "x")], b_users)
    assert plan.is_empty
    assert plan.ambiguous == ("ann",)


# --- the join: one rule per resolve method, the same as membership sync -----------------------------------

ALICE_A = ou(1, "Alice@CUID", S.REQUESTED, None, email="alice@uni.example")


def patched(plan: UsernamePlan) -> list[tuple[str, str]]:
    return [(p.offering_user_uuid, p.username) for p in plan.patches]


@pytest.mark.parametrize(
    "settings",
    [
        MatchSettings(UserResolveMethod.IDENTITY_BRIDGE, UserMatchField.EMAIL, source="isd:puhuri"),
        MatchSettings(UserResolveMethod.REMOTE_EDUTEAMS, UserMatchField.EMAIL),
        MatchSettings(UserResolveMethod.USER_FIELD, UserMatchField.CUID),
    ],
    ids=["identity_bridge", "remote_eduteams", "user_field+cuid"],
)
def test_cuid_methods_join_on_the_cuid_whatever_its_case(settings: MatchSettings) -> None:
    # B lower-cases the CUID; a decoy shares Alice's email but is someone else in the CUID space.
    b_users = [
        ou(2, "alice@cuid", S.OK, "alice01", email="a.smith@other.example"),
        ou(3, "mallory@cuid", S.OK, "decoy", email="alice@uni.example"),
    ]
    plan = plan_username_patches([ALICE_A], b_users, settings.identity_field)
    assert patched(plan) == [(ALICE_A.uuid, "alice01")]


def test_user_field_email_joins_on_the_email_whole_and_case_insensitively() -> None:
    settings = MatchSettings(UserResolveMethod.USER_FIELD, UserMatchField.EMAIL)
    ann_a = ou(1, "ann-on-a", S.OK, "placeholder", email="Ann@Example.org")
    b_users = [
        ou(2, "ann-on-b", S.OK, "ann01", email=" ann@example.org "),
        ou(3, "ann-on-a", S.OK, "same-cuid-other-person", email="ann.other@example.org"),
        ou(4, "jo", S.OK, "substring", email="joann@example.org"),
    ]
    plan = plan_username_patches([ann_a], b_users, settings.identity_field)
    assert patched(plan) == [(ann_a.uuid, "ann01")]
    assert plan.patches[0].cuid == "ann-on-a"


def test_user_field_username_joins_on_the_username_exactly() -> None:
    settings = MatchSettings(UserResolveMethod.USER_FIELD, UserMatchField.USERNAME)
    bob_a = ou(1, "bob", S.OK, "placeholder", email="bob@example.org")
    b_users = [ou(2, "Bob", S.OK, "other-bob", email="bob@example.org"), ou(3, "bob", S.OK, "bob01", email="b@x.org")]
    assert patched(plan_username_patches([bob_a], b_users, settings.identity_field)) == [(bob_a.uuid, "bob01")]
    # Bob and bob are two people under the username rule, one person under the CUID rule.
    assert plan_username_patches([bob_a], b_users[:1], UserMatchField.USERNAME).is_empty
    assert patched(plan_username_patches([bob_a], b_users[:1], UserMatchField.CUID)) == [(bob_a.uuid, "other-bob")]


def test_an_empty_email_joins_no_one() -> None:
    plan = plan_username_patches([ou(1, "ann", S.OK, "x")], [ou(2, "bob", S.OK, "bob01")], UserMatchField.EMAIL)
    assert plan.is_empty


def test_one_key_naming_two_a_users_is_ambiguous_and_skipped() -> None:
    # Waldur does not make emails unique: two A people with one address cannot both own B's account.
    a_users = [ou(1, "ann", S.OK, "x", email="shared@example.org"), ou(3, "bea", S.OK, "y", email="Shared@example.org")]
    plan = plan_username_patches(a_users, [ou(2, "b", S.OK, "b01", email="shared@example.org")], UserMatchField.EMAIL)
    assert plan.is_empty
    assert plan.ambiguous == ("shared@example.org",)


def test_two_records_of_one_a_user_are_both_patched() -> None:
    a_users = [ou(1, "ann", S.OK, "x", user=50), ou(3, "ann", S.REQUESTED, None, user=50)]
    plan = plan_username_patches(a_users, [ou(2, "ann", S.OK, "ann01")])
    assert patched(plan) == [(f"{1:032x}", "ann01"), (f"{3:032x}", "ann01")]


cuids = st.sampled_from(["ann", "bob", "cid", "dan", "eve"])
names = st.none() | st.sampled_from(["", "a1", "b1", "c1", "placeholder"])
states = st.sampled_from(list(S))
records = st.lists(st.tuples(cuids, states, names, st.booleans()), max_size=8)


def world(a_rows: list[tuple[str, OfferingUserState, str | None, bool]]) -> MemoryUsers:
    a = MemoryUsers("A")
    for cuid, state, name, restricted in a_rows:
        who = a.user_by_username(cuid) or a.add_user(cuid)
        a.add_offering_user(who, state, name, is_restricted=restricted)
    return a


def b_records(rows: list[tuple[str, OfferingUserState, str | None, bool]]) -> list[OfferingUser]:
    return [ou(100 + i, cuid, state, name, restricted=r) for i, (cuid, state, name, r) in enumerate(rows)]


@given(a_rows=records, b_rows=records)
def test_plan_is_idempotent_after_applying_it_to_the_fake(
    a_rows: list[tuple[str, OfferingUserState, str | None, bool]],
    b_rows: list[tuple[str, OfferingUserState, str | None, bool]],
) -> None:
    a = world(a_rows)
    b_users = b_records(b_rows)
    plan = plan_username_patches(a.list_offering_users(SOURCE_STATES), b_users)
    for patch in plan.patches:
        a.set_offering_user_username(patch.offering_user_uuid, patch.username)
    assert plan_username_patches(a.list_offering_users(SOURCE_STATES), b_users).is_empty
    # Every patched record now shows B's username and is OK; nothing else changed.
    patched = {p.offering_user_uuid: p.username for p in plan.patches}
    for record in a.offering_users():
        if record.uuid in patched:
            assert (record.username, record.state) == (patched[record.uuid], S.OK)


people = st.sampled_from([("ann", "ann@x.org"), ("Ann", "ANN@x.org"), ("bob", "b@x.org"), ("BOB", "bob@x.org")])
rows = st.lists(st.tuples(people, states, names, st.booleans()), max_size=8)


@given(a_rows=rows, b_rows=rows, match_field=st.sampled_from(list(UserMatchField)))
def test_plan_is_idempotent_under_every_match_field(
    a_rows: list[tuple[tuple[str, str], OfferingUserState, str | None, bool]],
    b_rows: list[tuple[tuple[str, str], OfferingUserState, str | None, bool]],
    match_field: UserMatchField,
) -> None:
    a = MemoryUsers("A")
    for (cuid, email), state, name, restricted in a_rows:
        who = a.user_by_username(cuid) or a.add_user(cuid, email)
        a.add_offering_user(who, state, name, is_restricted=restricted)
    b_users = [
        ou(100 + i, cuid, state, name, restricted=r, email=email)
        for i, ((cuid, email), state, name, r) in enumerate(b_rows)
    ]
    plan = plan_username_patches(a.list_offering_users(SOURCE_STATES), b_users, match_field)
    for patch in plan.patches:
        a.set_offering_user_username(patch.offering_user_uuid, patch.username)
    assert plan_username_patches(a.list_offering_users(SOURCE_STATES), b_users, match_field).is_empty
    assert not {p.offering_user_uuid for p in plan.patches} & {u.uuid for u in a.offering_users() if u.is_restricted}
