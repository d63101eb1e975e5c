"""The consumer side of event mode: deliveries from every stream to a bounded worker pool, acknowledged when done.

One thread per stream takes deliveries only while the pool has room (``capacity`` messages in hand, across all
streams); a message not taken stays unacknowledged in the broker, whose prefetch then stops sending: that is the
back-pressure, and stomp.py's own threads never wait on fedcore. Each delivery is decoded already
(:class:`~fedcore.events.Event` or :class:`~fedcore.events.Malformed`):

- a ``Malformed`` frame is logged (the queue, the reason, a short excerpt; the first few per queue at WARNING,
  then one line per hundred) and acknowledged: it can never succeed, and nothing is lost by dropping it because
  reconciliation reads the truth from REST;
- an ``Event`` goes to the :class:`~runners.events.handler.EventHandler` on the pool. ``Handled`` is acknowledged
  at once; ``retry`` is given back (NACK, the broker delivers it again) after a growing pause, and after
  ``max_attempts`` deliveries it is logged, acknowledged and left to reconciliation; ``Deferred`` is settled the
  same way when its passes end.

A message is acknowledged only after its effect is durable on Waldur (or it needs none), so a crash at any point
leaves it in the broker to be delivered again, and every handler re-reads the current state first.
"""

from __future__ import annotations

import concurrent.futures as cf
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from attrs import frozen

from fedcore.events import Delivery, Event, Malformed
from fedcore.ports import EventStream
from runners.events.handler import Deferred, Handled, Result
from runners.jobs import JobResult

log = logging.getLogger("fedcore.events")

DEFAULT_WORKERS = 8
DEFAULT_MAX_ATTEMPTS = 5
LOUD_MALFORMED = 5
"""Malformed frames per queue logged at WARNING before the log thins out to one line per hundred."""


class EventTelemetry(Protocol):
    """What the reactor reports (the daemon's telemetry implements it)."""

    def event_settled(self, side: str, object_type: str, outcome: str, seconds: float) -> None:
        """One message settled: ``outcome`` is ``handled``, ``ignored``, ``malformed``, ``requeued`` or ``dropped``;
        ``seconds`` from taking it in to settling it."""
        ...


class Handler(Protocol):
    """What the reactor hands each event to (:class:`~runners.events.handler.EventHandler`)."""

    def handle(self, event: Event) -> Result:
        """Carry out ``event``'s reaction."""
        ...


class _NoTelemetry:
    def event_settled(self, side: str, object_type: str, outcome: str, seconds: float) -> None:
        pass


@frozen
class Retry:
    """Pause before giving a failed message back: ``initial * 2 ** (attempt - 1)`` seconds, at most ``cap``."""

    initial: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int) -> float:
        """The pause after the ``attempt``-th delivery failed."""
        return float(min(self.cap, self.initial * 2.0 ** max(0, attempt - 1)))


