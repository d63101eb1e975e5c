"""The daemon over in-memory Waldurs with a fake clock: what a tick runs, exit codes, backoff, isolation, stopping."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Sequence

import pytest
from attrs import evolve
from daemon_kit import PassingOrders, Recorder, Ticker, Worlds, config, daemon

from fedcore.enums import OrderState
from fedcore.ids import Uuid
from fedcore.lifecycle import idempotency_key
from fedcore.memberships import ChangeKind, MembershipChange
from fedcore.model import Order
from fedcore.ports import SourceOrders
from fedcore.services.membership_pass import MembershipPassReport, ProjectOutcome
from fedcore.services.memberships import ChangeFailure, MembershipReport
from fedcore.services.report_pass import ReportPassReport, UsageItem
from fedcore.services.usage import UsageReport
from fedcore.usage import UsagePlan
from runners.daemon import Daemon, TickReport
from runners.daemon_ports import PRIVATE_FAILURE, CallReporter, daemon_ports
from runners.dryrun import WriteJournal
from runners.exitcodes import ExitCode
from runners.jobs import JobResult, membership_verdict, report_verdict
from runners.wiring import MODES, Mode, Ports

pytestmark = pytest.mark.unit


def b_order_of(worlds: Worlds, offering: str, a_order: Order) -> Order:
    [b_order] = worlds.built[offering].b.orders_with_key(idempotency_key(a_order.uuid))
    return b_order


def test_the_first_tick_runs_every_mode_of_every_offering_that_takes_part() -> None:
    cfg = config("hpc", "cloud")
    cfg = evolve(cfg, offerings=(cfg.offerings[0], evolve(cfg.offerings[1], reporting_backend="")))
    telemetry = Recorder()
    report = daemon(cfg, Worlds(), modes=MODES, telemetry=telemetry).tick()
    ran = {(r.offering, r.mode) for r in report.results}
    assert ran == {(o, m) for o in ("hpc", "cloud") for m in Mode} - {("cloud", Mode.REPORT)}
    assert report.exit_code == ExitCode.OK
    assert sorted(telemetry.passes) == sorted((o, str(m), True) for o, m in ran)


def test_by_default_every_mode_an_offering_takes_part_in_runs() -> None:
    cfg = config("hpc")
    quiet = evolve(cfg, offerings=(evolve(cfg.offerings[0], reporting_backend="",
                                          username_reconciliation_enabled=False),))
    assert Daemon(quiet, ports=Worlds(), environ={}).modes == (Mode.ORDER_PROCESS, Mode.MEMBERSHIP_SYNC)


def test_an_order_goes_to_b_and_back_over_ticks_on_schedule() -> None:
    worlds, ticker, telemetry = Worlds(), Ticker(), Recorder()
    runner = daemon(config("hpc"), worlds, ticker=ticker, telemetry=telemetry)
    order, _ = worlds.order("hpc", node_hours=2)
    assert runner.tick().exit_code == ExitCode.OK
    b_order = b_order_of(worlds, "hpc", order)
    assert b_order.limits == {"cpu_k_hours": 256, "mem_gb_hours": 1024}
    worlds.built["hpc"].b.provider_finish(b_order.uuid, OrderState.DONE)
    ticker.advance(59)
    assert runner.tick().results == ()  # order_process runs every minute by default
    ticker.advance(1)
    [result] = runner.tick().results
    assert (result.ok, result.summary) == (True, "1 open order(s): 1 completed")
    assert worlds.built["hpc"].a.orders[order.uuid].state == OrderState.DONE
    assert telemetry.orders == [("hpc", "Create", "waiting"), ("hpc", "Create", "completed")]
    assert telemetry.waiting[0][:2] == ("hpc", 1)


def test_periods_can_be_given_in_seconds() -> None:
    worlds, ticker = Worlds(), Ticker()
    runner = daemon(config("hpc"), worlds, ticker=ticker, periods={Mode.ORDER_PROCESS: 5.0})
    runner.tick()
    ticker.advance(5)
    assert len(runner.tick().results) == 1
    assert runner.periods[Mode.ORDER_PROCESS].source == "given"


def test_a_failing_order_backs_off_while_a_healthy_one_goes_on_every_pass() -> None:
    worlds, ticker = Worlds(), Ticker()
    runner = daemon(config("hpc"), worlds, ticker=ticker)
    a = worlds.built["hpc"].a
    troubled, _ = worlds.order("hpc")
    worlds.built["hpc"].faults.fail_next("approve")
    report = runner.tick()
    assert report.exit_code == ExitCode.PARTIAL
    trouble = runner.backoff.get("hpc", troubled.uuid)
    assert trouble is not None
    assert (trouble.attempts, trouble.next_try) == (1, ticker.now + 120)
    assert trouble.last_error.startswith("transient: ")
    healthy, _ = worlds.order("hpc")
    ticker.advance(60)
    [result] = runner.tick().results
    assert result.ok
    assert result.summary == "2 open order(s): 1 waiting; 1 in backoff"
    assert a.orders[troubled.uuid].state == OrderState.PENDING_PROVIDER
    assert a.orders[healthy.uuid].state == OrderState.EXECUTING
    ticker.advance(60)
    [result] = runner.tick().results
    assert result.summary == "2 open order(s): 2 waiting"
    assert a.orders[troubled.uuid].state == OrderState.EXECUTING
    assert runner.backoff.troubles() == {}


def test_a_finished_order_leaves_the_backoff_table() -> None:
    worlds, ticker = Worlds(), Ticker()
    runner = daemon(config("hpc"), worlds, ticker=ticker)
    order, _ = worlds.order("hpc")
    worlds.built["hpc"].faults.fail_next("approve")
    runner.tick()
    worlds.built["hpc"].a.reject(order.uuid, "withdrawn by the user")  # someone else ends it on A
    ticker.advance(60)
    runner.tick()
    assert runner.backoff.troubles() == {}


def test_an_unreachable_offering_holds_up_no_other() -> None:
    worlds = Worlds()
    runner = daemon(config("down", "refused", "up"), worlds)
    worlds.built["down"].faults.fail_next("list_open_orders", times=10)
    worlds.built["refused"].faults.refuse_next("list_open_orders", times=10)
    order, _ = worlds.order("up")
    report = runner.tick()
    by_name = {r.offering: r for r in report.results}
    assert by_name["down"].unreachable
    assert by_name["refused"].unreachable
    assert "injected" in by_name["down"].error
    assert by_name["up"].ok
    assert worlds.built["up"].a.orders[order.uuid].state == OrderState.EXECUTING
    assert report.exit_code == ExitCode.UNREACHABLE


class Broken(PassingOrders):
    """A's orders that fail like a bug would (not a port error)."""

    def list_open_orders(self) -> Sequence[Order]:
        raise RuntimeError("a bug")


