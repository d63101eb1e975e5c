"""End-date and limit sync policies: who writes what where."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedcore.enums import EndDateSyncDirection, LimitSyncDirection
from fedcore.policies import EndDateWrite, LimitWrite, Side, decide_end_date, decide_limits

pytestmark = pytest.mark.unit

D = EndDateSyncDirection
JAN, FEB = dt.date(2026, 1, 31), dt.date(2026, 2, 28)
T1 = dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC)
T2 = T1 + dt.timedelta(minutes=5)


@pytest.mark.parametrize("direction", list(D))
def test_equal_end_dates_need_no_write(direction: EndDateSyncDirection) -> None:
    assert decide_end_date(direction, JAN, JAN, a_changed=T1, b_changed=T2) is None


def test_disabled_never_writes() -> None:
    assert decide_end_date(D.DISABLED, JAN, FEB, a_changed=T2) is None


def test_one_way_directions_copy_their_source_including_a_cleared_date() -> None:
    assert decide_end_date(D.A_TO_B, JAN, FEB, b_changed=T2) == EndDateWrite(Side.B, JAN)
    assert decide_end_date(D.B_TO_A, JAN, FEB, a_changed=T2) == EndDateWrite(Side.A, FEB)
    assert decide_end_date(D.A_TO_B, None, FEB) == EndDateWrite(Side.B, None)


@pytest.mark.parametrize(
    ("a_changed", "b_changed", "expected"),
    [
        (T1, T2, EndDateWrite(Side.A, FEB)),  # B changed later
        (T2, T1, EndDateWrite(Side.B, JAN)),  # A changed later
        (None, T1, EndDateWrite(Side.A, FEB)),  # only B's change is known
        (T1, None, EndDateWrite(Side.B, JAN)),  # only A's change is known
        (T1, T1, EndDateWrite(Side.B, JAN)),  # tie: A wins
        (None, None, EndDateWrite(Side.B, JAN)),  # nothing known: A wins
    ],
)
def test_bidirectional_latest_change_wins_and_a_wins_ties(
    a_changed: dt.datetime | None, b_changed: dt.datetime | None, expected: EndDateWrite
) -> None:
    assert decide_end_date(D.BIDIRECTIONAL, JAN, FEB, a_changed=a_changed, b_changed=b_changed) == expected


dates = st.none() | st.dates(dt.date(2025, 1, 1), dt.date(2027, 12, 31))
times = st.none() | st.datetimes(timezones=st.just(dt.UTC))


@given(direction=st.sampled_from(list(D)), a=dates, b=dates, a_changed=times, b_changed=times)
def test_applying_the_decision_converges(
    direction: EndDateSyncDirection,
    a: dt.date | None,
    b: dt.date | None,
    a_changed: dt.datetime | None,
    b_changed: dt.datetime | None,
) -> None:
    write = decide_end_date(direction, a, b, a_changed=a_changed, b_changed=b_changed)
    if write is None:
        assert a == b or direction is D.DISABLED
        return
    new_a, new_b = (write.end_date, b) if write.side is Side.A else (a, write.end_date)
    assert new_a == new_b
    assert decide_end_date(direction, new_a, new_b, a_changed=a_changed, b_changed=b_changed) is None


def test_limits_disabled_never_writes() -> None:
    assert decide_limits(LimitSyncDirection.DISABLED, {"cpu": 1}, {"cpu": 2}) is None


def test_limits_b_to_a_writes_the_merged_limits_and_names_the_changes() -> None:
    write = decide_limits(LimitSyncDirection.B_TO_A, {"cpu": 10, "ram": 4, "gpu": 1}, {"cpu": 12, "ram": 4})
    assert write == LimitWrite({"cpu": 12, "ram": 4, "gpu": 1}, frozenset({"cpu"}))


def test_limits_b_to_a_writes_nothing_when_a_agrees_or_b_says_nothing() -> None:
    assert decide_limits(LimitSyncDirection.B_TO_A, {"cpu": 10}, {"cpu": 10}) is None
    assert decide_limits(LimitSyncDirection.B_TO_A, {"cpu": 10}, {}) is None


def test_limits_b_to_a_adds_components_a_did_not_have() -> None:
    write = decide_limits(LimitSyncDirection.B_TO_A, {}, {"cpu": 3})
    assert write is not None
    assert write.limits == {"cpu": 3}
    assert write.changed == {"cpu"}
