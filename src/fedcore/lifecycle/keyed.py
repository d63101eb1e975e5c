"""Choosing among B orders that carry the same idempotency key, the same way on every replica."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from fedcore.lifecycle.steps import KeyedMatch
from fedcore.model import Order

_UNDATED = dt.datetime.min.replace(tzinfo=dt.UTC)


def _age(order: Order) -> tuple[bool, dt.datetime, str]:
    # Oldest first; an order without a creation time sorts after every dated one, then by UUID.
    return (order.created is None, order.created or _UNDATED, order.uuid)


def choose_keyed(orders: Iterable[Order]) -> dict[str, KeyedMatch]:
    """Key -> the B order that serves it: the oldest (by ``created``, then UUID); the others are duplicates.

    Deterministic whatever order ``orders`` come in, so two replicas reading the same B state pick the same
    winner, and a repair step can cancel or report exactly the losers.
    """
    by_key: defaultdict[str, list[Order]] = defaultdict(list)
    for order in orders:
        if order.key:
            by_key[order.key].append(order)
    chosen: dict[str, KeyedMatch] = {}
    for key, found in by_key.items():
        ranked = sorted({o.uuid: o for o in found}.values(), key=_age)
        chosen[key] = KeyedMatch(ranked[0], tuple(ranked[1:]))
    return chosen
