"""What the stream does with one message: the frame made into an :class:`Incoming`, its delivery attempts counted,
its ACK or NACK sent.

Attempts. RabbitMQ's ``message-id`` and ``ack`` change with every delivery and ``redelivered`` is only a flag, so
the stream remembers, per (queue, body digest), how many deliveries ended without an acknowledgement (a NACK, or
a connection lost while the message was outstanding). A redelivered message gets that count + 1 (at least 2).
Identical bodies share a count, which at worst makes a consumer give up sooner on a duplicate.
"""

from __future__ import annotations

import collections
import hashlib
import logging
from typing import Any

import stomp.exception

from fedcore.enums import ObjectType, Side
from fedcore.events import Event, Malformed

from ._decode import decode
from ._wire import Incoming

log = logging.getLogger("adapters.stomp")

MAX_REMEMBERED = 10_000
"""Bodies whose failed deliveries are remembered (oldest forgotten first): bounds memory under churn."""


class Attempts:
    """Failed deliveries per (queue, body digest), the oldest forgotten beyond :data:`MAX_REMEMBERED`. Not
    thread-safe: the stream calls it under its condition."""

    def __init__(self) -> None:
        self._failed: collections.OrderedDict[tuple[str, str], int] = collections.OrderedDict()

    def of(self, incoming: Incoming) -> int:
        """The attempt a delivery of ``incoming`` is: 1 when first delivered, else the failures + 1 (at least 2)."""
        return max(2, self._failed.get(incoming.key, 0) + 1) if incoming.redelivered else 1

    def succeeded(self, key: tuple[str, str]) -> None:
        """Acknowledged: forget its failures."""
        self._failed.pop(key, None)

    def failed(self, key: tuple[str, str]) -> None:
        """Given back (or lost with its connection): one failure more."""
        self._failed[key] = self._failed.get(key, 0) + 1
        self._failed.move_to_end(key)
        while len(self._failed) > MAX_REMEMBERED:
            self._failed.popitem(last=False)


def to_incoming(generation: int, frame: Any, known: tuple[Side, ObjectType] | None) -> Incoming:
    """One MESSAGE frame of the connection ``generation``, decoded (``known``: where its queue's messages come
    from; None for a subscription the stream did not make, which makes it Malformed)."""
    headers = frame.headers
    queue = str(headers.get("subscription", ""))
    body = frame.body if isinstance(frame.body, bytes | str) else b""
    raw = body.encode("utf-8", "surrogateescape") if isinstance(body, str) else body
    if known is not None:
        decoded: Event | Malformed = decode(known[0], queue, known[1], raw)
    else:
        decoded = Malformed(Side.A, queue=queue, reason="message for a subscription this stream did not make")
    return Incoming(
        generation=generation,
        queue=queue,
        ack_id=str(headers.get("ack") or headers.get("message-id", "")),
        key=(queue, hashlib.sha256(raw).hexdigest()),
        redelivered=headers.get("redelivered") == "true",
        body=decoded,
    )


def settle(conn: Any, command: str, message: Incoming, where: str) -> None:
    """Send ACK or NACK (requeue) for ``message`` on ``conn``; None (its session is gone) sends nothing, and a
    failing send is logged: either way the broker resends the message."""
    if conn is None:
        log.info("%s of a message from %s not sent: its session is gone, the broker resends it", command,
                 message.queue)
        return
    try:
        if command == "ACK":
            conn.ack(message.ack_id)
        else:
            conn.nack(message.ack_id, requeue="true")
    except (stomp.exception.StompException, OSError) as exc:
        log.info("%s to %s failed (%s); the broker resends the message", command, where, type(exc).__name__)
