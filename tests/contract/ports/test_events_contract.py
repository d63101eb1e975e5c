"""Contract of the EventStream port, for every implementation.

An :class:`EventsWorld` publishes messages as Waldur (or a broker client) would; the tests then consume them only
through the port. A real broker delivers asynchronously, so every expectation is polled with a deadline
(:func:`collect`), never synchronised by sleeping; the in-memory stream simply answers at once. Event mode adds the
STOMP adapter against a real RabbitMQ to :data:`WORLDS`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

import pytest

from adapters.memory.events import MemoryEventStream
from fedcore.enums import ObjectType, OrderState, Side
from fedcore.events import Delivery, Event, Malformed
from fedcore.ids import Uuid
from fedcore.ports.events import EventStream

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


WORLDS: dict[str, Callable[[], EventsWorld]] = {"memory": MemoryEventsWorld}
"""Implementation name -> world factory. Event mode adds ``"stomp"`` (the adapter against RabbitMQ)."""


@pytest.fixture(params=sorted(WORLDS))
def world(request: pytest.FixtureRequest) -> EventsWorld:
    """A fresh world of each implementation, with empty queues."""
    return WORLDS[request.param]()


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
