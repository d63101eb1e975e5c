"""The real clock: implements :class:`fedcore.ports.Clock` with the system's time, in UTC."""

from __future__ import annotations

import datetime as dt


class SystemClock:
    """The current instant from the operating system, timezone-aware (UTC)."""

    def now(self) -> dt.datetime:
        """Now, in UTC."""
        return dt.datetime.now(dt.UTC)
