"""Contract of the EventStream port, for every implementation.

An :class:`EventsWorld` publishes messages as Waldur (or a broker client) would; the tests then consume them only
through the port. A real broker delivers asynchronously, so every expectation is polled with a deadline
(:func:`collect`), never synchronised by sleeping; the in-memory stream simply answers at once. The ``rabbitmq``
world binds the STOMP adapter (:class:`adapters.stomp.StompEventStream`, over Web-STOMP) to a real RabbitMQ: a
fresh vhost, broker user and two Waldur queues (A's and B's orders) per test, messages published with plain STOMP
SENDs as Waldur's publisher does.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import pytest
import stomp

from adapters.config.schema import StompEndpoint
from adapters.memory.events import MemoryEventStream
from adapters.stomp import Backoff, StompEventStream, StompQueue, Transport
from fedcore.enums import ObjectType, OrderState, Side
from fedcore.events import Delivery, Event, Malformed
from fedcore.ids import Uuid
from fedcore.ports.events import EventStream
from waldur_emulator.events import RabbitEventBus, queue_name

pytestmark = pytest.mark.contract

DEADLINE = 5.0
"""Seconds a test waits for messages a real broker has not delivered yet (the memory stream never needs it)."""
SHORT = 0.05
"""The timeout of a ``wait`` that is expected to time out."""
OFFERING = Uuid("0" * 31 + "1")


class EventsWorld(Protocol):
    """An event stream with a way to publish into the queues it consumes."""

    @property
    def stream(self) -> EventStream:
        """The port under test."""
        ...

    def publish(self, event: Event) -> None:
        """Publish a well-formed message that decodes to ``event``; safe to call from any thread."""
        ...

    def publish_garbage(self, side: Side, text: str) -> None:
        """Publish, into one of ``side``'s queues, a message that cannot be decoded; its body starts with ``text``."""
        ...


class MemoryEventsWorld:
    """The in-memory stream; undecodable messages are published as the :class:`Malformed` an adapter makes."""

    def __init__(self) -> None:
        self.fake = MemoryEventStream()
        self.stream: EventStream = self.fake

    def publish(self, event: Event) -> None:
        """Enqueue the event."""
        self.fake.publish(event)

    def publish_garbage(self, side: Side, text: str) -> None:
        """Enqueue a Malformed body."""
        self.fake.publish(Malformed(side, queue=f"{side}-orders", reason="not JSON", excerpt=text))


MANAGEMENT = "http://127.0.0.1:15672"
BROKER_HOST = "127.0.0.1"
PORTS: dict[Transport, int] = {"websocket": 15674, "tcp": 61613}


def payload_of(event: Event) -> dict[str, object]:
    """The JSON payload Waldur sends for ``event`` (EVENTS.md §5; only the fields the Event carries)."""
    fields: dict[str, object] = {"offering_uuid": event.offering_uuid}
    if event.action:
        fields["action"] = event.action
    if event.object_type is ObjectType.ORDER:
        fields["order_uuid"] = event.order_uuid
        if event.order_state is not None:
            fields["order_state"] = event.order_state.value
    for name in ("resource_uuid", "project_uuid", "user_uuid", "offering_user_uuid"):
        if getattr(event, name) is not None:
            fields[name] = getattr(event, name)
    for name in ("user_username", "role_name", "username"):
        if getattr(event, name):
            fields[name] = getattr(event, name)
    if event.granted is not None:
        fields["granted"] = event.granted
    if event.state is not None:
        fields["state"] = event.state.code if event.action == "username_set" else event.state.value
    return fields


class Sender:
    """Plain STOMP (TCP) as the broker admin, as Waldur publishes: one SEND at a time, each confirmed by a receipt."""

    def __init__(self, vhost: str) -> None:
        self.receipts: set[str] = set()
        self.cond = threading.Condition()
        self.conn = stomp.Connection12([(BROKER_HOST, PORTS["tcp"])], vhost=vhost, reconnect_attempts_max=1)
        self.conn.set_listener("receipts", self)
        self.conn.connect("guest", "guest", wait=True)
        self.count = 0

    def on_receipt(self, frame: Any) -> None:
        with self.cond:
            self.receipts.add(frame.headers["receipt-id"])
            self.cond.notify_all()

    def send(self, queue: str, body: str | bytes) -> None:
        """SEND ``body`` to the existing queue and wait for the broker's receipt."""
        self.count += 1
        receipt = f"r{self.count}"
        headers = {"persistent": "true", "content-type": "application/json", "receipt": receipt}
        self.conn.send(destination=f"/amq/queue/{queue}", body=body, headers=headers)
        with self.cond:
            assert self.cond.wait_for(lambda: receipt in self.receipts, DEADLINE), "no receipt for a SEND"

    def close(self) -> None:
        """Disconnect."""
        if self.conn.is_connected():
            self.conn.disconnect()


