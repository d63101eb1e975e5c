"""Username sync planning B -> A: who gets patched, and the plan's idempotence on the fake."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.memory.users import MemoryUsers
from fedcore.enums import OfferingUserState
from fedcore.model import OfferingUser
from fedcore.usernames import SOURCE_STATES, TARGET_STATES, plan_username_patches

pytestmark = pytest.mark.unit

S = OfferingUserState


def ou(n: int, cuid: str, state: OfferingUserState, username: str | None, *, restricted: bool = False) -> OfferingUser:
    return OfferingUser(
        uuid=f"{n:032x}",
        user_uuid=f"{n + 1000:032x}",
        user_username=cuid,
        offering_uuid=f"{7:032x}",
        state=state,
        username=username,
        is_restricted=restricted,
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


def test_restricted_users_are_excluded_on_both_sides() -> None:
    assert plan_username_patches([ou(1, "ann", S.OK, "x", restricted=True)], [ou(2, "ann", S.OK, "y")]).is_empty
    assert plan_username_patches([ou(1, "ann", S.OK, "x")], [ou(2, "ann", S.OK, "y", restricted=True)]).is_empty


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
