"""The REST side driving a real RabbitMQ: a subscription registered through the API provisions the broker,
create_queue declares the queue, and order events arrive over Web-STOMP with Waldur's payloads."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from waldur_emulator import Emulator
from waldur_emulator.events import RabbitEventBus
from waldur_emulator.events.testing import StompTestConsumer
from waldur_emulator.seeding import Seeder

pytestmark = [pytest.mark.contract, pytest.mark.broker]

STAFF = "staff-token-broker"


@pytest.fixture
def served() -> Iterator[tuple[Emulator, RabbitEventBus]]:
    bus = RabbitEventBus(management_url="http://127.0.0.1:15672")
    emulator = Emulator(staff_token=STAFF, event_bus=bus)
    try:
        yield emulator, bus
    finally:
        bus.close()


def test_order_events_reach_the_offering_manager(served: tuple[Emulator, RabbitEventBus]) -> None:
    emulator, bus = served
    headers = {"Authorization": f"Token {STAFF}"}
    with httpx.Client(transport=emulator.transport(), base_url="http://emulator", headers=headers) as staff:
        seed = Seeder(staff)
        customer = seed.customer("Provider")
        seed.service_provider(customer)
        offering, plan = seed.offering(customer, seed.category(), "Slurm")
        project = seed.project(customer, "p")
        manager, token = seed.user("manager")
        seed.role("marketplace-provider-offerings", offering.uuid, manager.uuid, "OFFERING.MANAGER")
        agent = httpx.Client(transport=emulator.transport(), base_url="http://emulator",
                             headers={"Authorization": f"Token {token}"})
        identity = agent.post("/api/marketplace-site-agent-identities/",
                              json={"offering": offering.uuid, "name": "agent"}).json()
        register = f"/api/marketplace-site-agent-identities/{identity['uuid']}/register_event_subscription/"
        sub = agent.post(register, json={"observable_object_type": "order"})
        assert sub.status_code == 201
        subscription = sub.json()
        queue = agent.post(f"/api/event-subscriptions/{subscription['uuid']}/create_queue/",
                           json={"offering_uuid": offering.uuid, "object_type": "order"}).json()
        assert queue["vhost"] == manager.uuid
        try:
            with StompTestConsumer(vhost=queue["vhost"], login=subscription["uuid"], passcode=token,
                                   queue_name=queue["queue_name"]).start() as consumer:
                project_url = staff.get(f"/api/projects/{project.uuid}/").json()["url"]
                order = staff.post("/api/marketplace-orders/", json={
                    "offering": offering.url, "project": project_url, "plan": plan.url, "limits": {"cpu": 1},
                    "attributes": {"name": "x"}}).json()
                agent.post(f"/api/marketplace-orders/{order['uuid']}/approve_by_provider/")
                agent.post(f"/api/marketplace-orders/{order['uuid']}/set_state_done/")
                assert bus.flush(10)
                assert consumer.wait_for_count(3, timeout=10)
                assert [dict(p) for p in consumer.payloads] == [
                    {"order_uuid": order["uuid"], "order_state": state, "offering_uuid": offering.uuid}
                    for state in ("pending-consumer", "pending-provider", "done")
                ]
            again = agent.post(register, json={"observable_object_type": "order"})
            assert (again.status_code, again.json()["uuid"]) == (200, subscription["uuid"])
        finally:
            assert agent.delete(f"/api/event-subscriptions/{subscription['uuid']}/").status_code == 204
        assert not bus.subscription_provisioned(user_uuid=manager.uuid, subscription_uuid=subscription["uuid"])
        agent.close()
