"""Choosing among B orders that carry the same idempotency key, and among B projects that carry the same
``backend_id``, the same way on every replica: the oldest wins (by creation time, then UUID).

The oldest, not the smallest UUID: a replica that created an object and then looks again sees every object
created before its own, so whichever of two racing replicas looks last sees both and agrees with the other.
(Waldur stamps ``created`` inside the creating transaction; two creations whose commits land in the opposite order
of their stamps within that transaction's span are the one window this rule leaves, docs/scaling.md.)
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from fedcore.lifecycle.steps import KeyedMatch
from fedcore.model import Order, Project

_UNDATED = dt.datetime.min.replace(tzinfo=dt.UTC)


def _age(item: Order | Project) -> tuple[bool, dt.datetime, str]:
    # Oldest first; an object without a creation time sorts after every dated one, then by UUID.
    return (item.created is None, item.created or _UNDATED, item.uuid)


def choose_project(projects: Iterable[Project]) -> Project | None:
    """The B project that serves among those sharing one ``backend_id``: the oldest; None when there is none."""
    return min(projects, key=_age, default=None)


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
