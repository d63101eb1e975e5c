"""``fedcore run`` as a long-running process: it serves orders until a signal, a first SIGTERM/SIGINT lets the pass
in flight finish, and a second signal or the shutdown timeout ends it at once (130)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from run_world import Fedcore, Running, World, until

from runners.exitcodes import ExitCode
from waldur_emulator.faults import FaultRule

pytestmark = pytest.mark.e2e

LISTING = "^/api/marketplace-orders/$"
SLOW = 2.0
"""Seconds a held-up listing of A's orders takes: longer than a signalled process may take to exit."""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = World(tmp_path)
    yield made
    made.close()


def test_the_daemon_serves_orders_until_sigint_and_then_stops_cleanly(world: World) -> None:
    config = world.write_config(world.config(periods={"order_process": 0.002}))
    daemon = Running(Fedcore().start("run", "-c", config, "-m", "order_process"))
    try:
        until(lambda: daemon.saw("order_process every 0.002 minute(s) (periods.order_process in the configuration)"),
              "the start-up lines")
        order = world.order({"node_hours": 1})
        [b_order] = until(lambda: world.b_orders() or None, "the order on B")
        world.b_done(b_order["uuid"])
        until(lambda: world.a_order(order)["state"] == "done", "the A order done")
        daemon.signal(signal.SIGINT)
        code, err = daemon.wait()
    finally:
        daemon.kill()
    assert code == ExitCode.OK, err
    assert "stopping: " in err
    assert err.rstrip().endswith("stopped")


def test_a_second_signal_or_the_shutdown_timeout_ends_a_pass_in_flight_at_once(world: World) -> None:
    world.a.add_fault(FaultRule(path=LISTING, method="GET", latency=SLOW, kind="error", status=503, times=2))
    config = world.write_config()
    fedcore = Fedcore()
    twice = Running(fedcore.start("run", "-c", config, "-m", "order_process", "--shutdown-timeout", "60"))
    timeout = Running(fedcore.start("run", "-c", config, "-m", "order_process", "--shutdown-timeout", "0.1"))
    try:
        until(lambda: world.a.faults.injected >= 2, "both daemons inside their first listing of A's orders")
        twice.signal(signal.SIGTERM)
        timeout.signal(signal.SIGTERM)
        until(lambda: twice.saw("stopping: 1 pass(es) in flight"), "the first signal taken")
        twice.signal(signal.SIGTERM)
        twice_code, twice_err = twice.wait()
        timeout_code, timeout_err = timeout.wait()
    finally:
        twice.kill()
        timeout.kill()
    assert twice_code == ExitCode.INTERRUPTED, twice_err
    assert "second signal 15, exiting at once" in twice_err
    assert timeout_code == ExitCode.INTERRUPTED, timeout_err
    assert "passes still running after 0.1 s" in timeout_err
