"""The systemd units in deploy/systemd: one per mode, each on its own metrics port, verified and rated by
``systemd-analyze`` (skipped where systemd is not installed)."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from runners.cli import build_parser
from runners.wiring import MODES

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
INSTALLED = "/opt/fedcore/bin/fedcore"
FEDCORE = ROOT / ".venv" / "bin" / "fedcore"
ANALYZE = shutil.which("systemd-analyze")
HARDENING = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
             "PrivateDevices": "yes", "CapabilityBoundingSet": "", "RestrictSUIDSGID": "yes"}

needs_systemd = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed on this machine")


def service(unit: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(unit.read_text())
    return dict(parser["Service"])


def command(unit: Path) -> list[str]:
    return shlex.split(service(unit)["ExecStart"])


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_one_unit_per_mode_each_with_its_own_metrics_port() -> None:
    modes = {option(command(u), "-m"): u for u in UNITS}
    assert sorted(modes) == sorted([*MODES, "event_process"])
    for mode, unit in modes.items():
        assert unit.name == f"fedcore-{mode.replace('_', '-')}.service"
        argv = command(unit)
        assert argv[:2] == [INSTALLED, "run"]
        assert option(argv, "-c") == "/etc/fedcore/config.yaml"
        assert option(argv, "--log-format") == "json"
    ports = [int(option(command(u), "--metrics-port")) for u in UNITS]
    assert len(set(ports)) == len(UNITS)


def test_every_unit_command_line_is_one_fedcore_run_accepts() -> None:
    for unit in UNITS:
        argv = command(unit)
        args = build_parser().parse_args(argv[1:])
        assert (args.command, args.config, args.modes) == ("run", "/etc/fedcore/config.yaml", [option(argv, "-m")])
        assert (args.log_format, args.metrics_port) == ("json", int(option(argv, "--metrics-port")))


def test_the_event_unit_runs_every_mode_and_stops_the_per_mode_units() -> None:
    [unit] = [u for u in UNITS if option(command(u), "-m") == "event_process"]
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.read_string(unit.read_text())
    conflicts = set(parser["Unit"]["Conflicts"].split())
    assert conflicts == {u.name for u in UNITS if u != unit}


def test_every_unit_runs_as_the_dedicated_user_hardened_with_its_tokens_from_the_environment_file() -> None:
    for unit in UNITS:
        settings = service(unit)
        assert (settings["User"], settings["Group"]) == ("fedcore", "fedcore"), unit.name
        assert settings["EnvironmentFile"] == "/etc/fedcore/fedcore.env"
        assert settings["Restart"] == "on-failure"
        assert settings["RestartPreventExitStatus"] == "2"  # ExitCode.CONFIG
        assert {k: settings.get(k) for k in HARDENING} == HARDENING, unit.name
    sysusers = (ROOT / "deploy" / "systemd" / "fedcore.sysusers.conf").read_text()
    assert re.search(r"^u fedcore ", sysusers, flags=re.MULTILINE)


def test_the_example_scrape_job_scrapes_every_unit() -> None:
    example = yaml.safe_load((ROOT / "deploy" / "prometheus" / "example" / "prometheus.yml").read_text())
    [job] = example["scrape_configs"]
    assert job["job_name"] == "fedcore"
    ports = sorted(int(t.rsplit(":", 1)[1]) for group in job["static_configs"] for t in group["targets"])
    assert ports == sorted(int(option(command(u), "--metrics-port")) for u in UNITS)


@needs_systemd
@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_verifies_the_unit_without_a_warning(unit: Path, tmp_path: Path) -> None:
    assert ANALYZE is not None
    # verify checks that ExecStart's program exists: point it at this checkout's fedcore
    copy = tmp_path / unit.name
    copy.write_text(unit.read_text().replace(INSTALLED, str(FEDCORE)))
    verified = subprocess.run([ANALYZE, "verify", str(copy)], capture_output=True, text=True, timeout=60,
                              check=False)
    assert verified.returncode == 0, verified.stderr
    assert verified.stderr.strip() == "", verified.stderr


@needs_systemd
@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_rates_the_unit_well_exposed_at_most_2(unit: Path) -> None:
    assert ANALYZE is not None
    rated = subprocess.run([ANALYZE, "security", "--offline=yes", str(unit)], capture_output=True, text=True,
                           timeout=60, check=False)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", rated.stdout)
    assert found, rated.stdout + rated.stderr
    assert float(found.group(1)) <= 2.0, rated.stdout