class RabbitEventsWorld:
    """The STOMP adapter consuming A's and B's order queues of one fresh subscription on the real broker.

    ``publish`` returns once the adapter has taken the message in, so messages published one after another (into
    different queues too) are received in that order.
    """

    def __init__(self, transport: Transport = "websocket", **options: Any) -> None:
        self.user_uuid, self.subscription_uuid = uuid.uuid4().hex, uuid.uuid4().hex
        self.token = f"token-{uuid.uuid4().hex}"
        self.bus = RabbitEventBus(management_url=MANAGEMENT)
        self.bus.provision_subscription(
            user_uuid=self.user_uuid, subscription_uuid=self.subscription_uuid, password=self.token
        )
        self.queues = {
            side: queue_name(self.subscription_uuid, uuid.uuid4().hex, ObjectType.ORDER.value) for side in Side
        }
        for name in self.queues.values():
            self.bus.declare_queue(vhost=self.user_uuid, queue_name=name)
        self.sender = Sender(self.user_uuid)
        options.setdefault("backoff", Backoff.instant())
        options.setdefault("heartbeat_ms", 2_000)
        self.adapter = StompEventStream(
            endpoint=StompEndpoint(BROKER_HOST, PORTS[transport], "/ws", use_tls=False),
            vhost=self.user_uuid,
            login=self.subscription_uuid,
            passcode=self.token,
            queues=[StompQueue(name, side) for side, name in self.queues.items()],
            transport=transport,
            **options,
        )
        self.stream: EventStream = self.adapter
        self.adapter.start()
        assert self.adapter.wait_connected(DEADLINE), "the adapter connects to the broker"

    def publish(self, event: Event) -> None:
        """SEND Waldur's JSON payload to the event's side's queue."""
        self.publish_raw(event.side, json.dumps(payload_of(event)))

    def publish_garbage(self, side: Side, text: str) -> None:
        """SEND ``text`` as it is."""
        self.publish_raw(side, text)

    def publish_raw(self, side: Side, body: str | bytes) -> None:
        """SEND ``body`` to ``side``'s queue; return once the adapter has received it."""
        before = self.adapter.frames_received
        self.sender.send(self.queues[side], body)
        assert self.adapter.wait_frames(before + 1, DEADLINE), "the adapter receives what was sent"

    def close(self) -> None:
        """Close the adapter and the sender, remove the subscription, its vhost and queues."""
        self.adapter.close()
        self.sender.close()
        self.bus.remove_subscription(
            user_uuid=self.user_uuid, subscription_uuid=self.subscription_uuid, delete_vhost=True
        )
        self.bus.close()


WORLDS: dict[str, Callable[[], EventsWorld]] = {"memory": MemoryEventsWorld, "rabbitmq": RabbitEventsWorld}
"""Implementation name -> world factory: the in-memory fake, and the STOMP adapter against RabbitMQ."""


@pytest.fixture(
    params=[pytest.param(name, marks=[pytest.mark.broker] if name == "rabbitmq" else []) for name in sorted(WORLDS)]
)
def world(request: pytest.FixtureRequest) -> Iterator[EventsWorld]:
    """A fresh world of each implementation, with empty queues."""
    made = WORLDS[request.param]()
    yield made
    close = getattr(made, "close", None)
    if close is not None:
        close()


def order_event(n: int, side: Side = Side.A) -> Event:
    """A distinct, decodable order event (the ``n``-th)."""
    return Event(side, ObjectType.ORDER, OFFERING, order_uuid=f"{n:032x}", order_state=OrderState.EXECUTING)


def collect(stream: EventStream, count: int, limit: int = 100) -> list[list[Delivery]]:
    """Receive until ``count`` deliveries arrived (or :data:`DEADLINE` passed); the batches as received."""
    batches: list[list[Delivery]] = []
    deadline = time.monotonic() + DEADLINE
    while sum(map(len, batches)) < count and time.monotonic() < deadline:
        if stream.wait(min(SHORT, deadline - time.monotonic())):
            batch = list(stream.receive(limit))
            if batch:
                batches.append(batch)
    return batches


def flat(batches: list[list[Delivery]]) -> list[Delivery]:
    """The deliveries of some batches, in order."""
    return [d for batch in batches for d in batch]


def assert_drained(stream: EventStream) -> None:
    """Nothing is waiting, and nothing arrives."""
    assert stream.wait(SHORT) is False
    assert list(stream.receive(10)) == []


def test_the_memory_stream_satisfies_the_port() -> None:
    # Checked by mypy: the assignment fails type checking when the fake drifts from its Protocol.
    port: EventStream = MemoryEventStream()
    assert list(port.receive(1)) == []


def test_the_stomp_stream_satisfies_the_port() -> None:
    # Checked by mypy, as above; constructing does no I/O, so this needs no broker.
    port: EventStream = StompEventStream(
        endpoint=StompEndpoint("broker.invalid", 443, "/rmqws-stomp", use_tls=True),
        vhost="v",
        login="l",
        passcode="p",
        queues=[StompQueue(queue_name(uuid.uuid4().hex, uuid.uuid4().hex, "order"), Side.A)],
    )
    assert list(port.receive(1)) == []