def test_a_crash_in_one_offerings_pass_is_logged_and_the_others_go_on(caplog: pytest.LogCaptureFixture) -> None:
    worlds = Worlds()
    worlds.wrap["buggy"] = lambda ports: evolve(ports, a_orders=Broken(ports.a_orders))
    runner = daemon(config("buggy", "fine"), worlds)
    with caplog.at_level(logging.ERROR):
        report = runner.tick()
    by_name = {r.offering: r for r in report.results}
    assert (by_name["buggy"].ok, by_name["buggy"].unreachable, by_name["buggy"].error) == (
        False, False, "RuntimeError('a bug')")
    assert by_name["fine"].ok
    assert report.exit_code == ExitCode.PARTIAL
    [record] = [r for r in caplog.records if r.name == "fedcore.daemon"]
    assert record.exc_info is not None
    assert (getattr(record, "offering", None), getattr(record, "mode", None)) == ("buggy", "order_process")


def test_exit_codes_of_a_tick() -> None:
    def result(ok: bool, unreachable: bool = False) -> JobResult:
        return JobResult("hpc", Mode.REPORT, ok, 0.0, unreachable=unreachable)

    assert TickReport(()).exit_code == ExitCode.OK
    assert TickReport((result(True), result(True))).exit_code == ExitCode.OK
    assert TickReport((result(True), result(False))).exit_code == ExitCode.PARTIAL
    assert TickReport((result(False), result(False, unreachable=True))).exit_code == ExitCode.UNREACHABLE


