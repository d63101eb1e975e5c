"""How ``fedcore status`` shows a federation: stable JSON for scripts, plain aligned tables for people.

The JSON keys are documented in docs/commands.md and change only with ``format``. Tables are plain text (no
terminal library), so they survive pipes, logs and narrow terminals alike; full UUIDs are in the JSON and in the
drift lines, the tables show their first 8 characters.

The events part (``events`` in JSON, the "Events" section of the text) says, for every offering and side with
STOMP events enabled, whether Waldur holds fedcore's event registration for it (:class:`EventStatus`).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from typing import Any

from attrs import frozen

from adapters.config import OfferingConfig
from fedcore.ids import Uuid
from fedcore.model import Order, Resource
from runners.drift import Comparison, Drift, OrderRow, ResourceRow

FORMAT = 1
"""The version of the JSON layout."""

MAX_CELL = 60


@frozen
class OfferingStatus:
    """One offering's comparison, or why it could not be made (``error``: the call and Waldur's detail)."""

    index: int
    offering: OfferingConfig
    comparison: Comparison | None
    error: str = ""
    unreachable: bool = False


class EventState(enum.StrEnum):
    """Whether Waldur holds fedcore's event registration of one offering on one side."""

    REGISTERED = "registered"
    """At least one queue of fedcore's event subscriptions is for the offering."""
    NOT_REGISTERED = "not registered"
    """None is: fedcore serves the offering by polling until the daemon registers it."""
    UNKNOWN = "unknown"
    """The registration could not be read (``reason``): never taken for "not registered"."""


@frozen
class EventStatus:
    """One offering's event registration on one side (``index``: the configuration entry; ``agents``: the agent
    names of the fedcore subscriptions whose queues were found)."""

    index: int
    offering: str
    side: str
    offering_uuid: Uuid
    state: EventState
    object_types: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    reason: str = ""
    agents: tuple[str, ...] = ()


def _date(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _limits(values: Mapping[str, int] | None) -> dict[str, int] | None:
    return None if values is None else dict(sorted(values.items()))


def resource_json(r: Resource | None) -> dict[str, Any] | None:
    """A resource as status shows it."""
    if r is None:
        return None
    return {"uuid": r.uuid, "name": r.name, "state": str(r.state), "project_uuid": r.project_uuid,
            "backend_id": r.backend_id, "limits": _limits(r.limits), "end_date": _date(r.end_date)}


def order_json(o: Order | None) -> dict[str, Any] | None:
    """An order as status shows it (``error_message`` is Waldur's, on that side)."""
    if o is None:
        return None
    return {"uuid": o.uuid, "type": str(o.type), "state": str(o.state), "resource_uuid": o.resource_uuid,
            "resource_name": o.resource_name, "project_uuid": o.project_uuid, "backend_id": o.backend_id,
            "error_message": o.error_message, "created": _date(o.created), "modified": _date(o.modified)}


def _drift_json(drift: Sequence[Drift]) -> list[dict[str, str]]:
    return [{"kind": str(d.kind), "message": d.message} for d in drift]


def _row_json(row: ResourceRow) -> dict[str, Any]:
    return {"a": resource_json(row.a), "b": resource_json(row.b), "a_limits_as_b": _limits(row.a_limits_as_b),
            "b_limits_as_a": _limits(row.b_limits_as_a), "in_transition": row.in_transition,
            "drift": _drift_json(row.drift)}


def _order_row_json(row: OrderRow) -> dict[str, Any]:
    return {"a": order_json(row.a), "b": order_json(row.b), "note": row.note, "drift": _drift_json(row.drift)}


def offering_json(status: OfferingStatus) -> dict[str, Any]:
    """One offering: where its sides are, its resources and orders, or the error that stopped the reads."""
    offering, target = status.offering, status.offering.backend_settings
    comparison = status.comparison
    return {
        "index": status.index,
        "name": offering.name,
        "a": {"api_url": offering.waldur_api_url, "offering_uuid": offering.waldur_offering_uuid},
        "b": {"api_url": target.target_api_url, "offering_uuid": target.target_offering_uuid,
              "customer_uuid": target.target_customer_uuid},
        "error": {"message": status.error, "unreachable": status.unreachable} if status.error else None,
        "resources": [_row_json(r) for r in comparison.resources] if comparison else [],
        "orders": [_order_row_json(o) for o in comparison.orders] if comparison else [],
        "drift_count": comparison.drift_count if comparison else 0,
    }


def summary(statuses: Sequence[OfferingStatus]) -> dict[str, int]:
    """Counts over every offering."""
    done = [s.comparison for s in statuses if s.comparison is not None]
    return {
        "offerings": len(statuses),
        "unreadable": sum(1 for s in statuses if s.comparison is None),
        "resources": sum(len(c.resources) for c in done),
        "drift": sum(c.drift_count for c in done),
        "orders_in_flight": sum(len(c.orders) for c in done),
    }


def event_json(event: EventStatus) -> dict[str, Any]:
    """One offering and side's event registration."""
    return {"index": event.index, "offering": event.offering, "side": event.side,
            "offering_uuid": event.offering_uuid, "state": str(event.state), "object_types": list(event.object_types),
            "missing": list(event.missing), "reason": event.reason, "agents": list(event.agents)}


def status_json(statuses: Sequence[OfferingStatus], events: Sequence[EventStatus] = ()) -> dict[str, Any]:
    """The whole document ``status --json`` prints (``events``: ``[]`` when no offering enables STOMP events)."""
    return {"format": FORMAT, "offerings": [offering_json(s) for s in statuses], "summary": summary(statuses),
            "events": [event_json(e) for e in events]}


# --- tables ---------------------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns padded to their widest cell, two spaces apart."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    return ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
            for line in (headers, *rows)]


