"""``fedcore status``: read both sides of every offering (reads only), compare them, print a table or JSON.

For each offering, concurrently: A's resources of the offering, B's resources of the target offering under
fedcore's organisation, and A's open orders with the B orders they link, all through the ports' read methods.
The comparison is :func:`runners.drift.compare`; the output is :mod:`runners.statusview`'s.

Beside them, for every offering and side with STOMP events enabled, whether Waldur holds fedcore's event
registration (:func:`collect_events`): per side and token one ``users/me/`` and one listing of the user's event
subscriptions, then one queue listing per fedcore subscription (its description ``fedcore agent <name>``). Reads
only: nothing is registered or removed.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from attrs import frozen

from adapters.config import FedcoreConfig, OfferingConfig, federation_settings
from adapters.waldur import RetryPolicy, WaldurHttp
from adapters.waldur.events import Queue, list_queues, list_subscriptions
from adapters.waldur.identity import read_me
from fedcore.conversion import build_conversion
from fedcore.enums import ResourceState
from fedcore.errors import NotFound, PortError, TransientError
from fedcore.ids import Uuid
from fedcore.model import Order, Resource
from runners.console import SafeOutput, load, secrets_of
from runners.drift import Observed, compare
from runners.exitcodes import ExitCode
from runners.registration import A_OBJECT_TYPES, B_OBJECT_TYPES, DESCRIPTION_PREFIX
from runners.statusview import EventState, EventStatus, OfferingStatus, status_json, status_lines, summary
from runners.wiring import Ports, PortsFactory, RestPorts

MAX_WORKERS = 8
"""At most this many offerings are read at the same time."""


def observe(ports: Ports) -> Observed:
    """Read what status compares, through the ports' read methods only.

    A linked B resource missing from B's listing, and a linked B order missing from the in-flight listing, are read
    one by one: only B's 404 for that single object counts as "missing".
    """
    a_resources = tuple(ports.a_resources.list_resources())
    b_listing = tuple(ports.b_resources.list_resources())
    a_orders = tuple(ports.a_orders.list_open_orders())
    listed = frozenset(r.uuid for r in b_listing)
    extra: list[Resource] = []
    missing: set[Uuid] = set()
    for a in a_resources:
        if a.link is not None and a.link not in listed and a.state is not ResourceState.TERMINATED:
            try:
                extra.append(ports.b_resources.get_resource(a.link))
            except NotFound:
                missing.add(a.link)
    links = {o.link for o in a_orders if o.link is not None}
    b_orders: dict[Uuid, Order] = dict(ports.b_orders.get_orders(links))
    missing_orders: set[Uuid] = set()
    for link in sorted(links - b_orders.keys()):
        try:
            b_orders[link] = ports.b_orders.get_order(link)
        except NotFound:
            missing_orders.add(link)
    return Observed(a_resources, (*b_listing, *extra), listed, a_orders, b_orders, frozenset(missing),
                    frozenset(missing_orders))


def offering_status(index: int, offering: OfferingConfig, ports: PortsFactory, *, include_all: bool) -> OfferingStatus:
    """Read and compare one offering; a failed read becomes the offering's error (Waldur's detail, the call)."""
    settings = federation_settings(offering)
    try:
        observed = observe(ports(offering))
    except PortError as exc:
        return OfferingStatus(index, offering, None, str(exc), isinstance(exc, TransientError))
    except OSError as exc:  # an unreadable CA bundle when the client is built
        return OfferingStatus(index, offering, None, f"cannot set up TLS: {exc.strerror or exc}")
    comparison = compare(observed, build_conversion(settings.components), settings.end_date_sync,
                         include_settled=include_all)
    return OfferingStatus(index, offering, comparison)


def collect(config: FedcoreConfig, ports: PortsFactory, *, names: list[str], include_all: bool,
            workers: int = MAX_WORKERS) -> tuple[OfferingStatus, ...]:
    """Every chosen offering's status, in the configuration's order, read concurrently."""
    chosen = [(i, o) for i, o in enumerate(config.offerings) if not names or o.name in names]
    if not chosen:
        return ()
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(chosen))), thread_name_prefix="fedcore-status") as pool:
        futures = [pool.submit(offering_status, i, o, ports, include_all=include_all) for i, o in chosen]
        return tuple(f.result() for f in futures)


# --- event registration ---------------------------------------------------------------------------------------

HttpFor = Callable[[OfferingConfig, str], WaldurHttp]
"""The client of one side (``"A"`` or ``"B"``) of an offering."""

NOT_REGISTERED = "no queue of fedcore's event subscriptions is for this offering: fedcore serves it by polling " \
                 "until the daemon registers it"


@frozen
class EventSide:
    """One offering and side with STOMP events enabled, and the token that reads its registration."""

    index: int
    offering: OfferingConfig
    side: str
    offering_uuid: Uuid
    needed: tuple[str, ...]

    @property
    def token_key(self) -> tuple[str, str, str]:
        """``(side, API URL, token)``: the sides read with the same user share one set of reads."""
        if self.side == "A":
            return ("A", self.offering.waldur_api_url, self.offering.waldur_api_token.reveal())
        target = self.offering.backend_settings
        return ("B", target.target_api_url, target.target_api_token.reveal())


@frozen
class Holdings:
    """What one token's user holds: ``(agent name, queue)`` of every fedcore subscription, or why it is unknown."""

    queues: tuple[tuple[str, Queue], ...] = ()
    error: str = ""


