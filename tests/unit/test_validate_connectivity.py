"""Running the checklist (runners.connectivity) over scripted Waldurs: httpx MockTransports behind RestPorts.

Each scripted server is a function from request to response; no socket is opened.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.config import FedcoreConfig, parse_config
from adapters.waldur import RetryPolicy
from runners.checks import Status
from runners.connectivity import OfferingChecks, check_config
from runners.validation import checklist
from runners.wiring import RestPorts

pytestmark = pytest.mark.unit

A_OFFERING, B_OFFERING, B_CUSTOMER, A_CUSTOMER = "a" * 32, "b" * 32, "c" * 32, "d" * 32
TOKENS = ("token-of-a-0123456789", "token-of-b-0123456789")
Handler = Callable[[httpx.Request], httpx.Response]


def offering_config(n: int, *, ca_bundle: str | None = None) -> dict[str, Any]:
    return {
        "name": f"offering {n}", "waldur_api_url": f"https://a{n}.example.com", "waldur_api_token": TOKENS[0],
        "waldur_offering_uuid": f"{n:x}" * 32, "backend_type": "waldur", "order_processing_backend": "waldur",
        "backend_components": {"cpu": {"measured_unit": "h", "accounting_type": "limit", "label": "CPU",
                                       "target_components": {"core_hours": {"factor": 2}}}},
        "backend_settings": {"target_api_url": f"https://b{n}.example.com", "target_api_token": TOKENS[1],
                             "target_offering_uuid": B_OFFERING, "target_customer_uuid": B_CUSTOMER,
                             "target_ca_bundle": ca_bundle, "identity_bridge_source": "isd:x"},
    }


def waldur(side: str, *, gate: threading.Barrier | None = None, offering_status: int = 200) -> Handler:
    """A Waldur that knows the agent of ``side`` as it should be set up."""

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] in {f"Token {t}" for t in TOKENS}
        path = request.url.path
        if path == "/api/users/me/":
            assert "token" not in request.url.params.get_list("field")
            if gate is not None:
                gate.wait()
            roles = ([{"role_name": "OFFERING.MANAGER", "scope_uuid": path_uuid(request)}] if side == "A"
                     else [{"role_name": "CUSTOMER.OWNER", "scope_uuid": B_CUSTOMER}])
            return httpx.Response(200, json={"uuid": "e" * 32, "username": f"agent-{side}", "is_staff": False,
                                             "permissions": roles, "is_identity_manager": side == "B",
                                             "managed_isds": ["isd:x"] if side == "B" else []})
        if "offerings/" in path:
            body = {"uuid": path.split("/")[-2], "name": side, "customer_uuid": A_CUSTOMER, "state": "Active",
                    "type": "Marketplace.Slurm", "plans": [{"archived": False}],
                    "components": [{"type": "cpu"}] if side == "A" else [{"type": "core_hours"}]}
            return httpx.Response(offering_status, json=body if offering_status == 200 else {"detail": "Oops."})
        if path == f"/api/customers/{B_CUSTOMER}/":
            return httpx.Response(200, json={"uuid": B_CUSTOMER, "name": "Federated"})
        return httpx.Response(404, json={"detail": "Not found."})

    return handle


def path_uuid(request: httpx.Request) -> str:
    host = request.url.host  # a<n>.example.com serves offering <n>
    return f"{int(host[1:].split('.')[0]):x}" * 32


def run(config: FedcoreConfig, transports: dict[str, httpx.BaseTransport]) -> tuple[OfferingChecks, ...]:
    ports = RestPorts(config, retry=RetryPolicy.never(), transports=transports)
    try:
        return check_config(config, ports)
    finally:
        ports.close()


def statuses(result: OfferingChecks) -> dict[str, Status]:
    return {c.what: c.status for c in result.checks}


def test_both_sides_of_every_offering_are_checked_at_the_same_time() -> None:
    config = parse_config({"offerings": [offering_config(1), offering_config(2)]})
    gate = threading.Barrier(4, timeout=10)  # every users/me/ waits until all four are in flight
    transports: dict[str, httpx.BaseTransport] = {
        f"https://{s.lower()}{n}.example.com/api/": httpx.MockTransport(waldur(s, gate=gate))
        for n in (1, 2) for s in "AB"}
    results = run(config, transports)
    assert [r.name for r in results] == ["offering 1", "offering 2"]
    assert all(status is Status.OK for r in results for status in statuses(r).values())


def test_a_dead_server_and_a_failing_one_hide_nothing_of_the_others() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    config = parse_config({"offerings": [offering_config(1), offering_config(2)]})
    transports: dict[str, httpx.BaseTransport] = {
        "https://a1.example.com/api/": httpx.MockTransport(refuse),
        "https://b1.example.com/api/": httpx.MockTransport(waldur("B")),
        "https://a2.example.com/api/": httpx.MockTransport(waldur("A", offering_status=503)),
        "https://b2.example.com/api/": httpx.MockTransport(waldur("B")),
    }
    first, second = run(config, transports)
    assert statuses(first) == {
        "A token": Status.UNREACHABLE, "A offering": Status.SKIP, "A provider rights": Status.SKIP,
        "A components": Status.SKIP, "B token": Status.OK, "B customer": Status.OK, "B customer owner": Status.OK,
        "B offering": Status.OK, "B components": Status.OK, "B identity manager": Status.OK}
    assert statuses(second)["A offering"] is Status.UNREACHABLE
    assert statuses(second)["A provider rights"] is Status.SKIP
    assert statuses(second)["B offering"] is Status.OK
    text = "\n".join(checklist((first, second)))
    assert "Waldur answered 503: Oops." in text
    assert all(token not in text for token in TOKENS)


def test_an_unreadable_ca_bundle_fails_its_side_only(tmp_path: Path) -> None:
    config = parse_config({"offerings": [offering_config(1, ca_bundle=str(tmp_path / "missing.pem"))]})
    [result] = run(config, {"https://a1.example.com/api/": httpx.MockTransport(waldur("A"))})
    checks = {c.what: c for c in result.checks}
    assert checks["B token"].status is Status.FAIL
    assert checks["B token"].detail.startswith("cannot set up TLS")
    assert "offerings[0].backend_settings.target_ca_bundle" in checks["B token"].fix
    assert statuses(result)["A components"] is Status.OK
