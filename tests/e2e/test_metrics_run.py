"""``fedcore run --metrics-port`` as a real process against two emulated Waldurs over HTTP: an order goes from A to
B and back, and the scrapes of ``/metrics``, ``/healthz`` and ``/readyz`` say what happened."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from run_world import Fedcore, World, stop, until

pytestmark = pytest.mark.e2e

OFFERING = "HPC via Waldur B"


class Scrape:
    """One scrape of ``/metrics``, parsed by prometheus-client's parser."""

    def __init__(self, base_url: str) -> None:
        text = httpx.get(f"{base_url}/metrics", timeout=5.0).text
        self.samples = [(s.name, dict(s.labels), s.value)
                        for family in text_string_to_metric_families(text) for s in family.samples]

    def value(self, name: str, **labels: str) -> float | None:
        """The value of the sample with exactly these labels, or None."""
        return next((v for n, ls, v in self.samples if n == name and ls == labels), None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = World(tmp_path)
    yield made
    made.close()


def answer(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=2.0)
    except httpx.TransportError:
        return None


def passes(base: str) -> float | None:
    done = Scrape(base).value("fedcore_passes_total", offering=OFFERING, mode="order_process", outcome="ok")
    return done if done is not None and done >= 1 else None


def readiness(base: str) -> httpx.Response | None:
    got = answer(f"{base}/readyz")
    return got if got is not None and got.status_code == 200 else None


def test_a_running_daemon_is_scraped_and_its_metrics_match_the_order_it_carried(world: World) -> None:
    config = world.write_config(world.config(periods={"order_process": 0.005}))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.time()
    process = Fedcore().start("run", "-c", config, "-m", "order_process", "--log-format", "json",
                              "--metrics-port", str(port), "--metrics-address", "127.0.0.1")
    try:
        alive = until(lambda: answer(f"{base}/healthz"), "the health endpoint")
        assert alive.json() == {"status": "alive"}
        # an idle pass reads only A, but the daemon asked both servers who its tokens are when it started
        idle = until(lambda: passes(base), "an idle pass")
        assert idle >= 1
        ready_idle = until(lambda: readiness(base), "readiness before any order")
        assert ready_idle.json() == {"status": "ready"}

        order = world.order({"node_hours": 2, "storage": 1})
        [b_order] = until(lambda: world.b_orders() or None, "the order on B")
        world.b_done(b_order["uuid"])
        until(lambda: world.a_order(order)["state"] == "done", "the A order done")

        def completed() -> Scrape | None:
            scrape = Scrape(base)
            done = scrape.value("fedcore_orders_total", offering=OFFERING, type="Create", outcome="completed")
            waiting = scrape.value("fedcore_orders_waiting", offering=OFFERING)
            return scrape if done == 1 and waiting == 0 else None

        scrape = until(completed, "the completed order in the metrics")
        ready = httpx.get(f"{base}/readyz")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    finally:
        code, err = stop(process)
    assert code == 0, err

    a_server, b_server = (api.split("//", 1)[1].removesuffix("/api/") for api in (world.a_api, world.b_api))
    calls = {labels["server"] for name, labels, _ in scrape.samples if name == "fedcore_api_calls_total"}
    assert calls == {a_server, b_server}
    assert scrape.value("fedcore_api_calls_total", server=b_server, method="POST", endpoint="marketplace-orders/",
                        status="201") == 1
    assert scrape.value("fedcore_api_calls_total", server=a_server, method="POST",
                        endpoint="marketplace-orders/{uuid}/set_state_done/", status="200") == 1
    assert scrape.value("fedcore_server_up", server=a_server) == 1
    assert scrape.value("fedcore_server_up", server=b_server) == 1
    assert scrape.value("fedcore_passes_total", offering=OFFERING, mode="order_process", outcome="failed") == 0
    last = scrape.value("fedcore_last_successful_pass_timestamp_seconds", offering=OFFERING, mode="order_process")
    assert last is not None
    assert started <= last <= time.time()
    assert scrape.value("fedcore_oldest_order_age_seconds", offering=OFFERING) == 0
    assert (scrape.value("fedcore_pass_seconds_count", offering=OFFERING, mode="order_process") or 0) >= 2
    for token in world.tokens:
        assert token not in err
    for _, labels, _ in scrape.samples:  # no token and no UUID in any label
        for value in labels.values():
            assert all(token not in value for token in world.tokens)
            assert order not in value
