"""The fake clock satisfies the Clock port and only moves forward."""

from __future__ import annotations

import datetime as dt

import pytest

from adapters.memory.clock import FakeClock
from fedcore.ports import Clock

pytestmark = pytest.mark.unit


def test_fake_clock_is_a_clock_and_advances() -> None:
    clock: Clock = FakeClock(dt.datetime(2026, 5, 1, tzinfo=dt.UTC))
    assert clock.now() == dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    assert isinstance(clock, FakeClock)
    assert clock.advance(90, minutes=1) == dt.datetime(2026, 5, 1, 0, 2, 30, tzinfo=dt.UTC)


def test_fake_clock_refuses_naive_times_and_going_back() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FakeClock(dt.datetime(2026, 5, 1))
    with pytest.raises(ValueError, match="backwards"):
        FakeClock().advance(-1)
