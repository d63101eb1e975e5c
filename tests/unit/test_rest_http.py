"""The REST boundary against scripted answers (httpx.MockTransport): pagination, retries, error translation."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from adapters.waldur import InvalidResponse, RateLimited, RetryPolicy, WaldurHttp, make_client
from adapters.waldur.errors import detail_of, retry_after
from adapters.waldur.orders import SourceMarketplace, TargetMarketplace
from fedcore.errors import Conflict, NotFound, PermanentError, TransientError
from fedcore.ids import Uuid

pytestmark = pytest.mark.unit

TOKEN = "secret-token-0123456789"
OFFERING = Uuid("a" * 32)
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A scripted Waldur: answers with ``handler`` and keeps every request."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def http(self, attempts: int = 4) -> WaldurHttp:
        client = make_client("https://waldur.example/api/", TOKEN, transport=httpx.MockTransport(self))
        return WaldurHttp(client, side="A", retry=RetryPolicy.instant(attempts))


def order_json(n: int, **fields: object) -> dict[str, object]:
    return {"uuid": f"{n:032x}", "type": "Create", "state": "executing", "offering_uuid": OFFERING,
            "project_uuid": "b" * 32, "customer_uuid": "c" * 32, "created": f"2026-01-01T00:00:{n % 60:02d}Z"} | fields


def paged(items: list[dict[str, object]], size: int) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        chunk = items[(page - 1) * size : page * size]
        headers = {"X-Result-Count": str(len(items))}
        if page * size < len(items):  # the proxy rewrote the scheme and host: only the page number counts
            headers["Link"] = f'<http://internal:8080/api/marketplace-orders/?page={page + 1}>; rel="next"'
        return httpx.Response(200, json=chunk, headers=headers)

    return handler


def test_listings_follow_every_next_link_with_the_largest_page_and_selected_fields() -> None:
    recorder = Recorder(paged([order_json(n) for n in range(1, 8)], size=3))
    orders = SourceMarketplace(recorder.http(), OFFERING).list_open_orders()
    assert [int(o.uuid, 16) for o in orders] == list(range(1, 8))
    assert [r.url.params["page"] for r in recorder.requests] == ["1", "2", "3"]
    first = recorder.requests[0]
    assert first.url.host == "waldur.example"
    assert first.url.params["page_size"] == "300"
    assert first.url.params.get_list("state") == ["pending-provider", "executing"]
    assert {"state", "uuid", "marketplace_resource_uuid"} <= set(first.url.params.get_list("field"))
    assert first.headers["authorization"] == f"Token {TOKEN}"
    assert first.headers["user-agent"].startswith("fedcore/")


def test_a_next_link_back_to_the_same_page_is_an_invalid_answer_not_a_loop() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[], headers={"Link": '<https://w/api/x/?page=1>; rel="next"'})

    with pytest.raises(InvalidResponse, match="page 1 again"):
        Recorder(handler).http().list("x/")


def test_reads_are_retried_through_passing_faults() -> None:
    answers = iter([httpx.Response(503, text="<html><body>Service Unavailable</body></html>"),
                    httpx.Response(502), httpx.Response(200, json=order_json(1))])
    recorder = Recorder(lambda _request: next(answers))
    target = TargetMarketplace(recorder.http(), OFFERING, Uuid("c" * 32))
    assert target.get_order(Uuid(f"{1:032x}")).state == "executing"
    assert len(recorder.requests) == 3


def test_retries_are_bounded_and_the_last_fault_says_what_and_where() -> None:
    recorder = Recorder(lambda _request: httpx.Response(503, text="<h1>Down for maintenance</h1>"))
    with pytest.raises(TransientError) as caught:
        recorder.http(attempts=3).get("marketplace-orders/1/")
    assert len(recorder.requests) == 3
    assert str(caught.value) == "A GET marketplace-orders/1/: HTTP 503 (text/plain): Down for maintenance"
    assert TOKEN not in str(caught.value)


def test_a_creating_post_is_sent_once_whatever_the_fault() -> None:
    recorder = Recorder(lambda _request: httpx.Response(500, json={"detail": "boom"}))
    with pytest.raises(TransientError, match="boom"):
        recorder.http().post("marketplace-orders/", {"type": "Create"}, idempotent=False)
    assert len(recorder.requests) == 1


def test_connection_errors_and_timeouts_are_transient() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    for handler in (refuse, slow):
        recorder = Recorder(handler)
        with pytest.raises(TransientError) as caught:
            recorder.http(attempts=2).get("users/me/")
        assert len(recorder.requests) == 2
        assert caught.value.where == "A GET users/me/"


@pytest.mark.parametrize(
    ("status", "body", "error", "detail"),
    [
        (400, {"limits": ["Unknown component gpu."]}, PermanentError, "limits: Unknown component gpu."),
        (403, {"detail": "You do not have permission to perform this action."}, PermanentError,
         "You do not have permission to perform this action."),
        (404, {"detail": "Not found."}, NotFound, "Not found."),
        (405, None, PermanentError, "HTTP 405"),
        (409, {"detail": "Valid states for operation: pending-provider"}, Conflict,
         "Valid states for operation: pending-provider"),
        (400, ["Order is already being processed."], PermanentError, "Order is already being processed."),
    ],
)
def test_refusals_carry_waldurs_own_detail(status: int, body: object, error: type[Exception], detail: str) -> None:
    content = b"" if body is None else json.dumps(body).encode()
    recorder = Recorder(lambda _request: httpx.Response(status, content=content))
    with pytest.raises(error) as caught:
        recorder.http().post("marketplace-orders/1/approve_by_provider/", {}, idempotent=False)
    assert isinstance(caught.value, PermanentError)
    assert caught.value.detail == detail
    assert caught.value.status == status
    assert len(recorder.requests) == 1


def test_429_waits_as_long_as_waldur_asks_within_the_policy() -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json={})])
    recorder = Recorder(lambda _request: next(answers))
    assert recorder.http().get("users/me/") == {}
    assert len(recorder.requests) == 2
    assert retry_after(httpx.Response(429, headers={"Retry-After": "2.5"})) == 2.5
    dated = httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2026 07:28:05 GMT",
                                         "Date": "Wed, 21 Oct 2026 07:28:00 GMT"})
    assert retry_after(dated) == 5.0
    assert retry_after(httpx.Response(429, headers={"Retry-After": "soon"})) is None
    recorder = Recorder(lambda _request: httpx.Response(429, headers={"Retry-After": "1"}))
    with pytest.raises(RateLimited) as caught:
        recorder.http(attempts=2).get("users/me/")
    assert caught.value.retry_after == 1.0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([order_json(1, state="exploded")], "state: unknown value 'exploded'"),
        ([order_json(1, uuid="not-a-uuid")], "uuid: not a UUID"),
        ([{**order_json(1), "type": None}], "$[0].type"),
        ([{k: v for k, v in order_json(1).items() if k != "project_uuid"}], "$[0].project_uuid"),
        ({"detail": "not a list"}, "must be a JSON array"),
    ],
)
def test_a_malformed_answer_names_the_call_and_the_field(body: object, field: str) -> None:
    recorder = Recorder(lambda _request: httpx.Response(200, json=body))
    with pytest.raises(InvalidResponse) as caught:
        SourceMarketplace(recorder.http(attempts=1), OFFERING).list_open_orders()
    assert caught.value.where == "A GET marketplace-orders/"
    assert field in str(caught.value)


def test_truncated_json_and_html_pages_are_invalid_answers() -> None:
    for content in (b'[{"uuid": "ab', b"<html>Bad gateway</html>"):
        recorder = Recorder(lambda _request, c=content: httpx.Response(200, content=c))  # type: ignore[misc]
        with pytest.raises(InvalidResponse, match="not JSON"):
            recorder.http(attempts=1).get("marketplace-orders/1/")
    assert detail_of(httpx.Response(502, content=b"x" * 5000)).endswith("…")


def test_the_idempotency_key_travels_where_waldur_keeps_it() -> None:
    sent: dict[str, object] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        sent[request.url.path] = json.loads(request.content) if request.content else None
        if request.url.path.endswith("/plans/"):
            return httpx.Response(200, json=[{"url": "https://w/api/plan/1/", "archived": False}])
        if request.url.path.endswith("marketplace-orders/"):
            return httpx.Response(201, json=order_json(9, attributes={"fedcore_order_key": "fedcore-order:k"}))
        return httpx.Response(200, json={"order_uuid": "d" * 32})

    recorder = Recorder(handler)
    target = TargetMarketplace(recorder.http(), OFFERING, Uuid("c" * 32))
    from fedcore.model import NewOrder

    created = target.create_order(NewOrder("e" * 32, "fedcore-order:k", {"cpu": 1}, {"name": "x"}))
    assert created.key == "fedcore-order:k"
    assert "fedcore_order_key" not in created.attributes
    target.request_update(Uuid("f" * 32), {"cpu": 2}, "fedcore-order:u")
    target.request_termination(Uuid("f" * 32), "fedcore-order:t")
    target.create_order(NewOrder("e" * 32, "fedcore-order:k2"))
    assert sent["/api/marketplace-resources/" + "f" * 32 + "/update_limits/"] == {
        "limits": {"cpu": 2}, "request_comment": "fedcore-order:u"}
    assert sent["/api/marketplace-resources/" + "f" * 32 + "/terminate/"] == {
        "attributes": {"fedcore_order_key": "fedcore-order:t"}}
    plan_reads = [r for r in recorder.requests if r.url.path.endswith("/plans/")]
    assert len(plan_reads) == 1  # B's plan is looked up once per offering


def test_turning_tls_verification_off_is_loud_for_https_and_quiet_for_plain_http(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("WARNING"):
        make_client("https://waldur.example/api/", TOKEN, verify=False, name="Waldur B").close()
        make_client("http://127.0.0.1:8000/api/", TOKEN, verify=False).close()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "TLS certificate verification is OFF for Waldur B" in warnings[0]
    assert TOKEN not in warnings[0]
