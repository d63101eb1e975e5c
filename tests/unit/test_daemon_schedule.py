"""The daemon's bookkeeping with plain numbers for time: periods, due jobs, exponential backoff of failing orders."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.config import Periods
from fedcore.errors import ConfigError
from fedcore.ids import Uuid
from runners.schedule import DEFAULT_MINUTES, ENV_VARS, BackoffPolicy, OrderBackoff, Scheduler, resolve_periods
from runners.wiring import Mode

pytestmark = pytest.mark.unit

ORDER_1, ORDER_2 = Uuid("1" * 32), Uuid("2" * 32)


def test_periods_come_from_the_file_then_the_agents_variables_then_fedcores_defaults() -> None:
    environ = {ENV_VARS[Mode.ORDER_PROCESS]: "5", ENV_VARS[Mode.REPORT]: " 0.5 ", ENV_VARS[Mode.MEMBERSHIP_SYNC]: ""}
    periods = resolve_periods(Periods(order_process=2.0), environ)
    assert (periods[Mode.ORDER_PROCESS].minutes, periods[Mode.ORDER_PROCESS].source) == (
        2.0, "periods.order_process in the configuration")
    assert (periods[Mode.REPORT].seconds, periods[Mode.REPORT].source) == (
        30.0, "$WALDUR_SITE_AGENT_REPORT_PERIOD_MINUTES")
    assert (periods[Mode.MEMBERSHIP_SYNC].minutes, periods[Mode.MEMBERSHIP_SYNC].source) == (
        DEFAULT_MINUTES[Mode.MEMBERSHIP_SYNC], "fedcore's default")
    assert periods[Mode.USERNAME_SYNC].minutes == DEFAULT_MINUTES[Mode.USERNAME_SYNC]


def test_fedcores_defaults_are_shorter_than_the_agents() -> None:
    agent = {Mode.ORDER_PROCESS: 5, Mode.MEMBERSHIP_SYNC: 5, Mode.REPORT: 30, Mode.USERNAME_SYNC: 60}
    assert all(DEFAULT_MINUTES[m] < agent[m] for m in Mode)
    assert ENV_VARS[Mode.USERNAME_SYNC] == "WALDUR_SITE_AGENT_RECONCILIATION_PERIOD_MINUTES"


def test_a_variable_that_is_not_a_positive_number_is_a_config_error_naming_it() -> None:
    environ = {ENV_VARS[Mode.ORDER_PROCESS]: "five", ENV_VARS[Mode.REPORT]: "-1", ENV_VARS[Mode.USERNAME_SYNC]: "inf"}
    with pytest.raises(ConfigError) as caught:
        resolve_periods(Periods(), environ)
    assert caught.value.problems == (
        "WALDUR_SITE_AGENT_ORDER_PROCESS_PERIOD_MINUTES: must be a positive number of minutes, got 'five'",
        "WALDUR_SITE_AGENT_REPORT_PERIOD_MINUTES: must be a positive number of minutes, got '-1'",
        "WALDUR_SITE_AGENT_RECONCILIATION_PERIOD_MINUTES: must be a positive number of minutes, got 'inf'",
    )
    # A value in the file wins, so a bad variable underneath it is never read.
    resolve_periods(Periods(order_process=1, report=1, username_sync=1), environ)


def test_every_job_is_due_at_once_then_one_period_after_it_started() -> None:
    scheduler = Scheduler({"orders": 60.0, "report": 600.0})
    assert scheduler.due(0.0) == ["orders", "report"]
    scheduler.started("orders", 0.0)
    scheduler.started("report", 0.0)
    assert scheduler.due(1000.0) == []  # running jobs are never due
    assert scheduler.seconds_to_next(5.0) is None
    scheduler.finished("orders")
    assert scheduler.seconds_to_next(5.0) == 55.0
    assert scheduler.due(59.9) == []
    assert scheduler.due(60.0) == ["orders"]
    scheduler.finished("report")
    assert scheduler.running == frozenset()
    assert scheduler.due(600.0) == ["orders", "report"]


def test_a_job_that_overran_its_period_is_due_again_as_soon_as_it_ends() -> None:
    scheduler = Scheduler({"orders": 60.0})
    scheduler.started("orders", 0.0)
    assert scheduler.running == frozenset({"orders"})
    scheduler.finished("orders")
    assert scheduler.seconds_to_next(200.0) == 0.0
    assert scheduler.due(200.0) == ["orders"]


def test_backoff_doubles_from_the_first_failure_up_to_the_cap() -> None:
    policy = BackoffPolicy(initial=30.0, maximum=600.0)
    assert [policy.delay(n) for n in range(7)] == [0.0, 30.0, 60.0, 120.0, 240.0, 480.0, 600.0]
    assert policy.delay(10_000) == 600.0


@given(st.integers(1, 200), st.floats(0.1, 100.0), st.floats(100.0, 10_000.0))
def test_backoff_never_shrinks_and_never_exceeds_the_cap(attempts: int, initial: float, maximum: float) -> None:
    policy = BackoffPolicy(initial, maximum)
    assert initial <= policy.delay(attempts) <= policy.delay(attempts + 1) <= maximum


def test_a_failing_order_waits_out_its_backoff_while_a_healthy_one_never_waits() -> None:
    table = OrderBackoff(BackoffPolicy(initial=30.0, maximum=100.0))
    first = table.record("hpc", ORDER_1, fault=True, error="transient: B 503", now=0.0)
    assert first is not None
    assert (first.attempts, first.last_error, first.next_try) == (1, "transient: B 503", 30.0)
    assert table.record("hpc", ORDER_2, fault=False, error="", now=0.0) is None
    assert table.blocked("hpc", 10.0) == {ORDER_1}
    assert table.blocked("other", 10.0) == frozenset()
    assert table.blocked("hpc", 30.0) == frozenset()
    second = table.record("hpc", ORDER_1, fault=True, error="transient: B 502", now=30.0)
    assert second is not None
    assert (second.attempts, second.next_try) == (2, 90.0)
    third = table.record("hpc", ORDER_1, fault=True, error="transient", now=90.0)
    assert third is not None
    assert third.next_try == 190.0  # capped at 100 s
    assert table.record("hpc", ORDER_1, fault=False, error="", now=190.0) is None
    assert table.get("hpc", ORDER_1) is None
    again = table.record("hpc", ORDER_1, fault=True, error="transient", now=200.0)
    assert again is not None
    assert again.attempts == 1  # a success resets the count


def test_orders_no_longer_open_on_a_are_forgotten_for_their_offering_only() -> None:
    table = OrderBackoff()
    for offering in ("hpc", "cloud"):
        for order in (ORDER_1, ORDER_2):
            table.record(offering, order, fault=True, error="x", now=0.0)
    table.keep_only("hpc", {ORDER_2})
    assert set(table.troubles("hpc")) == {("hpc", ORDER_2)}
    assert set(table.troubles("cloud")) == {("cloud", ORDER_1), ("cloud", ORDER_2)}
    assert len(table.troubles()) == 3