def event_sides(offerings: Sequence[tuple[int, OfferingConfig]]) -> list[EventSide]:
    """Every offering and side of ``offerings`` that enables STOMP events, in the configuration's order (A, then B)."""
    sides: list[EventSide] = []
    for index, offering in offerings:
        if offering.stomp_enabled:
            sides.append(EventSide(index, offering, "A", offering.waldur_offering_uuid, A_OBJECT_TYPES))
        target = offering.backend_settings
        if target.target_stomp_enabled:
            sides.append(EventSide(index, offering, "B", target.stomp_offering_uuid, B_OBJECT_TYPES))
    return sides


def fedcore_agent(description: str, agent_name: str | None) -> str | None:
    """The agent name of a fedcore subscription's description (``fedcore agent <name>``); None when it is not
    fedcore's, or (``agent_name`` given) not that agent's."""
    if not description.startswith(DESCRIPTION_PREFIX):
        return None
    found = description.removeprefix(DESCRIPTION_PREFIX)
    return found if agent_name is None or found == agent_name else None


def read_holdings(side: EventSide, http_for: HttpFor, agent_name: str | None) -> Holdings:
    """One token's reads: ``users/me/``, the user's event subscriptions, the queues of fedcore's among them."""
    try:
        http = http_for(side.offering, side.side)
        me = read_me(http)
        held: list[tuple[str, Queue]] = []
        for subscription in list_subscriptions(http, me.uuid):
            agent = fedcore_agent(subscription.description, agent_name)
            if agent is not None:
                held.extend((agent, q) for q in list_queues(http, subscription.uuid))
    except PortError as exc:  # the call, Waldur's detail, and its HTTP status (a 403 is not a 503)
        return Holdings(error=f"{exc} (HTTP {exc.status})" if exc.status is not None else str(exc))
    except OSError as exc:  # an unreadable CA bundle when the client is built
        return Holdings(error=f"cannot set up TLS: {exc.strerror or exc}")
    return Holdings(tuple(held))