def test_once_stopping_no_order_is_started() -> None:
    worlds = Worlds()
    runner = daemon(config("hpc"), worlds)
    order, _ = worlds.order("hpc")
    runner.stop()
    [result] = runner.tick().results
    assert (result.ok, result.summary) == (False, "1 open order(s): none processed; 1 not started (stopping)")
    assert worlds.built["hpc"].a.orders[order.uuid].state == OrderState.PENDING_PROVIDER


def test_run_until_stopped_runs_passes_on_schedule_in_worker_threads_until_stop() -> None:
    worlds = Worlds()

    def enough(recorder: Recorder) -> None:
        if sum(1 for p in recorder.passes if p[0] == "two") >= 3:
            runner.stop()

    runner = daemon(config("one", "two"), worlds, telemetry=Recorder(enough), workers=2,
                    periods={Mode.ORDER_PROCESS: 0.0})
    orders = [worlds.order(name)[0] for name in ("one", "two")]
    try:
        assert runner.run_until_stopped(shutdown_timeout=10) == ExitCode.OK
    finally:
        runner.close()
    assert runner.stopping
    for name, order in zip(("one", "two"), orders, strict=True):
        assert worlds.built[name].a.orders[order.uuid].state == OrderState.EXECUTING


class Stuck(PassingOrders):
    """A's order listing that stops the daemon, then hangs until released."""

    def __init__(self, real: SourceOrders) -> None:
        super().__init__(real)
        self.release = threading.Event()
        self.daemon: Daemon | None = None

    def list_open_orders(self) -> Sequence[Order]:
        assert self.daemon is not None
        self.daemon.stop()
        self.release.wait(10)
        return self.real.list_open_orders()


def test_passes_still_running_after_the_shutdown_timeout_end_as_interrupted() -> None:
    worlds = Worlds()
    stuck: list[Stuck] = []

    def wrap(ports: Ports) -> Ports:
        stuck.append(Stuck(ports.a_orders))
        return evolve(ports, a_orders=stuck[0])

    worlds.wrap["hpc"] = wrap
    runner = daemon(config("hpc"), worlds, workers=2)
    stuck[0].daemon = runner
    try:
        assert runner.run_until_stopped(shutdown_timeout=0.01) == ExitCode.INTERRUPTED
    finally:
        stuck[0].release.set()
        runner.close()


def test_a_dry_run_records_every_write_of_the_pass_and_makes_none() -> None:
    worlds, journal = Worlds(), WriteJournal()
    cfg = config("hpc")
    runner = daemon(cfg, worlds, ports=daemon_ports(cfg, worlds, journal=journal))
    order, _ = worlds.order("hpc")
    assert runner.tick().exit_code == ExitCode.OK
    calls = [(w.side, w.call) for w in journal.writes]
    assert calls == [("A", "approve"), ("B", "create_project"), ("B", "create_order"),
                     ("A", "set_resource_backend_id"), ("A", "set_order_backend_id")]
    assert all(w.offering == "hpc" for w in journal.writes)
    world = worlds.built["hpc"]
    assert world.a.orders[order.uuid].state == OrderState.PENDING_PROVIDER
    assert (world.b.orders, world.b.projects) == ({}, {})


def test_without_backend_error_details_a_gets_a_fixed_message_and_the_log_the_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    worlds = Worlds()
    cfg = config("hpc", expose_backend_error_details=False)
    runner = daemon(cfg, worlds, ports=daemon_ports(cfg, worlds))
    order, _ = worlds.order("hpc")
    runner.tick()
    world = worlds.built["hpc"]
    world.b.provider_finish(b_order_of(worlds, "hpc", order).uuid, OrderState.ERRED, "quota of org X exceeded")
    with caplog.at_level(logging.WARNING):
        daemon(cfg, worlds, ports=daemon_ports(cfg, worlds)).tick()  # a restarted daemon: every job due at once
    assert world.a.orders[order.uuid].state == OrderState.ERRED
    assert world.a.orders[order.uuid].error_message == PRIVATE_FAILURE
    assert any("quota of org X exceeded" in r.getMessage() and getattr(r, "a_order", "") == order.uuid
               for r in caplog.records)


