"""User matching: exact picks among Waldur's lookup candidates, bridge payloads, per-user verdicts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedcore.enums import UserMatchField, UserNotFoundAction, UserResolveMethod
from fedcore.matching import (
    MatchSettings,
    MatchStatus,
    UserMatch,
    bridge_attributes,
    judge,
    matched_targets,
    pick_exact,
    same_person,
)
from fedcore.model import UserIdentity

pytestmark = pytest.mark.unit


def user(n: int, username: str = "", email: str = "", **profile: str) -> UserIdentity:
    return UserIdentity(uuid=f"{n:032x}", username=username or f"cuid-{n}", email=email, **profile)


ANN = user(1, "ann@myaccessid.org", "ann@example.org")


def test_email_substring_candidates_are_not_matches() -> None:
    candidates = [user(10, email="joann@example.org"), user(11, email="ann@example.org.evil"), user(12, email="")]
    outcome = pick_exact(ANN, UserMatchField.EMAIL, candidates)
    assert outcome.status is MatchStatus.NOT_FOUND
    assert outcome.target is None


def test_email_exact_match_ignores_case_and_surrounding_space() -> None:
    candidates = [user(10, email="joann@example.org"), user(11, email=" ANN@Example.org ")]
    outcome = pick_exact(ANN, UserMatchField.EMAIL, candidates)
    assert outcome.status is MatchStatus.MATCHED
    assert outcome.target == f"{11:032x}"


def test_two_exact_matches_are_ambiguous_but_duplicates_of_one_user_are_not() -> None:
    twice = [user(11, email="ann@example.org"), user(11, email="ann@example.org")]
    assert pick_exact(ANN, UserMatchField.EMAIL, twice).status is MatchStatus.MATCHED
    two = [user(11, email="ann@example.org"), user(12, email="Ann@example.org")]
    outcome = pick_exact(ANN, UserMatchField.EMAIL, two)
    assert outcome.status is MatchStatus.AMBIGUOUS
    assert "2" in outcome.detail


def test_cuid_and_username_match_the_b_username_exactly_and_case_sensitively() -> None:
    b_same = user(20, "ann@myaccessid.org")
    b_case = user(21, "ANN@myaccessid.org")
    assert same_person(ANN, b_same, UserMatchField.CUID)
    assert same_person(ANN, b_same, UserMatchField.USERNAME)
    assert not same_person(ANN, b_case, UserMatchField.CUID)


def test_a_user_without_the_field_is_not_found_without_matching_empty_values() -> None:
    no_email = user(2, "bob")
    outcome = pick_exact(no_email, UserMatchField.EMAIL, [user(30, email="")])
    assert outcome.status is MatchStatus.NOT_FOUND
    assert "no email" in outcome.detail


@pytest.mark.parametrize(
    ("status", "action", "failed"),
    [
        (MatchStatus.MATCHED, UserNotFoundAction.FAIL, False),
        (MatchStatus.NOT_FOUND, UserNotFoundAction.WARN, False),
        (MatchStatus.NOT_FOUND, UserNotFoundAction.FAIL, True),
        (MatchStatus.AMBIGUOUS, UserNotFoundAction.FAIL, True),
        (MatchStatus.AMBIGUOUS, UserNotFoundAction.WARN, False),
        (MatchStatus.REFUSED, UserNotFoundAction.WARN, True),
        (MatchStatus.RETRY, UserNotFoundAction.FAIL, False),
    ],
)
def test_judge_applies_the_not_found_action_per_user(
    status: MatchStatus, action: UserNotFoundAction, failed: bool
) -> None:
    target = f"{5:032x}" if status is MatchStatus.MATCHED else None
    assert judge(UserMatch(ANN, status, target), action).failed is failed


def test_bridge_attributes_sends_only_allowed_non_empty_fields() -> None:
    full = UserIdentity(
        uuid=f"{3:032x}",
        username="c",
        email="c@example.org",
        first_name="Cee",
        last_name=" ",
        civil_number="123",
        affiliations=("member@uni",),
    )
    sent = bridge_attributes(full, {"first_name", "last_name", "email", "affiliations"})
    assert sent == {"email": "c@example.org", "first_name": "Cee", "affiliations": ["member@uni"]}


def test_match_settings_need_a_valid_source_for_the_identity_bridge() -> None:
    with pytest.raises(ValueError, match="needs a source"):
        MatchSettings()
    with pytest.raises(ValueError, match="isd:name"):
        MatchSettings(source="puhuri")
    assert MatchSettings(UserResolveMethod.USER_FIELD, UserMatchField.EMAIL).identity_field is UserMatchField.EMAIL
    assert MatchSettings(match_field=UserMatchField.EMAIL, source="isd:x").identity_field is UserMatchField.CUID


def test_matched_targets_maps_only_matches() -> None:
    outcomes = [UserMatch(ANN, MatchStatus.MATCHED, f"{9:032x}"), UserMatch(user(2), MatchStatus.NOT_FOUND)]
    assert matched_targets(outcomes) == {ANN.uuid: f"{9:032x}"}


emails = st.emails().map(lambda e: e[:60])


@given(wanted=emails, others=st.lists(emails, max_size=6), prefix=st.text("abc.", max_size=3))
def test_email_matching_is_exact_whatever_the_substring_candidates(wanted: str, others: list[str], prefix: str) -> None:
    a_user = user(1, email=wanted)
    # What Waldur's substring filter could return: near-misses around the wanted address, plus others.
    candidates = [user(100 + i, email=e) for i, e in enumerate([prefix + wanted, wanted + prefix, *others])]
    exact = {c.uuid for c in candidates if c.email.strip().casefold() == wanted.strip().casefold()}
    outcome = pick_exact(a_user, UserMatchField.EMAIL, candidates)
    if len(exact) == 1:
        assert outcome.status is MatchStatus.MATCHED
        assert outcome.target in exact
    else:
        assert outcome.target is None
        assert outcome.status is (MatchStatus.NOT_FOUND if not exact else MatchStatus.AMBIGUOUS)