def judge(side: EventSide, holdings: Holdings) -> EventStatus:
    """One offering and side's registration, from what its token's user holds."""
    def make(state: EventState, reason: str = "", **found: tuple[str, ...]) -> EventStatus:
        return EventStatus(side.index, side.offering.name, side.side, side.offering_uuid, state, reason=reason,
                           **found)

    if holdings.error:
        return make(EventState.UNKNOWN, holdings.error)
    mine = [(agent, q) for agent, q in holdings.queues if q.offering_uuid == side.offering_uuid]
    if not mine:
        return make(EventState.NOT_REGISTERED, NOT_REGISTERED)
    types = {q.object_type for _, q in mine}
    present = (*(t for t in side.needed if t in types), *sorted(types - set(side.needed)))
    missing = tuple(t for t in side.needed if t not in types)
    reason = f"no queue for {', '.join(missing)}" if missing else ""
    return make(EventState.REGISTERED, reason, object_types=present, missing=missing,
                  agents=tuple(sorted({agent for agent, _ in mine})))


def collect_events(config: FedcoreConfig, http_for: HttpFor, *, names: list[str], agent_name: str | None = None,
                   workers: int = MAX_WORKERS) -> tuple[EventStatus, ...]:
    """The event registration of every chosen offering and side with STOMP enabled; each token's reads once,
    concurrently. ``agent_name`` None accepts every fedcore agent's subscriptions (the configuration names none)."""
    chosen = [(i, o) for i, o in enumerate(config.offerings) if not names or o.name in names]
    sides = event_sides(chosen)
    if not sides:
        return ()
    first: dict[tuple[str, str, str], EventSide] = {}
    for side in sides:
        first.setdefault(side.token_key, side)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(first))),
                            thread_name_prefix="fedcore-status-events") as pool:
        futures = {key: pool.submit(read_holdings, side, http_for, agent_name) for key, side in first.items()}
        holdings = {key: future.result() for key, future in futures.items()}
    return tuple(judge(side, holdings[side.token_key]) for side in sides)


def rest_http_for(ports: RestPorts) -> HttpFor:
    """The clients of ``ports`` (shared with the offerings' reads), per offering and side."""
    def http_for(offering: OfferingConfig, side: str) -> WaldurHttp:
        if side == "A":
            return ports.http("A", offering.waldur_api_url, offering.waldur_api_token.reveal(),
                              verify=offering.verify_ssl, ca_bundle=offering.ca_bundle)
        target = offering.backend_settings
        return ports.http("B", target.target_api_url, target.target_api_token.reveal(),
                          verify=target.target_verify_ssl, ca_bundle=target.target_ca_bundle)

    return http_for


def status(path: str, *, names: list[str], as_json: bool, include_all: bool, fail_on_drift: bool) -> ExitCode:
    """Read, compare and print; exit 0 (read), 2 (invalid configuration or unknown offering name), 3 (an offering,
    or an event registration, could not be read), 4 (``fail_on_drift`` and drift found)."""
    config = load(path, sys.stderr)
    if config is None:
        return ExitCode.CONFIG
    known = {o.name for o in config.offerings}
    unknown = [n for n in names if n not in known]
    if unknown:
        sys.stderr.write(f"unknown offering(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}\n")
        return ExitCode.CONFIG
    # A diagnostic reports what it sees: one attempt per call, so a dead server costs one timeout, not four.
    ports = RestPorts(config, retry=RetryPolicy.never())
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fedcore-status-events") as beside:
            reading = beside.submit(collect_events, config, rest_http_for(ports), names=names)
            statuses = collect(config, ports, names=names, include_all=include_all)
            events = reading.result()
    finally:
        ports.close()
    out = SafeOutput(sys.stdout, secrets_of(config))
    if as_json:
        out.line(json.dumps(status_json(statuses, events), indent=2))
    else:
        for line in status_lines(statuses, dt.datetime.now(dt.UTC), events):
            out.line(line)
    counts = summary(statuses)
    if counts["unreadable"] or any(e.state is EventState.UNKNOWN for e in events):
        return ExitCode.UNREACHABLE
    if fail_on_drift and counts["drift"]:
        return ExitCode.CHECK_FAILED
    return ExitCode.OK
