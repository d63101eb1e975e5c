"""The STOMP adapter beyond the port contract: typed decoding, malformed frames, redelivery, reconnection by its
own supervisor after the broker drops the connection, TCP_NODELAY, and no secret in any log line.

The decoder tests are pure; the others run against the real RabbitMQ (marker ``broker``) with a fresh vhost,
broker user and queues per test (:class:`RabbitEventsWorld` of the contract suite). Everything is polled with
deadlines; nothing sleeps to synchronise.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from adapters.config.schema import StompEndpoint
from adapters.stomp import (
    MAX_BODY,
    RECONNECT_CAP_VARIABLE,
    Backoff,
    StompEventStream,
    StompQueue,
    Transport,
    decode,
    object_type_of,
)
from contract.ports.test_events_contract import (
    DEADLINE,
    MANAGEMENT,
    RabbitEventsWorld,
    collect,
    flat,
    order_event,
    payload_of,
)
from fedcore.enums import ObjectType, OfferingUserState, OrderState, Side
from fedcore.events import Event, Malformed
from waldur_emulator.events import queue_name

pytestmark = pytest.mark.contract

OFF = uuid.uuid4().hex
QUEUE = f"subscription_{'a' * 32}_offering_{'b' * 32}_offering_user"


def _decode(object_type: ObjectType, payload: object) -> Event | Malformed:
    return decode(Side.B, QUEUE, object_type, json.dumps(payload).encode())


# --- decoding (pure) ---------------------------------------------------------------------------------------


class TestDecode:
    def test_order_with_display_state(self) -> None:
        order = uuid.uuid4()
        event = _decode(ObjectType.ORDER, {"offering_uuid": OFF, "order_uuid": str(order), "order_state": "done"})
        assert event == Event(Side.B, ObjectType.ORDER, OFF, order_uuid=order.hex, order_state=OrderState.DONE)

    def test_order_without_state_keeps_its_action(self) -> None:
        order = uuid.uuid4().hex
        event = _decode(ObjectType.ORDER, {"offering_uuid": OFF, "order_uuid": order, "action": "provider_info_set"})
        assert isinstance(event, Event)
        assert (event.action, event.order_state, event.order_uuid) == ("provider_info_set", None, order)

    def test_user_role_and_resource(self) -> None:
        user, project, resource = (uuid.uuid4().hex for _ in range(3))
        role = _decode(
            ObjectType.USER_ROLE,
            {"offering_uuid": OFF, "user_uuid": user, "user_username": "u", "project_uuid": project,
             "project_name": "p", "role_name": "PROJECT.MEMBER", "granted": False},
        )
        assert role == Event(Side.B, ObjectType.USER_ROLE, OFF, project_uuid=project, user_uuid=user,
                             user_username="u", role_name="PROJECT.MEMBER", granted=False)
        sync = _decode(ObjectType.USER_ROLE, {"offering_uuid": OFF, "project_uuid": project, "project_name": "p"})
        assert sync == Event(Side.B, ObjectType.USER_ROLE, OFF, project_uuid=project)
        res = _decode(ObjectType.RESOURCE, {"offering_uuid": OFF, "resource_uuid": resource, "paused": True})
        assert res == Event(Side.B, ObjectType.RESOURCE, OFF, resource_uuid=resource)

    @pytest.mark.parametrize(
        ("action", "state", "expected"),
        [
            ("create", "Requested", OfferingUserState.REQUESTED),
            ("update", "OK", OfferingUserState.OK),
            ("username_set", 5, OfferingUserState.OK),
            ("username_set", 10, OfferingUserState.ERROR_DELETING),
            ("delete", None, None),
        ],
    )
    def test_offering_user_state_follows_the_action(
        self, action: str, state: object, expected: OfferingUserState | None
    ) -> None:
        ou, user = uuid.uuid4().hex, uuid.uuid4().hex
        payload = {"offering_uuid": OFF, "action": action, "offering_user_uuid": ou, "user_uuid": user,
                   "username": "alice", "state": state}
        event = _decode(ObjectType.OFFERING_USER, payload)
        assert event == Event(Side.B, ObjectType.OFFERING_USER, OFF, action=action, offering_user_uuid=ou,
                              user_uuid=user, username="alice", state=expected)

    def test_types_fedcore_does_not_act_on_decode_to_ignorable_events(self) -> None:
        event = _decode(ObjectType.SERVICE_ACCOUNT, {"offering_uuid": OFF, "action": "create", "account_uuid": OFF})
        assert event == Event(Side.B, ObjectType.SERVICE_ACCOUNT, OFF, action="create")

    @pytest.mark.parametrize(
        ("object_type", "payload", "reason"),
        [
            (ObjectType.ORDER, {"order_uuid": OFF, "order_state": "done"}, "'offering_uuid' is missing"),
            (ObjectType.ORDER, {"offering_uuid": 7, "order_uuid": OFF}, "'offering_uuid' is a int"),
            (ObjectType.ORDER, {"offering_uuid": "nope", "order_uuid": OFF}, "not a UUID"),
            (ObjectType.ORDER, {"offering_uuid": OFF, "order_uuid": OFF, "order_state": "exploded"}, "known value"),
            (ObjectType.ORDER, {"offering_uuid": OFF, "order_uuid": OFF, "order_state": 3}, "not a string"),
            (ObjectType.ORDER, {"offering_uuid": OFF}, "'order_uuid' is missing"),
            (ObjectType.USER_ROLE, {"offering_uuid": OFF, "project_uuid": OFF, "granted": "yes"}, "not a boolean"),
            (ObjectType.OFFERING_USER, {"offering_uuid": OFF, "action": "username_set", "offering_user_uuid": OFF,
                                        "state": "OK"}, "not an integer code"),
            (ObjectType.OFFERING_USER, {"offering_uuid": OFF, "action": "update", "offering_user_uuid": OFF,
                                        "state": 5}, "not a display value"),
            (ObjectType.OFFERING_USER, {"offering_uuid": OFF, "action": "username_set", "offering_user_uuid": OFF,
                                        "state": 42}, "unknown offering user state code"),
            (ObjectType.OFFERING_USER, {"offering_uuid": OFF, "offering_user_uuid": OFF}, "'action' is missing"),
            (ObjectType.ORDER, [1, 2], "not an object"),
        ],
    )
    def test_wrong_shapes_are_malformed_with_a_reason(
        self, object_type: ObjectType, payload: object, reason: str
    ) -> None:
        result = _decode(object_type, payload)
        assert isinstance(result, Malformed)
        assert reason in result.reason
        assert (result.side, result.queue) == (Side.B, QUEUE)

    @pytest.mark.parametrize(
        ("body", "reason"),
        [
            (b"<<not json>>", "not JSON"),
            (b"\xff\xfe{}", "not UTF-8"),
            (b'{"offering_uuid": "' + b"x" * MAX_BODY + b'"}', "exceeds"),
        ],
    )
    def test_bodies_that_are_not_json_objects(self, body: bytes, reason: str) -> None:
        result = decode(Side.A, QUEUE, ObjectType.ORDER, body)
        assert isinstance(result, Malformed)
        assert reason in result.reason
        assert len(result.excerpt) <= 200

    def test_object_type_comes_from_the_queue_name_without_splitting_on_underscores(self) -> None:
        assert object_type_of(QUEUE) is ObjectType.OFFERING_USER
        assert object_type_of(QUEUE.replace("offering_user", "resource_periodic_limits")) is (
            ObjectType.RESOURCE_PERIODIC_LIMITS
        )
        with pytest.raises(ValueError, match="unknown object type"):
            object_type_of(QUEUE.replace("offering_user", "nonsense"))
        with pytest.raises(ValueError, match="not a Waldur subscription queue"):
            object_type_of("orders")


class TestBackoff:
    def test_grows_exponentially_with_jitter_and_is_capped_forever(self) -> None:
        policy = Backoff()
        assert policy.delay(0, 0.5) == 0
        assert [policy.delay(n, 0.5) for n in range(1, 8)] == [1, 2, 4, 8, 16, 32, 60]
        assert policy.delay(3, 0.0) == 3.0
        assert policy.delay(3, 0.999) == pytest.approx(5.0, abs=0.01)
        assert policy.delay(10_000, 0.999) == 60.0
        assert all(0 < policy.delay(n, r) <= 60 for n in range(1, 200) for r in (0.0, 0.5, 0.99))

    def test_the_cap_comes_from_the_environment_when_set(self) -> None:
        assert Backoff.from_environ({}) == Backoff()
        assert Backoff.from_environ({RECONNECT_CAP_VARIABLE: " "}) == Backoff()
        policy = Backoff.from_environ({RECONNECT_CAP_VARIABLE: "1.5"})
        assert policy == Backoff(cap=1.5)
        assert [policy.delay(n, 0.999) for n in range(1, 5)] == [pytest.approx(1.25, abs=0.01), 1.5, 1.5, 1.5]

    @pytest.mark.parametrize("raw", ["0", "-1", "soon", "nan", "inf"])
    def test_a_cap_that_is_not_a_positive_number_is_named_and_the_default_kept(
            self, raw: str, caplog: pytest.LogCaptureFixture) -> None:
        assert Backoff.from_environ({RECONNECT_CAP_VARIABLE: raw}) == Backoff()
        assert f"{RECONNECT_CAP_VARIABLE}={raw!r} is not a positive number of seconds" in caplog.text

    def test_a_stream_given_no_policy_reads_the_cap_from_the_environment(
            self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(RECONNECT_CAP_VARIABLE, "2")
        stream = StompEventStream(endpoint=StompEndpoint("h", 1, "/ws", use_tls=False), vhost="v", login="l",
                                  passcode="p", queues=[StompQueue(QUEUE, Side.A)])
        assert stream._backoff == Backoff(cap=2.0)


def test_the_passcode_is_not_in_the_repr() -> None:
    stream = StompEventStream(
        endpoint=StompEndpoint("waldur.example", 443, "/rmqws-stomp", use_tls=True),
        vhost="v" * 32,
        login="l" * 32,
        passcode="s3cret-token",
        queues=[StompQueue(QUEUE, Side.B)],
    )
    assert "s3cret-token" not in repr(stream)
    assert "s3cret-token" not in stream.where
    assert stream.where == f"wss://waldur.example:443/rmqws-stomp vhost {'v' * 32} as {'l' * 32}"
    with pytest.raises(ValueError, match="unknown object type"):
        _ = StompQueue(QUEUE.replace("offering_user", "bogus"), Side.A).object_type


def test_stomp_py_frame_logs_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="stomp.py")
    StompEventStream(
        endpoint=StompEndpoint("h", 1, "/ws", use_tls=False), vhost="v", login="l", passcode="tok-1",
        queues=[StompQueue(QUEUE, Side.B)],
    )
    lines = [b"STOMP", b"\n", b"login:l\n", b"passcode:tok-1\n", b"\n"]
    logging.getLogger("stomp.py").debug("sending frame: %s", lines)
    assert "passcode:********" in caplog.text
    assert_no_secret(caplog, "tok-1")


class TlsProbe:
    """A TLS server on loopback with a self-signed ``localhost`` certificate; records each handshake's outcome."""

    def __init__(self, directory: Path) -> None:
        self.cert, key = directory / "cert.pem", directory / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(self.cert)],
            check=True, capture_output=True,
        )
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(self.cert, key)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.outcomes: list[str] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self.server.accept()
            except OSError:
                return
            try:
                with self.context.wrap_socket(raw, server_side=True):
                    outcome = "handshake"
            except (ssl.SSLError, OSError) as exc:
                outcome = f"refused: {exc}"
            with self.cond:
                self.outcomes.append(outcome)
                self.cond.notify_all()

    def wait_outcome(self, timeout: float) -> str:
        with self.cond:
            assert self.cond.wait_for(lambda: bool(self.outcomes), timeout), "the client tried a TLS handshake"
            return self.outcomes[0]

    def close(self) -> None:
        self.server.close()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
