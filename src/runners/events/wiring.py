"""Starting event mode beside a daemon: what ``fedcore run -m event_process`` and the demo call."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence

from adapters.config import FedcoreConfig, OfferingConfig
from adapters.stomp import StompEventStream, StompQueue, Transport
from adapters.waldur.http import WaldurHttp
from runners.daemon import Daemon
from runners.events.handler import EventHandler
from runners.events.reactor import EventReactor, EventTelemetry, Retry
from runners.events.service import Access, EventService, Login, Stream, StreamFactory, accesses
from runners.health import Readiness
from runners.metrics import PrometheusTelemetry, _version
from runners.registration import Registrar, Target, targets_from_config
from runners.telemetry import Telemetry
from runners.wiring import RestPorts

log = logging.getLogger("fedcore.events")


def start_events(
    config: FedcoreConfig,
    daemon: Daemon,
    rest: RestPorts,
    *,
    telemetry: Telemetry | None = None,
    readiness: Readiness | None = None,
    transport: Transport = "websocket",
    workers: int = 8,
    stream_factory: StreamFactory | None = None,
    max_attempts: int = 5,
    retry: Retry | None = None,
    watch_seconds: float = 10.0,
) -> EventService | None:
    """Register, connect and consume the events of every offering of ``config`` that enables them; None (and a
    warning) when none does. The daemon keeps every pass on its schedule."""
    access = accesses(config)
    if not access:
        log.warning("event_process: no offering sets stomp_enabled or target_stomp_enabled; serving by polling only")
        return None
    served = [(svc, offering) for svc in daemon.services() for offering in config.offerings
              if offering.name == svc.name]
    handler = EventHandler(served, context=daemon.context, run_soon=daemon.run_soon)
    event_telemetry: EventTelemetry | None = telemetry if isinstance(telemetry, PrometheusTelemetry) else None
    reactor = EventReactor(handler, workers=workers, max_attempts=max_attempts, retry=retry,
                           telemetry=event_telemetry)

    def http_for(offering: OfferingConfig, side: str) -> WaldurHttp:
        target = offering.backend_settings
        if side == "A":
            return rest.http("A", offering.waldur_api_url, offering.waldur_api_token.reveal(),
                             verify=offering.verify_ssl, ca_bundle=offering.ca_bundle)
        return rest.http("B", target.target_api_url, target.target_api_token.reveal(),
                         verify=target.target_verify_ssl, ca_bundle=target.target_ca_bundle)

    registrar = registrar_for(config, http_for, version=_version())
    service = EventService(registrar=registrar, handler=handler, reactor=reactor, access=access,
                           stream_factory=stream_factory or stomp_streams(transport=transport),
                           watch_seconds=watch_seconds,
                           on_counts=telemetry.event_offerings_by_state
                           if isinstance(telemetry, PrometheusTelemetry) else None)
    if readiness is not None:
        readiness.add_check(service.ready)
    log.info("event_process: registering events for %d offering(s) and side(s); polling serves them meanwhile",
             len(access))
    service.start()
    return service


def registrar_for(
    config: FedcoreConfig, http_for: Callable[[OfferingConfig, str], WaldurHttp], *, clock: Callable[[], float]
    = time.monotonic, version: str = "dev", agent_name: str | None = None,
) -> Registrar:
    """The :class:`Registrar` of every event-enabled offering of ``config`` (one client per side and token, so
    ``users/me/`` is read once per token)."""
    cache: dict[tuple[str, str, str], WaldurHttp] = {}

    def shared(offering: OfferingConfig, side: str) -> WaldurHttp:
        if side == "A":
            key = (side, offering.waldur_api_url, offering.waldur_api_token.reveal())
        else:
            target = offering.backend_settings
            key = (side, target.target_api_url, target.target_api_token.reveal())
        if key not in cache:
            cache[key] = http_for(offering, side)
        return cache[key]

    targets: Iterable[Target] = targets_from_config(config.offerings, shared)
    return Registrar(targets, clock=clock, version=version, agent_name=agent_name)


def stomp_streams(*, transport: Transport = "websocket", heartbeat_ms: int = 10_000, prefetch: int = 100,
                  connect_timeout: float = 10.0) -> StreamFactory:
    """The factory of :class:`~adapters.stomp.StompEventStream` streams (STOMP over WebSocket by default)."""

    def make(login: Login, access: Access, queues: Sequence[StompQueue], on_connected: Callable[[], None]) -> Stream:
        return StompEventStream(
            endpoint=login.endpoint, vhost=login.vhost, login=login.login, passcode=access.passcode, queues=queues,
            transport=transport, heartbeat_ms=heartbeat_ms, prefetch=prefetch, connect_timeout=connect_timeout,
            on_connected=on_connected, ca_certs=access.ca_certs,
        )

    return make
