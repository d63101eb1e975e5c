"""Username sync B -> A over the in-memory Waldurs: every identity field, one user at a time, the write loop."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.memory.faults import Faults
from adapters.memory.users import MemoryUsers
from fedcore.enums import OfferingUserState, UserMatchField
from fedcore.errors import Conflict, TransientError
from fedcore.services._outcomes import Outcomes
from fedcore.services.usernames import UsernameSyncReport, sync_username, sync_usernames

pytestmark = pytest.mark.unit

S = OfferingUserState


# --- username sync under every identity field, and for one user ---------------------------------------


def test_sync_usernames_under_email_matching_patches_by_email() -> None:
    a, b = MemoryUsers("A"), MemoryUsers("B")
    record = a.add_offering_user(a.add_user("ann-a", "Ann@Example.org"), S.REQUESTED)
    b.add_offering_user(b.add_user("ann-b", "ann@example.org"), S.OK, "ann01")
    b.add_offering_user(b.add_user("ann-a", "someone.else@example.org"), S.OK, "wrong")
    report = sync_usernames(a, b, UserMatchField.EMAIL)
    assert [p.username for p in report.applied] == ["ann01"]
    assert (a.offering_user(record.uuid).username, a.offering_user(record.uuid).state) == ("ann01", S.OK)


def test_sync_username_reads_one_user_per_side_and_patches_once() -> None:
    shared = Faults()
    a, b = MemoryUsers("A", faults=shared), MemoryUsers("B", faults=shared)
    record = a.add_offering_user(a.add_user("Alice@CUID"), S.REQUESTED)
    a.add_offering_user(a.add_user("bob@cuid"), S.REQUESTED)
    b.add_offering_user(b.add_user("alice@cuid"), S.OK, "alice01")
    b.add_offering_user(b.add_user("bob@cuid"), S.OK, "bob01")
    report = sync_username(a, b, "Alice@CUID")
    assert [(p.cuid, p.username) for p in report.applied] == [("Alice@CUID", "alice01")]
    assert a.offering_user(record.uuid).state is S.OK
    assert shared.calls == {"A.offering_users_of": 1, "B.offering_users_of": 1, "A.set_offering_user_username": 1}
    shared.reset_counts()
    assert sync_username(a, b, "alice@cuid").applied == ()
    assert "A.set_offering_user_username" not in shared.calls
    assert {u.username for u in a.offering_users()} == {"alice01", None}  # bob waits for his own event


def test_sync_username_under_email_finds_the_b_person_first() -> None:
    shared = Faults()
    a, b = MemoryUsers("A", faults=shared), MemoryUsers("B", faults=shared)
    record = a.add_offering_user(a.add_user("ann-a", "ann@example.org"), S.OK, "placeholder")
    b.add_offering_user(b.add_user("jo", "joann@example.org"), S.OK, "jo01")
    b.add_offering_user(b.add_user("ann-b", "ANN@example.org"), S.OK, "ann01")
    report = sync_username(a, b, "ann-a", UserMatchField.EMAIL)
    assert [p.username for p in report.applied] == ["ann01"]
    assert a.offering_user(record.uuid).username == "ann01"
    assert shared.calls == {
        "A.offering_users_of": 1,
        "B.find_users": 1,
        "B.offering_users_of": 1,
        "A.set_offering_user_username": 1,
    }


def test_sync_username_without_an_a_email_does_nothing_under_email_matching() -> None:
    a, b = MemoryUsers("A"), MemoryUsers("B")
    a.add_offering_user(a.add_user("ann-a"), S.REQUESTED)
    b.add_offering_user(b.add_user("ann-b", ""), S.OK, "ann01")
    assert sync_username(a, b, "ann-a", UserMatchField.EMAIL) == UsernameSyncReport()
    assert b.faults.calls["B.find_users"] == 0


def test_sync_username_restricted_rule_on_both_sides() -> None:
    a, b = MemoryUsers("A"), MemoryUsers("B")
    frozen = a.add_offering_user(a.add_user("ann"), S.OK, "old", is_restricted=True)
    b.add_offering_user(b.add_user("ann"), S.OK, "ann01")
    open_a = a.add_offering_user(a.add_user("bob"), S.OK, "old")
    b.add_offering_user(b.add_user("bob"), S.OK, "bob01", is_restricted=True)
    assert sync_username(a, b, "ann").applied == ()
    assert a.offering_user(frozen.uuid).username == "old"
    assert [p.username for p in sync_username(a, b, "bob").applied] == ["bob01"]
    assert a.offering_user(open_a.uuid).username == "bob01"


def test_sync_username_for_an_unknown_user_reads_and_writes_nothing_else() -> None:
    a, b = MemoryUsers("A"), MemoryUsers("B")
    assert sync_username(a, b, "nobody@cuid") == UsernameSyncReport()


def test_sync_username_failures_are_reported_like_the_full_pass() -> None:
    a, b = MemoryUsers("A"), MemoryUsers("B")
    a.add_offering_user(a.add_user("subject@cuid"), S.OK, "placeholder")
    b.add_offering_user(b.add_user("subject@cuid"), S.OK, "x1")
    a.faults.fail_next("set_offering_user_username")
    report = sync_username(a, b, "subject@cuid")
    assert [f.patch.username for f in report.retry] == ["x1"]
    b.faults.fail_next("offering_users_of")
    with pytest.raises(TransientError):
        sync_username(a, b, "subject@cuid")


PEOPLE = [("ann", "ann@x.org"), ("Ann", "ANN@x.org"), ("bob", "bob@x.org"), ("cid", "cid@x.org")]
person_rows = st.lists(
    st.tuples(st.sampled_from(PEOPLE), st.sampled_from(list(S)), st.sampled_from([None, "n1", "n2"]), st.booleans()),
    max_size=6,
)


def build(side: str, rows: list[tuple[tuple[str, str], OfferingUserState, str | None, bool]]) -> MemoryUsers:
    fake = MemoryUsers(side)
    for (cuid, email), state, name, restricted in rows:
        who = fake.user_by_username(cuid) or fake.add_user(cuid, email)
        fake.add_offering_user(who, state, name, is_restricted=restricted)
    return fake


@given(a_rows=person_rows, b_rows=person_rows, match_field=st.sampled_from(list(UserMatchField)))
def test_one_user_at_a_time_reaches_what_the_full_pass_reaches(
    a_rows: list[tuple[tuple[str, str], OfferingUserState, str | None, bool]],
    b_rows: list[tuple[tuple[str, str], OfferingUserState, str | None, bool]],
    match_field: UserMatchField,
) -> None:
    full_a, single_a, b = build("A", a_rows), build("A", a_rows), build("B", b_rows)
    sync_usernames(full_a, b, match_field)
    for cuid in sorted({u.user_username for u in single_a.offering_users()}):
        sync_username(single_a, b, cuid, match_field)
    assert [(u.username, u.state) for u in single_a.offering_users()] == [
        (u.username, u.state) for u in full_a.offering_users()
    ]


# --- the shared write loop ----------------------------------------------------------------------------


def test_outcomes_let_unexpected_errors_through() -> None:
    outcomes: Outcomes[str, tuple[str, str]] = Outcomes(lambda item, detail: (item, detail))

    def broken() -> None:
        raise ValueError("a bug, not an outcome")

    assert outcomes.attempt("ok", lambda: None)
    with pytest.raises(ValueError, match="a bug"):
        outcomes.attempt("bug", broken)
    assert not outcomes.attempt("later", functools.partial(_raise, TransientError("t/o")))
    assert not outcomes.attempt("never", functools.partial(_raise, Conflict("no")))
    assert (outcomes.applied, outcomes.retry, outcomes.failed) == (["ok"], [("later", "t/o")], [("never", "no")])


def _raise(error: Exception) -> None:
    raise error
