"""Username sync planning: behaviours pinned by mutation testing (scripts/mutation, docs/mutation.md)."""

from __future__ import annotations

import pytest

from fedcore.enums import OfferingUserState, UserMatchField
from fedcore.model import OfferingUser
from fedcore.usernames import plan_username_patches, target_usernames

pytestmark = pytest.mark.unit

S = OfferingUserState


def ou(n: int, cuid: str, username: str | None, state: OfferingUserState = S.OK) -> OfferingUser:
    return OfferingUser(
        uuid=f"{n:032x}",
        user_uuid=f"{n + 1000:032x}",
        user_username=cuid,
        offering_uuid=f"{7:032x}",
        state=state,
        username=username,
    )


def test_a_key_with_one_b_username_is_not_ambiguous() -> None:
    wanted, ambiguous = target_usernames([ou(1, "ann", "ann_b"), ou(2, "bob", "bob_b")])
    assert wanted == {"ann": "ann_b", "bob": "bob_b"}
    assert ambiguous == ()


def test_a_plan_without_conflicts_reports_nothing_as_ambiguous() -> None:
    plan = plan_username_patches([ou(1, "ann", "old")], [ou(2, "ann", "ann_b")])
    assert [p.username for p in plan.patches] == ["ann_b"]
    assert plan.ambiguous == ()


def test_only_keys_that_are_both_wanted_and_shared_are_reported_as_ambiguous() -> None:
    # "bob" names two A users but B has no name for him: nothing to patch, nothing ambiguous.
    a_users = [ou(1, "ann", "old"), ou(3, "bob", None), ou(4, "bob", None)]
    plan = plan_username_patches(a_users, [ou(2, "ann", "ann_b")])
    assert plan.ambiguous == ()


def test_username_matching_keeps_the_case_of_a_cuids() -> None:
    # Under username matching "Bob" and "bob" are two people: A's "Bob" gets B's "Bob"'s name only.
    b_users = [ou(1, "Bob", "bob_upper"), ou(2, "bob", "bob_lower")]
    plan = plan_username_patches([ou(11, "Bob", None, S.REQUESTED)], b_users, UserMatchField.USERNAME)
    assert [(p.cuid, p.username) for p in plan.patches] == [("Bob", "bob_upper")]
