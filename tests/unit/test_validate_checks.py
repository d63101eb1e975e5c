"""The connectivity checklist's judgements (runners.checks) and the output that never shows a token."""

from __future__ import annotations

import io

import pytest

from adapters.config import parse_config
from adapters.waldur import InvalidResponse
from adapters.waldur.identity import CustomerInfo, Me, OfferingInfo, Role
from fedcore.errors import NotFound, PermanentError, TransientError
from fedcore.ids import Uuid, normalize_uuid
from runners.checks import (
    Check,
    SideKeys,
    Status,
    components_check,
    customer_owner_check,
    failure,
    identity_manager_check,
    provider_rights_check,
    source_offering_check,
    target_customer_check,
    target_offering_check,
    token_check,
    worst,
)
from runners.console import SafeOutput, scrub, secrets_of

pytestmark = pytest.mark.unit

OFFERING, CUSTOMER, OTHER = normalize_uuid("a" * 32), normalize_uuid("c" * 32), normalize_uuid("e" * 32)
KEYS = SideKeys("A", "offerings[0].waldur_api_url", "offerings[0].waldur_api_token",
                "offerings[0].verify_ssl, offerings[0].ca_bundle", "https://a.example.com/api/")
WHERE = "GET https://a.example.com/api/users/me/"


def me(*roles: tuple[str, Uuid], staff: bool = False, manager: bool | None = True,
       isds: tuple[str, ...] | None = ("isd:one",)) -> Me:
    return Me(normalize_uuid("f" * 32), "agent", staff, tuple(Role(name, scope) for name, scope in roles),
              is_identity_manager=manager, managed_isds=isds)


def offering(**changes: object) -> OfferingInfo:
    fields: dict[str, object] = {"uuid": OFFERING, "name": "HPC", "customer_uuid": CUSTOMER, "customer_name": "Prov",
                                 "state": "Active", "type": "Marketplace.Slurm", "components": ("cpu", "mem"),
                                 "active_plans": 1}
    fields.update(changes)
    return OfferingInfo(**fields)  # type: ignore[arg-type]


# --- failures of a read -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("error", "status", "start"), [
    (TransientError("ConnectError: refused", where="A GET users/me/"), Status.UNREACHABLE, "no answer: ConnectError"),
    (TransientError("Service Unavailable", where="A GET users/me/", status=503), Status.UNREACHABLE,
     "Waldur answered 503: Service Unavailable"),
    (InvalidResponse("the body is not JSON", where="A GET users/me/"), Status.FAIL,
     "the answer is not what Waldur 8.0.5 sends"),
    (PermanentError("Invalid token.", where="A GET users/me/", status=401), Status.FAIL,
     "the token was refused: Invalid token."),
    (PermanentError("You do not have permission.", status=403), Status.FAIL,
     "Waldur refused the request (403): You do not have permission."),
    (NotFound("Not found.", status=404), Status.FAIL, "gone (Waldur: Not found.)"),
])
def test_a_failed_read_says_why_in_waldurs_words(error: TransientError | PermanentError, status: Status,
                                                start: str) -> None:
    check = failure(KEYS, "A token", WHERE, error, not_found="gone", fix="look")
    assert (check.status, check.where) == (status, WHERE)
    assert check.detail.startswith(start)
    assert check.fix


def test_a_refused_token_points_at_the_token_key_and_an_unreachable_server_at_the_url() -> None:
    refused = token_check(KEYS, WHERE, PermanentError("Invalid token.", status=401), "role")
    assert "offerings[0].waldur_api_token" in refused.fix
    down = token_check(KEYS, WHERE, TransientError("ConnectTimeout"), "role")
    assert "offerings[0].waldur_api_url (https://a.example.com/api/)" in down.fix
    ok = token_check(KEYS, WHERE, me(staff=True), "needs this")
    assert (ok.status, ok.detail) == (Status.OK, "accepted: user 'agent' (staff); needs this")


# --- rights -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "status"), [
    (me(("OFFERING.MANAGER", OFFERING)), Status.OK),
    (me(("CUSTOMER.OWNER", CUSTOMER)), Status.OK),
    (me(("CUSTOMER.MANAGER", CUSTOMER)), Status.OK),
    (me(staff=True), Status.OK),
    (me(("OFFERING.MANAGER", OTHER), ("PROJECT.ADMIN", OFFERING)), Status.FAIL),
    (me(("CUSTOMER.SUPPORT", CUSTOMER)), Status.FAIL),
])
def test_provider_rights_on_a_come_from_the_offering_or_its_organisation(who: Me, status: Status) -> None:
    assert provider_rights_check(WHERE, who, OFFERING, offering()).status is status


def test_without_rights_the_check_lists_what_the_user_holds_and_what_to_grant() -> None:
    check = provider_rights_check(WHERE, me(("PROJECT.ADMIN", OTHER)), OFFERING, NotFound("Not found.", status=404))
    assert check.detail == f"user 'agent' has no provider access to offering {OFFERING} (holds: PROJECT.ADMIN)"
    assert check.fix == f"on A, make user 'agent' OFFERING.MANAGER of offering {OFFERING} (API.md §4)"


def test_b_needs_an_owner_of_fedcores_organisation() -> None:
    customer = CustomerInfo(CUSTOMER, "Federated", blocked=False, archived=False)
    assert customer_owner_check(WHERE, me(("CUSTOMER.OWNER", CUSTOMER)), CUSTOMER, customer).status is Status.OK
    manager = customer_owner_check(WHERE, me(("CUSTOMER.MANAGER", CUSTOMER)), CUSTOMER, customer)
    assert manager.status is Status.FAIL
    assert "is not CUSTOMER.OWNER of organisation 'Federated' (holds: CUSTOMER.MANAGER)" in manager.detail