class EventReactor:
    """Consumes any number of :class:`~fedcore.ports.EventStream`; see the module doc.

    ``workers`` threads run handlers; at most ``capacity`` (default ``4 x workers``) messages are in hand at once,
    handlers waiting for a pass included. ``max_attempts`` bounds the deliveries of a message that keeps failing.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        workers: int = DEFAULT_WORKERS,
        capacity: int | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        retry: Retry | None = None,
        telemetry: EventTelemetry | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if workers < 1 or max_attempts < 1:
            raise ValueError("workers and max_attempts must be at least 1")
        self._handler = handler
        self._pool = cf.ThreadPoolExecutor(workers, thread_name_prefix="fedcore-events")
        self._capacity = capacity if capacity is not None else 4 * workers
        self._max_attempts = max_attempts
        self._retry = retry or Retry()
        self._telemetry: EventTelemetry = telemetry or _NoTelemetry()
        self._monotonic = monotonic
        self._cond = threading.Condition()
        self._in_hand = 0
        self._stop = threading.Event()
        self._consumers: list[threading.Thread] = []
        self._later: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._timer = threading.Thread(target=self._run_timer, name="fedcore-events-timer", daemon=True)
        self._timer.start()
        self._malformed: dict[str, int] = {}
        self._ignored: set[tuple[str, str, str]] = set()
        self.settled = 0
        """Messages settled so far (acknowledged or given back): tests and diagnostics."""

    # --- life cycle ---------------------------------------------------------------------------------

    def consume(self, stream: EventStream, name: str) -> None:
        """Start consuming ``stream`` on a thread of its own (``name`` for the thread and the log)."""
        thread = threading.Thread(target=self._consume, args=(stream,), name=f"fedcore-consume-{name}", daemon=True)
        self._consumers.append(thread)
        thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop taking messages and let the handlers running finish (up to ``timeout``). Messages in hand and not
        settled stay unacknowledged: closing the stream gives them back to the broker."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        deadline = self._monotonic() + timeout
        for thread in self._consumers:
            thread.join(max(0.0, deadline - self._monotonic()))
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._timer.join(max(0.0, deadline - self._monotonic()))

    @property
    def in_hand(self) -> int:
        """Messages taken and not yet settled."""
        with self._cond:
            return self._in_hand

    def wait_idle(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds until no message is in hand (tests)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._in_hand == 0, timeout)

    # --- consuming ----------------------------------------------------------------------------------

    def _consume(self, stream: EventStream) -> None:
        while not self._stop.is_set():
            with self._cond:
                self._cond.wait_for(lambda: self._in_hand < self._capacity or self._stop.is_set(), 0.5)
                room = self._capacity - self._in_hand
            if room <= 0 or self._stop.is_set():
                continue
            try:
                if not stream.wait(0.25):
                    continue
                deliveries = stream.receive(room)
            except Exception:  # a broken stream must not kill the consumer: it reconnects by itself
                log.exception("taking messages from an event stream failed")
                self._stop.wait(1.0)
                continue
            for delivery in deliveries:
                with self._cond:
                    self._in_hand += 1
                self._take(stream, delivery)

    def _take(self, stream: EventStream, delivery: Delivery) -> None:
        started = self._monotonic()
        body = delivery.body
        if isinstance(body, Malformed):
            self._log_malformed(body)
            self._settle(stream, delivery, "malformed", started, ack=True)
            return
        try:
            self._pool.submit(self._run, stream, delivery, body, started)
        except RuntimeError:  # the pool is shut down: the message goes back to the broker with the stream
            with self._cond:
                self._in_hand -= 1
                self._cond.notify_all()

    def _run(self, stream: EventStream, delivery: Delivery, event: Event, started: float) -> None:
        try:
            result: Result = self._handler.handle(event)
        except Exception as exc:  # a bug: give the message back (bounded), and say so
            log.exception("handling a %s %s event failed", event.side, event.object_type)
            result = Handled(retry=True, note=f"unexpected {type(exc).__name__}: {exc}")
        if isinstance(result, Deferred):
            self._when_done(stream, delivery, event, started, result)
        else:
            self._finish(stream, delivery, event, started, result)

    def _when_done(self, stream: EventStream, delivery: Delivery, event: Event, started: float,
                   deferred: Deferred) -> None:
        remaining = [len(deferred.passes)]
        lock = threading.Lock()

        def one_done(_: cf.Future[JobResult]) -> None:
            with lock:
                remaining[0] -= 1
                if remaining[0]:
                    return
            failed = [f for f in deferred.passes if f.cancelled() or f.exception() is not None or not f.result().ok]
            note = deferred.note + (f"; {len(failed)} pass(es) incomplete" if failed else "")
            self._finish(stream, delivery, event, started, Handled(retry=bool(failed), note=note))

        if not deferred.passes:
            self._finish(stream, delivery, event, started, Handled(note=deferred.note))
            return
        for future in deferred.passes:
            future.add_done_callback(one_done)

    def _finish(self, stream: EventStream, delivery: Delivery, event: Event, started: float,
                result: Handled) -> None:
        what = f"{event.side} {event.object_type} event"
        if result.ignored:
            with self._cond:
                kind = (str(event.side), str(event.object_type), event.action)
                first = kind not in self._ignored
                self._ignored.add(kind)
            (log.info if first else log.debug)("%s%s ignored: %s", what, f" ({event.action})" if event.action else "",
                                              result.note)
            self._settle(stream, delivery, "ignored", started, ack=True, event=event)
            return
        if not result.retry:
            log.debug("%s handled: %s", what, result.note)
            self._settle(stream, delivery, "handled", started, ack=True, event=event)
            return
        if delivery.attempt >= self._max_attempts:
            log.error("%s given up after %d attempt(s), reconciliation will repair it: %s", what, delivery.attempt,
                      result.note)
            self._settle(stream, delivery, "dropped", started, ack=True, event=event)
            return
        pause = self._retry.delay(delivery.attempt)
        if self._stop.is_set():  # stopping: the passes it waited for were cancelled; the broker keeps the message
            log.info("%s left to the broker (fedcore is stopping): %s", what, result.note)
            return
        log.warning("%s failed (attempt %d of %d), given back in %.1f s: %s", what, delivery.attempt,
                    self._max_attempts, pause, result.note)
        self._later_call(pause, lambda: self._settle(stream, delivery, "requeued", started, ack=False, event=event))

    def _settle(self, stream: EventStream, delivery: Delivery, outcome: str, started: float, *, ack: bool,
                event: Event | None = None) -> None:
        try:
            (stream.ack if ack else stream.nack)(delivery)
        except Exception as exc:  # a settle that fails leaves the message to the broker (redelivered)
            log.info("%s of a message failed: %s", "ACK" if ack else "NACK", exc)
        body = delivery.body
        side = str(body.side)
        kind = str(event.object_type) if event is not None else "malformed"
        self._telemetry.event_settled(side, kind, outcome, self._monotonic() - started)
        with self._cond:
            self._in_hand -= 1
            self.settled += 1
            self._cond.notify_all()

    def _log_malformed(self, body: Malformed) -> None:
        with self._cond:
            count = self._malformed[body.queue] = self._malformed.get(body.queue, 0) + 1
        if count <= LOUD_MALFORMED:
            log.warning("malformed message from %s queue %s dropped: %s; body starts %r", body.side, body.queue,
                        body.reason, body.excerpt)
        elif count % 100 == 0:
            log.warning("%d malformed messages from %s queue %s dropped so far; the latest: %s", count, body.side,
                        body.queue, body.reason)
        else:
            log.debug("malformed message from %s queue %s dropped: %s", body.side, body.queue, body.reason)

    # --- pauses before a NACK -----------------------------------------------------------------------

    def _later_call(self, seconds: float, call: Callable[[], None]) -> None:
        with self._cond:
            heapq.heappush(self._later, (self._monotonic() + seconds, next(self._seq), call))
            self._cond.notify_all()

    def _run_timer(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stop.is_set():
                        return
                    now = self._monotonic()
                    if self._later and self._later[0][0] <= now:
                        _, _, call = heapq.heappop(self._later)
                        break
                    wait = self._later[0][0] - now if self._later else None
                    self._cond.wait(wait if wait is None else min(wait, 1.0))
            call()
