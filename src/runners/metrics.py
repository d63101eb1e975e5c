"""Prometheus metrics of a running fedcore: the :class:`~runners.telemetry.Telemetry` port over prometheus-client.

Every label value is bounded by the configuration or by fedcore's code: offering names, modes, servers (hosts
of the configured API URLs, :func:`~runners.wiring.server_label`), endpoint templates with ``{uuid}`` in place
of UUIDs, HTTP statuses or error class names. No token, UUID or user name is ever a label.

:func:`~runners.metrics_args.add_metrics_arguments` and :func:`start_telemetry` are what ``fedcore run`` calls: with
``--metrics-port`` they start the HTTP server of :mod:`runners.health` (``/metrics``, ``/healthz``, ``/readyz``);
without it the daemon reports to :class:`~runners.telemetry.NullTelemetry`.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata

import attrs
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from adapters.config import FedcoreConfig
from runners.health import HealthServer, Readiness
from runners.telemetry import NullTelemetry, Telemetry
from runners.wiring.rest import server_label
from runners.wiring.root import Mode, takes_part

API_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Seconds: a Waldur call takes tens of milliseconds; the read timeout is 30 s."""

PASS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
"""Seconds: an idle pass is one call; a report pass over many resources takes minutes."""

PASS_OUTCOMES = ("ok", "failed")


def _version() -> str:
    try:
        return metadata.version("fedcore")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "dev"


REPAIR_KINDS = ("order_deleted", "resource_terminated", "project_deleted")
"""The kinds of ``fedcore_duplicates_repaired_total`` (each starts at 0 for every offering with orders)."""


def answered(status: str) -> bool:
    """Whether a call's ``status`` means the server answered: any HTTP status below 500 (a 404 or a 409 is an
    answer); a 5xx (often a proxy in front of a stopped Waldur) or a transport error's class name is not."""
    return status.isdigit() and int(status) < 500


class PrometheusTelemetry:
    """The daemon's telemetry as Prometheus metrics in ``registry`` (a fresh one unless given).

    It also remembers, per server, whether its latest call got an answer: what ``/readyz`` reads
    (:meth:`server_states`). ``clock`` gives Unix time (for readiness only; pass timestamps come from the daemon).
    """

    def __init__(self, registry: CollectorRegistry | None = None, *, clock: Callable[[], float] = time.time) -> None:
        # No ``*_created`` series (process-wide in prometheus-client): they double every counter and histogram,
        # and Prometheus handles counter resets without them.
        disable_created_metrics()  # type: ignore[no-untyped-call]  # prometheus-client leaves it unannotated
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self._clock = clock
        self._lock = threading.Lock()
        self._servers: dict[str, tuple[bool, float]] = {}
        r = self.registry
        self.build_info = Gauge("fedcore_build_info", "Always 1: the running fedcore's version.", ["version"],
                                registry=r)
        self.build_info.labels(_version()).set(1)
        self.orders = Counter("fedcore_orders", "Orders whose turn in a pass ended, by type and outcome.",
                              ["offering", "type", "outcome"], registry=r)
        self.api_calls = Counter("fedcore_api_calls", "HTTP calls to a Waldur (each attempt), by status or error.",
                                 ["server", "method", "endpoint", "status"], registry=r)
        self.api_seconds = Histogram("fedcore_api_call_seconds", "Duration of HTTP calls to a Waldur.",
                                     ["server", "method", "endpoint"], buckets=API_BUCKETS, registry=r)
        self.retries = Counter("fedcore_retries", "Calls repeated after a passing fault.", ["server", "endpoint"],
                               registry=r)
        self.pass_seconds = Histogram("fedcore_pass_seconds", "Duration of passes.", ["offering", "mode"],
                                      buckets=PASS_BUCKETS, registry=r)
        self.passes = Counter("fedcore_passes", "Passes that ended, ok (nothing failed) or failed.",
                              ["offering", "mode", "outcome"], registry=r)
        self.last_success = Gauge("fedcore_last_successful_pass_timestamp_seconds",
                                  "Unix time at which the latest pass in which nothing failed ended.",
                                  ["offering", "mode"], registry=r)
        self.waiting = Gauge("fedcore_orders_waiting", "A orders in flight (pending or executing).", ["offering"],
                             registry=r)
        self.oldest_age = Gauge("fedcore_oldest_order_age_seconds", "Age of the oldest A order in flight (0: none).",
                                ["offering"], registry=r)
        self.server_up = Gauge("fedcore_server_up", "1 when the latest call to the server got an answer, else 0.",
                               ["server"], registry=r)
        self.events = Counter("fedcore_events", "STOMP messages settled, by side, object type and outcome (handled, "
                              "ignored, malformed, requeued, dropped).", ["side", "object_type", "outcome"],
                              registry=r)
        self.event_seconds = Histogram("fedcore_event_seconds", "From taking a STOMP message in to settling it.",
                                       ["side", "object_type"], buckets=API_BUCKETS, registry=r)
        self.duplicates = Counter("fedcore_duplicates_repaired", "Duplicates on B another replica (or an interrupted "
                                  "attempt) made and fedcore repaired, by kind (order_deleted, "
                                  "resource_terminated, project_deleted).", ["offering", "kind"], registry=r)
        self.event_offerings = Gauge("fedcore_event_offerings", "Offerings (per side) with events enabled, by "
                                     "state: events, polling (registration failing or broker down), pending.",
                                     ["state"], registry=r)

    def add_process_metrics(self) -> None:
        """Add the standard ``process_*`` and ``python_info`` metrics (a real process, not a test)."""
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)

    def expect(self, offerings: Iterable[str], modes: Iterable[str]) -> None:
        """Create the pass counters of every offering and mode at 0, so that "no successful pass" alerts see a
        series from the start (a counter that never appears cannot be seen not to grow)."""
        chosen = tuple(modes)
        for offering in offerings:
            for mode in chosen:
                for outcome in PASS_OUTCOMES:
                    self.passes.labels(offering, mode, outcome)
            if "order_process" in chosen or "event_process" in chosen:
                for kind in REPAIR_KINDS:
                    self.duplicates.labels(offering, kind)

    def order_finished(self, offering: str, order_type: str, outcome: str) -> None:
        """Count one order's outcome."""
        self.orders.labels(offering, order_type, outcome).inc()

    def duplicate_repaired(self, offering: str, kind: str) -> None:
        """Count one repair of a duplicate on B."""
        self.duplicates.labels(offering, kind).inc()

    def api_call(self, server: str, method: str, endpoint: str, status: str, seconds: float) -> None:
        """Count and time one call; the server is up when it answered."""
        self.api_calls.labels(server, method, endpoint, status).inc()
        self.api_seconds.labels(server, method, endpoint).observe(seconds)
        self.server_reachable(server, answered(status))

    def retry(self, server: str, endpoint: str) -> None:
        """Count one retry."""
        self.retries.labels(server, endpoint).inc()

    def pass_finished(self, offering: str, mode: str, seconds: float, ok: bool, finished_at: float) -> None:
        """Time one pass, count it by outcome and, when ``ok``, record when it ended."""
        self.pass_seconds.labels(offering, mode).observe(seconds)
        self.passes.labels(offering, mode, PASS_OUTCOMES[0] if ok else PASS_OUTCOMES[1]).inc()
        if ok:
            self.last_success.labels(offering, mode).set(finished_at)

    def orders_waiting(self, offering: str, count: int, oldest_age_seconds: float) -> None:
        """Set the in-flight count and the oldest order's age."""
        self.waiting.labels(offering).set(count)
        self.oldest_age.labels(offering).set(oldest_age_seconds if count else 0.0)

    def server_reachable(self, server: str, reachable: bool) -> None:
        """Record whether ``server`` answered, and when."""
        with self._lock:
            self._servers[server] = (reachable, self._clock())
        self.server_up.labels(server).set(1 if reachable else 0)

    def event_settled(self, side: str, object_type: str, outcome: str, seconds: float) -> None:
        """Count and time one STOMP message."""
        self.events.labels(side, object_type, outcome).inc()
        self.event_seconds.labels(side, object_type).observe(seconds)

    def event_offerings_by_state(self, counts: Mapping[str, int]) -> None:
        """How many event-enabled offerings are on events, polling, pending."""
        for state in ("events", "polling", "pending"):
            self.event_offerings.labels(state).set(counts.get(state, 0))

    def server_states(self) -> dict[str, tuple[bool, float]]:
        """Per server: whether its latest call got an answer, and the Unix time of that call."""
        with self._lock:
            return dict(self._servers)


