"""``fedcore status`` as a real process: the events part, whether Waldur holds fedcore's event registration.

Two emulated Waldurs over HTTP (``ServedFederation``) with STOMP enabled on both sides in the configuration;
registration is done by the real :class:`runners.registration.Registrar` over HTTP, as ``fedcore run -m
event_process`` starts it. The emulators run without a broker (their NullEventBus records subscriptions and
queues), so no RabbitMQ is needed.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_federation import ServedFederation, closed_port_url, fedcore

from adapters.config import parse_config
from adapters.waldur import RetryPolicy
from fedcore.ids import normalize_uuid
from runners.events.wiring import registrar_for
from runners.registration import A_OBJECT_TYPES, B_OBJECT_TYPES, Registrar, State, default_agent_name
from runners.status_report import rest_http_for
from runners.wiring import RestPorts
from waldur_emulator import FaultRule

pytestmark = pytest.mark.e2e

NAME = "HPC via Waldur B"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "commands.md"


def a_uuid(served: ServedFederation) -> str:
    return normalize_uuid(served.fed.a.offering_uuid)


def b_uuid(served: ServedFederation) -> str:
    return normalize_uuid(served.fed.b.offering_uuid)


def events_config(served: ServedFederation, *, a: bool = True, b: bool = True) -> dict[str, Any]:
    """The federation's configuration with STOMP events enabled on the chosen sides."""
    data = served.config(NAME)
    data["offerings"][0]["stomp_enabled"] = a
    data["offerings"][0]["backend_settings"]["target_stomp_enabled"] = b
    return data


class Registered:
    """The registration ``fedcore run -m event_process`` makes for a configuration: the real Registrar over HTTP,
    with the daemon's default agent name. ``close()`` stops it as a clean stop does (its queues are deleted)."""

    def __init__(self, data: dict[str, Any]) -> None:
        config = parse_config(data)
        self.ports = RestPorts(config, retry=RetryPolicy.instant())
        self.registrar: Registrar = registrar_for(config, rest_http_for(self.ports))
        self.registrar.tick()
        self.registrar.drain(timeout=30)
        states = {s.state for s in self.registrar.status().values()}
        assert states == {State.REGISTERED}, self.registrar.status()

    def close(self) -> None:
        self.registrar.close()
        self.ports.close()


def status(path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    done = fedcore("status", "-c", str(path), "--json", *args)
    return done.returncode, json.loads(done.stdout)


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServedFederation, Path]]:
    """A federation whose A and B offerings fedcore has registered for events."""
    served = ServedFederation()
    data = events_config(served)
    registered = Registered(data)
    yield served, served.write(tmp_path_factory.mktemp("events"), data)
    registered.close()
    served.close()


def test_status_shows_events_registered_on_both_sides(both: tuple[ServedFederation, Path]) -> None:
    served, path = both
    code, document = status(path)
    assert code == 0
    a, b = document["events"]
    assert a == {"index": 0, "offering": NAME, "side": "A", "offering_uuid": a_uuid(served),
                 "state": "registered", "object_types": list(A_OBJECT_TYPES), "missing": [], "reason": "",
                 "agents": [default_agent_name()]}
    assert (b["side"], b["state"], b["object_types"], b["missing"]) == ("B", "registered", list(B_OBJECT_TYPES), [])
    assert b["offering_uuid"] == b_uuid(served)
    assert document["summary"]["unreadable"] == 0
    documented = set(re.findall(r"`([a-z_]+)`", DOCS.read_text(encoding="utf-8")))
    assert {"events", *a} <= documented

    done = fedcore("status", "-c", str(path))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    start = lines.index("Events (Waldur's registration of fedcore's event queues):")
    assert lines[start - 2].startswith("summary: ")
    header, row_a, row_b = lines[start + 1: start + 4]
    assert header.split()[:3] == ["OFFERING", "SIDE", "OFFERING"]
    assert row_a.split()[5:9] == ["A", a_uuid(served)[:8], "registered",
                                  ",".join(A_OBJECT_TYPES)]
    assert row_b.split()[5:9] == ["B", b_uuid(served)[:8], "registered",
                                  ",".join(B_OBJECT_TYPES)]
    assert lines[start + 4:] == []


