"""What the daemon's order passes and its event handlers share, so the two never work against each other.

- :class:`ProjectLocks`: one lock per (offering, A project). An order pass holds it for a whole batch (the
  batch's reads of the B project and of the idempotency key are remembered for the batch), an event handler for
  the one order it processes. Two threads therefore never create the same B project or submit the same B order.
- :class:`OrderLinks`: which A order each B order serves, as the latest passes and events saw it. A B ``order``
  event names only the B order; with this index fedcore processes just the A order linked to it, and falls back
  to an order pass of the offering when it does not know (after a restart, or for an order another replica
  submitted).
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Iterator

from fedcore.ids import Uuid

MAX_LINKS = 100_000
"""B orders remembered (the oldest forgotten first): bounds memory whatever the order rate."""


class ProjectLocks:
    """A lock per ``(offering, A project)``, created on first use and kept (one small object per project), and a
    count of the times each was released: a pass that listed A's orders before taking a project's lock knows its
    listing of that project is stale when the count moved meanwhile (an event handler worked there)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, Uuid], threading.Lock] = {}
        self._released: dict[tuple[str, Uuid], int] = {}

    @contextlib.contextmanager
    def hold(self, offering: str, project_uuid: Uuid) -> Iterator[None]:
        """Hold the lock of ``offering``'s A project ``project_uuid`` for the ``with`` block."""
        key = (offering, project_uuid)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            try:
                yield
            finally:
                with self._guard:
                    self._released[key] = self._released.get(key, 0) + 1

    def versions(self, offering: str) -> dict[Uuid, int]:
        """How often each of ``offering``'s project locks was released so far."""
        with self._guard:
            return {p: n for (o, p), n in self._released.items() if o == offering}

    def version(self, offering: str, project_uuid: Uuid) -> int:
        """How often this project's lock was released so far."""
        with self._guard:
            return self._released.get((offering, project_uuid), 0)


class OrderLinks:
    """B order UUID -> (offering, A order UUID), bounded; thread-safe."""

    def __init__(self, limit: int = MAX_LINKS) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._links: collections.OrderedDict[Uuid, tuple[str, Uuid]] = collections.OrderedDict()

    def record(self, offering: str, a_order: Uuid, b_order: Uuid | None, *, finished: bool) -> None:
        """The A order ``a_order`` of ``offering`` is served by ``b_order``; ``finished`` forgets it (the A order
        is terminal: a later event about its B order needs nothing)."""
        if b_order is None:
            return
        with self._lock:
            if finished:
                self._links.pop(b_order, None)
                return
            self._links[b_order] = (offering, a_order)
            self._links.move_to_end(b_order)
            while len(self._links) > self._limit:
                self._links.popitem(last=False)

    def a_order_of(self, offering: str, b_order: Uuid) -> Uuid | None:
        """The A order of ``offering`` that ``b_order`` serves, when known."""
        with self._lock:
            found = self._links.get(b_order)
        return found[1] if found is not None and found[0] == offering else None

    def in_flight(self, offering: str) -> dict[Uuid, Uuid]:
        """B order -> A order, for every A order of ``offering`` known to wait on its B order."""
        with self._lock:
            return {b: a for b, (o, a) in self._links.items() if o == offering}

    def __len__(self) -> int:
        with self._lock:
            return len(self._links)
