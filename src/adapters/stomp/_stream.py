"""The EventStream port over stomp.py: one broker login, its queues, a supervisor thread that keeps it connected.

Threads. stomp.py's receiver thread runs the :class:`Listener` callbacks, which only record connection facts and
decode and enqueue messages (STYLE.md 12). Our supervisor thread connects, subscribes, calls ``on_connected``,
waits for a drop, and reconnects with :class:`~adapters.stomp.Backoff` forever; nothing reconnects from inside a
callback and stomp.py's own reconnect loop is limited to one attempt. The consumer's thread calls the port
methods. One condition variable guards all shared state, the queues too: :meth:`StompEventStream.add_queues`
may add some at any time, from any thread.

Back-pressure. Every queue is subscribed with ``ack: client-individual`` and ``prefetch-count``: the broker
sends at most that many unacknowledged messages per queue, so the inbox never holds more than ``prefetch`` x
queues messages and the callbacks never block. A consumer that stops acknowledging simply stops the flow; the
rest waits in the broker's queue (whose own limits, 1 h TTL and 10 000 messages, are what REST reconciliation
repairs).

Attempts. A redelivered message carries how many of its deliveries ended without an acknowledgement, + 1
(:class:`~adapters.stomp._deliveries.Attempts`).

Stale deliveries. A delivery handed out before a reconnect cannot be acknowledged on the new session (the broker
has already requeued it and will deliver it again): ``ack``/``nack`` settle it locally and send nothing.
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import stomp
import stomp.exception

from adapters.config.schema import StompEndpoint
from fedcore.enums import ObjectType, Side
from fedcore.events import Delivery

from ._backoff import Backoff
from ._deliveries import Attempts, settle, to_incoming
from ._wire import Incoming, Listener, StompQueue, Transport, guard_stomp_logs, has_receipt, new_connection, subscribe

log = logging.getLogger("adapters.stomp")

DEFAULT_BACKOFF = Backoff()
"""1 s doubling up to 60 s, +/- 25 % jitter (EVENTS.md §6 asks for 120 s; 60 s catches up sooner); a stream given
no policy uses it with the cap ``FEDCORE_STOMP_RECONNECT_CAP_SECONDS`` sets, if set (:meth:`Backoff.from_environ`)."""
REFUSED = "CONNECT refused"
"""How a failed connection's reason starts when the broker answered CONNECT with an ERROR (login refused)."""


