"""Event mode, assembled: registration in the background, one STOMP stream per broker login, the reactor.

:class:`EventService` runs beside the :class:`~runners.daemon.Daemon` (which keeps every polling pass on its
schedule: reconciliation stays the truth). On :meth:`~EventService.start` it removes the event subscriptions a
previous run left for offerings no longer configured, then a background thread ticks the
:class:`~runners.registration.Registrar` every second. Each registration that lands is attached: its queues join
the stream of their broker login (Waldur has one subscription, hence one login, per token and object type, shared
by every offering of that token), created and started on first use, and the offering gets a catch-up pass. Every
stream calls back after each connect and reconnect, and its offerings get a catch-up pass then too: the messages
missed while it was down are gone or expired.

Until its registration lands, an offering is served by polling alone, and :meth:`~EventService.status` says so
(``/readyz``, ``fedcore status``, metrics, the log). :meth:`~EventService.close` stops consuming, disconnects
(unacknowledged messages return to their queues) and deletes the queues this run registered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from attrs import field, frozen

from adapters.config import FedcoreConfig
from adapters.config.schema import StompEndpoint
from adapters.stomp import StompQueue
from fedcore.enums import Side
from fedcore.ids import Uuid
from fedcore.ports import EventStream
from runners.events.handler import EventHandler
from runners.events.reactor import EventReactor
from runners.registration import Registrar, Registration, State

log = logging.getLogger("fedcore.events")

REFUSALS = 3
"""Connection attempts in a row the broker refuses before fedcore recreates the login's subscription."""


class Stream(EventStream, Protocol):
    """An event stream the service can grow and watch (:class:`~adapters.stomp.StompEventStream`)."""

    @property
    def connected(self) -> bool: ...

    @property
    def connects(self) -> int: ...

    @property
    def refusals(self) -> int: ...

    def add_queues(self, queues: Sequence[StompQueue]) -> None: ...

    def start(self) -> object: ...

    def close(self, timeout: float = 10.0) -> None: ...


@frozen
class Login:
    """One broker login: a side, an endpoint, a vhost and a subscription (the STOMP login)."""

    side: Side
    endpoint: StompEndpoint
    vhost: str
    login: str


StreamFactory = Callable[["Login", "Access", Sequence[StompQueue], Callable[[], None]], Stream]
"""Builds the stream of one login from its access (passcode, CA bundle), its first queues and the
``on_connected`` callback."""


@frozen
class Access:
    """How one side's offering is reached over STOMP: the endpoint, the token (the passcode), the CA bundle."""

    endpoint: StompEndpoint
    passcode: str = field(repr=False)
    ca_certs: str | None


@frozen
class OfferingEvents:
    """One offering's event mode on one side, as ``status`` and ``/readyz`` show it."""

    side: str
    offering_uuid: Uuid
    offerings: tuple[str, ...]
    """The configured offerings (names) it serves."""
    state: str
    """``registered`` and every stream connected: ``events``; otherwise ``polling`` (or ``pending`` at first)."""
    reason: str = ""


def accesses(config: FedcoreConfig) -> dict[tuple[Side, Uuid], Access]:
    """The STOMP access of every offering and side of ``config`` that has events enabled."""
    found: dict[tuple[Side, Uuid], Access] = {}
    for offering in config.offerings:
        if offering.stomp_enabled:
            found.setdefault((Side.A, offering.waldur_offering_uuid), Access(
                offering.stomp_endpoint, offering.waldur_api_token.reveal(), offering.ca_bundle))
        target = offering.backend_settings
        if target.target_stomp_enabled:
            found.setdefault((Side.B, target.stomp_offering_uuid), Access(
                target.stomp_endpoint, target.target_api_token.reveal(), target.target_ca_bundle))
    return found


