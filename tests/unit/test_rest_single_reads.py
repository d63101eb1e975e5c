"""Single-object reads of the REST adapter against scripted answers: A's order and B's offering user by UUID."""

from __future__ import annotations

import httpx
import pytest

from adapters.waldur import RetryPolicy, WaldurHttp, make_client
from adapters.waldur.orders import SourceMarketplace
from adapters.waldur.users import TargetUsers
from fedcore.enums import OfferingUserState, OrderState
from fedcore.errors import NotFound, PermanentError, TransientError
from fedcore.ids import Uuid

pytestmark = pytest.mark.unit

OFFERING = Uuid("a" * 32)
OTHER = Uuid("d" * 32)
ORDER = Uuid("1" * 32)
RECORD = Uuid("2" * 32)


def http_answering(status: int, body: object, seen: list[httpx.Request]) -> WaldurHttp:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=body)

    client = make_client("https://waldur.example/api/", "token-0123456789", transport=httpx.MockTransport(handler))
    return WaldurHttp(client, side="A", retry=RetryPolicy.instant())


def order_json(offering: str) -> dict[str, object]:
    return {"uuid": ORDER, "type": "Create", "state": "executing", "offering_uuid": offering,
            "project_uuid": "b" * 32, "customer_uuid": "c" * 32, "created": "2026-01-01T00:00:00Z"}


def test_get_order_reads_one_order_of_the_offering_with_selected_fields() -> None:
    seen: list[httpx.Request] = []
    order = SourceMarketplace(http_answering(200, order_json(OFFERING), seen), OFFERING).get_order(ORDER)
    assert (order.uuid, order.state, order.offering_uuid) == (ORDER, OrderState.EXECUTING, OFFERING)
    [request] = seen
    assert (request.method, request.url.path) == ("GET", f"/api/marketplace-orders/{ORDER}/")
    assert {"uuid", "state", "offering_uuid"} <= set(request.url.params.get_list("field"))


def test_get_order_of_another_offering_is_not_found_and_says_why() -> None:
    source = SourceMarketplace(http_answering(200, order_json(OTHER), []), OFFERING)
    with pytest.raises(NotFound) as refused:
        source.get_order(ORDER)
    assert f"of offering {OTHER}, not of {OFFERING}" in str(refused.value)
    assert "marketplace-orders" in refused.value.where


def test_get_order_answered_404_is_not_found_and_503_is_transient() -> None:
    with pytest.raises(NotFound):
        SourceMarketplace(http_answering(404, {"detail": "Not found."}, []), OFFERING).get_order(ORDER)
    seen: list[httpx.Request] = []
    with pytest.raises(TransientError):
        SourceMarketplace(http_answering(503, {"detail": "down"}, seen), OFFERING).get_order(ORDER)
    assert len(seen) == RetryPolicy.instant().attempts


def record_json() -> dict[str, object]:
    return {"uuid": RECORD, "user_uuid": "e" * 32, "user_username": "ann@cuid", "offering_uuid": OFFERING,
            "state": "OK", "username": "ann01", "is_restricted": False, "user_email": "ann@example.org"}


def test_get_offering_user_reads_one_record_by_uuid() -> None:
    seen: list[httpx.Request] = []
    record = TargetUsers(http_answering(200, record_json(), seen), OFFERING).get_offering_user(RECORD)
    assert (record.uuid, record.user_username, record.username) == (RECORD, "ann@cuid", "ann01")
    assert (record.state, record.user_email) == (OfferingUserState.OK, "ann@example.org")
    [request] = seen
    assert (request.method, request.url.path) == ("GET", f"/api/marketplace-offering-users/{RECORD}/")
    assert {"user_username", "username"} <= set(request.url.params.get_list("field"))


def test_get_offering_user_answered_404_is_not_found() -> None:
    with pytest.raises(NotFound) as refused:
        TargetUsers(http_answering(404, {"detail": "Not found."}, []), OFFERING).get_offering_user(RECORD)
    assert isinstance(refused.value, PermanentError)