@pytest.mark.parametrize("transport", ["websocket", "tcp"])
@pytest.mark.parametrize("trusted", [False, True])
def test_tls_verifies_the_server_certificate(transport: Transport, trusted: bool, tmp_path: Path) -> None:
    probe = TlsProbe(tmp_path)
    stream = StompEventStream(
        endpoint=StompEndpoint("localhost", probe.port, "/ws", use_tls=True),
        vhost="v",
        login="l",
        passcode="p",
        queues=[StompQueue(QUEUE, Side.B)],
        transport=transport,
        backoff=Backoff.instant(),
        connect_timeout=2.0,
        ca_certs=str(probe.cert) if trusted else None,
    ).start()
    try:
        outcome = probe.wait_outcome(DEADLINE)
        # Trusted: the handshake completes (our probe then speaks no STOMP). Untrusted: the client refuses it.
        assert outcome == "handshake" if trusted else "UNKNOWN_CA" in outcome, outcome
        assert not stream.connected
    finally:
        stream.close()
        probe.close()


# --- against the broker ------------------------------------------------------------------------------------


@pytest.fixture(params=["websocket", "tcp"])
def rabbit(request: pytest.FixtureRequest) -> Iterator[RabbitEventsWorld]:
    world = RabbitEventsWorld(transport=request.param)
    yield world
    world.close()


