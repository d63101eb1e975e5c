"""A Web-STOMP consumer for tests, set up the way a real Waldur event client connects.

It connects over ``ws://.../ws`` with the subscription's vhost, login and passcode, 10 s heartbeats, and
subscribes to ``/amq/queue/<queue_name>`` (the existing queue, never redeclared). stomp.py callbacks only
record frames; tests wait on them with :meth:`StompTestConsumer.wait_for`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs
import stomp
import stomp.exception


class ConsumerRefused(Exception):
    """The broker refused the CONNECT (wrong vhost, login or passcode) or did not answer in time."""


@attrs.frozen
class ReceivedMessage:
    """One MESSAGE frame: its headers and its JSON body (``None`` when the body is not JSON)."""

    headers: Mapping[str, str]
    body: str
    payload: Mapping[str, Any] | None

    @property
    def redelivered(self) -> bool:
        """True when the broker says it delivered this message before."""
        return self.headers.get("redelivered") == "true"


class _Recorder(stomp.ConnectionListener):  # type: ignore[misc]
    def __init__(self, after_message: Callable[[ReceivedMessage], None] | None) -> None:
        self.after_message = after_message
        self.cond = threading.Condition()
        self.connected = False
        self.disconnected = False
        self.errors: list[str] = []
        self.messages: list[ReceivedMessage] = []

    def on_connected(self, frame: Any) -> None:  # noqa: ARG002 (stomp.py callback signature)
        with self.cond:
            self.connected = True
            self.cond.notify_all()

    def on_disconnected(self) -> None:
        with self.cond:
            self.disconnected = True
            self.cond.notify_all()

    def on_error(self, frame: Any) -> None:
        with self.cond:
            self.errors.append(f"{frame.headers.get('message', '')}: {frame.body}")
            self.cond.notify_all()

    def on_message(self, frame: Any) -> None:
        body = frame.body if isinstance(frame.body, str) else frame.body.decode("utf-8", "replace")
        try:
            decoded = json.loads(body)
        except ValueError:
            decoded = None
        payload = decoded if isinstance(decoded, dict) else None
        message = ReceivedMessage(headers=dict(frame.headers), body=body, payload=payload)
        # Acknowledge before the message is visible: a test that sees it and closes the connection at once must
        # not race the ACK (a message seen then redelivered would be the test's own doing).
        if self.after_message is not None:
            self.after_message(message)
        with self.cond:
            self.messages.append(message)
            self.cond.notify_all()


class StompTestConsumer:
    """One Web-STOMP connection subscribed to one subscription queue; collects messages thread-safely.

    The subscription uses ``ack: client-individual``; with ``auto_ack`` (default) every message is acknowledged
    as soon as it is recorded; pass ``auto_ack=False`` to leave messages unacknowledged (redelivery tests).
    ``destination`` overrides ``/amq/queue/<queue_name>`` (to show the ``/queue/`` pitfall).
    """

    def __init__(
        self,
        *,
        vhost: str,
        login: str,
        passcode: str,
        queue_name: str,
        url: str = "ws://127.0.0.1:15674/ws",
        auto_ack: bool = True,
        destination: str | None = None,
        heartbeats: tuple[int, int] = (10_000, 10_000),
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"not a ws:// or wss:// URL: {url!r}")
        self.url = url
        self.vhost = vhost
        self.login = login
        self.queue_name = queue_name
        self.destination = destination or f"/amq/queue/{queue_name}"
        self.auto_ack = auto_ack
        self._passcode = passcode
        self._ack_lock = threading.Lock()
        self._acked: set[str] = set()
        self._recorder = _Recorder(self.ack if auto_ack else None)
        self._conn = stomp.WSStompConnection(
            [(parts.hostname, parts.port or (443 if parts.scheme == "wss" else 80))],
            ws_path=parts.path or "/",
            vhost=vhost,
            heartbeats=heartbeats,
            reconnect_attempts_max=1,
        )
        if parts.scheme == "wss":
            self._conn.set_ssl([(parts.hostname, parts.port or 443)])
        self._conn.set_listener("recorder", self._recorder)

    def __repr__(self) -> str:
        return f"StompTestConsumer({self.url!r}, vhost={self.vhost!r}, login={self.login!r})"

    def __enter__(self) -> StompTestConsumer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- connection -------------------------------------------------------------------------------

    def connect(self, timeout: float = 5.0) -> StompTestConsumer:
        """CONNECT and wait for CONNECTED; raises :class:`ConsumerRefused` with the broker's reason."""
        rec = self._recorder
        try:
            self._conn.connect(self.login, self._passcode, wait=False)
        except (stomp.exception.StompException, OSError) as exc:
            raise ConsumerRefused(f"cannot reach {self.url}: {type(exc).__name__}") from exc
        with rec.cond:
            rec.cond.wait_for(lambda: rec.connected or rec.disconnected or rec.errors, timeout)
            if not rec.connected:
                reason = "; ".join(rec.errors) or ("connection closed" if rec.disconnected else "timeout")
        if not rec.connected:
            self.close()
            raise ConsumerRefused(f"CONNECT to vhost {self.vhost} as {self.login} refused: {reason}")
        return self

    def subscribe(self) -> StompTestConsumer:
        """SUBSCRIBE to the destination (id = queue name)."""
        self._conn.subscribe(destination=self.destination, id=self.queue_name, ack="client-individual")
        return self

    def start(self, timeout: float = 5.0) -> StompTestConsumer:
        """:meth:`connect` then :meth:`subscribe`."""
        return self.connect(timeout).subscribe()

    @property
    def connected(self) -> bool:
        """True while the STOMP session is up."""
        return bool(self._conn.is_connected()) and not self._recorder.disconnected

    def close(self) -> None:
        """Disconnect (messages not acknowledged go back to the queue)."""
        try:
            if self._conn.is_connected():
                self._conn.disconnect()
        except (stomp.exception.StompException, OSError):
            pass  # already gone: nothing to release
        self._conn.transport.stop()

    # --- messages -------------------------------------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMessage]:
        """A snapshot of every message received so far, in order."""
        with self._recorder.cond:
            return list(self._recorder.messages)

    @property
    def errors(self) -> list[str]:
        """A snapshot of the ERROR frames received so far (``message`` header and body)."""
        with self._recorder.cond:
            return list(self._recorder.errors)

    @property
    def payloads(self) -> list[Mapping[str, Any]]:
        """The JSON payloads received so far, in order."""
        return [m.payload for m in self.messages if m.payload is not None]

    def ack(self, message: ReceivedMessage) -> None:
        """Acknowledge one message (STOMP 1.2 ``ack`` header)."""
        ack_id = message.headers.get("ack") or message.headers.get("message-id", "")
        with self._ack_lock:
            if not ack_id or ack_id in self._acked:
                return
            self._acked.add(ack_id)
        self._conn.ack(ack_id)

    def wait_for(
        self, predicate: Callable[[Mapping[str, Any]], bool], timeout: float = 5.0
    ) -> Mapping[str, Any] | None:
        """The first payload (old or new) that satisfies ``predicate``, waiting up to ``timeout``; else None."""
        found: list[ReceivedMessage] = []
        self._wait_messages(lambda m: m.payload is not None and predicate(m.payload), timeout, found)
        return found[0].payload if found else None

    def wait_for_message(
        self, predicate: Callable[[ReceivedMessage], bool], timeout: float = 5.0
    ) -> ReceivedMessage | None:
        """Like :meth:`wait_for`, on whole messages (headers included)."""
        found: list[ReceivedMessage] = []
        self._wait_messages(predicate, timeout, found)
        return found[0] if found else None

    def wait_for_count(self, count: int, timeout: float = 5.0) -> bool:
        """True once at least ``count`` messages have arrived within ``timeout``."""
        rec = self._recorder
        with rec.cond:
            return rec.cond.wait_for(lambda: len(rec.messages) >= count, timeout)

    def wait_for_error(self, timeout: float = 5.0) -> str | None:
        """The first ERROR frame received (waiting up to ``timeout``), or None."""
        rec = self._recorder
        with rec.cond:
            rec.cond.wait_for(lambda: bool(rec.errors), timeout)
            return rec.errors[0] if rec.errors else None

    def wait_for_disconnect(self, timeout: float = 5.0) -> bool:
        """True once the broker has closed the connection (within ``timeout``)."""
        rec = self._recorder
        with rec.cond:
            return rec.cond.wait_for(lambda: rec.disconnected, timeout)

    def _wait_messages(
        self, predicate: Callable[[ReceivedMessage], bool], timeout: float, found: list[ReceivedMessage]
    ) -> None:
        rec = self._recorder
        deadline = time.monotonic() + timeout
        seen = 0
        with rec.cond:
            while True:
                for message in rec.messages[seen:]:
                    if predicate(message):
                        found.append(message)
                        break
                seen = len(rec.messages)
                remaining = deadline - time.monotonic()
                if found or remaining <= 0:
                    break
                rec.cond.wait(remaining)
