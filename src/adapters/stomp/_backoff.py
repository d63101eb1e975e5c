"""The reconnection policy of the supervisor: exponential backoff with jitter, capped, never giving up.

The cap can be set without a code change: ``FEDCORE_STOMP_RECONNECT_CAP_SECONDS`` in fedcore's environment (a
positive number of seconds, default 60) bounds every wait between reconnection attempts. A lower cap reconnects
sooner after a long broker outage at the price of more attempts while the broker is down (the end-to-end broker
restart test runs fedcore with 1 s).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

import attrs
from attrs import frozen

log = logging.getLogger("adapters.stomp")

RECONNECT_CAP_VARIABLE = "FEDCORE_STOMP_RECONNECT_CAP_SECONDS"
"""The environment variable that sets :attr:`Backoff.cap` of the STOMP streams (seconds, > 0)."""


@frozen
class Backoff:
    """``initial`` x ``factor`` ^ (failures - 1), jittered by +/- ``jitter`` (a fraction), never above ``cap``.

    A connection that stayed up at least ``stable`` seconds resets the failure count; one that dropped sooner
    counts as a failure, so a broker that accepts and then drops at once is not hammered. Tests pass small
    values (``Backoff.instant()``) instead of sleeping for real.
    """

    initial: float = 1.0
    factor: float = 2.0
    cap: float = 60.0
    jitter: float = 0.25
    stable: float = 30.0

    def delay(self, failures: int, rand: float) -> float:
        """Seconds to wait after ``failures`` consecutive failures (0 -> none); ``rand`` is uniform in [0, 1)."""
        if failures <= 0:
            return 0.0
        base = min(self.cap, self.initial * self.factor ** min(failures - 1, 64))
        return max(0.0, min(self.cap, base * (1.0 + self.jitter * (2.0 * rand - 1.0))))

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Backoff:
        """The default policy with its cap from ``FEDCORE_STOMP_RECONNECT_CAP_SECONDS`` when that is set. A value
        that is not a positive finite number is logged as a warning (naming the variable) and the default kept."""
        default = cls()
        raw = environ.get(RECONNECT_CAP_VARIABLE, "").strip()
        if not raw:
            return default
        try:
            cap = float(raw)
        except ValueError:
            cap = math.nan
        if not (math.isfinite(cap) and cap > 0):
            log.warning("%s=%r is not a positive number of seconds; reconnecting with the default cap of %g s",
                        RECONNECT_CAP_VARIABLE, raw, default.cap)
            return default
        return attrs.evolve(default, cap=cap)

    @classmethod
    def instant(cls) -> Backoff:
        """A policy for tests: 10 ms doubling up to 0.2 s, a connection is stable after 0.5 s."""
        return cls(initial=0.01, cap=0.2, stable=0.5)
