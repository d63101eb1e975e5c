"""User matching: behaviours pinned by mutation testing (scripts/mutation, docs/mutation.md)."""

from __future__ import annotations

import pytest

from fedcore.enums import UserMatchField, UserResolveMethod
from fedcore.matching import MatchSettings, MatchStatus, UserMatch, matched_targets, pick_exact
from fedcore.model import UserIdentity

pytestmark = pytest.mark.unit

EMAIL = UserMatchField.EMAIL


def user(n: int, username: str = "", email: str = "") -> UserIdentity:
    return UserIdentity(uuid=f"{n:032x}", username=username or f"cuid-{n}", email=email)


ANN = user(1, "ann@myaccessid.org", "ann@example.org")


def test_the_identity_bridge_without_a_source_is_refused_saying_what_it_needs() -> None:
    with pytest.raises(ValueError, match=r"^the identity_bridge method needs a source \(e\.g\. 'isd:puhuri'\)$"):
        MatchSettings(method=UserResolveMethod.IDENTITY_BRIDGE)


def test_every_pick_outcome_names_the_a_user_it_is_about() -> None:
    nobody = user(2, "nobody")
    assert pick_exact(nobody, EMAIL, []).user == nobody  # no email to match on
    assert pick_exact(ANN, EMAIL, [user(10, email="ann@example.org")]).user == ANN
    assert pick_exact(ANN, EMAIL, [user(10, email="joann@example.org")]).user == ANN
    assert pick_exact(ANN, EMAIL, [user(10, email="ann@example.org"), user(11, email="ANN@example.org")]).user == ANN


def test_a_miss_says_which_field_found_no_b_user() -> None:
    outcome = pick_exact(ANN, EMAIL, [user(10, email="joann@example.org")])
    assert outcome.status is MatchStatus.NOT_FOUND
    assert outcome.detail == "no B user with this email"


def test_matched_targets_keeps_only_matched_outcomes_that_have_a_target() -> None:
    bob, cid = user(2, "bob"), user(3, "cid")
    outcomes = [
        UserMatch(ANN, MatchStatus.MATCHED, target=f"{10:032x}"),
        UserMatch(bob, MatchStatus.RETRY, target=f"{11:032x}"),
        UserMatch(cid, MatchStatus.MATCHED),
    ]
    assert matched_targets(outcomes) == {ANN.uuid: f"{10:032x}"}
