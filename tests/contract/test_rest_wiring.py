"""The REST ports factory end to end: a configuration in, services out, two emulated Waldurs over httpx."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from adapters.config import parse_config
from adapters.waldur import RetryPolicy
from fedcore.enums import OfferingUserState, OrderState
from runners.sandbox import federation_config
from runners.wiring import Mode, RestPorts, build_mode
from waldur_emulator import Emulator
from waldur_emulator.federation import Federation, build_federation, place_order

pytestmark = pytest.mark.contract

A_API, B_API = "http://waldur-a.test/api/", "http://waldur-b.test/api/"


class Sandbox:
    """Two in-process emulators set up as a federation, their staff clients, and a REST ports factory."""

    def __init__(self) -> None:
        self.a, self.b = Emulator(staff_token="staff-a-" + "0" * 32), Emulator(staff_token="staff-b-" + "0" * 32)
        self.staff_a = httpx.Client(transport=self.a.transport(), base_url="http://waldur-a.test",
                                    headers={"Authorization": "Token staff-a-" + "0" * 32})
        self.staff_b = httpx.Client(transport=self.b.transport(), base_url="http://waldur-b.test",
                                    headers={"Authorization": "Token staff-b-" + "0" * 32})
        self.fed: Federation = build_federation(self.staff_a, self.staff_b)
        self.config = parse_config(federation_config(self.fed, A_API, B_API))
        self.ports = RestPorts(self.config, retry=RetryPolicy.instant(),
                               transports={A_API: self.a.transport(), B_API: self.b.transport()})

    def order(self, limits: dict[str, int]) -> str:
        return str(place_order(self.staff_a, self.fed, limits, "sim")["uuid"])

    def close(self) -> None:
        self.ports.close()
        self.staff_a.close()
        self.staff_b.close()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox()
    yield box
    box.close()


def test_an_order_goes_from_a_to_b_and_back_through_the_configured_conversion(sandbox: Sandbox) -> None:
    [services] = build_mode(sandbox.config, Mode.ORDER_PROCESS, ports=sandbox.ports)
    order = sandbox.order({"node_hours": 3, "storage": 5})
    services.orders.run_pass()
    [b_order] = sandbox.staff_b.get("/api/marketplace-orders/").json()
    assert b_order["limits"] == {"cpu_k_hours": 384, "mem_gb_hours": 1536, "storage": 5}
    for action in ("approve_by_provider", "set_state_done"):
        assert sandbox.staff_b.post(f"/api/marketplace-orders/{b_order['uuid']}/{action}/").status_code == 200
    report = services.orders.run_pass()
    assert report.count("completed") == 1
    a_order = sandbox.staff_a.get(f"/api/marketplace-orders/{order}/").json()
    assert a_order["state"] == OrderState.DONE
    assert a_order["backend_id"] == b_order["uuid"]


def test_every_offering_on_one_server_shares_one_client(sandbox: Sandbox) -> None:
    first = sandbox.ports.http("A", A_API, "token-1", verify=False, ca_bundle=None)
    again = sandbox.ports.http("A", A_API, "token-1", verify=False, ca_bundle=None)
    other = sandbox.ports.http("A", A_API, "token-2", verify=False, ca_bundle=None)
    assert first._client is again._client
    assert other._client is not first._client


def test_usernames_set_on_b_reach_a_through_rest(sandbox: Sandbox) -> None:
    [services] = build_mode(sandbox.config, Mode.USERNAME_SYNC, ports=sandbox.ports)
    user = sandbox.staff_a.post("/api/users/", json={"username": "cuid-7@eduteams", "email": "u7@example.org"})
    assert user.status_code == 201, user.text
    a_uuid = user.json()["uuid"]
    grant = sandbox.staff_a.post(f"/api/projects/{sandbox.fed.consumer_project_uuid}/add_user/",
                                 json={"role": "PROJECT.MEMBER", "user": a_uuid})
    assert grant.status_code == 201, grant.text
    a_record = sandbox.staff_a.post("/api/marketplace-offering-users/",
                                    json={"user_uuid": a_uuid, "offering_uuid": sandbox.fed.a.offering_uuid})
    assert a_record.status_code == 201, a_record.text
    pushed = sandbox.staff_b.post("/api/identity-bridge/", json={"username": "cuid-7@eduteams",
                                                                 "source": sandbox.fed.isd_source})
    assert pushed.status_code == 200, pushed.text
    b_record = sandbox.staff_b.post("/api/marketplace-offering-users/", json={
        "user_uuid": pushed.json()["uuid"], "offering_uuid": sandbox.fed.b.offering_uuid, "username": "u7_hpc"})
    assert b_record.status_code == 201, b_record.text
    report = services.sync_usernames()
    assert [p.username for p in report.applied] == ["u7_hpc"]
    record = sandbox.staff_a.get(f"/api/marketplace-offering-users/{a_record.json()['uuid']}/").json()
    assert (record["username"], record["state"]) == ("u7_hpc", OfferingUserState.OK)
