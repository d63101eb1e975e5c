"""The OpenAPI contract kit itself: it accepts conforming traffic and names every kind of deviation.

Hand-built requests and responses (no server) are checked against Waldur 8.0.5's schema. Every rejection test
asserts the exact problem line, so the suite fails if the kit stops detecting a class of problem.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from contract.openapi_check import (
    SchemaChecker,
    SchemaViolation,
    SpecNotFoundError,
    ValidatingTransport,
    load_spec,
)

pytestmark = pytest.mark.contract

BASE = "http://waldur.test/api"
ORDER_UUID = "0b7bc53e4a5b4f4e9c2b7a1d8e6f5a40"
RESOURCE_UUID = "7d2c1b0a99884f2e8a6b5c4d3e2f1a0b"
ORDER_PATH = "/api/marketplace-orders/{uuid}/"
ORDERS_PATH = "/api/marketplace-orders/"


def order(**changes: Any) -> dict[str, Any]:
    """A conforming OrderDetails as Waldur renders it (hex UUIDs, absolute URLs, nulls where nullable)."""
    body: dict[str, Any] = {
        "uuid": ORDER_UUID,
        "url": f"{BASE}/marketplace-orders/{ORDER_UUID}/",
        "offering": f"{BASE}/marketplace-public-offerings/5f1e2d3c4b5a49788796a5b4c3d2e1f0/",
        "offering_uuid": "5f1e2d3c4b5a49788796a5b4c3d2e1f0",
        "project_uuid": "1a2b3c4d5e6f47808192a3b4c5d6e7f8",
        "marketplace_resource_uuid": RESOURCE_UUID,
        "state": "pending-provider",
        "type": "Create",
        "limits": {"cpu": 10, "gpu": 0},
        "attributes": {"name": "alloc-1"},
        "plan": f"{BASE}/marketplace-public-plans/00112233445566778899aabbccddeeff/",
        "plan_unit": None,
        "cost": "12.5000000000",
        "created": "2026-03-01T10:00:00.123456Z",
        "completed_at": None,
        "error_message": "",
        "backend_id": "",
    }
    body.update(changes)
    return body


def exchange(
    method: str,
    url: str,
    status: int,
    body: object = None,
    headers: dict[str, str] | None = None,
    **request: Any,
) -> httpx.Response:
    """A response (JSON unless ``body`` is None or bytes) tied to the request that produced it."""
    content = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    all_headers = {"content-type": "application/json"} if body is not None else {}
    all_headers.update(headers or {})
    return httpx.Response(
        status, headers=all_headers, content=content, request=httpx.Request(method, url, **request)
    )


def list_headers(count: int, link: str | None = None) -> dict[str, str]:
    """Pagination headers of a one-page order list."""
    first = f"{BASE}/marketplace-orders/"
    return {"x-result-count": str(count), "link": link or f'<{first}>; rel="first", <{first}>; rel="last"'}


# --- spec loading and routing ---------------------------------------------------------------------------------


def test_spec_is_loaded_once_and_quickly() -> None:
    started = time.perf_counter()
    spec = load_spec()
    assert load_spec() is spec
    assert time.perf_counter() - started < 5.0
    assert len(spec.document["paths"]) == 1410


def test_missing_spec_fails_with_the_expected_location(tmp_path: Path) -> None:
    missing = tmp_path / "openapi-8.0.5.json"
    with pytest.raises(SpecNotFoundError, match=str(missing)):
        load_spec(missing)


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("GET", f"/api/marketplace-orders/{ORDER_UUID}/", ORDER_PATH),
        ("POST", f"/api/marketplace-orders/{ORDER_UUID}/approve_by_provider/",
         "/api/marketplace-orders/{uuid}/approve_by_provider/"),
        ("GET", "/api/users/me/", "/api/users/me/"),
        ("GET", f"/api/users/{ORDER_UUID}/", "/api/users/{uuid}/"),
        ("GET", f"/api/marketplace-public-offerings/{ORDER_UUID}/plans/{RESOURCE_UUID}/",
         "/api/marketplace-public-offerings/{uuid}/plans/{plan_uuid}/"),
        ("GET", f"/waldur/api/marketplace-orders/{ORDER_UUID}/", ORDER_PATH),
    ],
)
def test_concrete_paths_resolve_to_their_templates(
    schema_checker: SchemaChecker, method: str, path: str, template: str
) -> None:
    routed = schema_checker.operation_for(httpx.Request(method, f"http://waldur.test{path}"))
    assert routed is not None
    assert routed[0].template == template


def test_path_parameters_are_extracted(schema_checker: SchemaChecker) -> None:
    url = f"{BASE}/marketplace-public-offerings/{ORDER_UUID}/plans/{RESOURCE_UUID}/"
    routed = schema_checker.operation_for(httpx.Request("GET", url))
    assert routed is not None
    assert routed[0].operation_id == "marketplace_public_offerings_plans_retrieve"
    assert routed[1] == {"uuid": ORDER_UUID, "plan_uuid": RESOURCE_UUID}


def test_unknown_paths_and_methods_are_problems(schema_checker: SchemaChecker) -> None:
    assert schema_checker.check_request(httpx.Request("GET", f"{BASE}/no-such-thing/")) == [
        "GET /api/no-such-thing/ request route: no such operation"
    ]
    assert schema_checker.check_request(httpx.Request("PATCH", f"{BASE}/version/")) == [
        "PATCH /api/version/ request route: no such operation"
    ]


def test_path_parameters_are_validated(schema_checker: SchemaChecker) -> None:
    assert schema_checker.check_request(httpx.Request("GET", f"{BASE}/marketplace-orders/{ORDER_UUID}/")) == []
    hyphenated = "0b7bc53e-4a5b-4f4e-9c2b-7a1d8e6f5a40"
    assert schema_checker.check_request(httpx.Request("GET", f"{BASE}/marketplace-orders/{hyphenated}/")) == []
    assert schema_checker.check_request(httpx.Request("GET", f"{BASE}/marketplace-orders/not-a-uuid/")) == [
        f"GET {ORDER_PATH} request path uuid: 'not-a-uuid' is not a 'uuid'"
    ]


# --- response bodies ------------------------------------------------------------------------------------------


def test_a_conforming_order_passes(schema_checker: SchemaChecker) -> None:
    response = exchange("GET", f"{BASE}/marketplace-orders/{ORDER_UUID}/", 200, order())
    assert schema_checker.check_response(response) == []


def test_a_conforming_paginated_list_passes(schema_checker: SchemaChecker) -> None:
    response = exchange("GET", f"{BASE}/marketplace-orders/", 200, [order(), order(state="done")], list_headers(2))
    assert schema_checker.check_response(response) == []


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"state": "approved"}, "body $.state: 'approved' is not one of ['pending-consumer', 'pending-provider',"),
        ({"plan_unit": "week"}, "body $.plan_unit: 'week' is not one of ['month', 'quarter'"),
        ({"limits": {"cpu": "10"}}, "body $.limits.cpu: '10' is not of type 'integer'"),
        ({"offering_uuid": 7}, "body $.offering_uuid: 7 is not of type 'string'"),
        ({"state": None}, "body $.state: null where the schema is not nullable"),
        ({"uuid": None}, "body $.uuid: null where the schema is not nullable"),
        ({"uuid": "12345"}, "body $.uuid: '12345' is not a 'uuid'"),
        ({"url": "/api/marketplace-orders/x/"}, "body $.url: '/api/marketplace-orders/x/' is not a 'uri'"),
        ({"created": "yesterday"}, "body $.created: 'yesterday' is not a 'date-time'"),
        ({"created_by_email": "nobody"}, "body $.created_by_email: 'nobody' is not a 'email'"),
        ({"marketplace_resource_uid": RESOURCE_UUID},
         "body $.marketplace_resource_uid: property 'marketplace_resource_uid' is not declared by the schema"),
    ],
)
def test_order_deviations_are_named_with_their_json_path(
    schema_checker: SchemaChecker, changes: dict[str, Any], problem: str
) -> None:
    single = exchange("GET", f"{BASE}/marketplace-orders/{ORDER_UUID}/", 200, order(**changes))
    problems = schema_checker.check_response(single)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"GET {ORDER_PATH} -> 200 {problem}")
    listed = exchange("GET", f"{BASE}/marketplace-orders/", 200, [order(), order(**changes)], list_headers(2))
    list_problems = schema_checker.check_response(listed)
    assert len(list_problems) == 1, list_problems
    assert list_problems[0].startswith(f"GET {ORDERS_PATH} -> 200 {problem.replace('body $', 'body $[1]')}")


def test_waldur_renderings_the_schema_does_not_spell_out_are_accepted(schema_checker: SchemaChecker) -> None:
    body = order(plan_unit=None, plan_uuid=None, uuid="0b7bc53e-4a5b-4f4e-9c2b-7a1d8e6f5a40", created_by_email="",
                 offering_thumbnail="")
    assert schema_checker.check_response(exchange("GET", f"{BASE}/marketplace-orders/{ORDER_UUID}/", 200, body)) == []


def test_a_missing_required_field_is_a_problem(schema_checker: SchemaChecker) -> None:
    url = f"{BASE}/marketplace-orders/{ORDER_UUID}/approve_by_provider/"
    assert schema_checker.check_response(exchange("POST", url, 200, {"detail": "ok"})) == []
    assert schema_checker.check_response(exchange("POST", url, 200, {"message": "ok"})) == [
        "POST /api/marketplace-orders/{uuid}/approve_by_provider/ -> 200 body $: "
        "property 'detail' is missing (required)",
        "POST /api/marketplace-orders/{uuid}/approve_by_provider/ -> 200 body $.message: "
        "property 'message' is not declared by the schema",
    ]


def test_complete_mode_reports_declared_fields_that_are_absent() -> None:
    complete = SchemaChecker(complete=True)
    problems = complete.check_response(exchange("GET", f"{BASE}/marketplace-orders/{ORDER_UUID}/", 200, order()))
    assert f"GET {ORDER_PATH} -> 200 body $: property 'customer_uuid' is missing (declared; Waldur's serializers " \
           "render every field)" in problems
    assert not any("'uuid' is missing" in problem for problem in problems)


def test_open_mode_tolerates_undeclared_fields() -> None:
    response = exchange("GET", f"{BASE}/marketplace-orders/{ORDER_UUID}/", 200, order(extra_field=1))
    assert SchemaChecker(closed=False).check_response(response) == []


def test_field_selection_trims_the_response(schema_checker: SchemaChecker) -> None:
    url = f"{BASE}/marketplace-orders/{ORDER_UUID}/"
    params = [("field", "uuid"), ("field", "state")]
    trimmed = exchange("GET", url, 200, {"uuid": ORDER_UUID, "state": "done"}, params=params)
    assert schema_checker.check_response(trimmed) == []
    assert SchemaChecker(complete=True).check_response(trimmed) == []
    untrimmed = exchange("GET", url, 200, {"uuid": ORDER_UUID, "state": "done", "type": "Create"}, params=params)
    assert schema_checker.check_response(untrimmed) == [
        f"GET {ORDER_PATH} -> 200 body $: fields ['type'] not selected by field="
    ]
    short = exchange("GET", url, 200, {"uuid": ORDER_UUID}, params=params)
    assert SchemaChecker(complete=True).check_response(short) == [
        f"GET {ORDER_PATH} -> 200 body $: property 'state' is missing (declared; Waldur's serializers render "
        "every field)"
    ]
    listed = exchange("GET", f"{BASE}/marketplace-orders/", 200, [{"uuid": ORDER_UUID, "url": "http://x/"}],
                      list_headers(1), params=[("field", "uuid")])
    assert schema_checker.check_response(listed) == [
        f"GET {ORDERS_PATH} -> 200 body $[0]: fields ['url'] not selected by field="
    ]


def _one_page(url: str) -> str:
    return f'<{url}>; rel="first", <{url}>; rel="last"'


# --- statuses, content types and error bodies -----------------------------------------------------------------


def test_an_undocumented_success_status_is_a_problem(schema_checker: SchemaChecker) -> None:
    response = exchange("POST", f"{BASE}/marketplace-orders/", 200, order())
    assert schema_checker.check_response(response) == [
        f"POST {ORDERS_PATH} -> 200 status: undocumented status; the schema declares ['201']"
    ]


def test_undocumented_error_statuses_are_reported_apart_and_their_bodies_checked(
    schema_checker: SchemaChecker,
) -> None:
    url = f"{BASE}/marketplace-orders/{ORDER_UUID}/"
    not_found = exchange("GET", url, 404, {"detail": "No Order matches the given query."})
    assert schema_checker.check_response(not_found) == []
    undocumented = schema_checker.undocumented_status(not_found)
    assert undocumented == f"GET {ORDER_PATH} -> 404: status not declared by the schema"
    assert schema_checker.check_response(exchange("GET", url, 404, {"error": 404})) == [
        f"GET {ORDER_PATH} -> 404 body $.error: not Waldur's error shape: 404 is not valid under any of "
        "the given schemas (closest: 404 is not of type 'string')"
    ]
    assert schema_checker.check_response(exchange("GET", url, 404, {})) == [
        f"GET {ORDER_PATH} -> 404 body $: not Waldur's error shape: {{}} should be non-empty"
    ]
    html = exchange("GET", url, 404, b"<h1>Not Found</h1>", {"content-type": "text/html"})
    assert schema_checker.check_response(html) == [
        f"GET {ORDER_PATH} -> 404 content-type: error body is text/html, not application/json"
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"detail": "Valid states for operation: pending-provider."},
        {"limits": ["This field is required."]},
        {"non_field_errors": ["Offering is not available."]},
        {"attributes": {"name": ["Too long."]}},
        ["Order is already done."],
    ],
)
def test_waldur_error_shapes_are_accepted(schema_checker: SchemaChecker, body: object) -> None:
    response = exchange("POST", f"{BASE}/marketplace-orders/{ORDER_UUID}/set_state_done/", 409, body)
    assert schema_checker.check_response(response) == []


def test_server_errors_are_not_body_checked_but_are_recorded_as_undocumented(schema_checker: SchemaChecker) -> None:
    response = exchange("GET", f"{BASE}/marketplace-orders/", 503, b"upstream down", {"content-type": "text/plain"})
    assert schema_checker.check_response(response) == []
    undocumented = schema_checker.undocumented_status(response)
    assert undocumented == f"GET {ORDERS_PATH} -> 503: status not declared by the schema"


def test_content_type_and_empty_bodies_are_checked(schema_checker: SchemaChecker) -> None:
    url = f"{BASE}/marketplace-orders/{ORDER_UUID}/"
    wrong_type = exchange("GET", url, 200, json.dumps(order()).encode(), {"content-type": "text/html"})
    assert schema_checker.check_response(wrong_type) == [f"GET {ORDER_PATH} -> 200 content-type: text/html not among "
                                                         "['application/json']"]
    assert schema_checker.check_response(exchange("GET", url, 200)) == [
        f"GET {ORDER_PATH} -> 200 body: body is empty; the schema declares ['application/json']"
    ]
    assert schema_checker.check_response(exchange("DELETE", url, 204)) == []
    assert schema_checker.check_response(exchange("DELETE", url, 204, {"detail": "gone"})) == [
        f"DELETE {ORDER_PATH} -> 204 body: body is present; the schema declares []"
    ]


# --- headers --------------------------------------------------------------------------------------------------


def test_list_headers_are_required(schema_checker: SchemaChecker) -> None:
    bare = exchange("GET", f"{BASE}/marketplace-orders/", 200, [order()])
    assert schema_checker.check_response(bare) == [f"GET {ORDERS_PATH} -> 200 header x-result-count: missing"]
    wrong = exchange("GET", f"{BASE}/marketplace-orders/", 200, [order()], list_headers(1) | {"x-result-count": "one"})
    assert schema_checker.check_response(wrong) == [
        f"GET {ORDERS_PATH} -> 200 header x-result-count: 'one' is not of type 'integer'"
    ]
    no_link = exchange("GET", f"{BASE}/marketplace-orders/", 200, [order()], {"x-result-count": "1"})
    assert schema_checker.check_response(no_link) == [f"GET {ORDERS_PATH} -> 200 header link: missing"]


def test_link_header_follows_waldurs_pagination(schema_checker: SchemaChecker) -> None:
    first, url = f"{BASE}/marketplace-orders/?page_size=2", f"{BASE}/marketplace-orders/"
    good = (f'<{first}>; rel="first", <{url}?page=1&page_size=2>; rel="prev", '
            f'<{url}?page=3&page_size=2>; rel="next", <{url}?page=3&page_size=2>; rel="last"')
    params = {"page": "2", "page_size": "2"}
    middle = exchange("GET", url, 200, [order(), order()], list_headers(5, good), params=params)
    assert schema_checker.check_response(middle) == []
    truncated = f'<{first}>; rel="first", <{url}?page=3&page_size=2>; rel="last"'
    assert schema_checker.check_response(exchange("GET", url, 200, [order()], list_headers(5, truncated),
                                                  params=params)) == [
        f"GET {ORDERS_PATH} -> 200 header link: rels ['first', 'last'] on page 2 of 3; "
        "expected ['first', 'last', 'next', 'prev']"
    ]
    relative = '</api/marketplace-orders/>; rel="first", </api/marketplace-orders/>; rel="last"'
    assert schema_checker.check_response(exchange("GET", url, 200, [order()], list_headers(1, relative))) == [
        f"GET {ORDERS_PATH} -> 200 header link: not an absolute URL: /api/marketplace-orders/",
        f"GET {ORDERS_PATH} -> 200 header link: not an absolute URL: /api/marketplace-orders/",
    ]


def test_head_counts_carry_the_count_and_no_body(schema_checker: SchemaChecker) -> None:
    url = f"{BASE}/marketplace-orders/"
    assert schema_checker.check_response(exchange("HEAD", url, 200, None, {"x-result-count": "3"})) == []
    assert schema_checker.check_response(exchange("HEAD", url, 200)) == [
        f"HEAD {ORDERS_PATH} -> 200 header x-result-count: missing"
    ]
    with_body = exchange("HEAD", url, 200, [order()], {"x-result-count": "1"})
    assert schema_checker.check_response(with_body) == [
        f"HEAD {ORDERS_PATH} -> 200 body: a HEAD response carries no body"
    ]


# --- requests -------------------------------------------------------------------------------------------------


def test_order_create_request_bodies(schema_checker: SchemaChecker) -> None:
    valid = {"offering": f"{BASE}/marketplace-public-offerings/x/", "project": f"{BASE}/projects/y/",
             "limits": {"cpu": 1}, "accepting_terms_of_service": True}
    assert schema_checker.check_request(httpx.Request("POST", f"{BASE}/marketplace-orders/", json=valid)) == []
    missing = {key: value for key, value in valid.items() if key != "offering"}
    assert schema_checker.check_request(httpx.Request("POST", f"{BASE}/marketplace-orders/", json=missing)) == [
        f"POST {ORDERS_PATH} request body $: property 'offering' is missing (required)"
    ]
    read_only = valid | {"uuid": ORDER_UUID, "limits": {"cpu": 1.5}}
    assert schema_checker.check_request(httpx.Request("POST", f"{BASE}/marketplace-orders/", json=read_only)) == [
        f"POST {ORDERS_PATH} request body $.limits.cpu: 1.5 is not of type 'integer'",
        f"POST {ORDERS_PATH} request body $.uuid: property 'uuid' is not declared by the schema",
    ]


def test_request_content_type_and_absent_bodies(schema_checker: SchemaChecker) -> None:
    url = f"{BASE}/marketplace-orders/"
    assert schema_checker.check_request(httpx.Request("POST", url)) == [
        f"POST {ORDERS_PATH} request body: required request body missing"
    ]
    text = httpx.Request("POST", url, content=b"offering=x", headers={"content-type": "text/plain"})
    assert schema_checker.check_request(text) == [
        f"POST {ORDERS_PATH} request content-type: text/plain not among ['application/json']"
    ]
    assert schema_checker.check_request(httpx.Request("GET", url, json={"state": "done"})) == [
        f"GET {ORDERS_PATH} request body: the operation takes no request body"
    ]


def test_query_parameters(schema_checker: SchemaChecker) -> None:
    url = f"{BASE}/marketplace-orders/"
    good = [("state", "pending-provider"), ("state", "executing"), ("page", "2"), ("page_size", "300"),
            ("o", "-created,state"), ("can_approve_as_provider", "true"), ("offering_uuid", ORDER_UUID)]
    assert schema_checker.check_request(httpx.Request("GET", url, params=httpx.QueryParams(tuple(good)))) == []
    bad = [("state", "pending-provider"), ("state", "approved"), ("page", "two"), ("customer", "x"),
           ("can_approve_as_provider", "maybe")]
    assert schema_checker.check_request(httpx.Request("GET", url, params=httpx.QueryParams(tuple(bad)))) == [
        f"GET {ORDERS_PATH} request query customer: parameter not declared by the schema (Waldur would ignore it)",
        f"GET {ORDERS_PATH} request query can_approve_as_provider: 'maybe' is not of type 'boolean'",
        f"GET {ORDERS_PATH} request query page: 'two' is not of type 'integer'",
        f"GET {ORDERS_PATH} request query state: 'approved' is not one of ['pending-consumer', 'pending-provider', "
        "'pending-project', 'pending-start-date', 'executing', 'done', 'erred', 'canceled', 'rejected']",
    ]


def test_comma_style_parameters_take_one_joined_value(schema_checker: SchemaChecker) -> None:
    url = f"{BASE}/marketplace-resources/"
    joined = [("offering_uuid", f"{ORDER_UUID},{RESOURCE_UUID}")]
    assert schema_checker.check_request(httpx.Request("GET", url, params=httpx.QueryParams(tuple(joined)))) == []
    repeated = [("offering_uuid", ORDER_UUID), ("offering_uuid", "zz")]
    assert schema_checker.check_request(httpx.Request("GET", url, params=httpx.QueryParams(tuple(repeated)))) == [
        "GET /api/marketplace-resources/ request query offering_uuid: repeated key "
        f"['{ORDER_UUID}', 'zz']; this parameter takes one (comma-joined) value",
        "GET /api/marketplace-resources/ request query offering_uuid: 'zz' is not a 'uuid'",
    ]


def test_field_values_must_be_fields_of_the_serializer(schema_checker: SchemaChecker) -> None:
    url = f"{BASE}/marketplace-orders/{ORDER_UUID}/"
    assert schema_checker.check_request(httpx.Request("GET", url, params=[("field", "uuid")])) == []
    problems = schema_checker.check_request(httpx.Request("GET", url, params=[("field", "nonsense")]))
    assert len(problems) == 1
    expected = f"GET {ORDER_PATH} request query field: 'nonsense' is not one of ['accepting_terms_of_service',"
    assert problems[0].startswith(expected)


# --- the transport --------------------------------------------------------------------------------------------


def _fake_waldur(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith(f"/{ORDER_UUID}/"):
        return httpx.Response(200, json=order())
    if request.url.path.endswith("/marketplace-orders/"):
        return httpx.Response(200, json=[order(state="approved")], headers=list_headers(1))
    return httpx.Response(404, json={"detail": "Not found."})


def test_the_transport_records_problems_calls_and_undocumented_statuses(schema_checker: SchemaChecker) -> None:
    transport = ValidatingTransport(httpx.MockTransport(_fake_waldur), schema_checker)
    with httpx.Client(transport=transport, base_url=BASE) as client:
        assert client.get(f"/marketplace-orders/{ORDER_UUID}/").json()["uuid"] == ORDER_UUID
        assert client.get("/marketplace-orders/", params={"state": "bogus"}).status_code == 200
        assert client.get(f"/marketplace-resources/{RESOURCE_UUID}/").status_code == 404
        assert client.get("/nowhere/").status_code == 404
    assert transport.calls == {
        "marketplace_orders_retrieve": 1, "marketplace_orders_list": 1, "marketplace_resources_retrieve": 1,
        "<no operation: GET>": 1,
    }
    assert transport.undocumented == [
        "GET /api/marketplace-resources/{uuid}/ -> 404: status not declared by the schema"
    ]
    assert len(transport.problems) == 3
    assert transport.problems[0].startswith(f"GET {ORDERS_PATH} request query state: 'bogus' is not one of")
    assert transport.problems[1].startswith(f"GET {ORDERS_PATH} -> 200 body $[0].state: 'approved' is not one of")
    assert transport.problems[2] == "GET /api/nowhere/ request route: no such operation"
    with pytest.raises(SchemaViolation, match="3 schema problems"):
        transport.assert_clean()


def test_a_strict_transport_raises_at_the_first_problem(schema_checker: SchemaChecker) -> None:
    transport = ValidatingTransport(httpx.MockTransport(_fake_waldur), schema_checker, strict=True)
    with httpx.Client(transport=transport, base_url=BASE) as client:
        client.get(f"/marketplace-orders/{ORDER_UUID}/")
        with pytest.raises(SchemaViolation, match=r"body \$\[0\]\.state: 'approved'"):
            client.get("/marketplace-orders/")
    assert len(transport.problems) == 1