def _connections(admin: httpx.Client, vhost: str, login: str) -> list[str]:
    listed = admin.get(f"/api/vhosts/{quote(vhost, safe='')}/connections").json()
    return [c["name"] for c in listed if c.get("user") == login]


def _force_reconnect(world: RabbitEventsWorld) -> None:
    """Close the adapter's connection from the broker's side (management API) and wait until the supervisor has
    connected again (``connects`` one higher); the connection may take a few seconds to be listed."""
    before = world.adapter.connects
    deadline = time.monotonic() + DEADLINE * 2
    with httpx.Client(base_url=MANAGEMENT, auth=("guest", "guest"), timeout=10) as admin:
        names: list[str] = []
        while not names and time.monotonic() < deadline:
            names = _connections(admin, world.user_uuid, world.subscription_uuid)
            if not names:
                time.sleep(0.1)  # polling interval, not synchronisation: the listing above decides
        assert names, "the management API lists the adapter's connection"
        for name in names:
            assert admin.delete(f"/api/connections/{quote(name, safe='')}").status_code in (204, 404)
    while world.adapter.connects <= before and time.monotonic() < deadline:
        world.adapter.wait_connected(0.05)
    assert world.adapter.connects > before


@pytest.mark.broker
def test_malformed_frames_arrive_as_malformed_and_never_stop_the_stream(rabbit: RabbitEventsWorld) -> None:
    rabbit.publish(order_event(1))
    rabbit.publish_raw(Side.A, "<<not json>>")
    rabbit.publish_raw(Side.B, json.dumps({"offering_uuid": OFF, "order_uuid": 12}))
    rabbit.publish_raw(Side.A, b'{"offering_uuid": "' + b"x" * (MAX_BODY + 1) + b'"}')
    rabbit.publish_raw(Side.B, json.dumps({"order_uuid": OFF}))
    rabbit.publish(order_event(2, Side.B))
    received = flat(collect(rabbit.stream, 6))
    assert [type(d.body).__name__ for d in received] == ["Event"] + ["Malformed"] * 4 + ["Event"]
    reasons = [d.body.reason for d in received if isinstance(d.body, Malformed)]
    assert ["not JSON" in reasons[0], "not a UUID string" in reasons[1], "exceeds" in reasons[2],
            "'offering_uuid' is missing" in reasons[3]] == [True] * 4
    assert [d.body.side for d in received] == [Side.A, Side.A, Side.B, Side.A, Side.B, Side.B]
    assert {d.body.queue for d in received if isinstance(d.body, Malformed)} == set(rabbit.queues.values())
    for delivery in received:
        rabbit.stream.ack(delivery)
    assert rabbit.stream.wait(0.05) is False


