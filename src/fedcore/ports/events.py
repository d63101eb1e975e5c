"""The event-stream port: messages from Waldur's STOMP queues, acknowledged one by one.

An adapter (stomp.py over WebSocket, or the in-memory fake) delivers :class:`~fedcore.events.Delivery` values;
the consumer acknowledges each once its effect is durable on Waldur (or it needs none), or gives it back for
redelivery. Nothing untyped crosses this port: undecodable frames arrive as :class:`~fedcore.events.Malformed`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from fedcore.events import Delivery


class EventStream(Protocol):
    """Deliveries from one or more queues, with per-message acknowledgement (STOMP ``client-individual``)."""

    def receive(self, limit: int) -> Sequence[Delivery]:
        """Up to ``limit`` deliveries that have arrived, oldest first; empty when none are waiting (never blocks)."""
        ...

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds until a delivery is waiting; True when one is (runners only, never the
        domain)."""
        ...

    def ack(self, delivery: Delivery) -> None:
        """The message's effect is durable, or it needs none: the broker forgets it."""
        ...

    def nack(self, delivery: Delivery) -> None:
        """Handling failed: the broker delivers the message again later (with ``attempt`` one higher)."""
        ...
