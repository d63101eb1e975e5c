"""User matching: exact picks among Waldur's lookup candidates, bridge payloads, per-user verdicts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedcore.enums import OfferingUserState, UserMatchField, UserNotFoundAction, UserResolveMethod
from fedcore.matching import (
    MatchSettings,
    MatchStatus,
    UserMatch,
    bridge_attributes,
    judge,
    match_key,
    matched_targets,
    offering_user_value,
    pick_exact,
    same_person,
)
from fedcore.model import OfferingUser, UserIdentity

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


def test_cuids_match_whatever_the_case_usernames_only_exactly() -> None:
    b_same = user(20, "ann@myaccessid.org")
    b_case = user(21, " ANN@MyAccessID.org ")
    assert same_person(ANN, b_same, UserMatchField.CUID)
    assert same_person(ANN, b_same, UserMatchField.USERNAME)
    assert same_person(ANN, b_case, UserMatchField.CUID)
    assert not same_person(ANN, b_case, UserMatchField.USERNAME)
    assert same_person(user(1, "Alice@CUID"), user(2, "alice@cuid"), UserMatchField.CUID)
    assert not same_person(user(1, "Bob"), user(2, "bob"), UserMatchField.USERNAME)


@pytest.mark.parametrize(
    ("value", "match_field", "key"),
    [
        (" Alice@CUID ", UserMatchField.CUID, "alice@cuid"),
        ("Ann@Example.ORG", UserMatchField.EMAIL, "ann@example.org"),
        (" Bob ", UserMatchField.USERNAME, "Bob"),
        ("Stra\u00dfe@cuid", UserMatchField.CUID, "strasse@cuid"),
        ("   ", UserMatchField.CUID, ""),
    ],
)
def test_match_key_is_the_one_comparison_rule(value: str, match_field: UserMatchField, key: str) -> None:
    assert match_key(value, match_field) == key


def test_offering_users_are_identified_by_cuid_or_email() -> None:
    record = OfferingUser(
        uuid=f"{1:032x}",
        user_uuid=f"{2:032x}",
        user_username="ann@cuid",
        offering_uuid=f"{3:032x}",
        state=OfferingUserState.OK,
        user_email="ann@example.org",
    )
    assert offering_user_value(record, UserMatchField.CUID) == "ann@cuid"
    assert offering_user_value(record, UserMatchField.USERNAME) == "ann@cuid"
    assert offering_user_value(record, UserMatchField.EMAIL) == "ann@example.org"


@given(a=st.text(max_size=12), b=st.text(max_size=12), match_field=st.sampled_from(list(UserMatchField)))
def test_same_person_is_symmetric_and_keys_are_stable(a: str, b: str, match_field: UserMatchField) -> None:
    left, right = user(1, a, a), user(2, b, b)
    assert same_person(left, right, match_field) == same_person(right, left, match_field)
    assert match_key(match_key(a, match_field), match_field) == match_key(a, match_field)


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
