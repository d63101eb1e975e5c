"""The reconnection policy of the supervisor: exponential backoff with jitter, capped, never giving up."""

from __future__ import annotations

from attrs import frozen


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
    def instant(cls) -> Backoff:
        """A policy for tests: 10 ms doubling up to 0.2 s, a connection is stable after 0.5 s."""
        return cls(initial=0.01, cap=0.2, stable=0.5)
