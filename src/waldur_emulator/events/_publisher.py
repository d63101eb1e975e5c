"""Background STOMP publisher: one plain-TCP connection per vhost, fed through a queue.

Waldur publishes from a Celery task, so an HTTP request never waits for the broker; this thread plays that
role. Each batch of messages for one vhost ends with a RECEIPT request: RabbitMQ handles the frames of a
connection in order, so the receipt confirms the whole batch. Without it, a batch is resent on a fresh
connection (at-least-once, like Waldur's retrying task) up to ``max_attempts`` times, then counted as failed
and logged. stomp.py never reconnects by itself, so all (re)connecting happens here, on this thread.
"""

from __future__ import annotations

import itertools
import logging
import queue
import socket
import threading
import time
from typing import Any, Final

import attrs
import stomp
import stomp.exception

from ._bus import MESSAGE_TTL_MS, QUEUE_ARGUMENTS, EventBusError

log = logging.getLogger(__name__)

_STOP: Final = object()
# Waldur sends these headers so that RabbitMQ's STOMP adapter, which declares the queue of a /queue/ destination
# on SEND too, declares it with the arguments it already has. Consumers see them on every message.
_MESSAGE_HEADERS: Final = {
    "persistent": "true",
    "content-type": "application/json",
    "expiration": str(MESSAGE_TTL_MS),
    "durable": "true",
    "auto-delete": "false",
    **{key: str(value) for key, value in QUEUE_ARGUMENTS.items()},
}


@attrs.frozen
class PublisherStats:
    """Counters of a publisher: messages confirmed by the broker, given up, resend attempts, still queued."""

    published: int
    failed: int
    retries: int
    pending: int


@attrs.frozen
class _Message:
    vhost: str
    destination: str
    body: str


@attrs.frozen
class _Forget:
    vhost: str


class _DeliveryFailed(Exception):
    pass


