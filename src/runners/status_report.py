"""``fedcore status``: read both sides of every offering (reads only), compare them, print a table or JSON.

For each offering, concurrently: A's resources of the offering, B's resources of the target offering under
fedcore's organisation, and A's open orders with the B orders they link, all through the ports' read methods.
The comparison is :func:`runners.drift.compare`; the output is :mod:`runners.statusview`'s.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from concurrent.futures import ThreadPoolExecutor

from adapters.config import FedcoreConfig, OfferingConfig, federation_settings
from adapters.waldur import RetryPolicy
from fedcore.conversion import build_conversion
from fedcore.enums import ResourceState
from fedcore.errors import NotFound, PortError, TransientError
from fedcore.ids import Uuid
from fedcore.model import Order, Resource
from runners.console import SafeOutput, load, secrets_of
from runners.drift import Observed, compare
from runners.exitcodes import ExitCode
from runners.statusview import OfferingStatus, status_json, status_lines, summary
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


def status(path: str, *, names: list[str], as_json: bool, include_all: bool, fail_on_drift: bool) -> ExitCode:
    """Read, compare and print; exit 0 (read), 2 (invalid configuration or unknown offering name), 3 (an offering
    could not be read), 4 (``fail_on_drift`` and drift found)."""
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
        statuses = collect(config, ports, names=names, include_all=include_all)
    finally:
        ports.close()
    out = SafeOutput(sys.stdout, secrets_of(config))
    if as_json:
        out.line(json.dumps(status_json(statuses), indent=2))
    else:
        for line in status_lines(statuses, dt.datetime.now(dt.UTC)):
            out.line(line)
    counts = summary(statuses)
    if counts["unreadable"]:
        return ExitCode.UNREACHABLE
    if fail_on_drift and counts["drift"]:
        return ExitCode.CHECK_FAILED
    return ExitCode.OK