def test_status_shows_not_registered_and_missing_queues(tmp_path: Path) -> None:
    served = ServedFederation()
    try:
        data = events_config(served)
        path = served.write(tmp_path, data)
        code, document = status(path)
        assert code == 0  # nothing registered yet is not a failed read
        assert [(e["side"], e["state"], e["object_types"], e["missing"]) for e in document["events"]] == [
            ("A", "not registered", [], []), ("B", "not registered", [], [])]
        assert all("polling" in e["reason"] for e in document["events"])

        registered = Registered(events_config(served, b=False))  # the daemon registered A only
        queues = served.staff_a.get("/api/event-subscription-queues/", params={"page_size": 100}).json()
        user_role = next(q for q in queues if q["object_type"] == "user_role")
        assert served.staff_a.delete(f"/api/event-subscription-queues/{user_role['uuid']}/").status_code == 204
        code, document = status(path)
        assert code == 0
        a, b = document["events"]
        assert (a["state"], a["missing"], a["reason"]) == ("registered", ["user_role"], "no queue for user_role")
        assert a["object_types"] == [t for t in A_OBJECT_TYPES if t != "user_role"]
        assert (b["state"], b["object_types"]) == ("not registered", [])

        done = fedcore("status", "-c", str(path))
        assert done.returncode == 0, done.stderr
        assert "  - offerings[0] A: no queue for user_role" in done.stdout.splitlines()
        assert ("  - offerings[0] B: not registered: fedcore serves it by polling until the daemon registers it"
                in done.stdout.splitlines())
        registered.close()
    finally:
        served.close()


def test_status_without_stomp_flags_has_no_events(both: tuple[ServedFederation, Path], tmp_path: Path) -> None:
    served, _ = both
    path = served.write(tmp_path, events_config(served, a=False, b=False))
    code, document = status(path)
    assert (code, document["events"]) == (0, [])
    done = fedcore("status", "-c", str(path))
    assert done.returncode == 0
    assert "Events" not in done.stdout
    assert done.stdout.splitlines()[-1].startswith("summary: ")


def test_status_reports_an_unreadable_registration_as_unknown(both: tuple[ServedFederation, Path]) -> None:
    served, path = both
    served.b.add_fault(FaultRule(path="^/api/event-subscriptions/$", method="GET", kind="error", status=503))
    try:
        code, document = status(path)
    finally:
        served.b.clear_faults()
    assert code == 3  # a registration that could not be read, as an offering that could not be read
    assert document["offerings"][0]["error"] is None  # the order and resource reads went through
    a, b = document["events"]
    assert a["state"] == "registered"
    assert (b["state"], b["object_types"], b["missing"]) == ("unknown", [], [])
    assert b["reason"] == "B GET event-subscriptions/: Injected fault. (HTTP 503)"
    done = fedcore("status", "-c", str(path))
    assert done.returncode == 0, done.stderr  # the fault is gone: read again, registered
    served.b.add_fault(FaultRule(path="^/api/users/me/$", method="GET", kind="error", status=500))
    try:
        done = fedcore("status", "-c", str(path))
    finally:
        served.b.clear_faults()
    assert done.returncode == 3
    assert any(line.startswith("  ! offerings[0] B: unknown: B GET users/me/: ") and line.endswith("(HTTP 500)")
               for line in done.stdout.splitlines())


def test_status_reports_a_server_down_as_unknown(both: tuple[ServedFederation, Path], tmp_path: Path) -> None:
    served, _ = both
    data = events_config(served)
    down = events_config(served, b=False)["offerings"][0]
    down.update(name="Unreachable A", waldur_api_url=closed_port_url(), waldur_offering_uuid=uuid.uuid4().hex)
    data["offerings"].append(down)
    path = served.write(tmp_path, data)
    started = time.monotonic()
    done = fedcore("status", "-c", str(path))
    assert time.monotonic() - started < 30
    assert done.returncode == 3, done.stderr
    for secret in served.secrets():
        assert secret not in done.stdout
        assert secret not in done.stderr
    lines = done.stdout.splitlines()
    start = lines.index("Events (Waldur's registration of fedcore's event queues):")
    rows = [line.split() for line in lines[start + 2: start + 5]]
    assert [r[-6:-4] for r in rows] == [["A", a_uuid(served)[:8]],
                                        ["B", b_uuid(served)[:8]],
                                        ["A", down["waldur_offering_uuid"][:8]]]
    assert [r[-4] for r in rows] == ["registered", "registered", "unknown"]
    note = next(line for line in lines if line.startswith("  ! offerings[1] A: unknown: "))
    assert "A GET users/me/" in note
    assert "ConnectError" in note