class _Listener(stomp.ConnectionListener):  # type: ignore[misc]
    """Only records what stomp.py reports; the publisher thread acts on it."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.connected = False
        self.closed = False
        self.error = ""
        self.receipts: set[str] = set()

    def on_connected(self, frame: Any) -> None:  # noqa: ARG002 (stomp.py callback signature)
        with self.cond:
            self.connected = True
            self.cond.notify_all()

    def on_receipt(self, frame: Any) -> None:
        with self.cond:
            self.receipts.add(str(frame.headers.get("receipt-id", "")))
            self.cond.notify_all()

    def on_error(self, frame: Any) -> None:
        with self.cond:
            self.error = str(frame.headers.get("message", "ERROR frame"))
            self.cond.notify_all()

    def on_disconnected(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def wait(self, done: Any, timeout: float) -> bool:
        with self.cond:
            return bool(self.cond.wait_for(lambda: done() or self.closed or self.error, timeout))


class _Link:
    """A connected stomp.py connection to one vhost with its listener."""

    def __init__(self, conn: Any, listener: _Listener) -> None:
        self.conn = conn
        self.listener = listener

    @property
    def alive(self) -> bool:
        return not (self.listener.closed or self.listener.error)

    def close(self) -> None:
        try:
            if self.conn.is_connected():
                self.conn.disconnect()
        except (stomp.exception.StompException, OSError) as exc:
            log.debug("closing STOMP connection: %s", type(exc).__name__)
        self.conn.transport.stop()


class StompPublisher:
    """Publishes JSON bodies to STOMP destinations on many vhosts from one background thread."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        login: str,
        passcode: str,
        max_attempts: int = 5,
        backoff_initial: float = 0.05,
        backoff_max: float = 2.0,
        batch_size: int = 500,
        timeout: float = 5.0,
    ) -> None:
        self.host = host
        self.port = port
        self._login = login
        self._passcode = passcode
        self._max_attempts = max_attempts
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._batch_size = batch_size
        self._timeout = timeout
        self._inbox: queue.Queue[object] = queue.Queue()
        self._links: dict[str, _Link] = {}
        self._receipt_ids = itertools.count(1)
        self._cond = threading.Condition()
        self._pending = 0
        self._published = 0
        self._failed = 0
        self._retries = 0
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="emulator-stomp-publisher", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"StompPublisher({self.host!r}, {self.port}, login={self._login!r})"

    def submit(self, *, vhost: str, destination: str, body: str) -> None:
        """Queue one message; returns at once. Raises EventBusError once the publisher is closed."""
        with self._cond:
            if self._closing.is_set():
                raise EventBusError("the event publisher is closed")
            self._pending += 1
            # Queued under the lock, so no message can land behind the stop marker of close().
            self._inbox.put(_Message(vhost=vhost, destination=destination, body=body))

    def forget_vhost(self, vhost: str) -> None:
        """Drop the connection to ``vhost`` (about to be deleted) once earlier messages are handled."""
        if not self._closing.is_set():
            self._inbox.put(_Forget(vhost=vhost))

    def flush(self, timeout: float) -> bool:
        """Wait until every submitted message is published or given up; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def stats(self) -> PublisherStats:
        """A snapshot of the counters."""
        with self._cond:
            return PublisherStats(
                published=self._published, failed=self._failed, retries=self._retries, pending=self._pending
            )

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (within ``timeout``), then disconnect and stop the thread."""
        with self._cond:
            if self._closing.is_set():
                return
            self._closing.set()
        self._inbox.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("event publisher did not stop within %.1f s", timeout)

    # --- the publisher thread -------------------------------------------------------------------------

    def _run(self) -> None:
        stop = False
        while not stop:
            items = [self._inbox.get()]
            while len(items) < self._batch_size:
                try:
                    items.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            batch: list[_Message] = []
            for item in items:
                if isinstance(item, _Message):
                    if batch and batch[0].vhost != item.vhost:
                        self._deliver(batch)
                        batch = []
                    batch.append(item)
                    continue
                if batch:
                    self._deliver(batch)
                    batch = []
                if isinstance(item, _Forget):
                    self._drop(item.vhost)
                elif item is _STOP:
                    stop = True
            if batch:
                self._deliver(batch)
        for vhost in list(self._links):
            self._drop(vhost)

    def _deliver(self, batch: list[_Message]) -> None:
        vhost = batch[0].vhost
        delay = self._backoff_initial
        for attempt in range(1, self._max_attempts + 1):
            try:
                self._send_confirmed(vhost, batch)
            except _DeliveryFailed as exc:
                self._drop(vhost)
                if attempt == self._max_attempts:
                    log.error(
                        "gave up publishing %d event(s) to vhost %s after %d attempts: %s",
                        len(batch),
                        vhost,
                        attempt,
                        exc,
                    )
                    self._settle(failed=len(batch))
                    return
                log.warning("publishing to vhost %s failed (attempt %d): %s; retrying", vhost, attempt, exc)
                with self._cond:
                    self._retries += 1
                # While closing, retries continue without sleeping so close() stays bounded.
                if not self._closing.is_set():
                    time.sleep(delay)
                delay = min(delay * 2, self._backoff_max)
            else:
                self._settle(published=len(batch))
                return

    def _settle(self, *, published: int = 0, failed: int = 0) -> None:
        with self._cond:
            self._published += published
            self._failed += failed
            self._pending -= published + failed
            self._cond.notify_all()

    def _send_confirmed(self, vhost: str, batch: list[_Message]) -> None:
        link = self._link(vhost)
        receipt = f"emulator-{next(self._receipt_ids)}"
        try:
            for index, message in enumerate(batch):
                headers = dict(_MESSAGE_HEADERS)
                if index == len(batch) - 1:
                    headers["receipt"] = receipt
                link.conn.send(destination=message.destination, body=message.body, headers=headers)
        except (stomp.exception.StompException, OSError) as exc:
            raise _DeliveryFailed(f"send failed: {type(exc).__name__}") from exc
        if not link.listener.wait(lambda: receipt in link.listener.receipts, self._timeout):
            raise _DeliveryFailed(f"no receipt within {self._timeout:.1f} s")
        if receipt not in link.listener.receipts:
            raise _DeliveryFailed(link.listener.error or "connection closed before the receipt")
        link.listener.receipts.discard(receipt)

    def _link(self, vhost: str) -> _Link:
        link = self._links.get(vhost)
        if link is not None and link.alive:
            return link
        if link is not None:
            self._drop(vhost)
        listener = _Listener()
        conn = stomp.Connection12(
            [(self.host, self.port)], vhost=vhost, heartbeats=(10_000, 10_000), reconnect_attempts_max=1
        )
        conn.set_listener("publisher", listener)
        try:
            conn.connect(self._login, self._passcode, wait=False)
        except (stomp.exception.StompException, OSError) as exc:
            conn.transport.stop()
            raise _DeliveryFailed(f"cannot connect to {self.host}:{self.port}: {type(exc).__name__}") from exc
        link = _Link(conn, listener)
        if not listener.wait(lambda: listener.connected, self._timeout) or not listener.connected:
            link.close()
            raise _DeliveryFailed(f"CONNECT to vhost {vhost} refused: {listener.error or 'timeout or closed'}")
        sock = getattr(conn.transport, "socket", None)
        if sock is not None:
            # stomp.py leaves Nagle's algorithm on: 44 ms per small frame on loopback instead of 0.2 ms.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._links[vhost] = link
        return link

    def _drop(self, vhost: str) -> None:
        link = self._links.pop(vhost, None)
        if link is not None:
            link.close()
