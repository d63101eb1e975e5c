"""Sync policies for a linked resource pair: which end date and which limits to write where.

Pure decisions over values both sides already showed; the caller reads and writes. The direction
settings come from the offering's backend settings (``end_date_sync_direction``,
``limit_sync_direction``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from attrs import field, frozen

from fedcore.conversion import Conversion
from fedcore.enums import EndDateSyncDirection, LimitSyncDirection, ResourceState, Side
from fedcore.model import Resource, int_map

__all__ = [
    "EndDateWrite",
    "LimitWrite",
    "PolicyWrite",
    "Side",
    "decide_end_date",
    "decide_limits",
    "limits_as_source",
    "pair_problem",
    "plan_pair",
]


@frozen
class EndDateWrite:
    """Set the resource end date on ``side`` to ``end_date`` (None clears it)."""

    side: Side
    end_date: dt.date | None


def decide_end_date(
    direction: EndDateSyncDirection,
    a_end: dt.date | None,
    b_end: dt.date | None,
    *,
    a_changed: dt.datetime | None = None,
    b_changed: dt.datetime | None = None,
) -> EndDateWrite | None:
    """What to write so both sides show one end date, or None when nothing is to be written.

    ``a_changed``/``b_changed`` are when each side's end date last changed, where known. One-way
    directions copy their source side, including a cleared date. ``bidirectional``: the side that changed
    later wins; a side with a known change time beats one without; on a tie (same instant, or neither
    known) A wins, because A is where the customer ordered and where the end date is set by the client.
    """
    if a_end == b_end or direction is EndDateSyncDirection.DISABLED:
        return None
    if direction is EndDateSyncDirection.A_TO_B:
        return EndDateWrite(Side.B, a_end)
    if direction is EndDateSyncDirection.B_TO_A:
        return EndDateWrite(Side.A, b_end)
    b_wins = b_changed is not None and (a_changed is None or b_changed > a_changed)
    return EndDateWrite(Side.A, b_end) if b_wins else EndDateWrite(Side.B, a_end)


@frozen
class LimitWrite:
    """The complete limits to set on A, and the components whose value changes."""

    limits: Mapping[str, int] = field(converter=int_map)
    changed: frozenset[str]


def decide_limits(
    direction: LimitSyncDirection,
    a_limits: Mapping[str, int],
    b_limits_as_a: Mapping[str, int],
) -> LimitWrite | None:
    """Whether B's limits (already converted to A's components) must be copied to A, and what to write.

    Only ``b_to_a`` ever writes. Components B has no value for keep A's value (a conversion that cannot
    express a component must not erase it); components that differ take B's value. None when A already
    agrees.
    """
    if direction is LimitSyncDirection.DISABLED:
        return None
    changed = frozenset(c for c, v in b_limits_as_a.items() if a_limits.get(c) != v)
    if not changed:
        return None
    return LimitWrite({**a_limits, **b_limits_as_a}, changed)


PolicyWrite = EndDateWrite | LimitWrite
"""One write that brings a linked resource pair in step."""


def pair_problem(a: Resource, b: Resource) -> str | None:
    """Why the linked pair ``a`` (on A) and ``b`` (on B) is not brought in step now; None when it is.

    Only pairs that are OK on both sides are: a resource being created, updated or terminated has an order in
    flight that sets its limits and end date itself, and an erred one may not show what it really has.
    """
    if a.state is ResourceState.OK and b.state is ResourceState.OK:
        return None
    return f"the A resource is {a.state} and the B resource is {b.state}: pairs are synced when both are OK"


def plan_pair(
    a: Resource,
    b: Resource,
    *,
    end_date_sync: EndDateSyncDirection,
    limit_sync: LimitSyncDirection,
    conversion: Conversion,
) -> tuple[PolicyWrite, ...]:
    """The writes that bring the linked pair ``a``/``b`` in step: the end date, then A's limits.

    B's limits reach A through :func:`limits_as_source`. B components no A component maps to are left out, and A
    components the conversion does not know keep their value. No change times are known here, so a bidirectional
    end date follows A (:func:`decide_end_date`'s tie rule).
    """
    writes: list[PolicyWrite] = []
    end_date = decide_end_date(end_date_sync, a.end_date, b.end_date)
    if end_date is not None:
        writes.append(end_date)
    if limit_sync is not LimitSyncDirection.DISABLED:
        limits = decide_limits(limit_sync, a.limits, limits_as_source(conversion, b.limits, a.limits))
        if limits is not None:
            writes.append(limits)
    return tuple(writes)


MAX_REFINEMENTS = 16
"""How many times :func:`limits_as_source` refines a fan-in share before it settles for the last one."""


def limits_as_source(
    conversion: Conversion, b_limits: Mapping[str, int], a_limits: Mapping[str, int]
) -> dict[str, int]:
    """B's limits as A's: :meth:`Conversion.limits_to_source` with A's limits as the reference, refined until the
    reference reproduces itself.

    The reference weights how a fan-in B limit is shared out, so writing the converted limits on A changes the
    weights of the next conversion: without refinement, each later pass would write again, a little closer. Here
    the result is fed back as the reference until it no longer changes (at most :data:`MAX_REFINEMENTS` times),
    so one write reaches what later passes would settle on. A pair already in step converts back unchanged;
    passthrough and fan-out mappings need no refinement. Components the conversion does not know are left out.
    """
    wanted = {c: v for c, v in b_limits.items() if conversion.knows_target(c)}
    reference = {c: v for c, v in a_limits.items() if conversion.knows_source(c)}
    converted = conversion.limits_to_source(wanted, reference=reference)
    for _ in range(MAX_REFINEMENTS):
        following = {**reference, **converted}
        if following == reference:
            break
        reference = following
        converted = conversion.limits_to_source(wanted, reference=reference)
    return converted
