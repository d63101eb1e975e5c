"""Membership planning: behaviours pinned by mutation testing (scripts/mutation, docs/mutation.md)."""

from __future__ import annotations

import pytest

from fedcore.enums import OfferingUserState, UserMatchField
from fedcore.memberships import RoleMap, known_identities, plan_memberships
from fedcore.model import Member, OfferingUser, UserIdentity

pytestmark = pytest.mark.unit

ROLES = RoleMap(default="PROJECT.ADMIN")


def test_an_unresolved_team_member_is_recognised_on_the_federations_field_not_the_username() -> None:
    # Email matching: Ann's lookup failed this pass. Her B account (another username, the same email) must be
    # left alone although she is also among A's known offering users.
    ann_a = UserIdentity(uuid=f"a{1:031x}", username="ann-a", email="ann@example.org")
    ann_b = UserIdentity(uuid=f"b{1:031x}", username="ann-b", email="ann@example.org")
    plan = plan_memberships(
        a_team=[Member(ann_a, "PROJECT.MEMBER")],
        resolved={},
        b_members=[Member(ann_b, "PROJECT.ADMIN")],
        roles=ROLES,
        match_field=UserMatchField.EMAIL,
        known=[ann_a],
    )
    assert plan.is_empty


def test_known_identities_keep_one_identity_per_a_user() -> None:
    records = [
        OfferingUser(
            uuid=f"{n:032x}",
            user_uuid=f"a{n:031x}",
            user_username=cuid,
            offering_uuid=f"{2:032x}",
            state=OfferingUserState.OK,
        )
        for n, cuid in [(1, "ann"), (2, "bob")]
    ]
    assert [(u.uuid, u.username) for u in known_identities(records)] == [
        (f"a{1:031x}", "ann"),
        (f"a{2:031x}", "bob"),
    ]
