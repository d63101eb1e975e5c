"""Event registration of every offering on both sides, concurrently, retried in the background (EVENTS.md §7).

For each :class:`Target` (a source offering on A with ``stomp_enabled``, a target offering on B with
``target_stomp_enabled``) the :class:`Registrar`:

1. checks the token (``users/me/``, once per token and process) and the offering (read, type, rights) before any
   write: a refusal here is **permanent** (retried slowly, reported with its reason);
2. upserts the agent identity (by name; PUT when it exists) and registers its service, once per offering and
   process;
3. registers the event subscription and creates the queue of every object type the side needs.

The result is a frozen :class:`Registration` (the STOMP logins, vhost and queue names a consumer needs).
:meth:`Registrar.tick` starts every due attempt on a bounded pool and returns at once; a finished attempt
updates :meth:`Registrar.status`; a failed one is due again after an exponential backoff read from the injected
clock, so one failing offering never delays another. Until it registers, an offering is reported ``polling``:
fedcore keeps serving it by REST.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor

import attrs

from adapters.config import OfferingConfig
from adapters.waldur import events
from adapters.waldur.http import WaldurHttp
from adapters.waldur.identity import Me, OfferingInfo, read_me, read_provider_offering, read_public_offering
from fedcore.errors import NotFound, PermanentError, PortError
from fedcore.ids import Uuid
from runners.registration_values import Backoff, OfferingStatus, Registration, State, StompQueue, Target

__all__ = [
    "A_OBJECT_TYPES", "B_OBJECT_TYPES", "Backoff", "OfferingStatus", "Registrar", "Registration",
    "RegistrationRefused", "State", "StompQueue", "Target", "default_agent_name", "targets_from_config",
]

log = logging.getLogger(__name__)

A_OBJECT_TYPES = ("order", "user_role", "resource", "offering_user")
"""What fedcore listens to on A, where it is the offering's service provider."""
B_OBJECT_TYPES = ("order", "offering_user")
"""What fedcore listens to on B, where it orders on A's behalf."""

AGENT_OFFERING_TYPES = frozenset({"Marketplace.Slurm", "Marketplace.Script", "OpenStack.Tenant", "Marketplace.Basic"})
"""Offering types Waldur accepts site-agent identities for."""
PROVIDER_ROLES = frozenset({"OFFERING.MANAGER", "CUSTOMER.OWNER", "CUSTOMER.MANAGER"})
DESCRIPTION_PREFIX = "fedcore agent "
"""How fedcore marks the event subscriptions it creates: ``fedcore agent <agent name>``."""


def default_agent_name() -> str:
    """``fedcore@<hostname>``: the identity name when the configuration gives none."""
    return f"fedcore@{socket.gethostname()}"


class RegistrationRefused(PermanentError):
    """The offering cannot be registered as configured (unknown, wrong type, no rights)."""


def targets_from_config(
    offerings: Iterable[OfferingConfig], http_for: Callable[[OfferingConfig, str], WaldurHttp]
) -> list[Target]:
    """Every target of ``offerings``: A when ``stomp_enabled``, B when ``backend_settings.target_stomp_enabled``
    (an offering registered once per side even when several entries name it). ``http_for(offering, side)``
    gives the side's client."""
    found: dict[tuple[str, Uuid], Target] = {}
    for offering in offerings:
        if offering.stomp_enabled:
            a = Target("A", offering.waldur_offering_uuid, http_for(offering, "A"), A_OBJECT_TYPES)
            found.setdefault(a.key, a)
        settings = offering.backend_settings
        if settings.target_stomp_enabled:
            b = Target("B", settings.stomp_offering_uuid, http_for(offering, "B"), B_OBJECT_TYPES)
            found.setdefault(b.key, b)
    return list(found.values())


