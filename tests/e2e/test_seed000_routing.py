"""Seed 000, Suite 2 (TestIdentityManagerEventRouting), end to end through a real RabbitMQ.

The emulator serves over a real socket and publishes through ``RabbitEventBus``; two real Web-STOMP consumers
subscribe the way a Waldur event client does. user_a is OFFERING.MANAGER of offering B (provider access);
user_b owns a consumer organisation and is an ISD identity manager. Both receive the ``offering_user`` events
of offering B; once user_b's ``managed_isds`` is cleared, only user_a does.

The steps run in order and share one environment, like the seed's suite.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest

from waldur_emulator import Emulator, ServerHandle
from waldur_emulator.events import RabbitEventBus
from waldur_emulator.events.testing import StompTestConsumer
from waldur_emulator.seeding import Seeder

pytestmark = [pytest.mark.e2e, pytest.mark.broker]

STAFF = f"staff-{uuid.uuid4().hex}"
ISD = "isd:integration-test"
MANAGEMENT = "http://127.0.0.1:15672"
WEB_STOMP = "ws://127.0.0.1:15674/ws"
WAIT = 10.0


class Env:
    """Seed 000's environment plus what the steps create on the way (subscriptions, consumers, offering user)."""

    def __init__(self, emulator: Emulator, handle: ServerHandle, bus: RabbitEventBus) -> None:
        self.emulator, self.handle, self.bus = emulator, handle, bus
        self.clients: list[httpx.Client] = []
        self.staff = self.client(STAFF)
        seed = Seeder(self.staff)
        self.seed = seed
        category = seed.category()
        self.customer_a, self.customer_b = seed.customer("Provider A"), seed.customer("Provider B")
        seed.service_provider(self.customer_a)
        seed.service_provider(self.customer_b)
        self.project_a = seed.project(self.customer_a, "project A")
        self.offering_a, _ = seed.offering(self.customer_a, category, "Offering A")
        self.offering_b, _ = seed.offering(self.customer_b, category, "Offering B")
        self.user_a, self.token_a = seed.user("user_a")
        self.user_b, self.token_b = seed.user("user_b")
        self.subject, _ = seed.user("subject_user")
        self.customer_c = seed.customer("Consumer C")
        seed.role("marketplace-provider-offerings", self.offering_a.uuid, self.user_a.uuid, "OFFERING.MANAGER")
        seed.role("customers", self.customer_c.uuid, self.user_b.uuid, "CUSTOMER.OWNER")
        seed.patch_user(self.user_b.uuid, is_identity_manager=True, managed_isds=[ISD])
        seed.bridge("subject_user", ISD, first_name="Subject")
        seed.resource(self.offering_a, self.project_a)
        seed.role("projects", self.project_a.uuid, self.subject.uuid, "PROJECT.MEMBER")
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.consumers: dict[str, StompTestConsumer] = {}
        self.offering_user: dict[str, Any] = {}

    def client(self, token: str) -> httpx.Client:
        made = httpx.Client(base_url=self.handle.base_url, timeout=10, headers={"Authorization": f"Token {token}"})
        self.clients.append(made)
        return made

    def close(self) -> None:
        for consumer in self.consumers.values():
            consumer.close()
        for sub in self.subscriptions.values():
            self.staff.delete(f"/api/event-subscriptions/{sub['uuid']}/")
            # Also straight on the broker, in case the REST call failed: nothing may outlive the test.
            self.bus.remove_subscription(user_uuid=sub["user_uuid"], subscription_uuid=sub["uuid"], delete_vhost=True)
        for made in self.clients:
            made.close()


@pytest.fixture(scope="module")
def env(broker_shared_module: None) -> Iterator[Env]:
    bus = RabbitEventBus(management_url=MANAGEMENT)
    emulator = Emulator(staff_token=STAFF, event_bus=bus)
    handle = emulator.serve("127.0.0.1", 0)
    world: Env | None = None
    try:
        world = Env(emulator, handle, bus)
        yield world
    finally:
        if world is not None:
            world.close()
        handle.stop()
        bus.close()