def test_order_lines_name_the_offering_the_a_order_and_the_b_order(caplog: pytest.LogCaptureFixture) -> None:
    worlds = Worlds()
    runner = daemon(config("hpc"), worlds)
    order, _ = worlds.order("hpc")
    with caplog.at_level(logging.INFO, logger="fedcore.orders"):
        runner.tick()
    [line] = [r for r in caplog.records if r.name == "fedcore.orders"]
    b_order = b_order_of(worlds, "hpc", order)
    fields = tuple(getattr(line, k) for k in ("offering", "a_order", "b_order", "order_type"))
    assert fields == ("hpc", order.uuid, b_order.uuid, "Create")
    assert "SubmitCreate" in line.getMessage()


def test_every_api_call_also_says_whether_the_server_answered() -> None:
    telemetry = Recorder()
    reporter = CallReporter(telemetry)
    for status in ("200", "404", "503", "ConnectError"):
        reporter.api_call("waldur-b.test", "GET", "marketplace-orders/{uuid}/", status, 0.01)
    reporter.retry("waldur-b.test", "marketplace-orders/")
    assert [s for _, _, _, s in telemetry.calls] == ["200", "404", "503", "ConnectError"]
    assert telemetry.servers == [("waldur-b.test", True), ("waldur-b.test", True), ("waldur-b.test", False),
                                 ("waldur-b.test", False)]
    assert telemetry.retries == [("waldur-b.test", "marketplace-orders/")]


def test_a_membership_pass_fails_on_a_failed_read_or_write_and_not_on_a_project_not_on_b_yet(
    caplog: pytest.LogCaptureFixture,
) -> None:
    waiting = ProjectOutcome(Uuid("1" * 32), skipped="no B project c_p yet")
    change = MembershipChange(ChangeKind.ADD, Uuid("5" * 32), "PROJECT.MEMBER")
    mirrored = ProjectOutcome(Uuid("2" * 32), Uuid("3" * 32), MembershipReport(applied=(change,)))
    assert membership_verdict("hpc", MembershipPassReport((waiting, mirrored))) == (
        True, "2 federated project(s), 1/1 role change(s) applied, 0 identity release(s), 0 pair write(s)")
    unread = ProjectOutcome(Uuid("4" * 32), skipped="the A team could not be read: A GET …: 503", transient=True)
    refused = ProjectOutcome(Uuid("2" * 32), Uuid("3" * 32), MembershipReport(failed=(ChangeFailure(change, "403"),)))
    with caplog.at_level(logging.WARNING):
        ok, summary = membership_verdict("hpc", MembershipPassReport((unread, refused)))
    assert not ok
    assert summary.endswith("; 2 problem(s)")
    assert [r.getMessage() for r in caplog.records] == [
        f"membership_sync: A project {'4' * 32}: the A team could not be read: A GET …: 503",
        f"membership_sync: B project {'3' * 32}: add PROJECT.MEMBER for user {'5' * 32}: 403",
    ]


def test_a_report_pass_fails_when_a_resource_and_period_is_not_in_step() -> None:
    period = dt.date(2026, 1, 1)
    done = UsageItem(Uuid("1" * 32), Uuid("2" * 32), period, UsageReport(UsagePlan(), written=("totals",)))
    assert report_verdict("hpc", ReportPassReport((period,), (done,))) == (
        True, "1/1 resource-period(s) in step (2026-01), 1 write(s)")
    unread = UsageItem(Uuid("3" * 32), Uuid("4" * 32), period, skipped="usage could not be read", transient=True)
    assert report_verdict("hpc", ReportPassReport((period,), (done, unread)))[0] is False


def test_the_cli_and_the_library_share_the_default_number_of_workers() -> None:
    from runners.commands.run import WORKERS
    from runners.daemon import DEFAULT_WORKERS

    assert WORKERS == DEFAULT_WORKERS == 8


def test_a_tick_returns_with_every_pass_it_ran_marked_ended() -> None:
    """The next tick runs every due job: none is still "running" because its done-callback was late."""
    worlds = Worlds()
    runner = daemon(config("hpc", "hpc2"), worlds, modes=tuple(Mode), workers=4, periods=dict.fromkeys(Mode, 0.0))
    try:
        for _ in range(20):
            report = runner.tick()
            assert len(report.results) == len(runner.jobs)
            assert not runner._scheduler.running
    finally:
        runner.close()