@pytest.mark.broker
def test_a_nacked_message_is_redelivered_with_attempt_two(rabbit: RabbitEventsWorld) -> None:
    rabbit.publish(order_event(7))
    [first] = flat(collect(rabbit.stream, 1))
    assert first.attempt == 1
    rabbit.stream.nack(first)
    [again] = flat(collect(rabbit.stream, 1))
    assert (again.body, again.attempt) == (order_event(7), 2)
    rabbit.stream.ack(again)


@pytest.mark.broker
def test_back_pressure_is_the_prefetch_the_broker_waits_for_acks() -> None:
    world = RabbitEventsWorld(prefetch=2)
    try:
        for n in range(5):
            world.sender.send(world.queues[Side.A], json.dumps({"offering_uuid": OFF, "order_uuid": f"{n:032x}"}))
        assert world.adapter.wait_frames(2, DEADLINE)
        assert not world.adapter.wait_frames(3, 0.3), "no more than the prefetch is unacknowledged"
        first, second = flat(collect(world.stream, 2))
        world.stream.ack(first)
        assert world.adapter.wait_frames(3, DEADLINE), "an ack lets the next message through"
        world.stream.ack(second)
        rest: list[Event | Malformed] = []
        deadline = time.monotonic() + DEADLINE
        while len(rest) < 3 and time.monotonic() < deadline:  # acknowledging as it goes, as a consumer must
            for delivery in flat(collect(world.stream, 1)):
                rest.append(delivery.body)
                world.stream.ack(delivery)
        assert [b.order_uuid for b in rest if isinstance(b, Event)] == [f"{n:032x}" for n in (2, 3, 4)]
    finally:
        world.close()