class EventService:
    """See the module doc. ``handler`` runs the reactions; ``reactor`` consumes the streams ``stream_factory``
    makes; ``registrar`` registers ``access``'s offerings."""

    def __init__(
        self,
        *,
        registrar: Registrar,
        handler: EventHandler,
        reactor: EventReactor,
        access: Mapping[tuple[Side, Uuid], Access],
        stream_factory: StreamFactory,
        tick_seconds: float = 1.0,
        watch_seconds: float = 10.0,
        connect_grace: float = 15.0,
        refresh_after: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        on_counts: Callable[[Mapping[str, int]], None] | None = None,
    ) -> None:
        self._registrar = registrar
        self._handler = handler
        self._reactor = reactor
        self._access = dict(access)
        self._factory = stream_factory
        self._tick = tick_seconds
        self._watch_every = watch_seconds
        self._grace = connect_grace
        self._refresh_after = refresh_after
        self._registered: dict[tuple[Side, Uuid], Registration] = {}
        self._down_since: dict[Login, float] = {}
        self._refreshed_at: dict[Login, float] = {}
        self._recreated_at: dict[Login, float] = {}
        self._clock = clock
        self._watcher: threading.Thread | None = None
        self._lock = threading.Lock()
        self._streams: dict[Login, Stream] = {}
        self._members: dict[Login, set[tuple[Side, Uuid]]] = {}
        self._attached: dict[tuple[Side, Uuid], tuple[Login, ...]] = {}
        self._attached_at: dict[tuple[Side, Uuid], float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._on_counts = on_counts
        self._seen: dict[tuple[str, Uuid], str] = {}

    # --- life cycle ---------------------------------------------------------------------------------

    def start(self) -> EventService:
        """Clean up what earlier runs left, then register and attach in the background."""
        for removed in self._registrar.remove_stale():
            log.info("removed stale event registration: %s", removed)
        self._thread = threading.Thread(target=self._run, name="fedcore-event-registration", daemon=True)
        self._thread.start()
        self._watcher = threading.Thread(target=self._watch, name="fedcore-event-watch", daemon=True)
        self._watcher.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        """Stop registering and consuming, disconnect, and delete the queues this run registered."""
        self._stop.set()
        for thread in (self._thread, self._watcher):
            if thread is not None:
                thread.join(timeout)
        self._reactor.close(timeout)
        with self._lock:
            streams = list(self._streams.values())
        # All at once: each waits for its broker's goodbye, and six logins one after the other made a stop slow.
        closing = [threading.Thread(target=stream.close, args=(timeout,), daemon=True) for stream in streams]
        for thread in closing:
            thread.start()
        for thread in closing:
            thread.join(timeout)
        self._registrar.close()

    def attach_ready(self) -> int:
        """Attach every registration that landed (or changed) since the last call; returns how many (the thread
        calls this)."""
        with self._lock:
            known = dict(self._registered)
        fresh = [(k, r) for k, r in self._registrar.registrations().items() if known.get((Side(k[0]), k[1])) != r]
        for (side, offering_uuid), registration in fresh:
            self._attach(Side(side), offering_uuid, registration)
        return len(fresh)

    def refresh_stuck(self) -> list[Login]:
        """Ask the registrar to register again the offerings of every login whose stream has been down for
        ``refresh_after`` seconds (at most once per such period): their queues may be gone, which no reconnect
        can cure, while ``create_queue`` makes them again. Returns the logins refreshed (the thread calls this)."""
        now = self._clock()
        refreshed: list[Login] = []
        with self._lock:
            for login, stream in self._streams.items():
                if stream.connected:
                    self._down_since.pop(login, None)
                    continue
                since = self._down_since.setdefault(login, now)
                last = self._refreshed_at.get(login, since)
                if now - since >= self._refresh_after and now - last >= self._refresh_after:
                    self._refreshed_at[login] = now
                    refreshed.append(login)
                    keys = [(str(side), uuid) for side, uuid in self._members.get(login, ())]
                    self._registrar.refresh(keys)
        for login in refreshed:
            log.warning("STOMP %s login %s has been down for %.0f s: registering its offerings again (their queues "
                        "may be gone)", login.side, login.login, now - self._down_since.get(login, now))
        return refreshed

    def recreate_refused(self) -> list[Login]:
        """Recreate the subscription of every login the broker refused ``REFUSALS`` times in a row (its password
        is a token fedcore no longer has: Waldur keeps the one of the subscription's creation), at most once per
        ``refresh_after``. Returns the logins recreated (the thread calls this)."""
        now = self._clock()
        chosen: list[tuple[Login, list[tuple[str, Uuid]]]] = []
        with self._lock:
            for login, stream in self._streams.items():
                if stream.refusals < REFUSALS:
                    continue
                last = self._recreated_at.get(login)
                if last is not None and now - last < self._refresh_after:
                    continue
                self._recreated_at[login] = now
                chosen.append((login, [(str(side), uuid) for side, uuid in self._members.get(login, ())]))
        for login, keys in chosen:
            done = self._registrar.recreate(Uuid(login.login), keys)
            log.warning("STOMP %s login %s refused %d times (a rotated token?): %s; registering its offerings "
                        "again", login.side, login.login, REFUSALS, done)
        return [login for login, _ in chosen]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.recreate_refused()
                self.refresh_stuck()
                self._registrar.tick()
                self.attach_ready()
                self._report()
            except Exception:  # the background loop must survive a bug in one step: logged, then tried again
                log.exception("event registration step failed")
            self._stop.wait(self._tick)

    def _watch(self) -> None:
        """Every ``watch_seconds``: B's orders that A orders wait on (see :meth:`EventHandler.watch`)."""
        while not self._stop.wait(self._watch_every):
            try:
                for result in self._handler.watch(self._handler.offerings()):
                    if result.retry:
                        log.warning("watching B's orders: %s", result.note)
            except Exception:  # the watch must survive a bug in one round: logged, then tried again
                log.exception("watching B's orders failed")

    # --- attaching ----------------------------------------------------------------------------------

    def _attach(self, side: Side, offering_uuid: Uuid, registration: Registration) -> None:
        access = self._access[(side, offering_uuid)]
        by_login: dict[Login, list[StompQueue]] = {}
        for queue in registration.queues:
            login = Login(side, access.endpoint, registration.vhost, queue.login)
            by_login.setdefault(login, []).append(StompQueue(queue.queue_name, side))
        started: list[Stream] = []
        grown: list[Stream] = []
        with self._lock:
            for login, queues in by_login.items():
                self._members.setdefault(login, set()).add((side, offering_uuid))
                stream = self._streams.get(login)
                if stream is None:
                    stream = self._factory(login, access, queues, self._on_connected(login))
                    self._streams[login] = stream
                    started.append(stream)
                else:
                    stream.add_queues(queues)
                    grown.append(stream)
            before = self._attached.get((side, offering_uuid), ())
            retired: list[Stream] = []
            for login in before:
                if login not in by_login:  # a login the offering no longer uses (its subscription was replaced)
                    self._members.get(login, set()).discard((side, offering_uuid))
                    if not self._members.get(login):
                        retired.append(self._streams.pop(login))
                        self._members.pop(login, None)
            self._attached[(side, offering_uuid)] = tuple(by_login)
            self._attached_at.setdefault((side, offering_uuid), self._clock())
            self._registered[(side, offering_uuid)] = registration
        for stream in retired:
            stream.close()
        for stream in started:
            self._reactor.consume(stream, f"{side}-{len(self._streams)}")
            stream.start()
        if grown:  # queues added to a live connection: what happened before they existed is for a pass to find
            self._handler.catch_up(self._handler.offerings_of(side, offering_uuid))
        log.info("events attached for %s offering %s (%s)", side, offering_uuid,
                 ", ".join(q.object_type for q in registration.queues))

    def _on_connected(self, login: Login) -> Callable[[], None]:
        def caught_up() -> None:
            with self._lock:
                members = sorted(self._members.get(login, ()))
            offerings = {id(s): s for m in members for s in self._handler.offerings_of(*m)}
            log.info("STOMP %s connected (vhost %s, login %s): catch-up passes for %s", login.side, login.vhost,
                     login.login, ", ".join(sorted(s.name for s in offerings.values())) or "no offering yet")
            self._handler.catch_up(offerings.values())

        return caught_up

    # --- what operators see -------------------------------------------------------------------------

    def _report(self) -> None:
        """Log each change of an offering's event state; hand the counts per state to ``on_counts``."""
        counts: dict[str, int] = {}
        for entry in self.status():
            counts[entry.state] = counts.get(entry.state, 0) + 1
            key = (entry.side, entry.offering_uuid)
            if self._seen.get(key) == entry.state:
                continue
            self._seen[key] = entry.state
            names = ", ".join(entry.offerings)
            if entry.state == "events":
                log.info("%s offering %s (%s): on events", entry.side, entry.offering_uuid, names)
            elif entry.state == "polling":
                log.warning("%s offering %s (%s): polling, not on events: %s", entry.side, entry.offering_uuid,
                            names, entry.reason)
        if self._on_counts is not None:
            self._on_counts(counts)

    def status(self) -> list[OfferingEvents]:
        """Every offering and side with events enabled: on events, or polling and why."""
        registrations = self._registrar.status()
        with self._lock:
            attached = dict(self._attached)
            streams = dict(self._streams)
        found = []
        for (side_name, offering_uuid), status in sorted(registrations.items()):
            side = Side(side_name)
            names = tuple(sorted(s.name for s in self._handler.offerings_of(side, offering_uuid)))
            logins = attached.get((side, offering_uuid))
            if status.state is not State.REGISTERED:
                state = "pending" if status.state is State.PENDING else "polling"
                found.append(OfferingEvents(side_name, offering_uuid, names, state, status.reason))
            elif logins is None:
                found.append(OfferingEvents(side_name, offering_uuid, names, "pending", "registered, not attached"))
            elif not all(streams[login].connected for login in logins):
                since = self._clock() - self._attached_at.get((side, offering_uuid), 0.0)
                if since < self._grace and not any(streams[login].connects for login in logins):
                    found.append(OfferingEvents(side_name, offering_uuid, names, "pending", "connecting to the broker"))
                else:
                    found.append(OfferingEvents(side_name, offering_uuid, names, "polling", "broker not connected"))
            else:
                found.append(OfferingEvents(side_name, offering_uuid, names, "events"))
        return found

    def ready(self) -> tuple[bool, list[str]]:
        """(every offering on events, the reasons of those that are not) for ``/readyz``."""
        reasons = [f"events for {e.side} offering {e.offering_uuid} ({', '.join(e.offerings)}): {e.state}"
                   + (f": {e.reason}" if e.reason else "") for e in self.status() if e.state != "events"]
        return not reasons, reasons

    @property
    def streams(self) -> tuple[Stream, ...]:
        """The streams opened so far (tests, diagnostics)."""
        with self._lock:
            return tuple(self._streams.values())
