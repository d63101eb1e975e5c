"""Secrets: a whole run at DEBUG never shows a token.

One federation, fedcore at ``--log-level DEBUG`` with every polling mode on short periods and a metrics port: a
Create, an Update and a Terminate (B's provider simulated), a person joining the project (membership pass), the
report and username passes, and a B that refuses some calls (so error lines and retries are logged too). Then
``-m event_process`` briefly when the broker is up, ``fedcore status`` (text and JSON) and ``fedcore validate
--check-connectivity`` (with a good file and with a wrong B token). Every line fedcore wrote, every scrape of
``/metrics``, ``/healthz`` and ``/readyz``: none holds fedcore's A or B token, the staff tokens, the consumer's
token, or even a long piece of one.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from storm_kit import Fedcore, Running, World, until

from waldur_emulator.faults import FaultRule

pytestmark = pytest.mark.e2e

SHORT = {"order_process": 0.005, "membership_sync": 0.005, "report": 0.005, "username_sync": 0.005}


def broker_up() -> bool:
    try:
        for port in (15672, 15674, 61613):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def world(tmp_path: Path, broker_shared: None) -> Iterator[World]:
    made = World(tmp_path, events=broker_up())
    yield made
    made.close()


def secrets_of(world: World) -> dict[str, str]:
    """Every token of the federation: fedcore's two, both staff tokens (fedcore never had them), the orderer's."""
    staff_a = world.staff_a.headers["Authorization"].removeprefix("Token ")
    staff_b = world.staff_b.headers["Authorization"].removeprefix("Token ")
    return {"A token": world.tokens[0], "B token": world.tokens[1], "A staff token": staff_a,
            "B staff token": staff_b, "consumer token": world.fed.consumer_token}


def leaks(texts: dict[str, str], secrets: dict[str, str]) -> list[str]:
    """Which secret (or a 12-character piece of one) appears in which text."""
    found = []
    for where, text in texts.items():
        for name, secret in secrets.items():
            pieces = {secret} | {secret[i:i + 12] for i in range(0, max(len(secret) - 12, 0) + 1, 6)}
            if any(piece in text for piece in pieces):
                found.append(f"{name} in {where}")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape(base: str, texts: dict[str, str]) -> bool:
    try:
        for path in ("metrics", "healthz", "readyz"):
            texts[f"/{path} #{len(texts)}"] = httpx.get(f"{base}/{path}", timeout=2).text
    except httpx.TransportError:
        return False
    return True


def done(world: World, order: str) -> bool:
    return bool(world.a_order(order)["state"] == "done")


def test_no_token_in_any_log_line_error_metric_or_status_output(world: World, tmp_path: Path) -> None:
    secrets = secrets_of(world)
    texts: dict[str, str] = {}
    simulated = world.staff_b.put(f"/api/emulator/offerings/{world.fed.b.offering_uuid}/provider-simulation/",
                                  json={"delay": 0, "outcome": "done"})
    assert simulated.status_code < 300, simulated.text
    path = world.write_config(world.config(periods=SHORT, log_level="DEBUG"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # B refuses a third of its reads of orders for a while: error lines, retries and backoff at DEBUG
    world.b.add_fault(FaultRule(path="^/api/marketplace-orders/", method="GET", kind="error", status=503, rate=0.3,
                                times=20))
    running = Running(Fedcore().start("run", "-c", path, "--log-level", "DEBUG", "--metrics-port", str(port),
                                      "--metrics-address", "127.0.0.1", "--backoff-initial", "0.05",
                                      "--backoff-max", "0.2"))
    try:
        until(lambda: scrape(base, texts), "the metrics endpoint")
        order = world.order({"node_hours": 2, "storage": 1})
        until(lambda: done(world, order), "the Create order done")
        resource = world.a_resource_of(order)
        member = world.staff_a.post("/api/users/", json={"username": "bob@example.org", "email": "bob@example.org",
                                                         "first_name": "Bob", "last_name": "Tester"})
        assert member.status_code == 201, member.text
        world.consumer("POST", f"/api/projects/{world.fed.consumer_project_uuid}/add_user/",
                       json={"user": member.json()["uuid"], "role": "PROJECT.MEMBER"})
        update = world.consumer("POST", f"/api/marketplace-resources/{resource}/update_limits/",
                                json={"limits": {"node_hours": 3, "storage": 1}})
        until(lambda: done(world, str(update["order_uuid"])), "the Update order done")
        scrape(base, texts)
        terminate = world.consumer("POST", f"/api/marketplace-resources/{resource}/terminate/", json={})
        until(lambda: done(world, str(terminate["order_uuid"])), "the Terminate order done")
        for mode in ("membership_sync", "report", "username_sync"):
            until(lambda m=mode: running.saw(m), f"a {mode} pass")  # type: ignore[misc]
        scrape(base, texts)
    finally:
        running.signal(15)
        code, log = running.wait(30)
    texts["run (stderr)"] = log
    assert code == 0, log[-3000:]
    assert "DEBUG" in log, "the run logged at DEBUG"

    if broker_up():
        events = world.write_config(world.event_config(periods=SHORT, log_level="DEBUG"), "events.yaml")
        running = Running(Fedcore().start("run", "-c", events, "-m", "event_process", "--log-level", "DEBUG",
                                          "--event-watch-seconds", "1"))
        try:
            for side in "AB":
                until(lambda s=side: any(f" {s} offering" in line and ": on events" in line  # type: ignore[misc]
                                         for line in list(running.lines)), f"{side} on events", deadline=30)
            order = world.order({"node_hours": 1, "storage": 1}, name="on-events")
            until(lambda: done(world, order), "an order done on events")
        finally:
            running.signal(15)
            code, log = running.wait(60)
        texts["event run (stderr)"] = log
        assert code == 0, log[-3000:]

    outputs: list[tuple[str, subprocess.CompletedProcess[str]]] = [
        ("status", Fedcore().run("status", "-c", path)),
        ("status --json", Fedcore().run("status", "-c", path, "--json")),
        ("validate --check-connectivity", Fedcore().run("validate", "-c", path, "--check-connectivity")),
    ]
    wrong = world.config()
    wrong["offerings"][0]["backend_settings"]["target_api_token"] = world.tokens[0]  # A's token sent to B: refused
    outputs.append(("validate with A's token for B", Fedcore().run(
        "validate", "-c", world.write_config(wrong, "wrong.yaml"), "--check-connectivity")))
    for name, result in outputs:
        texts[f"{name} (stdout)"], texts[f"{name} (stderr)"] = result.stdout, result.stderr
    assert outputs[0][1].returncode in (0, 1), outputs[0][1].stderr
    assert outputs[2][1].returncode == 0, outputs[2][1].stdout + outputs[2][1].stderr
    assert outputs[3][1].returncode != 0, outputs[3][1].stdout

    assert not leaks(texts, secrets)
    assert "Authorization" not in "".join(texts.values()) or all(
        "Token " not in line for text in texts.values() for line in text.splitlines() if "Authorization" in line)