def expected_servers(config: FedcoreConfig, modes: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """The servers (:func:`~runners.wiring.server_label`) each offering taking part in ``modes`` talks to: A's
    and B's."""
    chosen = [Mode(m) for m in modes]
    return {
        o.name: (server_label(o.waldur_api_url), server_label(o.backend_settings.target_api_url))
        for o in config.offerings
        if any(takes_part(o, m) for m in chosen)
    }


@attrs.define
class TelemetryHandle:
    """What :func:`start_telemetry` started: call :meth:`loaded` once the configuration is, :meth:`close` at
    shutdown. ``port`` is the metrics server's actual port (None without ``--metrics-port``)."""

    telemetry: PrometheusTelemetry | None = None
    readiness: Readiness | None = None
    server: HealthServer | None = None

    @property
    def port(self) -> int | None:
        """The port ``/metrics`` answers on."""
        return self.server.port if self.server is not None else None

    def loaded(self, config: FedcoreConfig, modes: str | Iterable[str]) -> None:
        """The configuration is loaded and these modes run: ``/readyz`` now waits for their servers."""
        chosen = (modes,) if isinstance(modes, str) else tuple(modes)
        servers = expected_servers(config, chosen)
        if self.telemetry is not None:
            self.telemetry.expect(servers, chosen)
        if self.readiness is not None:
            self.readiness.config_loaded(servers)

    def close(self) -> None:
        """Stop the metrics server (idempotent)."""
        if self.server is not None:
            self.server.close()
            self.server = None


def start_telemetry(
    args: argparse.Namespace,
    *,
    config: FedcoreConfig | None = None,
    modes: str | Iterable[str] = (),
    clock: Callable[[], float] = time.time,
) -> tuple[Telemetry, TelemetryHandle]:
    """The telemetry the daemon reports to, and a handle on what serves it.

    Without ``args.metrics_port`` it is :class:`~runners.telemetry.NullTelemetry` and nothing listens. With it,
    a :class:`PrometheusTelemetry` served over HTTP (OSError when the port is taken). Given ``config`` (and the
    ``modes`` that run), the handle is marked :meth:`~TelemetryHandle.loaded` at once.
    """
    port: int | None = getattr(args, "metrics_port", None)
    if port is None:
        return NullTelemetry(), TelemetryHandle()
    telemetry = PrometheusTelemetry(clock=clock)
    telemetry.add_process_metrics()
    readiness = Readiness(telemetry.server_states, clock=clock)
    server = HealthServer(telemetry.registry, readiness, host=getattr(args, "metrics_address", "0.0.0.0"), port=port)
    handle = TelemetryHandle(telemetry, readiness, server)
    if config is not None:
        handle.loaded(config, modes)
    return telemetry, handle
