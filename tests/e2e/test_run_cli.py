"""``fedcore run`` as a real process against two emulated Waldurs over HTTP: every command's help, exit codes,
``--once``, ``--dry-run`` (no write reaches either Waldur), JSON logs that follow one order, and no token in any
output, at DEBUG."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from run_world import Fedcore, World

from runners.commands import COMMANDS
from runners.exitcodes import ExitCode
from waldur_emulator.faults import FaultRule

pytestmark = pytest.mark.e2e

OFFERING = "HPC via Waldur B"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = World(tmp_path)
    yield made
    made.close()


def test_every_command_answers_help_and_runs_help_lists_its_options() -> None:
    names = [c[0] for c in COMMANDS]
    top, *each = Fedcore().run_all(["--help"], *([name, "--help"] for name in names))
    assert top.returncode == 0
    assert "run the federation" in top.stdout
    for name, done in zip(names, each, strict=True):
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"usage: fedcore {name}")
    run_help = each[names.index("run")].stdout
    for option in ("--config-file", "--mode", "--once", "--dry-run", "--log-format", "--workers",
                   "--shutdown-timeout", "--metrics-port"):
        assert option in run_help


def test_a_bad_configuration_or_command_line_exits_2_naming_the_problem(world: World, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("offerings: []\ntimezone: Mars/Olympus\n", encoding="utf-8")
    good = world.write_config()
    no_report = world.config()
    no_report["offerings"][0]["reporting_backend"] = ""
    without_report = world.write_config(no_report, "no-report.yaml")
    missing, invalid, unknown_mode, no_offering = Fedcore().run_all(
        ["run", "-c", str(tmp_path / "nope.yaml"), "--once"],
        ["run", "-c", str(bad), "--once"],
        ["run", "-c", good, "-m", "event_processing"],
        ["run", "-c", without_report, "-m", "report", "--once"],
    )
    bad_variable = Fedcore({"WALDUR_SITE_AGENT_REPORT_PERIOD_MINUTES": "often"}).run("run", "-c", good)
    for done in (missing, invalid, unknown_mode, no_offering, bad_variable):
        assert done.returncode == ExitCode.CONFIG, done.stderr
        assert "Traceback" not in done.stderr
    assert "nope.yaml: cannot read" in missing.stderr
    assert "timezone" in invalid.stderr
    assert "invalid choice: 'event_processing'" in unknown_mode.stderr
    assert "no offering of the configuration takes part in report" in no_offering.stderr
    assert "WALDUR_SITE_AGENT_REPORT_PERIOD_MINUTES: must be a positive number of minutes, got 'often'" in (
        bad_variable.stderr)
    assert world.b_orders() == []


def test_a_waldur_that_cannot_be_reached_or_refuses_the_token_exits_3(world: World) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/api/"
    down, refused = world.config(), world.config()
    down["offerings"][0]["waldur_api_url"] = closed
    refused["offerings"][0]["waldur_api_token"] = "not-a-token-" + "0" * 20
    unreachable, unauthorised = Fedcore().run_all(
        ["run", "-c", world.write_config(down, "down.yaml"), "-m", "order_process", "--once"],
        ["run", "-c", world.write_config(refused, "refused.yaml"), "-m", "order_process", "--once"],
    )
    for done in (unreachable, unauthorised):
        assert done.returncode == ExitCode.UNREACHABLE, done.stderr
        assert "order_process pass could not run" in done.stderr
    assert "Invalid token" in unauthorised.stderr
    assert "not-a-token-" not in unauthorised.stderr


def test_once_carries_an_order_to_b_and_back_and_exits_0(world: World) -> None:
    config = world.write_config()
    order = world.order({"node_hours": 2, "storage": 1})
    fedcore = Fedcore()
    first = fedcore.run("run", "-c", config, "--once")
    assert first.returncode == ExitCode.OK, first.stderr
    [b_order] = world.b_orders()
    assert b_order["limits"] == {"cpu_k_hours": 256, "mem_gb_hours": 1024, "storage": 1}
    assert world.a_order(order)["state"] == "executing"
    world.b_done(b_order["uuid"])
    second = fedcore.run("run", "-c", config, "-m", "order_process", "--once")
    assert second.returncode == ExitCode.OK, second.stderr
    assert world.a_order(order)["state"] == "done"
    assert "1 open order(s): 1 completed" in second.stderr


def test_once_exits_1_when_an_order_must_be_retried(world: World) -> None:
    config = world.write_config()
    order = world.order({"node_hours": 1})
    world.b.add_fault(FaultRule(path="^/api/marketplace-orders/$", method="POST", kind="error", status=503))
    done = Fedcore().run("run", "-c", config, "-m", "order_process", "--once")
    assert done.returncode == ExitCode.PARTIAL, done.stderr
    assert "next try in 30 s" in done.stderr
    assert world.b_orders() == []
    assert world.a_order(order)["state"] == "executing"


def test_dry_run_prints_the_writes_and_none_reaches_either_waldur(world: World) -> None:
    config = world.write_config()
    order = world.order({"node_hours": 3})
    world.tripwire()
    done = Fedcore().run("run", "-c", config, "--dry-run")
    assert done.returncode == ExitCode.OK, done.stderr
    assert world.writes_refused == 0
    lines = done.stdout.splitlines()
    assert lines[0] == "dry run: 5 write(s) would be made:"
    assert lines[1] == f"  [{OFFERING}] A approve: order {order}"
    assert lines[2].startswith(f"  [{OFFERING}] B create_project: 'Physics' with backend_id ")
    assert "limits {'cpu_k_hours': 384, 'mem_gb_hours': 1536}" in lines[3]
    assert world.a_order(order)["state"] == "pending-provider"
    assert world.b_orders() == []


def test_json_logs_follow_one_order_across_a_and_b_and_no_token_shows_at_debug(world: World) -> None:
    config = world.write_config()
    order = world.order({"node_hours": 1})
    done = Fedcore().run("run", "-c", config, "--once", "--log-format", "json", "--log-level", "debug")
    assert done.returncode == ExitCode.OK, done.stderr
    for token in world.tokens:
        assert token not in done.stderr
        assert token not in done.stdout
    records = [json.loads(line) for line in done.stderr.splitlines()]
    assert any(r["logger"] == "httpx" for r in records)  # DEBUG shows every request, and still no token
    [line] = [r for r in records if r.get("a_order") == order]
    [b_order] = world.b_orders()
    assert (line["offering"], line["b_order"], line["order_type"]) == (OFFERING, b_order["uuid"], "Create")
