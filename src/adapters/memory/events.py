"""An in-memory event stream: a broker queue with per-message acknowledgement, for tests and simulations.

:class:`MemoryEventStream` implements :class:`fedcore.ports.EventStream` the way a STOMP ``client-individual``
subscription behaves: a message handed out stays *outstanding* until it is acknowledged (then it is gone) or given
back (then it is delivered again, after the messages already waiting, with ``attempt`` one higher). Tests play the
publisher through :meth:`MemoryEventStream.publish`, possibly from another thread: every method holds one lock, and
a publisher wakes a consumer blocked in :meth:`MemoryEventStream.wait`.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter, deque
from collections.abc import Sequence

from attrs import frozen

from fedcore.events import Delivery, Event, Malformed


@frozen
class _Message:
    """A message in the queue: its body and how often it has been delivered so far."""

    body: Event | Malformed
    deliveries: int = 0


class MemoryEventStream:
    """One queue (or several merged) held in memory. Thread-safe.

    ``counts`` tallies ``published``, ``delivered``, ``acked`` and ``nacked`` messages, so tests can assert that a
    consumer acknowledged everything it received, or gave back what it could not handle.
    """

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._waiting: deque[_Message] = deque()
        self._outstanding: dict[str, tuple[Delivery, _Message]] = {}
        self._tags = itertools.count(1)
        self.counts: Counter[str] = Counter()

    # -- the publisher's side (test helpers) ------------------------------------------------------------------

    def publish(self, body: Event | Malformed) -> None:
        """Put a message at the end of the queue and wake a consumer waiting for one."""
        with self._ready:
            self._waiting.append(_Message(body))
            self.counts["published"] += 1
            self._ready.notify_all()

    @property
    def pending(self) -> tuple[Event | Malformed, ...]:
        """Bodies waiting to be received, oldest first (given-back messages included, not outstanding ones)."""
        with self._ready:
            return tuple(m.body for m in self._waiting)

    @property
    def unacked(self) -> tuple[Delivery, ...]:
        """Deliveries handed out and neither acknowledged nor given back yet, in the order they were handed out."""
        with self._ready:
            return tuple(delivery for delivery, _ in self._outstanding.values())

    # -- EventStream ------------------------------------------------------------------------------------------

    def receive(self, limit: int) -> Sequence[Delivery]:
        """Up to ``limit`` waiting messages, oldest first, each now outstanding; never blocks."""
        if limit < 0:
            raise ValueError(f"limit must not be negative, got {limit}")
        with self._ready:
            handed: list[Delivery] = []
            while self._waiting and len(handed) < limit:
                message = self._waiting.popleft()
                message = _Message(message.body, message.deliveries + 1)
                delivery = Delivery(f"delivery-{next(self._tags)}", message.body, attempt=message.deliveries)
                self._outstanding[delivery.tag] = (delivery, message)
                handed.append(delivery)
            self.counts["delivered"] += len(handed)
            return handed

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds until a message is waiting; True when one is."""
        with self._ready:
            return self._ready.wait_for(lambda: bool(self._waiting), max(timeout, 0.0))

    def ack(self, delivery: Delivery) -> None:
        """The message is handled: it is forgotten. ValueError when ``delivery`` is not outstanding."""
        with self._ready:
            self._settle(delivery, "acknowledge")
            self.counts["acked"] += 1

    def nack(self, delivery: Delivery) -> None:
        """Handling failed: the message goes back to the end of the queue, to be delivered with ``attempt`` + 1.

        ValueError when ``delivery`` is not outstanding.
        """
        with self._ready:
            message = self._settle(delivery, "give back")
            self._waiting.append(message)
            self.counts["nacked"] += 1
            self._ready.notify_all()

    def _settle(self, delivery: Delivery, action: str) -> _Message:
        """Remove an outstanding delivery (the caller holds the lock)."""
        held = self._outstanding.get(delivery.tag)
        if held is None or held[0] != delivery:
            raise ValueError(
                f"cannot {action} delivery {delivery.tag!r}: it is not outstanding (never handed out by this "
                "stream, or already acknowledged or given back)"
            )
        del self._outstanding[delivery.tag]
        return held[1]