class StompEventStream:
    """An :class:`~fedcore.ports.EventStream` over STOMP 1.2 (WebSocket or TCP) to one vhost with one login.

    ``endpoint`` gives host, port, WebSocket path and TLS (``wss``/TLS verify the server certificate, against
    ``ca_certs`` or the system's store); ``vhost`` is the subscription owner's user UUID hex, ``login`` the
    subscription UUID hex, ``passcode`` the owner's API token (kept private: never in logs, reprs or errors).
    Nothing happens until :meth:`start`; :meth:`close` disconnects (unacknowledged messages go back to their
    queues). ``on_connected`` runs on the supervisor thread after every (re)connect and subscribe, so the runner
    can run a REST catch-up pass; an exception from it is logged and does not stop the supervisor.
    """

    def __init__(
        self,
        *,
        endpoint: StompEndpoint,
        vhost: str,
        login: str,
        passcode: str,
        queues: Sequence[StompQueue],
        transport: Transport = "websocket",
        heartbeat_ms: int = 10_000,
        prefetch: int = 100,
        connect_timeout: float = 10.0,
        backoff: Backoff | None = None,
        on_connected: Callable[[], None] | None = None,
        ca_certs: str | None = None,
    ) -> None:
        if not queues:
            raise ValueError("a STOMP event stream needs at least one queue")
        if prefetch < 1:
            raise ValueError(f"prefetch must be at least 1, got {prefetch}")
        self._types: dict[str, tuple[Side, ObjectType]] = {q.name: (q.side, q.object_type) for q in queues}
        """Queue name -> where its messages come from; guarded by ``_cond`` (read on stomp.py's thread)."""
        self.endpoint = endpoint
        self.vhost = vhost
        self.login = login
        self._passcode = passcode
        self.transport: Transport = transport
        self._heartbeat_ms = heartbeat_ms
        self._prefetch = prefetch
        self._connect_timeout = connect_timeout
        self._backoff = backoff if backoff is not None else Backoff.from_environ(os.environ)
        self._ca_certs = ca_certs
        self.on_connected = on_connected
        guard_stomp_logs()
        self._cond = threading.Condition()
        self._inbox: collections.deque[Incoming] = collections.deque()
        self._outstanding: dict[str, tuple[Delivery, Incoming]] = {}
        self._attempts = Attempts()
        self._tags = itertools.count(1)
        self._receipts = itertools.count(1)
        self._generation = 0
        self._conn: Any = None
        self._listener: Listener | None = None
        self._connected = False
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self.connects = 0
        """How many times the stream has connected and subscribed (diagnostics and tests)."""
        self.frames_received = 0
        """MESSAGE frames taken in so far, over all connections (diagnostics and tests)."""
        self.last_error = ""
        """Why the latest connection attempt failed ("" once one succeeds): no passcode in it."""
        self.refusals = 0
        """Connection attempts in a row that the broker refused (``CONNECT refused``: a wrong login or passcode)."""

    def __repr__(self) -> str:
        with self._cond:
            count = len(self._types)
        return f"StompEventStream({self.where!r}, queues={count})"

    @property
    def where(self) -> str:
        """The endpoint, vhost and login, for logs (no passcode)."""
        scheme = self.endpoint.url.split("://", 1)[0] if self.transport == "websocket" else "stomp"
        path = self.endpoint.path if self.transport == "websocket" else ""
        return f"{scheme}://{self.endpoint.host}:{self.endpoint.port}{path} vhost {self.vhost} as {self.login}"

    @property
    def queues(self) -> tuple[str, ...]:
        """The names of the queues the stream consumes (those given and those added), in the order they came."""
        with self._cond:
            return tuple(self._types)

    @property
    def connected(self) -> bool:
        """True while a session is up and every queue is subscribed (a queue being added: see :meth:`add_queues`)."""
        with self._cond:
            return self._connected

    # -- life cycle -------------------------------------------------------------------------------------------

    def start(self) -> StompEventStream:
        """Start the supervisor thread (it connects in the background); returns self."""
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._supervise, name="stomp-supervisor", daemon=True)
                self._thread.start()
        return self

    def wait_connected(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds until connected and subscribed; True when it is."""
        with self._cond:
            return self._cond.wait_for(lambda: self._connected, timeout)

    def wait_frames(self, count: int, timeout: float) -> bool:
        """Block up to ``timeout`` seconds until ``count`` MESSAGE frames have been taken in (tests, diagnostics)."""
        with self._cond:
            return self._cond.wait_for(lambda: self.frames_received >= count, timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the supervisor and disconnect; unacknowledged messages return to the broker's queues."""
        self._closing.set()
        with self._cond:
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.error("STOMP supervisor for %s did not stop within %.1f s", self.where, timeout)

    def add_queues(self, queues: Sequence[StompQueue]) -> None:
        """Consume these queues too, from now on and after every reconnect; names already known are ignored.

        Before :meth:`start`, or while (re)connecting, the next subscription takes them with the rest. While
        connected, they are subscribed at once on the current session from the caller's thread, waiting at most
        ``connect_timeout`` for the broker's receipt; when that fails the session is left to the supervisor,
        whose next reconnect subscribes every queue (logged at info, never raised).
        """
        with self._cond:
            new = {q.name: (q.side, q.object_type) for q in queues if q.name not in self._types}
            if not new:
                return
            self._types.update(new)
            live = self._connected and self._conn is not None and self._listener is not None
            conn, listener = (self._conn, self._listener) if live else (None, None)
            receipt = f"added-{self._generation}-{next(self._receipts)}"
        if conn is None or listener is None:
            return
        try:
            self._subscribe(conn, list(new), receipt)
            self._await(listener, has_receipt(listener, receipt), "SUBSCRIBE refused")
        except _ConnectFailed as exc:
            log.info("queue(s) %s not subscribed on the current session to %s (%s); the next reconnect will",
                     ", ".join(new), self.where, exc)
            return
        log.info("STOMP queue(s) %s added on %s", ", ".join(new), self.where)

    def __enter__(self) -> StompEventStream:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- EventStream ------------------------------------------------------------------------------------------

    def receive(self, limit: int) -> Sequence[Delivery]:
        """Up to ``limit`` waiting messages, oldest first, each now outstanding; never blocks."""
        if limit < 0:
            raise ValueError(f"limit must not be negative, got {limit}")
        handed: list[Delivery] = []
        with self._cond:
            while self._inbox and len(handed) < limit:
                incoming = self._inbox.popleft()
                delivery = Delivery(f"stomp-{next(self._tags)}", incoming.body, attempt=self._attempts.of(incoming))
                self._outstanding[delivery.tag] = (delivery, incoming)
                handed.append(delivery)
        return handed

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds until a message is waiting; True when one is."""
        with self._cond:
            return self._cond.wait_for(lambda: bool(self._inbox), max(timeout, 0.0))

    def ack(self, delivery: Delivery) -> None:
        """Send ACK for the message (nothing when it came from an earlier session: the broker resends it)."""
        with self._cond:
            incoming = self._settle(delivery, "acknowledge")
            self._attempts.succeeded(incoming.key)
            conn = self._conn if incoming.generation == self._generation and self._connected else None
        settle(conn, "ACK", incoming, self.where)

    def nack(self, delivery: Delivery) -> None:
        """Send NACK with ``requeue: true``: the broker delivers the message again, with ``attempt`` one higher."""
        with self._cond:
            incoming = self._settle(delivery, "give back")
            self._attempts.failed(incoming.key)
            conn = self._conn if incoming.generation == self._generation and self._connected else None
        settle(conn, "NACK", incoming, self.where)

    # -- internals --------------------------------------------------------------------------------------------

    def _settle(self, delivery: Delivery, action: str) -> Incoming:
        held = self._outstanding.get(delivery.tag)
        if held is None or held[0] != delivery:
            raise ValueError(
                f"cannot {action} delivery {delivery.tag!r}: it is not outstanding (never handed out by this "
                "stream, or already acknowledged or given back)"
            )
        del self._outstanding[delivery.tag]
        return held[1]

    def _enqueue(self, generation: int, frame: Any) -> None:
        """On stomp.py's thread: decode one MESSAGE frame and put it in the inbox."""
        with self._cond:
            known = self._types.get(str(frame.headers.get("subscription", "")))
        message = to_incoming(generation, frame, known)
        with self._cond:
            self.frames_received += 1
            if generation == self._generation:
                self._inbox.append(message)
            self._cond.notify_all()

    def _supervise(self) -> None:
        failures = 0
        while not self._closing.is_set():
            if failures:
                delay = self._backoff.delay(failures, random.random())
                log.info("reconnecting to %s in %.2f s (failure %d)", self.where, delay, failures)
                if self._closing.wait(delay):
                    break
            started = time.monotonic()
            try:
                self._connect()
            except _ConnectFailed as exc:
                self._drop()
                if self._closing.is_set():
                    break
                failures += 1
                with self._cond:
                    self.last_error = str(exc)
                    self.refusals = self.refusals + 1 if str(exc).startswith(REFUSED) else 0
                log.warning("STOMP connection to %s failed: %s", self.where, exc)
                continue
            with self._cond:
                self.last_error, self.refusals = "", 0
            self._notify_connected()
            self._wait_for_drop()
            self._drop()
            stable = time.monotonic() - started >= self._backoff.stable
            failures = 0 if stable else failures + 1
            if not self._closing.is_set():
                log.warning("STOMP connection to %s lost; reconnecting", self.where)
        self._drop()

    def _connect(self) -> None:
        with self._cond:
            self._generation += 1
            generation = self._generation
        listener = Listener(self._cond, self._enqueue, generation)
        conn = new_connection(self.endpoint, transport=self.transport, vhost=self.vhost,
                              heartbeat_ms=self._heartbeat_ms, timeout=self._connect_timeout, ca_certs=self._ca_certs)
        conn.set_listener("fedcore", listener)
        with self._cond:
            self._conn, self._listener = conn, listener
        try:
            conn.connect(self.login, self._passcode, wait=False)
        except (stomp.exception.StompException, OSError) as exc:
            raise _ConnectFailed(f"cannot reach the broker ({type(exc).__name__})") from None
        self._await(listener, lambda: listener.connected, REFUSED)
        if self.transport == "tcp":
            sock = getattr(conn.transport, "socket", None)
            if sock is not None:
                # stomp.py leaves Nagle's algorithm on: ~40 ms per small frame instead of ~0.2 ms (BROKER.md).
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Queues added while subscribing are taken in the next round: connected is set, under the lock, only once
        # every known queue is subscribed, so add_queues either sees the session up or leaves its queues to this.
        subscribed: list[str] = []
        for round_ in itertools.count(1):
            with self._cond:
                names = [name for name in self._types if name not in subscribed]
                if not names:
                    self._connected = True
                    self.connects += 1
                    self._cond.notify_all()
                    break
            receipt = f"subscribed-{generation}-{round_}"
            self._subscribe(conn, names, receipt)
            self._await(listener, has_receipt(listener, receipt), "SUBSCRIBE refused")
            subscribed += names
        log.info("STOMP connected to %s, %d queue(s) subscribed", self.where, len(subscribed))

    def _subscribe(self, conn: Any, names: Sequence[str], receipt: str) -> None:
        try:
            subscribe(conn, names, self._prefetch, receipt)
        except (stomp.exception.StompException, OSError) as exc:
            raise _ConnectFailed(f"SUBSCRIBE failed ({type(exc).__name__})") from None

    def _await(self, listener: Listener, done: Callable[[], bool], what: str) -> None:
        with self._cond:
            self._cond.wait_for(
                lambda: done() or listener.dropped or bool(listener.error) or self._closing.is_set(),
                self._connect_timeout,
            )
            if done() and not listener.dropped and not listener.error:
                return
            reason = listener.error or ("connection closed" if listener.dropped else "no answer in time")
        raise _ConnectFailed(f"{what}: {reason}")

    def _notify_connected(self) -> None:
        hook = self.on_connected
        if hook is None:
            return
        try:
            hook()
        except Exception:
            # The hook is the runner's catch-up pass; its failure must not stop reconnection.
            log.exception("on_connected hook failed after connecting to %s", self.where)

    def _wait_for_drop(self) -> None:
        with self._cond:
            listener = self._listener
            self._cond.wait_for(
                lambda: self._closing.is_set() or listener is None or listener.dropped or bool(listener.error)
            )
            if listener is not None and listener.error:
                log.warning("STOMP ERROR frame from %s: %s", self.where, listener.error)

    def _drop(self) -> None:
        """Forget the session: outstanding deliveries become stale, waiting ones are dropped (the broker resends
        them), then disconnect outside the lock."""
        with self._cond:
            conn, self._conn, self._listener = self._conn, None, None
            self._connected = False
            self._generation += 1
            for _, incoming in self._outstanding.values():
                if incoming.generation == self._generation - 1:
                    self._attempts.failed(incoming.key)
            self._inbox.clear()
            self._cond.notify_all()
        if conn is None:
            return
        try:
            if conn.is_connected():
                conn.disconnect()
        except (stomp.exception.StompException, OSError) as exc:
            log.debug("closing STOMP connection to %s: %s", self.where, type(exc).__name__)
        conn.transport.stop()


class _ConnectFailed(Exception):
    """A connection attempt failed; the message says why, without credentials."""
