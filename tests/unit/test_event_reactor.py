"""The reactor over the in-memory stream: acknowledged only when done, given back a bounded number of times,
malformed frames dropped with a log line, and never more messages in hand than its capacity."""

from __future__ import annotations

import concurrent.futures as cf
import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from adapters.memory.events import MemoryEventStream
from fedcore.enums import ObjectType, Side
from fedcore.events import Event, Malformed
from runners.events import Deferred, EventReactor, Handled, Retry
from runners.events.handler import Result
from runners.jobs import JobResult
from runners.wiring import Mode

DEADLINE = 10.0


def event(n: int = 0, side: Side = Side.A) -> Event:
    return Event(side, ObjectType.ORDER, "a" * 32, order_uuid=f"{n:032x}")


def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


class Scripted:
    """A handler answering from a function of the event (and counting calls)."""

    def __init__(self, answer: Callable[[Event], Result]) -> None:
        self.answer = answer
        self.calls: list[Event] = []
        self.lock = threading.Lock()

    def handle(self, ev: Event) -> Result:
        with self.lock:
            self.calls.append(ev)
        return self.answer(ev)


@pytest.fixture
def stream() -> MemoryEventStream:
    return MemoryEventStream()


@pytest.fixture
def reactors() -> Iterator[list[EventReactor]]:
    made: list[EventReactor] = []
    yield made
    for reactor in made:
        reactor.close(2.0)


def start(
    reactors: list[EventReactor], stream: MemoryEventStream, handler: Scripted, **options: object
) -> EventReactor:
    options.setdefault("retry", Retry(initial=0.001, cap=0.01))
    reactor = EventReactor(handler, **options)  # type: ignore[arg-type]
    reactors.append(reactor)
    reactor.consume(stream, "test")
    return reactor


def test_handled_events_are_acknowledged(stream: MemoryEventStream, reactors: list[EventReactor]) -> None:
    handler = Scripted(lambda _: Handled())
    for n in range(50):
        stream.publish(event(n))
    start(reactors, stream, handler)
    until(lambda: stream.counts["acked"] == 50, "50 acks")
    assert stream.counts["nacked"] == 0
    assert len(handler.calls) == 50


def test_a_failing_event_is_given_back_then_dropped_after_the_bounded_attempts(
    stream: MemoryEventStream, reactors: list[EventReactor], caplog: pytest.LogCaptureFixture
) -> None:
    handler = Scripted(lambda _: Handled(retry=True, note="B is down"))
    stream.publish(event(1))
    with caplog.at_level(logging.WARNING, logger="fedcore.events"):
        start(reactors, stream, handler, max_attempts=3)
        until(lambda: stream.counts["acked"] == 1, "the give-up ack")
    assert stream.counts["nacked"] == 2
    assert len(handler.calls) == 3
    assert any("given up after 3 attempt(s)" in r.getMessage() and "B is down" in r.getMessage()
               for r in caplog.records)


def test_an_event_that_fails_once_succeeds_on_redelivery(stream: MemoryEventStream,
                                                          reactors: list[EventReactor]) -> None:
    answers = iter([Handled(retry=True), Handled()])
    handler = Scripted(lambda _: next(answers))
    stream.publish(event(1))
    start(reactors, stream, handler)
    until(lambda: stream.counts["acked"] == 1, "the ack")
    assert stream.counts["nacked"] == 1


def test_a_crashing_handler_is_a_bounded_retry_and_the_consumer_goes_on(
    stream: MemoryEventStream, reactors: list[EventReactor]
) -> None:
    def answer(ev: Event) -> Result:
        if ev.order_uuid == f"{1:032x}":
            raise RuntimeError("a bug")
        return Handled()

    handler = Scripted(answer)
    stream.publish(event(1))
    stream.publish(event(2))
    start(reactors, stream, handler, max_attempts=2)
    until(lambda: stream.counts["acked"] == 2, "both settled")
    assert stream.counts["nacked"] == 1


def test_malformed_frames_are_acknowledged_and_valid_events_among_them_all_take_effect(
    stream: MemoryEventStream, reactors: list[EventReactor], caplog: pytest.LogCaptureFixture
) -> None:
    handler = Scripted(lambda _: Handled())
    for n in range(1000):
        stream.publish(Malformed(Side.B, queue="q1", reason="body is not JSON", excerpt=f"junk {n}"))
        if n % 10 == 0:
            stream.publish(event(n))
    with caplog.at_level(logging.WARNING, logger="fedcore.events"):
        start(reactors, stream, handler)
        until(lambda: stream.counts["acked"] == 1100, "every message settled")
    assert sorted(e.order_uuid or "" for e in handler.calls) == sorted(f"{n:032x}" for n in range(0, 1000, 10))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert 5 <= len(warnings) <= 20  # the first few, then one line per hundred: the log is not flooded
    assert "q1" in warnings[0].getMessage()
    assert "junk 0" in warnings[0].getMessage()


def test_never_more_messages_in_hand_than_the_capacity(stream: MemoryEventStream,
                                                       reactors: list[EventReactor]) -> None:
    release = threading.Event()
    peak = [0]
    reactor_box: list[EventReactor] = []

    def answer(_: Event) -> Result:
        peak[0] = max(peak[0], reactor_box[0].in_hand)
        release.wait(DEADLINE)
        return Handled()

    for n in range(40):
        stream.publish(event(n))
    reactor = start(reactors, stream, Scripted(answer), workers=2, capacity=5)
    reactor_box.append(reactor)
    until(lambda: reactor.in_hand == 5, "the capacity to fill")
    assert len(stream.unacked) == 5
    assert len(stream.pending) == 35
    release.set()
    until(lambda: stream.counts["acked"] == 40, "all acks")
    assert peak[0] <= 5


def test_a_deferred_event_is_acknowledged_only_when_its_pass_ends_well(
    stream: MemoryEventStream, reactors: list[EventReactor]
) -> None:
    passes: list[cf.Future[JobResult]] = []

    def answer(_: Event) -> Result:
        future: cf.Future[JobResult] = cf.Future()
        passes.append(future)
        return Deferred((future,))

    stream.publish(event(1))
    start(reactors, stream, Scripted(answer), max_attempts=5)
    until(lambda: len(passes) == 1, "the first pass request")
    assert stream.counts["acked"] == 0
    assert len(stream.unacked) == 1
    passes[0].set_result(JobResult("hpc", Mode.ORDER_PROCESS, ok=False, seconds=0.1))
    until(lambda: len(passes) == 2, "redelivery after an incomplete pass")
    assert stream.counts["nacked"] == 1
    passes[1].set_result(JobResult("hpc", Mode.ORDER_PROCESS, ok=True, seconds=0.1))
    until(lambda: stream.counts["acked"] == 1, "the ack")


def test_duplicated_and_reordered_deliveries_are_each_handled_and_acknowledged(
    stream: MemoryEventStream, reactors: list[EventReactor]
) -> None:
    handler = Scripted(lambda _: Handled())
    for n in [3, 1, 2, 1, 3, 3]:
        stream.publish(event(n))
    start(reactors, stream, handler)
    until(lambda: stream.counts["acked"] == 6, "six acks")
    assert len(handler.calls) == 6
