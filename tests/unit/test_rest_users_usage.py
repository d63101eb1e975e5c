"""The user and usage REST adapters against scripted answers (httpx.MockTransport): requests, parsing, errors,
retries."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest

from adapters.waldur import (
    InvalidResponse,
    RetryPolicy,
    SourceUsage,
    SourceUsers,
    TargetUsage,
    TargetUsers,
    WaldurHttp,
    make_client,
)
from fedcore.enums import OfferingUserState, UserMatchField
from fedcore.errors import NotFound, PermanentError, TransientError
from fedcore.ids import Uuid
from fedcore.model import JsonValue, UserUsage

pytestmark = pytest.mark.unit

OFFERING = Uuid("a" * 32)
RESOURCE = Uuid("e" * 32)
PROJECT = Uuid("b" * 32)
FEBRUARY = dt.date(2026, 2, 1)
Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]


class Script:
    """A scripted Waldur: per ``METHOD path``, answers given in turn (the last one repeats); every request kept."""

    def __init__(self, answers: dict[str, list[Answer]]) -> None:
        self.answers = {route: iter(replies) for route, replies in answers.items()}
        self.last: dict[str, Answer] = {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        route = f"{request.method} {request.url.path.removeprefix('/api/')}"
        if route not in self.answers:
            return httpx.Response(404, json={"detail": f"unscripted {route}"})
        self.last[route] = next(self.answers[route], self.last.get(route)) or httpx.Response(500)
        answer = self.last[route]
        return answer(request) if callable(answer) else answer

    def http(self, side: str = "A") -> WaldurHttp:
        client = make_client("https://waldur.example/api/", "token", transport=httpx.MockTransport(self))
        return WaldurHttp(client, side=side, retry=RetryPolicy.instant())

    def routes(self) -> list[str]:
        return [f"{r.method} {r.url.path.removeprefix('/api/')}" for r in self.requests]

    def body(self, index: int) -> object:
        return json.loads(self.requests[index].content)


def ok(body: object, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body)


def offering_user(n: int, **fields: object) -> dict[str, object]:
    return {"uuid": f"{n:032x}", "user_uuid": f"{n + 100:032x}", "user_username": f"user{n}@cuid",
            "offering_uuid": OFFERING, "state": "OK", "username": None, "is_restricted": False} | fields


def usage_row(n: int, component: str, usage: object, date: str = "2026-02-01T12:00:00Z") -> dict[str, object]:
    return {"uuid": f"{n:032x}", "type": component, "usage": usage, "date": date, "billing_period": "2026-02-01"}


@pytest.fixture
def html() -> httpx.Response:
    return httpx.Response(200, text="<html><body>Please log in</body></html>", headers={"content-type": "text/html"})


# --- requests ------------------------------------------------------------------------------------------------------


def test_offering_users_are_one_listing_with_a_key_per_state() -> None:
    script = Script({"GET marketplace-offering-users/": [ok([offering_user(1, state="Pending account linking")])]})
    found = SourceUsers(script.http(), OFFERING).list_offering_users(
        {OfferingUserState.OK, OfferingUserState.PENDING_ACCOUNT_LINKING})
    assert [u.state for u in found] == [OfferingUserState.PENDING_ACCOUNT_LINKING]
    params = script.requests[0].url.params
    assert params["offering_uuid"] == OFFERING
    assert sorted(params.get_list("state")) == ["OK", "Pending account linking"]
    assert {"user_username", "username", "state", "user_email"} <= set(params.get_list("field"))


def test_no_states_and_empty_lookups_ask_nothing() -> None:
    script = Script({})
    http = script.http("B")
    assert list(TargetUsers(http, OFFERING).list_offering_users(set())) == []
    assert list(TargetUsers(http, OFFERING).offering_users_of("  ")) == []
    assert list(TargetUsers(http, OFFERING).find_users(UserMatchField.EMAIL, "")) == []
    assert script.requests == []


@pytest.mark.parametrize(("match_field", "key"), [(UserMatchField.EMAIL, "email"),
                                                   (UserMatchField.CUID, "username"),
                                                   (UserMatchField.USERNAME, "username")])
def test_user_lookups_use_waldurs_filter_for_the_field(match_field: UserMatchField, key: str) -> None:
    script = Script({"GET users/": [ok([{"uuid": "c" * 32, "username": "ann", "email": None}])]})
    [found] = TargetUsers(script.http("B"), OFFERING).find_users(match_field, "ann@example.org")
    assert (found.uuid, found.email) == ("c" * 32, "")
    assert script.requests[0].url.params[key] == "ann@example.org"


TEAM_RESOURCE = "e" * 32
RESOURCES = "GET marketplace-provider-resources/"
TEAM = f"GET marketplace-provider-resources/{TEAM_RESOURCE}/team/"


def test_the_team_is_the_providers_view_of_a_resource_in_the_project() -> None:
    resources = [{"uuid": "0" * 32, "state": "Terminated"}, {"uuid": TEAM_RESOURCE, "state": "OK"}]
    row = {"uuid": "c" * 32, "username": "ann@cuid", "role": "PROJECT.ADMIN", "email": "ann@example.org",
           "full_name": "Ann", "url": "https://a/api/users/c/", "expiration_time": None,
           "offering_user_username": None, "offering_user_state": None}
    script = Script({RESOURCES: [ok(resources)], TEAM: [ok([row])]})
    [member] = SourceUsers(script.http(), OFFERING).list_team(PROJECT)
    assert (member.user.uuid, member.user.username, member.user.email, member.role) == (
        "c" * 32, "ann@cuid", "ann@example.org", "PROJECT.ADMIN")
    assert script.requests[0].url.params["project_uuid"] == PROJECT
    assert "page_size" not in script.requests[1].url.params  # team/ declares no paging parameters


def test_a_project_without_a_live_resource_of_the_offering_has_no_visible_team() -> None:
    script = Script({RESOURCES: [ok([{"uuid": TEAM_RESOURCE, "state": "Terminated"}])]})
    with pytest.raises(NotFound, match="holds no resource of offering"):
        SourceUsers(script.http(), OFFERING).list_team(PROJECT)


def test_setting_a_username_is_a_patch_of_that_field_alone() -> None:
    script = Script({f"PATCH marketplace-offering-users/{'1' * 32}/": [ok(offering_user(1))]})
    SourceUsers(script.http(), OFFERING).set_offering_user_username(Uuid("1" * 32), "ann01")
    assert script.body(0) == {"username": "ann01"}


def test_the_bridge_gets_only_non_empty_attributes_and_answers_the_users_uuid() -> None:
    answer = {"uuid": "c" * 32, "created": True, "updated_fields": ["first_name"]}
    script = Script({"POST identity-bridge/": [ok(answer)]})
    attributes: dict[str, JsonValue] = {"first_name": "Ann", "email": "", "affiliations": [], "organization": None}
    assert TargetUsers(script.http("B"), OFFERING).push_identity("ann@cuid", "isd:x", attributes) == "c" * 32
    assert script.body(0) == {"first_name": "Ann", "username": "ann@cuid", "source": "isd:x"}


def test_usage_is_set_as_cent_rounded_decimal_strings_at_noon_of_the_periods_first_day() -> None:
    script = Script({"POST marketplace-component-usages/set_usage/": [httpx.Response(201)]})
    totals = {"ram": Decimal("2.345"), "cpu": Decimal("1E+2")}
    SourceUsage(script.http()).set_usage(RESOURCE, dt.date(2026, 2, 17), totals)
    assert script.body(0) == {"resource": RESOURCE, "date": "2026-02-01T12:00:00+00:00",
                              "usages": [{"type": "cpu", "amount": "100.00"}, {"type": "ram", "amount": "2.35"}]}


def test_user_usages_go_to_the_components_latest_usage_in_the_period() -> None:
    rows = [usage_row(1, "cpu", 3, "2026-02-01T12:00:00Z"), usage_row(2, "cpu", 4, "2026-02-20T00:00:00Z")]
    script = Script({"GET marketplace-component-usages/": [ok(rows)],
                     f"POST marketplace-component-usages/{2:032x}/set_user_usages/": [httpx.Response(201)]})
    SourceUsage(script.http()).set_user_usages(RESOURCE, dt.date(2026, 2, 9), "cpu", {"bob": Decimal("2.5")})
    params = script.requests[0].url.params
    assert (params["resource_uuid"], params["billing_period"], params["type"]) == (RESOURCE, "2026-02-01", "cpu")
    assert script.body(1) == {"usages": [{"username": "bob", "usage": "2.50"}]}


def test_user_usages_without_the_components_total_are_not_found_and_send_nothing() -> None:
    script = Script({"GET marketplace-component-usages/": [ok([usage_row(1, "ram", 3)])]})
    with pytest.raises(NotFound, match=r"no 'cpu' usage of resource e{32} in 2026-02"):
        SourceUsage(script.http()).set_user_usages(RESOURCE, FEBRUARY, "cpu", {"bob": Decimal(1)})
    assert script.routes() == ["GET marketplace-component-usages/"]


def test_reads_sum_plan_periods_and_users_and_accept_numbers_or_decimal_strings() -> None:
    users = [{"username": "ann", "usage": "1.50", "component_type": "cpu"},
             {"username": "ann", "usage": 2, "component_type": "cpu"}]
    script = Script({"GET marketplace-component-usages/": [ok([usage_row(1, "cpu", 3), usage_row(2, "cpu", "0.25"),
                                                                usage_row(3, "ram", 1.5)])],
                     "GET marketplace-component-user-usages/": [ok(users)]})
    usage = TargetUsage(script.http("B")).read_usage(RESOURCE, dt.date(2026, 2, 28))
    assert usage.billing_period == FEBRUARY
    assert dict(usage.totals) == {"cpu": Decimal("3.25"), "ram": Decimal("1.5")}
    assert usage.per_user == (UserUsage("cpu", "ann", Decimal("3.50")),)
    assert script.requests[1].url.params["component_usage__billing_period"] == "2026-02-01"
    assert "marketplace-resources/" not in " ".join(script.routes())  # usage was found: no existence check


def test_an_empty_read_checks_the_resource_once_and_its_404_is_not_found() -> None:
    script = Script({"GET marketplace-component-usages/": [ok([])],
                     f"GET marketplace-provider-resources/{RESOURCE}/": [ok({"detail": "Not found."}, 404)]})
    with pytest.raises(NotFound) as caught:
        SourceUsage(script.http()).read_usage(RESOURCE, FEBRUARY)
    assert caught.value.where == f"A GET marketplace-provider-resources/{RESOURCE}/"
    assert script.requests[1].url.params.get_list("field") == ["uuid"]

    script = Script({"GET marketplace-component-usages/": [ok([])],
                     f"GET marketplace-resources/{RESOURCE}/": [ok({"uuid": RESOURCE})]})
    usage = TargetUsage(script.http("B")).read_usage(RESOURCE, FEBRUARY)
    assert (dict(usage.totals), usage.per_user) == ({}, ())
    assert len(script.requests) == 2  # no user-usage listing without a component usage


def test_a_refused_set_usage_is_not_found_only_when_the_resource_is_missing() -> None:
    refusal = ok({"resource": ["Object with uuid=e… does not exist."]}, 400)
    script = Script({"POST marketplace-component-usages/set_usage/": [refusal],
                     f"GET marketplace-provider-resources/{RESOURCE}/": [ok({"detail": "Not found."}, 404)]})
    with pytest.raises(NotFound) as missing:
        SourceUsage(script.http()).set_usage(RESOURCE, FEBRUARY, {"cpu": Decimal(1)})
    assert isinstance(missing.value.__cause__, PermanentError)

    script = Script({"POST marketplace-component-usages/set_usage/": [ok({"amount": ["Must be >= 0."]}, 400)],
                     f"GET marketplace-provider-resources/{RESOURCE}/": [ok({"uuid": RESOURCE})]})
    with pytest.raises(PermanentError) as refused:
        SourceUsage(script.http()).set_usage(RESOURCE, FEBRUARY, {"cpu": Decimal(-1)})
    assert not isinstance(refused.value, NotFound)
    assert (refused.value.status, refused.value.detail) == (400, "amount: Must be >= 0.")


# --- malformed answers ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "answer", "call", "where", "field"),
    [
        ("GET marketplace-offering-users/", [offering_user(1, state=5)],
         lambda h: SourceUsers(h, OFFERING).list_offering_users({OfferingUserState.OK}),
         "A GET marketplace-offering-users/", "$[0].state"),
        ("GET marketplace-offering-users/", [offering_user(1, state="Sleeping")],
         lambda h: SourceUsers(h, OFFERING).offering_users_of("ann@cuid"),
         "A GET marketplace-offering-users/", "state: unknown value 'Sleeping'"),
        ("GET users/", [{"uuid": "c" * 32, "email": "a@b"}],
         lambda h: TargetUsers(h, OFFERING).find_users(UserMatchField.EMAIL, "a@b"), "A GET users/", "$[0].username"),
        (RESOURCES, [{"uuid": "nope", "state": "OK"}],
         lambda h: SourceUsers(h, OFFERING).list_team(PROJECT), "A GET marketplace-provider-resources/", "uuid"),
        ("POST identity-bridge/", {"created": True},
         lambda h: TargetUsers(h, OFFERING).push_identity("a", "isd:x", {}), "A POST identity-bridge/", "$.uuid"),
        ("POST remote-eduteams/", ["c" * 32],
         lambda h: TargetUsers(h, OFFERING).resolve_eduteams("a"), "A POST remote-eduteams/", "JSON object"),
        ("GET marketplace-component-usages/", [usage_row(1, "cpu", "lots")],
         lambda h: TargetUsage(h).read_usage(RESOURCE, FEBRUARY), "A GET marketplace-component-usages/",
         "$[0].usage"),
        ("GET marketplace-component-usages/", [usage_row(1, "cpu", "NaN")],
         lambda h: TargetUsage(h).read_usage(RESOURCE, FEBRUARY), "A GET marketplace-component-usages/",
         "usage: not a finite amount"),
        ("GET marketplace-component-usages/", {"results": []},
         lambda h: TargetUsage(h).read_usage(RESOURCE, FEBRUARY), "A GET marketplace-component-usages/",
         "JSON array"),
    ],
    ids=["wrong-type", "unknown-state", "missing-field", "bad-uuid", "no-uuid", "not-an-object", "not-a-number",
         "not-finite", "not-a-list"],
)
def test_malformed_answers_name_the_call_and_the_field(
    route: str, answer: object, call: Callable[[WaldurHttp], object], where: str, field: str
) -> None:
    script = Script({route: [ok(answer)]})
    with pytest.raises(InvalidResponse) as caught:
        call(script.http())
    assert caught.value.where == where
    assert field in caught.value.detail


@pytest.mark.parametrize("page", ["html", "truncated"])
def test_pages_that_are_not_json_are_invalid_answers(page: str, html: httpx.Response) -> None:
    answer = html if page == "html" else httpx.Response(200, text='[{"uuid": "' + "1" * 20)
    script = Script({"GET marketplace-component-user-usages/": [answer],
                     "GET marketplace-component-usages/": [ok([usage_row(1, "cpu", 1)])]})
    with pytest.raises(InvalidResponse, match="not JSON") as caught:
        TargetUsage(script.http("B")).read_usage(RESOURCE, FEBRUARY)
    assert caught.value.where == "B GET marketplace-component-user-usages/"
    assert isinstance(caught.value, TransientError)


# --- refusals and faults -------------------------------------------------------------------------------------------


def test_404s_are_not_found() -> None:
    gone = ok({"detail": "Not found."}, 404)
    script = Script({RESOURCES: [ok([{"uuid": TEAM_RESOURCE, "state": "OK"}])], TEAM: [gone],
                     "POST identity-bridge/remove/": [gone],
                     f"PATCH marketplace-offering-users/{'1' * 32}/": [gone], "POST remote-eduteams/": [gone]})
    http = script.http("B")
    calls: list[Callable[[], object]] = [
        lambda: SourceUsers(http, OFFERING).list_team(PROJECT),
        lambda: TargetUsers(http, OFFERING).remove_identity("ann@cuid", "isd:x"),
        lambda: SourceUsers(http, OFFERING).set_offering_user_username(Uuid("1" * 32), "a"),
        lambda: TargetUsers(http, OFFERING).resolve_eduteams("stranger"),
    ]
    for call in calls:
        with pytest.raises(NotFound, match=r"Not found\."):
            call()
    assert len(script.requests) == len(calls) + 1  # a 404 is an answer, never retried (+1: the team's resource)


def test_403_is_a_permanent_refusal_with_waldurs_detail() -> None:
    detail = "You do not have permission to push users from this identity source."
    script = Script({"POST identity-bridge/": [ok({"detail": detail}, 403)]})
    with pytest.raises(PermanentError) as caught:
        TargetUsers(script.http("B"), OFFERING).push_identity("ann@cuid", "isd:other", {})
    assert not isinstance(caught.value, NotFound)
    assert (caught.value.status, caught.value.detail) == (403, detail)
    assert str(caught.value) == f"B POST identity-bridge/: {detail}"


def test_a_read_is_retried_through_a_503() -> None:
    script = Script({"GET marketplace-offering-users/": [httpx.Response(503, text="busy"), ok([offering_user(1)])]})
    assert len(SourceUsers(script.http(), OFFERING).offering_users_of("user1@cuid")) == 1
    assert script.routes() == ["GET marketplace-offering-users/"] * 2


@pytest.mark.parametrize(
    ("route", "call"),
    [
        ("POST identity-bridge/", lambda h: TargetUsers(h, OFFERING).push_identity("a", "isd:x", {})),
        ("POST identity-bridge/remove/", lambda h: TargetUsers(h, OFFERING).remove_identity("a", "isd:x")),
        ("POST remote-eduteams/", lambda h: TargetUsers(h, OFFERING).resolve_eduteams("a")),
        ("POST marketplace-component-usages/set_usage/",
         lambda h: SourceUsage(h).set_usage(RESOURCE, FEBRUARY, {"cpu": Decimal(1)})),
    ],
    ids=["bridge", "bridge-remove", "eduteams", "set-usage"],
)
def test_writes_that_replace_are_retried_through_a_503(route: str, call: Callable[[WaldurHttp], object]) -> None:
    script = Script({route: [httpx.Response(503), ok({"uuid": "c" * 32}, 201 if "usage" in route else 200)]})
    call(script.http())
    assert script.routes() == [route] * 2


def test_a_post_that_is_not_idempotent_is_sent_once_on_a_503() -> None:
    script = Script({"POST marketplace-component-usages/set_usage/": [httpx.Response(503), httpx.Response(201)]})
    with pytest.raises(TransientError) as caught:
        script.http().post("marketplace-component-usages/set_usage/", {"usages": []}, idempotent=False)
    assert caught.value.status == 503
    assert len(script.requests) == 1
