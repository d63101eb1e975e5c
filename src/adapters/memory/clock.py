"""A clock for tests and simulations: it moves only when told to."""

from __future__ import annotations

import datetime as dt


class FakeClock:
    """Implements :class:`fedcore.ports.Clock`; starts at ``start`` (UTC) and moves with :meth:`advance`."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        if self._now.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start time")

    def now(self) -> dt.datetime:
        """The current (fake) instant."""
        return self._now

    def advance(self, seconds: float = 0, **delta: float) -> dt.datetime:
        """Move forward by ``seconds`` plus any ``timedelta`` keywords; never backwards."""
        step = dt.timedelta(seconds=seconds, **delta)
        if step < dt.timedelta(0):
            raise ValueError("a clock does not go backwards")
        self._now += step
        return self._now