def _short(uuid: str | None) -> str:
    return uuid[:8] if uuid else "-"


def _clip(text: str) -> str:
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _limit_text(values: Mapping[str, int] | None) -> str:
    if not values:
        return "-"
    return " ".join(f"{c}={v}" for c, v in sorted(values.items()))


def _age(value: dt.datetime | None, now: dt.datetime) -> str:
    if value is None:
        return "-"
    seconds = max(0, int((now - value).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _resource_cells(row: ResourceRow) -> list[str]:
    a, b = row.a, row.b
    return [
        f"{a.name or '(no name)'} {_short(a.uuid)}" if a else "-",
        str(a.state) if a else "-",
        _short(b.uuid) if b else "-",
        str(b.state) if b else "-",
        _limit_text(a.limits) if a else "-",
        _limit_text(row.a_limits_as_b),
        _limit_text(b.limits) if b else "-",
        _date(a.end_date) or "-" if a else "-",
        _date(b.end_date) or "-" if b else "-",
        ",".join(d.kind for d in row.drift) or ("(in transition)" if row.in_transition else "-"),
    ]


def _order_cells(row: OrderRow, now: dt.datetime) -> list[str]:
    a, b = row.a, row.b
    return [
        _short(a.uuid), str(a.type), str(a.state), _clip(a.resource_name or "-"), _age(a.created, now),
        _short(b.uuid) if b else _short(a.link), str(b.state) if b else "-",
        _clip(b.error_message) if b and b.error_message else "-", row.note,
    ]


def _drift_lines(comparison: Comparison) -> list[str]:
    lines: list[str] = []
    for row in comparison.resources:
        label = f"{row.a.name} ({row.a.uuid})" if row.a else f"B resource {row.b.uuid if row.b else '?'}"
        lines.extend(f"  ! {label}: {d.kind}: {d.message}" for d in row.drift)
    for order in comparison.orders:
        lines.extend(f"  ! A order {order.a.uuid}: {d.kind}: {d.message}" for d in order.drift)
    return lines


RESOURCE_HEADERS = ("RESOURCE (A)", "A STATE", "B RESOURCE", "B STATE", "A LIMITS", "A LIMITS AS B", "B LIMITS",
                    "A ENDS", "B ENDS", "DRIFT")
ORDER_HEADERS = ("A ORDER", "TYPE", "A STATE", "RESOURCE", "AGE", "B ORDER", "B STATE", "B ERROR", "NOTE")


def offering_lines(status: OfferingStatus, now: dt.datetime) -> list[str]:
    """One offering's block: where its sides are, its resources, drift, orders in flight."""
    offering, target = status.offering, status.offering.backend_settings
    lines = [f"== offerings[{status.index}] '{offering.name}' ==",
             f"A: {offering.waldur_api_url} offering {offering.waldur_offering_uuid}",
             f"B: {target.target_api_url} offering {target.target_offering_uuid}, "
             f"organisation {target.target_customer_uuid}"]
    comparison = status.comparison
    if comparison is None:
        kind = "unreachable" if status.unreachable else "could not be read"
        return [*lines, f"{kind}: {status.error}", ""]
    lines.append("")
    lines.append(f"resources ({len(comparison.resources)}):")
    if comparison.resources:
        lines.extend("  " + line for line in table(RESOURCE_HEADERS, [_resource_cells(r) for r in
                                                                       comparison.resources]))
    drift = _drift_lines(comparison)
    lines.append(f"drift ({comparison.drift_count}):" + ("" if drift else " none"))
    lines.extend(drift)
    lines.append(f"orders in flight ({len(comparison.orders)}):")
    if comparison.orders:
        lines.extend("  " + line for line in table(ORDER_HEADERS, [_order_cells(o, now) for o in comparison.orders]))
        lines.append("  (attempts and the daemon's own last error: see fedcore's log and metrics)")
    lines.append("")
    return lines


EVENT_HEADERS = ("OFFERING", "SIDE", "OFFERING UUID", "STATE", "QUEUES FOR", "MISSING", "AGENT")


def _event_cells(event: EventStatus) -> list[str]:
    return [_clip(f"offerings[{event.index}] '{event.offering}'"), event.side, _short(event.offering_uuid),
            str(event.state), ",".join(event.object_types) or "-", ",".join(event.missing) or "-",
            ",".join(event.agents) or "-"]


def event_lines(events: Sequence[EventStatus]) -> list[str]:
    """The "Events" section: one row per offering and side with STOMP enabled, then why any is not registered;
    nothing when no offering enables STOMP events."""
    if not events:
        return []
    lines = ["", "Events (Waldur's registration of fedcore's event queues):"]
    lines.extend("  " + line for line in table(EVENT_HEADERS, [_event_cells(e) for e in events]))
    for event in events:
        if event.state is EventState.UNKNOWN:
            lines.append(f"  ! offerings[{event.index}] {event.side}: unknown: {event.reason}")
        elif event.state is EventState.NOT_REGISTERED:
            lines.append(f"  - offerings[{event.index}] {event.side}: not registered: fedcore serves it by polling "
                         f"until the daemon registers it")
        elif event.missing:
            lines.append(f"  - offerings[{event.index}] {event.side}: no queue for {', '.join(event.missing)}")
    return lines


def status_lines(statuses: Sequence[OfferingStatus], now: dt.datetime,
                 events: Sequence[EventStatus] = ()) -> list[str]:
    """The whole text output: every offering, a summary line, then the events section (when any offering enables
    STOMP events)."""
    lines = [line for s in statuses for line in offering_lines(s, now)]
    counts = summary(statuses)
    lines.append(f"summary: {counts['offerings']} offering(s), {counts['unreadable']} unreadable, "
                 f"{counts['resources']} resource row(s), {counts['drift']} drift, "
                 f"{counts['orders_in_flight']} order(s) in flight")
    lines.extend(event_lines(events))
    return lines