@pytest.mark.broker
def test_a_failing_on_connected_hook_is_logged_and_the_stream_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    def hook() -> None:
        raise RuntimeError("catch-up failed")

    world = RabbitEventsWorld(on_connected=hook)
    try:
        assert world.adapter.connected
        world.publish(order_event(3))
        [delivery] = flat(collect(world.stream, 1))
        world.stream.ack(delivery)
        assert any("on_connected hook failed" in r.getMessage() for r in caplog.records)
    finally:
        world.close()


@pytest.mark.broker
def test_tcp_transport_disables_nagle() -> None:
    world = RabbitEventsWorld(transport="tcp")
    try:
        sock = world.adapter._conn.transport.socket
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        world.close()


@pytest.mark.broker
@pytest.mark.parametrize("transport", ["websocket", "tcp"])
def test_the_supervisor_reconnects_after_the_broker_drops_the_connection(
    transport: Transport, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hooks: list[float] = []
    world = RabbitEventsWorld(transport=transport, on_connected=lambda: hooks.append(time.monotonic()))
    try:
        assert world.adapter.wait_connected(DEADLINE)
        world.publish(order_event(1))
        [held] = flat(collect(world.stream, 1))
        _force_reconnect(world)
        assert world.adapter.connected
        # The hook runs right after the stream counts the connection: wait for it with a deadline.
        deadline = time.monotonic() + DEADLINE
        while len(hooks) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # polling interval, not synchronisation: the count decides
        assert len(hooks) >= 2
        # The message outstanding at the drop comes back; the stale delivery is settled locally.
        [again] = flat(collect(world.stream, 1))
        assert (again.body, again.attempt) == (held.body, 2)
        world.stream.ack(held)
        world.stream.ack(again)
        world.publish(order_event(2))
        [after] = flat(collect(world.stream, 1))
        assert (after.body, after.attempt) == (order_event(2), 1)
        world.stream.ack(after)
        assert world.stream.wait(0.05) is False
    finally:
        world.close()
    assert_no_secret(caplog, world.token)


# --- queues added to a running stream ---------------------------------------------------------------------


def _added_queue(world: RabbitEventsWorld) -> StompQueue:
    """A new order queue of the world's subscription on the broker (for B's side), not yet known to the stream."""
    name = queue_name(world.subscription_uuid, uuid.uuid4().hex, ObjectType.ORDER.value)
    world.bus.declare_queue(vhost=world.user_uuid, queue_name=name)
    return StompQueue(name, Side.B)


def _send(world: RabbitEventsWorld, queue: str, event: Event) -> None:
    """SEND Waldur's payload of ``event`` to ``queue`` (confirmed by the broker, not yet by the stream)."""
    world.sender.send(queue, json.dumps(payload_of(event)))


def _consume(world: RabbitEventsWorld, count: int) -> list[Event | Malformed]:
    """Receive and acknowledge ``count`` deliveries; their bodies as received."""
    received = flat(collect(world.stream, count))
    for delivery in received:
        world.stream.ack(delivery)
    return [d.body for d in received]


def test_queues_added_before_start_are_known_and_nothing_connects() -> None:
    stream = StompEventStream(endpoint=StompEndpoint("127.0.0.1", 9, "/ws", use_tls=False), vhost="v", login="l",
                              passcode="p", queues=[StompQueue(QUEUE, Side.A)])
    other = f"subscription_{'a' * 32}_offering_{'c' * 32}_order"
    stream.add_queues([StompQueue(other, Side.B), StompQueue(QUEUE, Side.B), StompQueue(other, Side.A)])
    assert stream.queues == (QUEUE, other)
    assert (stream.connected, stream.connects) == (False, 0)
    assert "queues=2" in repr(stream)


@pytest.mark.broker
def test_a_queue_added_after_connect_is_consumed_on_the_same_session(rabbit: RabbitEventsWorld) -> None:
    added = _added_queue(rabbit)
    rabbit.adapter.add_queues([added])
    assert rabbit.adapter.queues == (*rabbit.queues.values(), added.name)
    event = order_event(5, Side.B)
    _send(rabbit, added.name, event)
    assert _consume(rabbit, 1) == [event]
    rabbit.publish(order_event(6))
    assert _consume(rabbit, 1) == [order_event(6)]
    assert (rabbit.adapter.connected, rabbit.adapter.connects) == (True, 1)
    assert rabbit.stream.wait(0.05) is False


@pytest.mark.broker
def test_adding_a_known_queue_changes_nothing(rabbit: RabbitEventsWorld) -> None:
    known = [StompQueue(name, side) for side, name in rabbit.queues.items()]
    rabbit.adapter.add_queues(known)
    rabbit.adapter.add_queues([])
    assert rabbit.adapter.queues == tuple(rabbit.queues.values())
    rabbit.publish(order_event(8))
    assert _consume(rabbit, 1) == [order_event(8)]
    assert rabbit.stream.wait(0.2) is False, "one SUBSCRIBE per queue: a message arrives once"
    assert (rabbit.adapter.connected, rabbit.adapter.connects) == (True, 1)


@pytest.mark.broker
@pytest.mark.parametrize("transport", ["websocket", "tcp"])
def test_added_queues_are_subscribed_again_after_a_reconnect(transport: Transport) -> None:
    world = RabbitEventsWorld(transport=transport)
    try:
        added = _added_queue(world)
        world.adapter.add_queues([added])
        _force_reconnect(world)
        assert world.adapter.wait_connected(DEADLINE)
        _send(world, added.name, order_event(11, Side.B))
        _send(world, world.queues[Side.A], order_event(12))
        assert sorted(_consume(world, 2), key=str) == sorted([order_event(11, Side.B), order_event(12)], key=str)
        assert world.stream.wait(0.05) is False
    finally:
        world.close()


@pytest.mark.broker
def test_refused_credentials_keep_retrying_without_leaking_the_passcode(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    world = RabbitEventsWorld()
    wrong = f"wrong-{uuid.uuid4().hex}"
    refused = StompEventStream(
        endpoint=StompEndpoint("127.0.0.1", 15674, "/ws", use_tls=False),
        vhost=world.user_uuid,
        login=world.subscription_uuid,
        passcode=wrong,
        queues=[StompQueue(world.queues[Side.A], Side.A)],
        backoff=Backoff.instant(),
    ).start()
    try:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline and sum("failed" in r.getMessage() for r in caplog.records) < 3:
            refused.wait_connected(0.05)
        assert sum("failed" in r.getMessage() for r in caplog.records) >= 3, "the supervisor keeps trying"
        assert not refused.connected
    finally:
        refused.close()
        world.close()
    assert_no_secret(caplog, wrong)
    assert_no_secret(caplog, world.token)


def assert_no_secret(caplog: pytest.LogCaptureFixture, secret: str) -> None:
    """No captured log line, argument or traceback contains ``secret``."""
    assert caplog.records, "logs were captured"
    for record in caplog.records:
        text = record.getMessage() + (logging.Formatter().formatException(record.exc_info) if record.exc_info else "")
        assert secret not in text, f"secret in log line from {record.name}: {text[:200]}"