class TestEventStream:
    """Deliveries in order, bounded batches, acknowledgement, redelivery, and waiting for a message."""

    def test_messages_arrive_oldest_first_on_their_first_attempt(self, world: EventsWorld) -> None:
        events = [order_event(n) for n in range(5)]
        for event in events:
            world.publish(event)
        received = flat(collect(world.stream, 5))
        assert [d.body for d in received] == events
        assert {d.attempt for d in received} == {1}
        assert len({d.tag for d in received}) == 5

    def test_receive_hands_out_at_most_limit_and_keeps_the_rest(self, world: EventsWorld) -> None:
        events = [order_event(n) for n in range(7)]
        for event in events:
            world.publish(event)
        batches = collect(world.stream, 7, limit=3)
        assert all(1 <= len(batch) <= 3 for batch in batches)
        assert [d.body for d in flat(batches)] == events

    def test_receive_never_blocks_and_a_zero_limit_takes_nothing(self, world: EventsWorld) -> None:
        started = time.monotonic()
        assert list(world.stream.receive(10)) == []
        assert time.monotonic() - started < 1.0
        world.publish(order_event(1))
        assert world.stream.wait(DEADLINE)
        assert list(world.stream.receive(0)) == []
        assert [d.body for d in flat(collect(world.stream, 1))] == [order_event(1)]

    def test_acknowledged_messages_are_gone(self, world: EventsWorld) -> None:
        for n in range(3):
            world.publish(order_event(n))
        for delivery in flat(collect(world.stream, 3)):
            world.stream.ack(delivery)
        assert_drained(world.stream)

    def test_a_received_message_is_not_handed_out_again_while_outstanding(self, world: EventsWorld) -> None:
        world.publish(order_event(1))
        [delivery] = flat(collect(world.stream, 1))
        assert_drained(world.stream)
        world.stream.ack(delivery)

    def test_a_given_back_message_returns_with_the_attempt_counted(self, world: EventsWorld) -> None:
        world.publish(order_event(1))
        [first] = flat(collect(world.stream, 1))
        world.stream.nack(first)
        [second] = flat(collect(world.stream, 1))
        assert (second.body, second.attempt) == (first.body, 2)
        world.stream.nack(second)
        [third] = flat(collect(world.stream, 1))
        assert (third.body, third.attempt) == (first.body, 3)
        world.stream.ack(third)
        assert_drained(world.stream)

    def test_giving_one_back_leaves_the_others_alone(self, world: EventsWorld) -> None:
        for n in range(3):
            world.publish(order_event(n))
        first, middle, last = flat(collect(world.stream, 3))
        world.stream.ack(first)
        world.stream.nack(middle)
        world.stream.ack(last)
        [again] = flat(collect(world.stream, 1))
        assert (again.body, again.attempt) == (order_event(1), 2)
        world.stream.ack(again)
        assert_drained(world.stream)

    @pytest.mark.parametrize("settle", ["ack", "nack"])
    def test_settling_a_delivery_twice_is_a_caller_bug(self, world: EventsWorld, settle: str) -> None:
        world.publish(order_event(1))
        [delivery] = flat(collect(world.stream, 1))
        getattr(world.stream, settle)(delivery)
        with pytest.raises(ValueError, match="not outstanding"):
            world.stream.ack(delivery)
        with pytest.raises(ValueError, match="not outstanding"):
            world.stream.nack(delivery)

    def test_wait_times_out_when_nothing_arrives(self, world: EventsWorld) -> None:
        started = time.monotonic()
        assert world.stream.wait(SHORT) is False
        assert time.monotonic() - started >= SHORT * 0.9

    def test_wait_is_true_at_once_when_a_message_is_waiting(self, world: EventsWorld) -> None:
        world.publish(order_event(1))
        assert world.stream.wait(DEADLINE) is True
        assert world.stream.wait(0) is True  # waiting, not consumed, until received

    def test_a_message_published_from_another_thread_wakes_a_waiting_consumer(self, world: EventsWorld) -> None:
        answers: list[bool] = []
        waiting = threading.Event()

        def consumer() -> None:
            waiting.set()
            answers.append(world.stream.wait(DEADLINE * 2))

        thread = threading.Thread(target=consumer, daemon=True)
        started = time.monotonic()
        thread.start()
        assert waiting.wait(DEADLINE)
        world.publish(order_event(1))
        thread.join(DEADLINE * 2)
        assert not thread.is_alive()
        assert answers == [True]
        assert time.monotonic() - started < DEADLINE * 2
        assert [d.body for d in flat(collect(world.stream, 1))] == [order_event(1)]

    def test_undecodable_messages_travel_like_events(self, world: EventsWorld) -> None:
        world.publish(order_event(1))
        world.publish_garbage(Side.B, "<<not json>>")
        world.publish(order_event(2, Side.B))
        first, garbage, last = flat(collect(world.stream, 3))
        assert (first.body, last.body) == (order_event(1), order_event(2, Side.B))
        assert isinstance(garbage.body, Malformed)
        assert garbage.body.side == Side.B
        assert garbage.body.excerpt.startswith("<<not json>>")
        world.stream.nack(garbage)
        [again] = flat(collect(world.stream, 1))
        assert (again.body, again.attempt) == (garbage.body, 2)
        for delivery in (first, last, again):
            world.stream.ack(delivery)
        assert_drained(world.stream)