class Registrar:
    """Registers many offerings concurrently, retrying each on its own schedule; see the module docstring.

    ``clock`` gives monotonic seconds (injected: tests step it); ``now`` the wall time for ``last_restarted``.
    """

    def __init__(
        self,
        targets: Iterable[Target],
        *,
        agent_name: str | None = None,
        version: str = "dev",
        clock: Callable[[], float],
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        backoff: Backoff | None = None,
        max_workers: int = 8,
    ) -> None:
        self._targets = {t.key: t for t in targets}
        self.agent_name = agent_name or default_agent_name()
        self._version = version
        self._clock = clock
        self._now = now
        self._backoff = backoff or Backoff()
        self._workers = max(1, max_workers)
        self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="fedcore-registration")
        self._lock = threading.Lock()
        self._status = {k: OfferingStatus(t.side, t.offering_uuid, State.PENDING) for k, t in self._targets.items()}
        self._due = dict.fromkeys(self._targets, 0.0)
        self._failures = dict.fromkeys(self._targets, 0)
        self._running: dict[tuple[str, Uuid], Future[None]] = {}
        self._me: dict[int, Me] = {}
        self._me_locks: dict[int, threading.Lock] = {}
        self._identities: dict[tuple[str, Uuid], events.AgentIdentity] = {}
        self._refresh: set[tuple[str, Uuid]] = set()
        self._closed = False

    @property
    def description(self) -> str:
        """The description fedcore gives its event subscriptions (how clean-up recognises them)."""
        return DESCRIPTION_PREFIX + self.agent_name

    # --- status -------------------------------------------------------------------------------------

    def status(self) -> Mapping[tuple[str, Uuid], OfferingStatus]:
        """Every target's current status, by ``(side, offering UUID)`` (a snapshot)."""
        with self._lock:
            return dict(self._status)

    def registrations(self) -> dict[tuple[str, Uuid], Registration]:
        """The registered targets' results."""
        return {k: s.registration for k, s in self.status().items() if s.registration is not None}

    def ready(self) -> bool:
        """True when every target is registered."""
        return all(s.state is State.REGISTERED for s in self.status().values())

    # --- running ------------------------------------------------------------------------------------

    def tick(self) -> int:
        """Start every due attempt that is not already running, on the pool; returns how many started."""
        now = self._clock()
        started = 0
        with self._lock:
            if self._closed:
                return 0
            for key, target in self._targets.items():
                registered = self._status[key].state is State.REGISTERED and key not in self._refresh
                if key in self._running or registered or self._due[key] > now:
                    continue
                self._running[key] = self._pool.submit(self._attempt, target)
                started += 1
        return started

    def refresh(self, keys: Iterable[tuple[str, Uuid]]) -> None:
        """Register these targets again at the next :meth:`tick`, though they are registered: their queues may be
        gone (deleted by an operator, or with their subscription), and ``create_queue`` makes them again. The
        registration stays in force meanwhile; a failure is retried as any other."""
        with self._lock:
            for key in keys:
                if key in self._targets:
                    self._refresh.add(key)
                    self._due[key] = 0.0

    def recreate(self, subscription_uuid: Uuid, keys: Iterable[tuple[str, Uuid]]) -> str:
        """Delete the subscription ``subscription_uuid`` (its broker user and queues go with it), then register
        ``keys`` (the offerings that used it) again: a new subscription, whose broker password is the token
        fedcore uses now. For a login the broker refuses, typically after the token was rotated (Waldur keeps the
        token of the subscription's creation as its password, EVENTS.md §8.4). Returns what was done, for the log.
        A failure to delete is reported and the offerings are registered again anyway."""
        chosen = [k for k in keys if k in self._targets]
        if not chosen:
            return "nothing to recreate"
        http = self._targets[chosen[0]].http
        try:
            events.delete_subscription(http, subscription_uuid)
            done = f"subscription {subscription_uuid} deleted"
        except NotFound:
            done = f"subscription {subscription_uuid} already gone"
        except PortError as exc:
            done = f"subscription {subscription_uuid} not deleted ({exc})"
        self.refresh(chosen)
        return done

    def drain(self, timeout: float | None = None) -> None:
        """Wait until every started attempt has finished (tests, and a clean stop)."""
        with self._lock:
            running = list(self._running.values())
        for future in running:
            future.result(timeout=timeout)

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        """The background loop: :meth:`tick` every ``interval`` seconds until ``stop`` is set."""
        while not stop.is_set():
            self.tick()
            stop.wait(interval)

    def _attempt(self, target: Target) -> None:
        key = target.key
        try:
            registration = self._register(target)
        except PortError as exc:
            permanent = isinstance(exc, PermanentError)
            status = f" (HTTP {exc.status})" if exc.status is not None else ""
            self._failed(key, f"{type(exc).__name__}{status}: {exc}", permanent)
        except Exception as exc:  # a bug must not kill the background retries: reported, then retried
            log.exception("registration of %s %s crashed", *key)
            self._failed(key, f"unexpected {type(exc).__name__}: {exc}", False)
        else:
            with self._lock:
                self._failures[key] = 0
                self._refresh.discard(key)
                old = self._status[key]
                self._status[key] = attrs.evolve(
                    old, state=State.REGISTERED, reason="", permanent=False, attempts=old.attempts + 1,
                    next_attempt_at=None, registration=registration,
                )
                self._running.pop(key, None)
            log.info("events registered for %s offering %s: %d queues", key[0], key[1], len(registration.queues))

    def _failed(self, key: tuple[str, Uuid], reason: str, permanent: bool) -> None:
        with self._lock:
            self._failures[key] += 1
            due = self._clock() + self._backoff.delay(self._failures[key], permanent)
            self._due[key] = due
            old = self._status[key]
            self._status[key] = attrs.evolve(
                old, state=State.POLLING, reason=reason, permanent=permanent, attempts=old.attempts + 1,
                next_attempt_at=due,
            )
            self._running.pop(key, None)
        log.warning("events not registered for %s offering %s (%s; polling meanwhile): %s",
                    key[0], key[1], "permanent" if permanent else "will retry", reason)

    # --- one registration ---------------------------------------------------------------------------

    def _whoami(self, http: WaldurHttp) -> Me:
        """``users/me/`` once per token: concurrent first attempts of the same token wait for one read."""
        with self._lock:
            token_lock = self._me_locks.setdefault(id(http), threading.Lock())
        with token_lock:
            me = self._me.get(id(http))
            if me is None:
                me = read_me(http)
                self._me[id(http)] = me
        return me

    def _check(self, target: Target, me: Me) -> OfferingInfo:
        """Reject, before any write, an offering fedcore cannot register (permanent)."""
        read = read_provider_offering if target.side == "A" else read_public_offering
        view = "marketplace-provider-offerings" if target.side == "A" else "marketplace-public-offerings"
        where = target.http.where("GET", f"{view}/{target.offering_uuid}/")
        try:
            offering = read(target.http, target.offering_uuid)
        except NotFound as exc:
            raise RegistrationRefused(f"unknown offering: {exc}", where=exc.where, status=404) from exc
        if offering.type not in AGENT_OFFERING_TYPES:
            raise RegistrationRefused(
                f"offering type {offering.type!r} cannot have a site agent ({', '.join(sorted(AGENT_OFFERING_TYPES))})",
                where=where,
            )
        provider = me.is_staff or me.holds(PROVIDER_ROLES, offering.uuid) or me.holds(
            PROVIDER_ROLES, offering.customer_uuid
        )
        identity_manager = target.side == "B" and bool(me.is_identity_manager) and bool(me.managed_isds)
        if not (provider or identity_manager):
            needs = "OFFERING.MANAGER" if target.side == "A" else "provider access or ISD identity manager"
            raise RegistrationRefused(
                f"user {me.username} has no rights on the offering (needs {needs})",
                where=target.http.where("GET", "users/me/"),
            )
        return offering

    def _register(self, target: Target) -> Registration:
        http = target.http
        me = self._whoami(http)
        with self._lock:
            identity = self._identities.get(target.key)
        if identity is None:
            self._check(target, me)
            identity = events.upsert_identity(http, target.offering_uuid, self.agent_name, self._version, self._now())
            events.register_service(http, identity.uuid, f"{self.agent_name} events")
            with self._lock:
                self._identities[target.key] = identity
        queues: list[StompQueue] = []
        for object_type in target.object_types:
            subscription = events.register_subscription(http, identity.uuid, object_type, self.description)
            queue = events.create_queue(http, subscription.uuid, target.offering_uuid, object_type)
            queues.append(StompQueue(object_type, queue.queue_name, subscription.uuid, queue.vhost, queue.uuid))
        return Registration(target.side, target.offering_uuid, identity.uuid, me.uuid, tuple(queues))

    # --- clean-up -----------------------------------------------------------------------------------

    def remove_stale(self) -> list[str]:
        """At start: remove, for every token, the queues of fedcore's subscriptions (``description``) whose offering
        is not configured on that side, then such subscriptions left without a configured offering's queue.

        Subscriptions still used by a configured offering are kept (they are shared: EVENTS.md §8 pitfall 5).
        Returns what was removed; a failure is logged and left for the next start (registration goes on).
        """
        removed: list[str] = []
        by_http: dict[int, tuple[WaldurHttp, set[Uuid]]] = {}
        for target in self._targets.values():
            by_http.setdefault(id(target.http), (target.http, set()))[1].add(target.offering_uuid)
        for http, configured in by_http.values():
            try:
                removed += self._remove_stale(http, configured)
            except PortError as exc:
                log.warning("stale event subscriptions on %s not cleaned up: %s", http.side, exc)
        return removed

    def _remove_stale(self, http: WaldurHttp, configured: set[Uuid]) -> list[str]:
        removed: list[str] = []
        me = self._whoami(http)
        for subscription in events.list_subscriptions(http, me.uuid):
            if subscription.description != self.description:
                continue
            queues = events.list_queues(http, subscription.uuid)
            stale = [q for q in queues if q.offering_uuid not in configured]
            if queues and len(stale) == len(queues):
                events.delete_subscription(http, subscription.uuid)
                removed.append(f"{http.side} subscription {subscription.uuid}")
                continue
            for queue in stale:
                events.delete_queue(http, queue.uuid)
                removed.append(f"{http.side} queue {queue.queue_name}")
        return removed

    def close(self) -> None:
        """On a clean stop: stop retrying, then delete the queues this process registered (nobody would read them,
        and Waldur would keep filling them). Identities, services and subscriptions are kept (see docs/events.md)."""
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)
        work = [(self._targets[key].http, queue) for key, registration in self.registrations().items()
                for queue in registration.queues]
        if not work:
            return
        # As many at once as registration used: 500 offerings' 2000 queues in seconds, not a minute.
        with ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="fedcore-unregister") as pool:
            list(pool.map(lambda job: _delete_queue(*job), work))


def _delete_queue(http: WaldurHttp, queue: StompQueue) -> None:
    """Delete one queue at stop; one already gone is fine, another failure is logged (nothing else to do)."""
    try:
        events.delete_queue(http, queue.queue_uuid)
    except NotFound:
        pass
    except PortError as exc:
        log.warning("queue %s not removed at stop: %s", queue.queue_name, exc)
