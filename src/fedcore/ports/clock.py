"""The clock port: the domain never reads the time itself."""

from __future__ import annotations

import datetime as dt
from typing import Protocol


class Clock(Protocol):
    """Tells the current time (timezone-aware UTC)."""

    def now(self) -> dt.datetime:
        """The current instant, timezone-aware."""
        ...
