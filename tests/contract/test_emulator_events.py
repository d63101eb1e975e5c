"""The emulator's event bus against a real RabbitMQ: provisioning, queues, publication, consumers.

Each test uses fresh UUIDs (its own vhost and broker user) and removes them afterwards, so tests are
independent of each other and of anything else on the broker.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import attrs
import httpx
import pytest
import stomp

from waldur_emulator.events import (
    QUEUE_ARGUMENTS,
    EventBusError,
    NullEventBus,
    PublishedEvent,
    RabbitEventBus,
    queue_name,
)
from waldur_emulator.events.testing import ConsumerRefused, StompTestConsumer

pytestmark = [pytest.mark.contract, pytest.mark.broker]

MANAGEMENT = "http://127.0.0.1:15672"


@attrs.frozen
class Sub:
    """One provisioned subscription: the user's vhost, the broker login, the passcode, one queue name."""

    user_uuid: str
    subscription_uuid: str
    token: str
    offering_uuid: str

    @property
    def vhost(self) -> str:
        return self.user_uuid

    @property
    def queue(self) -> str:
        return queue_name(self.subscription_uuid, self.offering_uuid, "offering_user")

    def consumer(self, **overrides: object) -> StompTestConsumer:
        kwargs: dict[str, object] = {
            "vhost": self.vhost,
            "login": self.subscription_uuid,
            "passcode": self.token,
            "queue_name": self.queue,
        }
        kwargs.update(overrides)
        return StompTestConsumer(**kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def bus(broker_shared_module: None) -> Iterator[RabbitEventBus]:
    rabbit = RabbitEventBus(management_url=MANAGEMENT)
    yield rabbit
    rabbit.close()


@pytest.fixture
def admin() -> Iterator[httpx.Client]:
    with httpx.Client(base_url=MANAGEMENT, auth=("guest", "guest"), timeout=10) as client:
        yield client


@pytest.fixture
def sub(bus: RabbitEventBus) -> Iterator[Sub]:
    s = Sub(uuid.uuid4().hex, uuid.uuid4().hex, f"token-{uuid.uuid4().hex}", uuid.uuid4().hex)
    bus.provision_subscription(user_uuid=s.user_uuid, subscription_uuid=s.subscription_uuid, password=s.token)
    yield s
    bus.remove_subscription(user_uuid=s.user_uuid, subscription_uuid=s.subscription_uuid, delete_vhost=True)


@pytest.fixture
def queued(bus: RabbitEventBus, sub: Sub) -> Sub:
    bus.declare_queue(vhost=sub.vhost, queue_name=sub.queue)
    return sub


def _get(admin: httpx.Client, path: str) -> httpx.Response:
    return admin.get("/api/" + "/".join(quote(p, safe="") for p in path.split("/")))


# --- naming and the null bus ---------------------------------------------------------------------------


def test_queue_name_is_waldurs_pattern_with_hex_uuids() -> None:
    sub_uuid, off_uuid = uuid.uuid4(), uuid.uuid4()
    name = queue_name(str(sub_uuid).upper(), str(off_uuid), "user_role")
    assert name == f"subscription_{sub_uuid.hex}_offering_{off_uuid.hex}_user_role"
    with pytest.raises(ValueError, match="not a UUID"):
        queue_name("nope", off_uuid.hex, "order")


def test_null_bus_records_publishes_provisioning_and_queues() -> None:
    bus = NullEventBus("disabled by flag")
    user, sub = uuid.uuid4().hex, uuid.uuid4().hex
    assert not bus.enabled
    assert bus.describe() == "events off: disabled by flag"
    assert not bus.subscription_provisioned(user_uuid=user, subscription_uuid=sub)
    bus.provision_subscription(user_uuid=user, subscription_uuid=sub, password="secret")
    assert bus.subscription_provisioned(user_uuid=user, subscription_uuid=sub)
    assert "secret" not in repr(vars(bus))
    bus.declare_queue(vhost=user, queue_name="q1")
    payload: dict[str, object] = {"action": "create"}
    bus.publish(vhost=user, queue_name="q1", payload=payload)
    payload["action"] = "changed later"
    assert bus.published == [PublishedEvent(vhost=user, queue_name="q1", payload={"action": "create"})]
    bus.remove_subscription(user_uuid=user, subscription_uuid=sub, delete_vhost=True)
    assert not bus.subscription_provisioned(user_uuid=user, subscription_uuid=sub)
    assert bus.queues == set()


# --- provisioning ----------------------------------------------------------------------------------------


def test_provisioning_creates_vhost_user_and_permissions(bus: RabbitEventBus, sub: Sub, admin: httpx.Client) -> None:
    assert _get(admin, f"vhosts/{sub.vhost}").status_code == 200
    user = _get(admin, f"users/{sub.subscription_uuid}")
    assert user.status_code == 200
    assert user.json()["tags"] in ([], "")
    for who in (sub.subscription_uuid, "guest"):
        perms = _get(admin, f"permissions/{sub.vhost}/{who}").json()
        assert (perms["configure"], perms["write"], perms["read"]) == (".*", ".*", ".*")
    assert bus.subscription_provisioned(user_uuid=sub.user_uuid, subscription_uuid=sub.subscription_uuid)
    # A second subscription of the same user reuses the vhost (204 from the broker is accepted).
    other = uuid.uuid4().hex
    bus.provision_subscription(user_uuid=sub.user_uuid, subscription_uuid=other, password="x")
    assert bus.subscription_provisioned(user_uuid=sub.user_uuid, subscription_uuid=other)
    bus.remove_subscription(user_uuid=sub.user_uuid, subscription_uuid=other, delete_vhost=False)
    assert not bus.subscription_provisioned(user_uuid=sub.user_uuid, subscription_uuid=other)
    assert _get(admin, f"vhosts/{sub.vhost}").status_code == 200


def test_provisioned_is_false_without_permissions_on_that_vhost(bus: RabbitEventBus, sub: Sub) -> None:
    assert not bus.subscription_provisioned(user_uuid=uuid.uuid4().hex, subscription_uuid=sub.subscription_uuid)
    assert not bus.subscription_provisioned(user_uuid=sub.user_uuid, subscription_uuid=uuid.uuid4().hex)


def test_failed_permissions_remove_the_broker_user_again() -> None:
    calls: list[tuple[str, str]] = []
    sub_hex = uuid.uuid4().hex

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append((request.method, request.url.path))
        if request.method == "PUT" and request.url.path.endswith(f"/{sub_hex}") and "permissions" in request.url.path:
            return httpx.Response(500, text="boom")
        return httpx.Response(201 if request.method == "PUT" else 204)

    bus = RabbitEventBus(management_transport=httpx.MockTransport(handler))
    try:
        with pytest.raises(EventBusError, match="500") as info:
            bus.provision_subscription(user_uuid=uuid.uuid4().hex, subscription_uuid=sub_hex, password="s3cret")
    finally:
        bus.close()
    assert "s3cret" not in str(info.value)
    assert calls[-1] == ("DELETE", f"/api/users/{sub_hex}")


def test_management_errors_are_event_bus_errors_without_secrets() -> None:
    bus = RabbitEventBus(admin_password="wrong-admin-password")
    try:
        with pytest.raises(EventBusError, match="401") as info:
            bus.declare_queue(vhost=uuid.uuid4().hex, queue_name="q")
    finally:
        bus.close()
    assert "wrong-admin-password" not in str(info.value)
    assert "wrong-admin-password" not in repr(bus)


# --- consumers: credentials ----------------------------------------------------------------------------


def test_consumer_with_vhost_login_and_token_connects(queued: Sub) -> None:
    with queued.consumer() as consumer:
        consumer.start()
        assert consumer.connected
        assert consumer.wait_for_error(timeout=0.3) is None


@pytest.mark.parametrize("field", ["passcode", "vhost", "login"])
def test_consumer_with_wrong_credentials_is_refused(queued: Sub, field: str) -> None:
    wrong = {"passcode": "not-the-token", "vhost": uuid.uuid4().hex, "login": uuid.uuid4().hex}[field]
    with queued.consumer(**{field: wrong}) as consumer, pytest.raises(ConsumerRefused, match="refused"):
        consumer.connect()


# --- queues --------------------------------------------------------------------------------------------


def test_declare_queue_uses_waldurs_arguments(bus: RabbitEventBus, queued: Sub, admin: httpx.Client) -> None:
    info = _get(admin, f"queues/{queued.vhost}/{queued.queue}").json()
    assert info["durable"] is True
    assert info["auto_delete"] is False
    assert info["arguments"] == dict(QUEUE_ARGUMENTS)
    bus.declare_queue(vhost=queued.vhost, queue_name=queued.queue)  # idempotent
    bus.delete_queue(vhost=queued.vhost, queue_name=queued.queue)
    assert _get(admin, f"queues/{queued.vhost}/{queued.queue}").status_code == 404
    bus.delete_queue(vhost=queued.vhost, queue_name=queued.queue)  # already gone: fine


def test_subscribing_to_slash_queue_is_refused_by_the_broker(queued: Sub) -> None:
    # Over Web-STOMP, RabbitMQ 3.10 closes the socket without the ERROR frame reaching stomp.py.
    with queued.consumer(destination=f"/queue/{queued.queue}") as consumer:
        consumer.start()
        assert consumer.wait_for_disconnect(timeout=5)
    # Over plain STOMP the reason is visible: the redeclaration has different arguments.
    errors: list[str] = []
    done = threading.Event()

    class Listener(stomp.ConnectionListener):  # type: ignore[misc]
        def on_error(self, frame: Any) -> None:
            errors.append(frame.headers.get("message", ""))
            done.set()

    conn = stomp.Connection12([("127.0.0.1", 61613)], vhost=queued.vhost)
    conn.set_listener("errors", Listener())
    conn.connect(queued.subscription_uuid, queued.token, wait=True)
    try:
        conn.subscribe(destination=f"/queue/{queued.queue}", id="1", ack="client-individual")
        assert done.wait(5)
    finally:
        conn.transport.stop()
    assert errors == ["precondition_failed"]


# --- publication -----------------------------------------------------------------------------------------


def test_published_payload_reaches_the_consumer_as_persistent_json(bus: RabbitEventBus, queued: Sub) -> None:
    payload = {"action": "create", "offering_user_uuid": uuid.uuid4().hex, "offering_uuid": queued.offering_uuid}
    with queued.consumer() as consumer:
        consumer.start()
        bus.publish(vhost=queued.vhost, queue_name=queued.queue, payload=payload)
        assert bus.flush(5)
        message = consumer.wait_for_message(lambda m: m.payload == payload, timeout=5)
    assert message is not None
    assert message.headers["persistent"] == "true"
    assert message.headers["content-type"] == "application/json"
    assert message.headers["expiration"] == "3600000"
    # Consumers see the destination Waldur's own publisher uses, whichever prefix the bus sent to.
    assert message.headers["destination"] == f"/queue/{queued.queue}"


def test_messages_published_before_subscribing_wait_in_the_queue_in_order(bus: RabbitEventBus, queued: Sub) -> None:
    before = bus.stats().published
    for i in range(50):
        bus.publish(vhost=queued.vhost, queue_name=queued.queue, payload={"i": i})
    assert bus.flush(5)
    assert bus.stats().published - before == 50
    with queued.consumer() as consumer:
        consumer.start()
        assert consumer.wait_for_count(50, timeout=5)
        assert [p["i"] for p in consumer.payloads] == list(range(50))


def test_unacknowledged_messages_are_redelivered_after_reconnect(bus: RabbitEventBus, queued: Sub) -> None:
    bus.publish(vhost=queued.vhost, queue_name=queued.queue, payload={"n": 1})
    assert bus.flush(5)
    with queued.consumer(auto_ack=False) as first:
        first.start()
        got = first.wait_for_message(lambda m: m.payload == {"n": 1}, timeout=5)
        assert got is not None
        assert not got.redelivered
    with queued.consumer() as second:
        second.start()
        again = second.wait_for_message(lambda m: m.payload == {"n": 1}, timeout=5)
    assert again is not None
    assert again.redelivered
    with queued.consumer() as third:
        third.start()
        assert third.wait_for_count(1, timeout=0.5) is False


def test_publisher_reconnects_after_the_broker_closes_its_connection(
    bus: RabbitEventBus, queued: Sub, admin: httpx.Client
) -> None:
    bus.publish(vhost=queued.vhost, queue_name=queued.queue, payload={"n": 1})
    assert bus.flush(5)
    # The management API lists a new connection only after its next statistics tick (a few seconds).
    deadline = time.monotonic() + 15
    connections: list[dict[str, Any]] = []
    while not connections and time.monotonic() < deadline:
        connections = _get(admin, f"vhosts/{queued.vhost}/connections").json()
        time.sleep(0.2)
    assert connections, "the publisher holds a connection to the vhost"
    for connection in connections:
        admin.delete(f"/api/connections/{quote(connection['name'], safe='')}")
    bus.publish(vhost=queued.vhost, queue_name=queued.queue, payload={"n": 2})
    assert bus.flush(10)
    with queued.consumer() as consumer:
        consumer.start()
        assert consumer.wait_for(lambda p: p == {"n": 2}, timeout=5) is not None


def test_undeliverable_messages_are_counted_as_failed_not_dropped_silently() -> None:
    bus = RabbitEventBus(publish_attempts=2)
    try:
        bus.publish(vhost=f"absent-{uuid.uuid4().hex}", queue_name="q", payload={"x": 1})
        assert bus.flush(10)
        stats = bus.stats()
        assert (stats.published, stats.failed, stats.retries, stats.pending) == (0, 1, 1, 0)
    finally:
        bus.close()
    with pytest.raises(EventBusError, match="closed"):
        bus.publish(vhost="v", queue_name="q", payload={})


# --- removal ---------------------------------------------------------------------------------------------


def test_remove_subscription_deletes_user_vhost_and_queues(bus: RabbitEventBus, admin: httpx.Client) -> None:
    s = Sub(uuid.uuid4().hex, uuid.uuid4().hex, "tok", uuid.uuid4().hex)
    bus.provision_subscription(user_uuid=s.user_uuid, subscription_uuid=s.subscription_uuid, password=s.token)
    bus.declare_queue(vhost=s.vhost, queue_name=s.queue)
    bus.publish(vhost=s.vhost, queue_name=s.queue, payload={"n": 1})
    assert bus.flush(5)
    bus.remove_subscription(user_uuid=s.user_uuid, subscription_uuid=s.subscription_uuid, delete_vhost=True)
    assert _get(admin, f"users/{s.subscription_uuid}").status_code == 404
    assert _get(admin, f"vhosts/{s.vhost}").status_code == 404
    assert not bus.subscription_provisioned(user_uuid=s.user_uuid, subscription_uuid=s.subscription_uuid)
    with s.consumer() as consumer, pytest.raises(ConsumerRefused):
        consumer.connect()
    # The same user subscribing again gets a working vhost; the publisher does not reuse the dead connection.
    bus.provision_subscription(user_uuid=s.user_uuid, subscription_uuid=s.subscription_uuid, password=s.token)
    try:
        bus.declare_queue(vhost=s.vhost, queue_name=s.queue)
        bus.publish(vhost=s.vhost, queue_name=s.queue, payload={"n": 2})
        assert bus.flush(10)
        with s.consumer() as consumer:
            consumer.start()
            assert consumer.wait_for(lambda p: p == {"n": 2}, timeout=5) is not None
    finally:
        bus.remove_subscription(user_uuid=s.user_uuid, subscription_uuid=s.subscription_uuid, delete_vhost=True)


def test_describe_names_the_broker_without_credentials(bus: RabbitEventBus) -> None:
    assert bus.enabled
    line = bus.describe()
    assert line.startswith("events: RabbitMQ at http://127.0.0.1:15672")
    assert "guest:guest" not in line
