"""``/healthz`` and ``/readyz`` over HTTP: alive from the start, ready once the configuration is loaded and every
offering's servers answered their latest call."""

from __future__ import annotations

import argparse
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from attrs import evolve

from adapters.config import FedcoreConfig, load_config
from runners.health import HealthServer, Readiness
from runners.metrics import (
    PrometheusTelemetry,
    TelemetryHandle,
    expected_servers,
    start_telemetry,
)
from runners.metrics_args import add_metrics_arguments

pytestmark = pytest.mark.unit

EXAMPLE = Path(__file__).parents[2] / "examples" / "config.yaml"
A, B = "waldur-a.example.com", "waldur-b.example.com"


class Clock:
    """Unix time that moves only when told."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def config() -> FedcoreConfig:
    return load_config(EXAMPLE, environ={"WALDUR_A_TOKEN": "a-token", "WALDUR_B_TOKEN": "b-token"})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def running(clock: Clock) -> Iterator[tuple[PrometheusTelemetry, TelemetryHandle, str]]:
    parser = argparse.ArgumentParser()
    add_metrics_arguments(parser)
    telemetry, handle = start_telemetry(parser.parse_args(["--metrics-port", "0", "--metrics-address", "127.0.0.1"]),
                                        clock=clock)
    assert isinstance(telemetry, PrometheusTelemetry)
    yield telemetry, handle, f"http://127.0.0.1:{handle.port}"
    handle.close()


def ready(url: str) -> tuple[int, dict[str, object]]:
    response = httpx.get(f"{url}/readyz", timeout=5.0)
    assert response.headers["content-type"] == "application/json"
    body: dict[str, object] = response.json()
    return response.status_code, body


def test_alive_from_the_start_but_not_ready_before_the_configuration_is_loaded(
    running: tuple[PrometheusTelemetry, TelemetryHandle, str],
) -> None:
    _, _, url = running
    alive = httpx.get(f"{url}/healthz")
    assert (alive.status_code, alive.json()) == (200, {"status": "alive"})
    assert ready(url) == (503, {"status": "not ready", "reasons": ["the configuration is not loaded yet"]})


def test_ready_once_both_servers_answered_and_not_while_one_fails(
    running: tuple[PrometheusTelemetry, TelemetryHandle, str], config: FedcoreConfig, clock: Clock,
) -> None:
    telemetry, handle, url = running
    handle.loaded(config, "order_process")
    offering = config.offerings[0].name
    assert ready(url) == (503, {"status": "not ready", "reasons": [
        f"{offering}: Waldur A ({A}) has not been called yet",
        f"{offering}: Waldur B ({B}) has not been called yet"]})

    telemetry.api_call(A, "GET", "marketplace-orders/", "200", 0.02)
    assert ready(url) == (503, {"status": "not ready", "reasons": [
        f"{offering}: Waldur B ({B}) has not been called yet"]})

    telemetry.api_call(B, "GET", "marketplace-orders/{uuid}/", "404", 0.02)  # an answer all the same
    assert ready(url) == (200, {"status": "ready"})

    telemetry.api_call(B, "POST", "marketplace-orders/", "503", 0.02)
    clock.now += 42
    assert ready(url) == (503, {"status": "not ready", "reasons": [
        f"{offering}: Waldur B ({B}) did not answer its latest call (42 s ago)"]})

    telemetry.server_reachable(B, True)
    assert ready(url) == (200, {"status": "ready"})


def test_every_offering_of_the_mode_needs_its_servers_and_only_those(config: FedcoreConfig) -> None:
    offering = config.offerings[0]
    elsewhere = evolve(offering, name="Storage", waldur_api_url="https://other-a.example.net/api/",
                       waldur_offering_uuid="1" * 32, reporting_backend="", order_processing_backend="",
                       membership_sync_backend="")
    both = evolve(config, offerings=(offering, elsewhere))
    assert expected_servers(both, ["order_process"]) == {offering.name: (A, B)}
    assert expected_servers(both, ["order_process", "username_sync"]) == {
        offering.name: (A, B), "Storage": ("other-a.example.net", B)}

    telemetry = PrometheusTelemetry()
    readiness = Readiness(telemetry.server_states)
    readiness.config_loaded(expected_servers(both, ["username_sync"]))
    for server in (A, B):
        telemetry.api_call(server, "GET", "marketplace-offering-users/", "200", 0.01)
    assert readiness.check() == (False, ["Storage: Waldur A (other-a.example.net) has not been called yet"])
    telemetry.api_call("other-a.example.net", "GET", "marketplace-offering-users/", "200", 0.01)
    assert readiness.check() == (True, [])


def test_other_paths_are_not_found_and_metrics_can_be_openmetrics(
    running: tuple[PrometheusTelemetry, TelemetryHandle, str],
) -> None:
    _, _, url = running
    missing = httpx.get(f"{url}/admin")
    assert missing.status_code == 404
    assert "/readyz" in missing.json()["error"]
    openmetrics = httpx.get(f"{url}/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.endswith("# EOF\n")


def test_closing_releases_the_port() -> None:
    telemetry = PrometheusTelemetry()
    server = HealthServer(telemetry.registry, Readiness(telemetry.server_states), host="127.0.0.1", port=0)
    port = server.port
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    server.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz")
    again = HealthServer(telemetry.registry, Readiness(telemetry.server_states), host="127.0.0.1", port=port)
    assert httpx.get(f"{again.url}/healthz").status_code == 200
    again.close()


def test_a_taken_port_is_an_error_at_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        parser = argparse.ArgumentParser()
        add_metrics_arguments(parser)
        args = parser.parse_args(["--metrics-port", str(taken.getsockname()[1]), "--metrics-address", "127.0.0.1"])
        with pytest.raises(OSError, match="in use"):
            start_telemetry(args)
