"""Prometheus telemetry scraped over HTTP and checked against what happened.

Each test drives :class:`PrometheusTelemetry` (directly, or through the REST adapter's call observer), serves it
with the health server on a free port, scrapes ``/metrics`` with httpx, parses it with prometheus-client's parser
and compares the samples with the events it was told of.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from metrics_kit import Scrape

from adapters.waldur import CallObserver, RetryPolicy, WaldurHttp, endpoint_template, make_client
from fedcore.errors import PermanentError, TransientError
from runners.health import HealthServer, Readiness
from runners.metrics import PrometheusTelemetry, answered, start_telemetry
from runners.metrics_args import add_metrics_arguments
from runners.telemetry import NullTelemetry, Telemetry
from runners.wiring import server_label

pytestmark = pytest.mark.unit

TOKEN = "secret-token-0123456789abcdef"
UUID = "0f9e8d7c6b5a49388271605f4e3d2c1b"


@pytest.fixture
def served() -> Iterator[tuple[PrometheusTelemetry, str]]:
    telemetry = PrometheusTelemetry(clock=lambda: 1_000.0)
    server = HealthServer(telemetry.registry, Readiness(telemetry.server_states), host="127.0.0.1", port=0)
    yield telemetry, server.url
    server.close()


def test_the_prometheus_telemetry_is_a_telemetry_and_a_call_observer() -> None:
    telemetry = PrometheusTelemetry()
    port: Telemetry = telemetry
    observer: CallObserver = telemetry
    assert port is observer


def test_orders_passes_and_waiting_orders_are_scraped_as_reported(served: tuple[PrometheusTelemetry, str]) -> None:
    telemetry, url = served
    for outcome in ("completed", "completed", "waiting", "failed"):
        telemetry.order_finished("HPC", "Create", outcome)
    telemetry.order_finished("HPC", "Terminate", "completed")
    telemetry.pass_finished("HPC", "order_process", 0.3, ok=True, finished_at=1_700_000_000.0)
    telemetry.pass_finished("HPC", "order_process", 2.0, ok=False, finished_at=1_700_000_060.0)
    telemetry.orders_waiting("HPC", 3, 125.5)

    scrape = Scrape.of(url)
    assert scrape.value("fedcore_orders_total", offering="HPC", type="Create", outcome="completed") == 2
    assert scrape.value("fedcore_orders_total", offering="HPC", type="Create", outcome="waiting") == 1
    assert scrape.value("fedcore_orders_total", offering="HPC", type="Create", outcome="failed") == 1
    assert scrape.value("fedcore_orders_total", offering="HPC", type="Terminate", outcome="completed") == 1
    assert scrape.value("fedcore_passes_total", offering="HPC", mode="order_process", outcome="ok") == 1
    assert scrape.value("fedcore_passes_total", offering="HPC", mode="order_process", outcome="failed") == 1
    assert scrape.value("fedcore_pass_seconds_count", offering="HPC", mode="order_process") == 2
    assert scrape.value("fedcore_pass_seconds_sum", offering="HPC", mode="order_process") == pytest.approx(2.3)
    assert scrape.value("fedcore_pass_seconds_bucket", offering="HPC", mode="order_process", le="0.5") == 1
    assert scrape.value("fedcore_pass_seconds_bucket", offering="HPC", mode="order_process", le="+Inf") == 2
    # the failed pass ended later, but the last successful one is the first
    assert scrape.value("fedcore_last_successful_pass_timestamp_seconds", offering="HPC",
                        mode="order_process") == 1_700_000_000.0
    assert scrape.value("fedcore_orders_waiting", offering="HPC") == 3
    assert scrape.value("fedcore_oldest_order_age_seconds", offering="HPC") == 125.5

    telemetry.orders_waiting("HPC", 0, 0.0)
    again = Scrape.of(url)
    assert again.value("fedcore_orders_waiting", offering="HPC") == 0
    assert again.value("fedcore_oldest_order_age_seconds", offering="HPC") == 0


def test_expected_passes_start_at_zero_so_that_missing_success_is_visible(
    served: tuple[PrometheusTelemetry, str],
) -> None:
    telemetry, url = served
    telemetry.expect(["HPC", "Storage"], ["membership_sync"])
    scrape = Scrape.of(url)
    for offering in ("HPC", "Storage"):
        for outcome in ("ok", "failed"):
            assert scrape.value("fedcore_passes_total", offering=offering, mode="membership_sync",
                                outcome=outcome) == 0
    assert scrape.series("fedcore_last_successful_pass_timestamp_seconds") == []


class Scripted:
    """A Waldur answering from a list of responses (or exceptions), recording each request."""

    def __init__(self, *answers: httpx.Response | type[httpx.TransportError]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, httpx.Response):
            return answer
        raise answer("scripted", request=request)

    def http(self, observer: CallObserver, server: str = "waldur-b.example.org") -> WaldurHttp:
        client = make_client("https://waldur-b.example.org/api/", TOKEN, transport=httpx.MockTransport(self))
        return WaldurHttp(client, side="B", retry=RetryPolicy.instant(), observer=observer, server=server)


def test_api_calls_are_counted_per_attempt_with_their_template_and_status_and_retries_are_counted(
    served: tuple[PrometheusTelemetry, str],
) -> None:
    telemetry, url = served
    waldur = Scripted(httpx.Response(503), httpx.ConnectError, httpx.Response(200, json={"uuid": UUID}),
                      httpx.Response(409, json={"detail": "no"}))
    http = waldur.http(telemetry)
    assert http.get(f"marketplace-orders/{UUID}/") == {"uuid": UUID}
    with pytest.raises(PermanentError):
        http.post(f"marketplace-orders/{UUID}/approve_by_provider/", {}, idempotent=False)

    scrape = Scrape.of(url)
    server = "waldur-b.example.org"
    get = {"server": server, "method": "GET", "endpoint": "marketplace-orders/{uuid}/"}
    assert scrape.value("fedcore_api_calls_total", **get, status="503") == 1
    assert scrape.value("fedcore_api_calls_total", **get, status="ConnectError") == 1
    assert scrape.value("fedcore_api_calls_total", **get, status="200") == 1
    assert scrape.value("fedcore_api_call_seconds_count", **get) == 3
    assert scrape.value("fedcore_retries_total", server=server, endpoint="marketplace-orders/{uuid}/") == 2
    post = {"server": server, "method": "POST", "endpoint": "marketplace-orders/{uuid}/approve_by_provider/"}
    assert scrape.value("fedcore_api_calls_total", **post, status="409") == 1
    assert scrape.series("fedcore_retries_total") == [{"server": server, "endpoint": "marketplace-orders/{uuid}/"}]
    # a 409 is an answer: the server is up
    assert scrape.value("fedcore_server_up", server=server) == 1
    assert len(waldur.requests) == 4


def test_a_server_that_stops_answering_is_down_until_it_answers_again(
    served: tuple[PrometheusTelemetry, str],
) -> None:
    telemetry, url = served
    waldur = Scripted(httpx.Response(502), httpx.ReadTimeout, httpx.Response(200, json=[]))
    http = waldur.http(telemetry, server="waldur-a.example.org")
    with pytest.raises(TransientError):
        http.post("marketplace-orders/", {}, idempotent=False)
    assert Scrape.of(url).value("fedcore_server_up", server="waldur-a.example.org") == 0
    with pytest.raises(TransientError):
        http.post("projects/", {}, idempotent=False)
    assert Scrape.of(url).value("fedcore_server_up", server="waldur-a.example.org") == 0
    assert http.list("marketplace-orders/") == []
    scrape = Scrape.of(url)
    assert scrape.value("fedcore_server_up", server="waldur-a.example.org") == 1
    assert scrape.value("fedcore_api_calls_total", server="waldur-a.example.org", method="POST",
                        endpoint="projects/", status="ReadTimeout") == 1
    assert scrape.series("fedcore_retries_total") == []


def test_no_label_carries_a_token_or_a_uuid(served: tuple[PrometheusTelemetry, str]) -> None:
    telemetry, url = served
    waldur = Scripted(*(httpx.Response(200, json={}) for _ in range(3)))
    http = waldur.http(telemetry)
    http.get(f"marketplace-resources/{UUID}/")
    http.post(f"projects/{UUID[:8]}-{UUID[8:12]}-{UUID[12:16]}-{UUID[16:20]}-{UUID[20:]}/add_user/", {},
              idempotent=False)
    http.patch(f"marketplace-offering-users/{UUID}/", {"username": "u"})
    text = httpx.get(f"{url}/metrics").text
    assert TOKEN not in text
    assert UUID not in text
    assert UUID[:8] not in text


def test_without_a_metrics_port_the_daemon_reports_nowhere_and_nothing_listens() -> None:
    parser = argparse.ArgumentParser()
    add_metrics_arguments(parser)
    telemetry, handle = start_telemetry(parser.parse_args([]))
    assert isinstance(telemetry, NullTelemetry)
    assert handle.port is None
    handle.close()


def test_with_a_metrics_port_the_process_metrics_and_build_info_are_served() -> None:
    parser = argparse.ArgumentParser()
    add_metrics_arguments(parser)
    telemetry, handle = start_telemetry(parser.parse_args(["--metrics-port", "0", "--metrics-address", "127.0.0.1"]))
    try:
        assert isinstance(telemetry, PrometheusTelemetry)
        assert handle.port
        scrape = Scrape.of(f"http://127.0.0.1:{handle.port}")
        assert {"process_start_time_seconds", "python_info", "fedcore_build_info"} <= scrape.names()
        [build] = scrape.series("fedcore_build_info")
        assert build["version"]
    finally:
        handle.close()
        handle.close()


@pytest.mark.parametrize(
    ("status", "up"),
    [("200", True), ("204", True), ("401", True), ("404", True), ("409", True), ("429", True),
     ("500", False), ("503", False), ("ConnectError", False), ("ReadTimeout", False)],
)
def test_what_counts_as_an_answer(status: str, up: bool) -> None:
    assert answered(status) is up


@pytest.mark.parametrize(
    ("url", "label"),
    [
        ("https://waldur.example.org/api/", "waldur.example.org"),
        ("http://127.0.0.1:8001/api/", "127.0.0.1:8001"),
        ("https://user:pass@waldur.example.org:8443/api/", "waldur.example.org:8443"),
        ("https://proxy.example.org/waldur-b/api/", "proxy.example.org/waldur-b"),
    ],
)
def test_servers_are_named_by_host_without_user_information(url: str, label: str) -> None:
    assert server_label(url) == label


NAMES = ("marketplace-orders", "projects", "add_user", "set_state_done", "api", "team")
uuids = st.uuids().flatmap(lambda u: st.sampled_from([u.hex, str(u), u.hex.upper()]))


@given(st.lists(st.one_of(uuids, st.sampled_from(NAMES), st.integers(0, 10**9).map(str)), min_size=1, max_size=5))
def test_endpoint_templates_keep_the_names_and_hide_every_identifier(parts: list[str]) -> None:
    kept = endpoint_template("/".join(parts) + "/").split("/")
    assert kept[-1] == ""
    assert kept[:-1] == [p if p in NAMES else "{id}" if p.isdigit() else "{uuid}" for p in parts]


def test_events_are_counted_by_side_type_and_outcome_and_offerings_by_state(
    served: tuple[PrometheusTelemetry, str],
) -> None:
    telemetry, url = served
    telemetry.event_settled("A", "order", "handled", 0.004)
    telemetry.event_settled("A", "order", "handled", 0.006)
    telemetry.event_settled("B", "malformed", "malformed", 0.0)
    telemetry.event_settled("B", "order", "dropped", 12.0)
    telemetry.event_offerings_by_state({"events": 3, "polling": 1})

    scrape = Scrape.of(url)
    assert scrape.value("fedcore_events_total", side="A", object_type="order", outcome="handled") == 2
    assert scrape.value("fedcore_events_total", side="B", object_type="malformed", outcome="malformed") == 1
    assert scrape.value("fedcore_events_total", side="B", object_type="order", outcome="dropped") == 1
    assert scrape.value("fedcore_event_seconds_count", side="A", object_type="order") == 2
    assert scrape.value("fedcore_event_seconds_sum", side="A", object_type="order") == pytest.approx(0.01)
    assert scrape.value("fedcore_event_offerings", state="events") == 3
    assert scrape.value("fedcore_event_offerings", state="polling") == 1
    assert scrape.value("fedcore_event_offerings", state="pending") == 0
