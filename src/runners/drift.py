"""Drift between a federation's two sides, judged from what A and B showed: the rules behind ``fedcore status``.

Pure functions over domain values (no reads, no clock). :func:`compare` pairs each A resource with the B resource
its ``backend_id`` names, converts limits both ways through the offering's component mapping, and flags:

| Kind | When |
| --- | --- |
| ``state`` | both sides are settled (OK, Erred, Terminated) and differ: A OK but B Erred or Terminated, ... |
| ``limits`` | A's limits converted to B's components differ from B's limits (a missing value counts as 0) |
| ``end_date`` | the end dates differ, unless ``end_date_sync_direction`` is ``disabled`` |
| ``missing_on_b`` | a live A resource links a B resource that B does not show (absent, or not visible to the token) |
| ``not_linked`` | a live A resource (OK, Updating, Terminating) has no B resource, or a ``backend_id`` naming none |
| ``stray_on_b`` | a live B resource of fedcore's organisation that no A resource links (and no A order is creating) |
| ``b_order_missing`` | an A order in flight links a B order that B does not show |

Limits and end dates are compared only when neither side is Creating, Updating or Terminating (an order in flight
is changing them) and neither is Terminated.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterable, Mapping

from attrs import field, frozen

from fedcore.conversion import Conversion
from fedcore.enums import EndDateSyncDirection, OrderState, ResourceState
from fedcore.ids import Uuid
from fedcore.model import Order, Resource
from fedcore.policies import limits_as_source

SETTLED = frozenset({ResourceState.OK, ResourceState.ERRED, ResourceState.TERMINATED})
TRANSITIONAL = frozenset({ResourceState.CREATING, ResourceState.UPDATING, ResourceState.TERMINATING})
SHOULD_BE_LINKED = frozenset({ResourceState.OK, ResourceState.UPDATING, ResourceState.TERMINATING})


class DriftKind(enum.StrEnum):
    """What disagrees between the two sides (see the module's table)."""

    STATE = "state"
    LIMITS = "limits"
    END_DATE = "end_date"
    MISSING_ON_B = "missing_on_b"
    NOT_LINKED = "not_linked"
    STRAY_ON_B = "stray_on_b"
    B_ORDER_MISSING = "b_order_missing"


@frozen
class Drift:
    """One disagreement and a sentence saying what differs."""

    kind: DriftKind
    message: str


def _drifts(value: Iterable[Drift]) -> tuple[Drift, ...]:
    return tuple(value)


@frozen
class ResourceRow:
    """An A resource beside its B resource (either may be None), with limits converted both ways."""

    a: Resource | None
    b: Resource | None
    a_limits_as_b: Mapping[str, int] | None = None
    b_limits_as_a: Mapping[str, int] | None = None
    drift: tuple[Drift, ...] = field(default=(), converter=_drifts)

    @property
    def in_transition(self) -> bool:
        """True when either side is Creating, Updating or Terminating (an order is changing it)."""
        return any(r is not None and r.state in TRANSITIONAL for r in (self.a, self.b))


@frozen
class OrderRow:
    """An A order in flight beside the B order its ``backend_id`` links (None when not linked or missing)."""

    a: Order
    b: Order | None
    note: str
    drift: tuple[Drift, ...] = field(default=(), converter=_drifts)


@frozen
class Observed:
    """What status read for one offering.

    ``b_resources`` holds B's listing plus linked B resources read one by one because the listing lacked them;
    ``b_listed`` are the UUIDs the listing showed (only those can be strays); ``missing_b`` and
    ``missing_b_orders`` are links B answered 404 for.
    """

    a_resources: tuple[Resource, ...]
    b_resources: tuple[Resource, ...]
    b_listed: frozenset[Uuid]
    a_orders: tuple[Order, ...]
    b_orders: Mapping[Uuid, Order]
    missing_b: frozenset[Uuid] = frozenset()
    missing_b_orders: frozenset[Uuid] = frozenset()


@frozen
class Comparison:
    """The rows of one offering: resources (A beside B, strays last) and orders in flight."""

    resources: tuple[ResourceRow, ...]
    orders: tuple[OrderRow, ...]

    @property
    def drift_count(self) -> int:
        """How many disagreements were flagged, resources and orders together."""
        return sum(len(r.drift) for r in self.resources) + sum(len(o.drift) for o in self.orders)


def _known(values: Mapping[str, int], known: Callable[[str], bool]) -> dict[str, int]:
    return {c: v for c, v in values.items() if known(c)}


def state_drift(a: ResourceState, b: ResourceState) -> Drift | None:
    """Both sides settled and different."""
    if a in SETTLED and b in SETTLED and a != b:
        return Drift(DriftKind.STATE, f"A is {a} but B is {b}")
    return None


def limits_drift(a_as_b: Mapping[str, int], b_limits: Mapping[str, int]) -> Drift | None:
    """A's limits converted to B's components against B's own (B components the mapping does not know excluded)."""
    differ = [c for c in sorted(set(a_as_b) | set(b_limits)) if a_as_b.get(c, 0) != b_limits.get(c, 0)]
    if not differ:
        return None
    parts = [f"{c}: A's limits convert to {a_as_b.get(c, 0)}, B has {b_limits.get(c, 0)}" for c in differ]
    return Drift(DriftKind.LIMITS, "; ".join(parts))


def end_date_drift(a_end: dt.date | None, b_end: dt.date | None, direction: EndDateSyncDirection) -> Drift | None:
    """Different end dates, unless end dates are not synced."""
    if a_end == b_end or direction is EndDateSyncDirection.DISABLED:
        return None
    return Drift(DriftKind.END_DATE, f"A ends {a_end or 'never'}, B ends {b_end or 'never'} (sync: {direction})")


def pair_row(a: Resource, b: Resource, conversion: Conversion, end_date_sync: EndDateSyncDirection) -> ResourceRow:
    """A linked pair: limits converted both ways, and every rule that applies to a pair."""
    a_as_b = conversion.limits_to_target(_known(a.limits, conversion.knows_source))
    b_known = _known(b.limits, conversion.knows_target)
    b_as_a = limits_as_source(conversion, b.limits, a.limits)
    found = [state_drift(a.state, b.state)]
    comparable = not ({a.state, b.state} & (TRANSITIONAL | {ResourceState.TERMINATED}))
    if comparable:
        found += [limits_drift(a_as_b, b_known), end_date_drift(a.end_date, b.end_date, end_date_sync)]
    return ResourceRow(a, b, a_as_b, b_as_a, (d for d in found if d is not None))


def _lone_a_row(a: Resource, conversion: Conversion, missing: bool) -> ResourceRow:
    a_as_b = conversion.limits_to_target(_known(a.limits, conversion.knows_source))
    live = a.state is not ResourceState.TERMINATED
    drift: list[Drift] = []
    if missing and live:
        drift.append(Drift(DriftKind.MISSING_ON_B, f"A links B resource {a.link}, which B does not show (it does not "
                                                   "exist, or fedcore's token cannot see it)"))
    elif a.backend_id and a.link is None and live:
        drift.append(Drift(DriftKind.NOT_LINKED, f"backend_id {a.backend_id!r} does not name a B resource"))
    elif not a.backend_id and a.state in SHOULD_BE_LINKED:
        drift.append(Drift(DriftKind.NOT_LINKED, f"A is {a.state} but linked to no B resource"))
    return ResourceRow(a, None, a_as_b, None, drift)


def _stray_row(b: Resource, conversion: Conversion) -> ResourceRow:
    drift = []
    if b.state is not ResourceState.TERMINATED:
        drift.append(Drift(DriftKind.STRAY_ON_B, f"{b.state} on B under fedcore's organisation, but no A resource "
                                                 "links it"))
    return ResourceRow(None, b, None, limits_as_source(conversion, b.limits, {}), drift)


def _settled_away(row: ResourceRow) -> bool:
    """A row with nothing to say: everything Terminated (or gone) and no drift."""
    if row.drift:
        return False
    return all(r is None or r.state is ResourceState.TERMINATED for r in (row.a, row.b))


def order_row(a: Order, b: Order | None, missing: bool) -> OrderRow:
    """An A order in flight with its B order, and what fedcore will do with it next."""
    if missing:
        return OrderRow(a, None, "the linked B order is gone",
                        [Drift(DriftKind.B_ORDER_MISSING, f"A order {a.uuid} links B order {a.link}, which B does "
                                                          "not show")])
    if b is None:
        if a.backend_id and a.link is None:
            return OrderRow(a, None, f"backend_id {a.backend_id!r} is not a B order")
        if a.state is OrderState.PENDING_PROVIDER:
            return OrderRow(a, None, "not yet on B: fedcore approves and forwards it on its next pass")
        return OrderRow(a, None, "not yet linked: fedcore submits it on B (or finds it by its key) on its next pass")
    if b.state is OrderState.DONE:
        return OrderRow(a, b, "B is done: fedcore completes the A order on its next pass")
    if b.state.is_failure:
        return OrderRow(a, b, f"B is {b.state}: fedcore fails the A order with B's message on its next pass")
    return OrderRow(a, b, f"waiting for B ({b.state})")


def _age(order: Order) -> tuple[bool, float, str]:
    return (order.created is None, order.created.timestamp() if order.created else 0.0, order.uuid)


def compare(observed: Observed, conversion: Conversion, end_date_sync: EndDateSyncDirection, *,
            include_settled: bool = False) -> Comparison:
    """Every A resource beside its B resource, then B's strays, then the orders in flight.

    ``include_settled`` keeps rows where everything is Terminated and nothing drifts (hidden by default).
    """
    b_by_uuid = {r.uuid: r for r in observed.b_resources}
    rows = []
    for a in sorted(observed.a_resources, key=lambda r: (r.name, r.uuid)):
        b = b_by_uuid.get(a.link) if a.link is not None else None
        if b is not None:
            rows.append(pair_row(a, b, conversion, end_date_sync))
        else:
            rows.append(_lone_a_row(a, conversion, a.link is not None and a.link in observed.missing_b))
    linked = {a.link for a in observed.a_resources if a.link is not None}
    creating = {o.resource_uuid for o in observed.b_orders.values() if o.resource_uuid is not None}
    for b in sorted(observed.b_resources, key=lambda r: (r.name, r.uuid)):
        if b.uuid in observed.b_listed and b.uuid not in linked and b.uuid not in creating:
            rows.append(_stray_row(b, conversion))
    if not include_settled:
        rows = [r for r in rows if not _settled_away(r)]
    orders = []
    for a_order in sorted(observed.a_orders, key=_age):
        link = a_order.link
        b_order = observed.b_orders.get(link) if link is not None else None
        orders.append(order_row(a_order, b_order, link is not None and link in observed.missing_b_orders))
    return Comparison(tuple(rows), tuple(orders))
