"""``fedcore validate`` as a real process: broken files, and the connectivity checklist against emulators over HTTP.

The checklist cases share one file of four offerings checked concurrently: a healthy one, one whose tokens belong
to plain users without rights, one whose Waldur A is a closed port, and one whose identity-bridge source B's
token does not manage. Each reports its own results; the unreachable server hides nobody's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_federation import ServedFederation, closed_port_url, fedcore

pytestmark = pytest.mark.e2e

TOKEN_A = "a-token-0123456789abcdef0123456789abcdef"
TOKEN_B = "b-token-fedcba9876543210fedcba9876543210"

BROKEN = f"""\
offerings:
  - name: first
    waldur_api_url: https://waldur-a.example.com
    waldur_api_token: {TOKEN_A}
    waldur_offering_uuid: not-a-uuid
    backend_type: waldur
    stomp_ws_port: "443"
    backend_settings:
      target_api_token: {TOKEN_B}
      target_offering_uuid: 0b3c0c3e1a8c4c5f9a7f5f8e3d2c1b0a
      target_customer_uuid: 1b3c0c3e1a8c4c5f9a7f5f8e3d2c1b0a
      user_matc_field: cuid
    backend_components:
      node_hours:
        measured_unit: Node-hours
        accounting_type: limit
        label: Node hours
        target_components:
          cpu_k_hours: {{factor: -1}}
  - name: second
    waldur_api_url: ftp://waldur-a.example.com
    waldur_api_token: {TOKEN_B}
    waldur_offering_uuid: 2b3c0c3e1a8c4c5f9a7f5f8e3d2c1b0a
    backend_type: slurm
