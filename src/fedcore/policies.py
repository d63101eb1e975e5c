"""Sync policies for a linked resource pair: which end date and which limits to write where.

Pure decisions over values both sides already showed; the caller reads and writes. The direction
settings come from the offering's backend settings (``end_date_sync_direction``,
``limit_sync_direction``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from attrs import field, frozen

from fedcore.enums import EndDateSyncDirection, LimitSyncDirection, Side
from fedcore.model import int_map

__all__ = ["EndDateWrite", "LimitWrite", "Side", "decide_end_date", "decide_limits"]


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