def _ok(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in statuses, f"{response.request.method} {response.request.url}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


def _actions(consumer: StompTestConsumer, offering_user_uuid: str) -> list[str]:
    return [str(p["action"]) for p in consumer.payloads if p.get("offering_user_uuid") == offering_user_uuid]


def _wait_actions(consumer: StompTestConsumer, offering_user_uuid: str, expected: list[str]) -> list[str]:
    count = len(expected)
    consumer.wait_for(lambda _: len(_actions(consumer, offering_user_uuid)) >= count, timeout=WAIT)
    return _actions(consumer, offering_user_uuid)


class TestIdentityManagerEventRouting:
    """STOMP event delivery to OFFERING.MANAGER (user_a) and ISD identity manager (user_b)."""

    def test_01_prerequisites(self, env: Env) -> None:
        me_a = _ok(env.client(env.token_a).get("/api/users/me/"), 200)
        me_b = _ok(env.client(env.token_b).get("/api/users/me/"), 200)
        assert me_a["uuid"] == env.user_a.uuid
        assert (me_b["is_identity_manager"], me_b["managed_isds"]) == (True, [ISD])
        assert env.bus.enabled
        web_stomp = httpx.get(WEB_STOMP.replace("ws://", "http://"), timeout=5)
        assert web_stomp.status_code == 426

    def test_02_setup_stomp_subscriptions(self, env: Env) -> None:
        env.seed.role("marketplace-provider-offerings", env.offering_b.uuid, env.user_a.uuid, "OFFERING.MANAGER")
        for name, token in (("a", env.token_a), ("b", env.token_b)):
            client = env.client(token)
            identity = _ok(
                client.post(
                    "/api/marketplace-site-agent-identities/",
                    json={"offering": env.offering_b.uuid, "name": f"inttest-u{name}"},
                ),
                201,
            )
            sub = _ok(
                client.post(
                    f"/api/marketplace-site-agent-identities/{identity['uuid']}/register_event_subscription/",
                    json={"observable_object_type": "offering_user"},
                ),
                201,
            )
            env.subscriptions[name] = sub
            assert env.bus.subscription_provisioned(user_uuid=sub["user_uuid"], subscription_uuid=sub["uuid"])
            queue = _ok(
                client.post(
                    f"/api/event-subscriptions/{sub['uuid']}/create_queue/",
                    json={"offering_uuid": env.offering_b.uuid, "object_type": "offering_user"},
                ),
                201,
            )
            assert queue["vhost"] == sub["user_uuid"]
            consumer = StompTestConsumer(
                vhost=queue["vhost"], login=sub["uuid"], passcode=token, queue_name=queue["queue_name"], url=WEB_STOMP
            )
            env.consumers[name] = consumer
            consumer.start(timeout=WAIT)
            assert consumer.connected

    def test_03_trigger_and_verify_events(self, env: Env) -> None:
        created = _ok(
            env.staff.post(
                "/api/marketplace-offering-users/",
                json={"user_uuid": env.subject.uuid, "offering_uuid": env.offering_b.uuid},
            ),
            201,
        )
        env.offering_user = created
        username = f"stomp-test-{uuid.uuid4().hex[:8]}"
        _ok(env.staff.patch(f"/api/marketplace-offering-users/{created['uuid']}/", json={"username": username}), 200)
        expected = ["create", "update", "username_set"]
        for name in ("a", "b"):
            consumer = env.consumers[name]
            assert _wait_actions(consumer, created["uuid"], expected) == expected, name
            by_action: Mapping[str, Mapping[str, Any]] = {
                str(p["action"]): p for p in consumer.payloads if p.get("offering_user_uuid") == created["uuid"]
            }
            assert by_action["create"]["state"] == "Requested"
            assert by_action["update"]["username"] == username
            assert by_action["username_set"]["username"] == username
            assert by_action["username_set"]["state"] == 5
            for payload in by_action.values():
                assert payload["offering_uuid"] == env.offering_b.uuid
                assert payload["user_uuid"] == env.subject.uuid

    def test_04_no_events_for_identity_manager_after_clearing_isds(self, env: Env) -> None:
        record = env.offering_user["uuid"]
        seen_b = len(env.consumers["b"].messages)
        env.seed.patch_user(env.user_b.uuid, managed_isds=[])
        username = f"no-isd-{uuid.uuid4().hex[:8]}"
        _ok(env.staff.patch(f"/api/marketplace-offering-users/{record}/", json={"username": username}), 200)
        consumer_a = env.consumers["a"]
        assert consumer_a.wait_for(
            lambda p: p.get("offering_user_uuid") == record and p.get("username") == username, timeout=WAIT
        )
        # Every publish of the PATCH is confirmed by the broker before user_b's silence is judged.
        assert env.bus.flush(WAIT)
        assert env.bus.stats().failed == 0
        assert env.consumers["b"].wait_for_count(seen_b + 1, timeout=1.0) is False
        assert not any(p.get("username") == username for p in env.consumers["b"].payloads)
        env.seed.patch_user(env.user_b.uuid, managed_isds=[ISD])

    def test_05_cleanup(self, env: Env) -> None:
        admin = httpx.Client(base_url=MANAGEMENT, auth=("guest", "guest"), timeout=10)
        try:
            for name in ("a", "b"):
                env.consumers.pop(name).close()
                sub = env.subscriptions.pop(name)
                assert env.staff.delete(f"/api/event-subscriptions/{sub['uuid']}/").status_code == 204
                assert admin.get(f"/api/users/{sub['uuid']}").status_code == 404
                assert admin.get(f"/api/vhosts/{sub['user_uuid']}").status_code == 404
                assert not env.bus.subscription_provisioned(user_uuid=sub["user_uuid"], subscription_uuid=sub["uuid"])
        finally:
            admin.close()

