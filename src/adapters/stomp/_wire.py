"""What stomp.py touches: the listener of one connection attempt, the queue and inbox values, and the log guard.

The listener's callbacks run on stomp.py's receiver thread and only record facts under the stream's condition
variable, or hand a MESSAGE frame to the stream's ``enqueue`` (decode and enqueue); they never act on the
connection (STYLE.md 12).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any, Literal

import stomp
from attrs import frozen

from adapters.config.schema import StompEndpoint
from fedcore.enums import ObjectType, Side
from fedcore.events import Event, Malformed

from ._decode import object_type_of

Transport = Literal["websocket", "tcp"]

_PASSCODE = re.compile(r"passcode:[^\\\s'\",\]]*")


class RedactPasscode(logging.Filter):
    """stomp.py logs every frame it sends at DEBUG; its own masking misses ``passcode:<token>`` (its pattern wants
    a space after the colon), so the CONNECT frame would carry the token into the log. This filter masks it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "passcode:" in message:
            record.msg, record.args = _PASSCODE.sub("passcode:********", message), ()
        return True


def guard_stomp_logs() -> None:
    """Install :class:`RedactPasscode` on stomp.py's logger once (idempotent)."""
    stomp_log = logging.getLogger("stomp.py")
    if not any(isinstance(f, RedactPasscode) for f in stomp_log.filters):
        stomp_log.addFilter(RedactPasscode())


@frozen
class StompQueue:
    """One Waldur subscription queue to consume, and the side (Waldur A or B) its messages come from."""

    name: str
    side: Side

    @property
    def object_type(self) -> ObjectType:
        """The object type in the queue's name (ValueError when the name is not Waldur's pattern)."""
        return object_type_of(self.name)


@frozen
class Incoming:
    """A decoded MESSAGE frame waiting in the inbox, with what is needed to acknowledge it."""

    generation: int
    queue: str
    ack_id: str
    key: tuple[str, str]
    redelivered: bool
    body: Event | Malformed


class Listener(stomp.ConnectionListener):  # type: ignore[misc]
    """stomp.py callbacks for one connection attempt: record, decode, enqueue; never act on the connection."""

    def __init__(self, cond: threading.Condition, enqueue: Callable[[int, Any], None], generation: int) -> None:
        self._cond = cond
        self._enqueue = enqueue
        self._generation = generation
        self.connected = False
        self.dropped = False
        self.error = ""
        self.receipts: set[str] = set()

    def on_connected(self, frame: Any) -> None:  # noqa: ARG002 (stomp.py signature)
        with self._cond:
            self.connected = True
            self._cond.notify_all()

    def on_receipt(self, frame: Any) -> None:
        with self._cond:
            self.receipts.add(str(frame.headers.get("receipt-id", "")))
            self._cond.notify_all()

    def on_error(self, frame: Any) -> None:
        with self._cond:
            self.error = str(frame.headers.get("message", "ERROR frame"))[:200]
            self._cond.notify_all()

    def on_disconnected(self) -> None:
        with self._cond:
            self.dropped = True
            self._cond.notify_all()

    def on_heartbeat_timeout(self) -> None:
        self.on_disconnected()

    def on_message(self, frame: Any) -> None:
        self._enqueue(self._generation, frame)


def new_connection(
    endpoint: StompEndpoint, *, transport: Transport, vhost: str, heartbeat_ms: int, timeout: float,
    ca_certs: str | None,
) -> Any:
    """A stomp.py connection (not yet connected) whose own reconnect loop gives up after one attempt."""
    host, port = endpoint.host, endpoint.port
    common: dict[str, Any] = {
        "vhost": vhost,
        "heartbeats": (heartbeat_ms, heartbeat_ms),
        "reconnect_attempts_max": 1,
        "timeout": timeout,
        "auto_decode": False,
    }
    if transport == "websocket":
        conn = stomp.WSStompConnection([(host, port)], ws_path=endpoint.path or "/", **common)
    else:
        conn = stomp.Connection12([(host, port)], **common)
    if endpoint.use_tls:
        conn.set_ssl(for_hosts=[(host, port)], ca_certs=ca_certs)
    return conn


def subscribe(conn: Any, names: Sequence[str], prefetch: int, receipt: str) -> None:
    """SUBSCRIBE to each ``/amq/queue/<name>`` (client-individual acks, ``prefetch``), asking for ``receipt`` on the
    last one: the broker answers frames in order, so that receipt confirms them all."""
    for name in names:
        headers = {"prefetch-count": str(prefetch)}
        if name == names[-1]:
            headers["receipt"] = receipt
        conn.subscribe(destination=f"/amq/queue/{name}", id=name, ack="client-individual", headers=headers)


def has_receipt(listener: Listener, receipt: str) -> Callable[[], bool]:
    """A predicate: the broker has confirmed ``receipt`` on this listener's connection."""
    return lambda: receipt in listener.receipts