def test_a_blocked_or_archived_organisation_fails() -> None:
    blocked = CustomerInfo(CUSTOMER, "Federated", blocked=True, archived=False)
    check = target_customer_check(KEYS, WHERE, me(), CUSTOMER, blocked, uuid_key="k")
    assert (check.status, check.detail) == (Status.FAIL, "organisation 'Federated' is blocked")


@pytest.mark.parametrize(("manager", "isds", "status", "detail"), [
    (True, ("isd:one", "isd:two"), Status.OK, "user 'agent' manages isd:one (bridge)"),
    (False, (), Status.FAIL, "user 'agent' is not an identity manager (bridge)"),
    (True, ("isd:two",), Status.FAIL, "user 'agent' manages isd:two, not isd:one (bridge)"),
    (None, None, Status.WARN, "Waldur did not show is_identity_manager/managed_isds for user 'agent'"),
])
def test_the_identity_bridge_needs_a_manager_of_its_source(manager: bool | None, isds: tuple[str, ...] | None,
                                                           status: Status, detail: str) -> None:
    check = identity_manager_check(WHERE, me(manager=manager, isds=isds), "isd:one", "bridge", "key")
    assert (check.status, check.detail) == (status, detail)


def test_the_identity_manager_check_is_skipped_without_the_bridge_and_fails_without_a_source() -> None:
    assert identity_manager_check(WHERE, me(), "", "", "key").status is Status.SKIP
    missing = identity_manager_check(WHERE, me(), "", "bridge", "offerings[0].backend_settings.identity_bridge_source")
    assert missing.status is Status.FAIL
    assert "offerings[0].backend_settings.identity_bridge_source" in missing.fix


# --- offerings and components -------------------------------------------------------------------------------------


def test_offerings_warn_when_they_cannot_serve_as_configured() -> None:
    assert source_offering_check(KEYS, WHERE, me(), OFFERING, offering(), uuid_key="k").status is Status.OK
    basic = source_offering_check(KEYS, WHERE, me(), OFFERING, offering(type="Marketplace.Basic"), uuid_key="k")
    assert basic.status is Status.WARN
    assert target_offering_check(KEYS, WHERE, me(), OFFERING, offering(state="Paused"), uuid_key="k").status is (
        Status.WARN)
    planless = target_offering_check(KEYS, WHERE, me(), OFFERING, offering(active_plans=0), uuid_key="k")
    assert (planless.status, planless.detail) == (Status.FAIL, "'HPC' (Marketplace.Slurm, Active) of 'Prov' has no "
                                                               "active plan")


def test_every_configured_component_must_exist_on_its_side() -> None:
    assert components_check("B", WHERE, offering(), ["cpu"], "k").status is Status.OK
    check = components_check("B", WHERE, offering(), ["cpu", "gpu", "gpu"], "offerings[0].backend_components")
    assert (check.status, check.detail) == (Status.FAIL, "offering 'HPC' has no component gpu (it has: cpu, mem)")
    assert components_check("B", WHERE, NotFound("x"), ["cpu"], "k").status is Status.SKIP


def test_unreachable_decides_the_outcome_before_fail_and_warnings_pass() -> None:
    def line(status: Status) -> Check:
        return Check("A", "x", "", status, "")

    assert worst([line(Status.OK), line(Status.WARN), line(Status.SKIP)]) is Status.OK
    assert worst([line(Status.FAIL), line(Status.OK)]) is Status.FAIL
    assert worst([line(Status.FAIL), line(Status.UNREACHABLE)]) is Status.UNREACHABLE


# --- no token in the output -----------------------------------------------------------------------------------------


def test_every_secret_of_the_file_is_masked_whatever_writes_it() -> None:
    config = parse_config({"sentry_dsn": "https://key-1234@sentry.example.com/1", "offerings": [{
        "name": "x", "waldur_api_url": "https://a.example.com", "waldur_api_token": "tok-a-123456",
        "waldur_offering_uuid": "a" * 32, "backend_type": "waldur",
        "backend_settings": {"target_api_url": "https://b.example.com", "target_api_token": "tok-a-123456-longer",
                             "target_offering_uuid": "b" * 32, "target_customer_uuid": "c" * 32}}]})
    secrets = secrets_of(config)
    assert secrets == ("https://key-1234@sentry.example.com/1", "tok-a-123456-longer", "tok-a-123456")
    assert scrub("a tok-a-123456-longer b tok-a-123456", secrets) == "a *** b ***"
    stream = io.StringIO()
    SafeOutput(stream, secrets).line("Authorization: Token tok-a-123456")
    assert stream.getvalue() == "Authorization: Token ***\n"
    assert scrub("abc", ["ab"]) == "***c"  # scrub itself masks anything it is given;
    assert secrets_of(parse_config({"offerings": [{  # secrets_of leaves out values too short to mask sensibly
        "name": "x", "waldur_api_url": "https://a.example.com", "waldur_api_token": "ab",
        "waldur_offering_uuid": "a" * 32, "backend_type": "waldur",
        "backend_settings": {"target_api_url": "https://b.example.com", "target_api_token": "abcd",
                             "target_offering_uuid": "b" * 32, "target_customer_uuid": "c" * 32}}]})) == ("abcd",)
