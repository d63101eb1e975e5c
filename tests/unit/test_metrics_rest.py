"""The REST ports factory reports every call of a real pass to the telemetry: two in-process emulators, an order
from A to B and back, then a scrape whose counts match what the emulators were asked."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from metrics_kit import Scrape

from contract.test_rest_wiring import A_API, B_API, Sandbox
from runners.health import HealthServer, Readiness
from runners.metrics import PrometheusTelemetry
from runners.wiring import Mode, RestPorts, build_mode

pytestmark = pytest.mark.unit

HEX = re.compile(r"[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}")


class Counted(httpx.BaseTransport):
    """A transport that counts the requests it passes on."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.count = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.count += 1
        return self.inner.handle_request(request)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox()
    yield box
    box.close()


def test_a_pass_through_rest_is_counted_per_server_with_bounded_labels(sandbox: Sandbox) -> None:
    telemetry = PrometheusTelemetry()
    a, b = Counted(sandbox.a.transport()), Counted(sandbox.b.transport())
    ports = RestPorts(sandbox.config, transports={A_API: a, B_API: b}, observer=telemetry)
    server = HealthServer(telemetry.registry, Readiness(telemetry.server_states), host="127.0.0.1", port=0)
    try:
        [services] = build_mode(sandbox.config, Mode.ORDER_PROCESS, ports=ports)
        sandbox.order({"node_hours": 2, "storage": 1})
        services.orders.run_pass()
        [b_order] = sandbox.staff_b.get("/api/marketplace-orders/").json()
        for action in ("approve_by_provider", "set_state_done"):
            sandbox.staff_b.post(f"/api/marketplace-orders/{b_order['uuid']}/{action}/")
        assert services.orders.run_pass().count("completed") == 1
        scrape = Scrape.of(server.url)
    finally:
        server.close()
        ports.close()

    calls = [(labels, value) for name, labels, value in scrape.samples if name == "fedcore_api_calls_total"]
    per_server = {"waldur-a.test": 0.0, "waldur-b.test": 0.0}
    for labels, value in calls:
        per_server[labels["server"]] += value
        assert not HEX.search(labels["endpoint"]), labels
        assert labels["status"].isdigit(), labels
    assert per_server == {"waldur-a.test": a.count, "waldur-b.test": b.count}
    assert a.count > 0
    assert b.count > 0
    assert scrape.value("fedcore_api_calls_total", server="waldur-a.test", method="POST",
                        endpoint="marketplace-orders/{uuid}/set_state_done/", status="200") == 1
    assert scrape.value("fedcore_server_up", server="waldur-a.test") == 1
    assert scrape.value("fedcore_server_up", server="waldur-b.test") == 1