"""


def test_a_broken_file_lists_every_problem_with_its_path_exits_2_and_shows_no_token(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    done = fedcore("validate", "-c", str(path), "--check-connectivity")
    assert done.returncode == 2
    assert done.stdout == ""
    for where in ("offerings[0].waldur_offering_uuid", "offerings[0].stomp_ws_port",
                  "offerings[0].backend_settings.target_api_url: required",
                  "offerings[0].backend_settings.user_matc_field: unknown key",
                  "offerings[0].backend_components.node_hours.target_components.cpu_k_hours.factor",
                  "offerings[1].waldur_api_url", "offerings[1].backend_type", "offerings[1].backend_settings"):
        assert where in done.stderr
    assert "invalid configuration (8 problem(s))" in done.stderr
    assert TOKEN_A not in done.stderr + done.stdout
    assert TOKEN_B not in done.stderr + done.stdout


@pytest.fixture(scope="module")
def served() -> Iterator[ServedFederation]:
    federation = ServedFederation()
    yield federation
    federation.close()


def test_a_valid_file_is_described_without_calling_anyone(served: ServedFederation, tmp_path: Path) -> None:
    config = served.config()
    config["offerings"][0]["backend_settings"]["target_api_url"] = closed_port_url()
    done = fedcore("validate", "-c", str(served.write(tmp_path, config)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:2] == [f"configuration OK: {tmp_path / 'config.yaml'} (1 offering(s))",
                                           "offerings[0] 'HPC via Waldur B'"]
    assert "  component node_hours -> cpu_k_hours x128" in done.stdout
    assert "  jobs: order_process, membership_sync, report, username_sync" in done.stdout
    assert "connectivity" not in done.stdout
    assert all(secret not in done.stdout + done.stderr for secret in served.secrets())


def test_a_healthy_federation_passes_every_check(served: ServedFederation, tmp_path: Path) -> None:
    done = fedcore("validate", "-c", str(served.write(tmp_path, served.config())), "--check-connectivity")
    assert done.returncode == 0, done.stdout + done.stderr
    checks = [line for line in done.stdout.splitlines() if line.startswith("  [")]
    assert [line.split(":")[0] for line in checks] == [
        "  [ok] A token", "  [ok] A offering", "  [ok] A provider rights", "  [ok] A components", "  [ok] B token",
        "  [ok] B customer", "  [ok] B customer owner", "  [ok] B offering", "  [ok] B components",
        "  [ok] B identity manager"]
    assert "result: 10 ok, 0 warn, 0 fail, 0 unreachable, 0 skip" in done.stdout
    assert done.stdout.rstrip().endswith("exit 0 (OK)")


def _offering(served: ServedFederation, name: str, **changes: Any) -> dict[str, Any]:
    offering: dict[str, Any] = served.config(name=name)["offerings"][0]
    target = changes.pop("backend_settings", {})
    offering.update(changes)
    offering["backend_settings"].update(target)
    return offering


@pytest.fixture(scope="module")
def troubled(served: ServedFederation, tmp_path_factory: pytest.TempPathFactory) -> Path:
    _, plain_a = served.seed_a.user("plain-a")
    _, plain_b = served.seed_b.user("plain-b")
    agent_a = served.a.user_by_token(served.fed.a.agent_token)
    assert agent_a is not None
    config = {"offerings": [
        _offering(served, "healthy"),
        _offering(served, "plain users", waldur_api_token=plain_a,
                  waldur_offering_uuid=served.extra_a_offering("no rights", manager=None),
                  backend_settings={"target_api_token": plain_b}),
        _offering(served, "A unreachable", waldur_api_url=closed_port_url(), waldur_offering_uuid=uuid.uuid4().hex),
        _offering(served, "unmanaged source",
                  waldur_offering_uuid=served.extra_a_offering("other source", manager=agent_a.uuid),
                  backend_settings={"identity_bridge_source": "isd:elsewhere"}),
    ]}
    return served.write(tmp_path_factory.mktemp("troubled"), config)


def _checklist(stdout: str) -> dict[str, dict[str, str]]:
    """Per offering name: check name -> "tag: detail"."""
    result: dict[str, dict[str, str]] = {}
    section = stdout.split("\nconnectivity:\n", 1)[1]
    current: dict[str, str] = {}
    for line in section.splitlines():
        if line.startswith("offerings["):
            current = result.setdefault(line.split("'")[1], {})
        elif line.startswith("  ["):
            tag, rest = line[3:].split("] ", 1)
            what, detail = rest.split(": ", 1)
            current[what] = f"{tag}: {detail}"
    return result


def test_each_offering_reports_its_own_failures_and_an_unreachable_server_hides_none(
    served: ServedFederation, troubled: Path
) -> None:
    done = fedcore("validate", "-c", str(troubled), "--check-connectivity")
    assert done.returncode == 3, done.stdout + done.stderr  # a server did not answer
    assert all(secret not in done.stdout + done.stderr for secret in served.secrets())
    checks = _checklist(done.stdout)
    assert list(checks) == ["healthy", "plain users", "A unreachable", "unmanaged source"]
    assert all(line.startswith("ok: ") for line in checks["healthy"].values())

    plain = checks["plain users"]
    assert plain["A token"].startswith("ok: accepted: user 'plain-a'")
    assert plain["A offering"].startswith("FAIL: offering ")
    assert "is not visible to user 'plain-a' (Waldur: No object matches the given query.)" in plain["A offering"]
    assert plain["A provider rights"] == ("FAIL: user 'plain-a' has no provider access to offering "
                                         f"{_uuid_in(plain['A offering'])} (holds: no roles at all)")
    assert plain["A components"] == "skip: the A offering could not be read"
    assert plain["B customer"].startswith("FAIL: organisation ")
    assert plain["B customer owner"].startswith("FAIL: user 'plain-b' is not CUSTOMER.OWNER of organisation ")
    assert plain["B identity manager"].startswith("FAIL: user 'plain-b' is not an identity manager")
    fixes = [line for line in done.stdout.splitlines() if line.startswith("      fix: on A, make user 'plain-a'")]
    assert fixes == [f"      fix: on A, make user 'plain-a' OFFERING.MANAGER of offering "
                     f"{_uuid_in(plain['A offering'])} (API.md §4)"]

    unreachable = checks["A unreachable"]
    assert unreachable["A token"].startswith("UNREACHABLE: no answer: ConnectError")
    assert [unreachable[name] for name in ("A offering", "A provider rights", "A components")] == [
        "skip: Waldur A did not answer"] * 3
    assert all(unreachable[name].startswith("ok: ") for name in ("B token", "B customer", "B customer owner",
                                                                 "B offering", "B components"))
    assert checks["unmanaged source"]["B identity manager"] == (
        "FAIL: user 'fedcore-b' manages isd:federation, not isd:elsewhere (user_resolve_method: identity_bridge, "
        "username_management_backend: waldur-identity-bridge)")
    assert "result: 29 ok, 0 warn, 6 fail, 1 unreachable, 4 skip" in done.stdout


def _uuid_in(text: str) -> str:
    return next(word for word in text.split() if len(word) == 32 and all(c in "0123456789abcdef" for c in word))


def test_failed_checks_without_an_unreachable_server_exit_4(served: ServedFederation, troubled: Path,
                                                            tmp_path: Path) -> None:
    import yaml

    config = yaml.safe_load(troubled.read_text(encoding="utf-8"))
    config["offerings"] = [o for o in config["offerings"] if o["name"] == "unmanaged source"]
    done = fedcore("validate", "-c", str(served.write(tmp_path, config)), "--check-connectivity")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "  [FAIL] B identity manager: user 'fedcore-b' manages isd:federation, not isd:elsewhere" in done.stdout
    assert "      fix: B's staff: PATCH users/" in done.stdout
    assert done.stdout.rstrip().endswith("exit 4 (CHECK_FAILED)")


def test_validate_help_lists_its_options() -> None:
    done = fedcore("validate", "--help")
    assert done.returncode == 0
    assert "-c CONFIG" in done.stdout
    assert "--check-connectivity" in done.stdout
