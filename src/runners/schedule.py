"""When the daemon's jobs run and when a troubled order is tried again: pure bookkeeping over a number clock.

- :func:`resolve_periods`: minutes between two passes of each mode, from the configuration's ``periods``, else the
  existing agent's environment variables, else fedcore's defaults.
- :class:`Scheduler`: which jobs (an offering in a mode) are due at a time, and when the next one will be.
- :class:`OrderBackoff`: each order whose turn ended on a failing call gets an attempt count, its last error and a
  next-try time that doubles with each failure up to a cap; an order that goes well is forgotten at once.

Nothing here reads a clock or sleeps: every method takes ``now`` (seconds on any monotonic scale), so the logic is
tested with plain numbers. :class:`OrderBackoff` is shared by worker threads and guards itself with a lock.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Collection, Hashable, Mapping
from typing import Generic, TypeVar

from attrs import frozen

from adapters.config import Periods
from fedcore.errors import ConfigError
from fedcore.ids import Uuid
from runners.wiring import Mode

DEFAULT_MINUTES: Mapping[Mode, float] = {
    Mode.ORDER_PROCESS: 1.0,
    Mode.MEMBERSHIP_SYNC: 2.0,
    Mode.REPORT: 10.0,
    Mode.USERNAME_SYNC: 5.0,
}
"""fedcore's defaults: shorter than the agent's (5, 5, 30, 60) because an idle pass costs one call."""

ENV_VARS: Mapping[Mode, str] = {
    Mode.ORDER_PROCESS: "WALDUR_SITE_AGENT_ORDER_PROCESS_PERIOD_MINUTES",
    Mode.MEMBERSHIP_SYNC: "WALDUR_SITE_AGENT_MEMBERSHIP_SYNC_PERIOD_MINUTES",
    Mode.REPORT: "WALDUR_SITE_AGENT_REPORT_PERIOD_MINUTES",
    Mode.USERNAME_SYNC: "WALDUR_SITE_AGENT_RECONCILIATION_PERIOD_MINUTES",
}
"""The environment variables waldur-site-agent reads for the same periods (in minutes)."""

K = TypeVar("K", bound=Hashable)


@frozen
class Period:
    """How often a mode runs, and where that came from (for the start-up log)."""

    mode: Mode
    minutes: float
    source: str

    @property
    def seconds(self) -> float:
        """The period in seconds."""
        return self.minutes * 60.0


def resolve_periods(periods: Periods, environ: Mapping[str, str]) -> dict[Mode, Period]:
    """Each mode's period: ``periods.<mode>`` in the file, else its agent variable in ``environ``, else the default.

    A variable that is set but is not a positive number is a :class:`ConfigError` naming it (all at once).
    """
    resolved: dict[Mode, Period] = {}
    problems: list[str] = []
    for mode in Mode:
        configured: float | None = getattr(periods, mode.value)
        variable = ENV_VARS[mode]
        raw = environ.get(variable, "").strip()
        if configured is not None:
            resolved[mode] = Period(mode, configured, f"periods.{mode.value} in the configuration")
        elif raw:
            minutes = _minutes(raw)
            if minutes is None:
                problems.append(f"{variable}: must be a positive number of minutes, got {raw!r}")
                continue
            resolved[mode] = Period(mode, minutes, f"${variable}")
        else:
            resolved[mode] = Period(mode, DEFAULT_MINUTES[mode], "fedcore's default")
    if problems:
        raise ConfigError(problems)
    return resolved


def _minutes(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if 0 < value < math.inf else None


class Scheduler(Generic[K]):
    """Due times of the daemon's jobs. A job is due at once, then ``period`` after each start of it.

    A job that is still running is never due; one that overran its period is due again as soon as it ends.
    """

    def __init__(self, periods: Mapping[K, float]) -> None:
        self._periods = dict(periods)
        self._next: dict[K, float] = dict.fromkeys(periods, -math.inf)
        self._running: set[K] = set()

    def due(self, now: float) -> list[K]:
        """The jobs to start at ``now``, in the order they were given."""
        return [job for job, at in self._next.items() if at <= now and job not in self._running]

    def started(self, job: K, now: float) -> None:
        """``job`` started at ``now``: its next start is one period later."""
        self._running.add(job)
        self._next[job] = now + self._periods[job]

    def hurry(self, job: K) -> None:
        """Make ``job`` due at once (or, when it is running, as soon as it ends): an event asked for it."""
        self._next[job] = -math.inf

    def finished(self, job: K) -> None:
        """``job`` ended."""
        self._running.discard(job)

    @property
    def running(self) -> frozenset[K]:
        """Jobs started and not yet finished."""
        return frozenset(self._running)

    def seconds_to_next(self, now: float) -> float | None:
        """How long until a job not running is due (0 when one is due now); None when every job is running."""
        waiting = [at for job, at in self._next.items() if job not in self._running]
        return max(0.0, min(waiting) - now) if waiting else None


@frozen
class BackoffPolicy:
    """Delay before an order that failed ``n`` times in a row is tried again: ``initial * 2**(n-1)``, capped."""

    initial: float = 30.0
    maximum: float = 600.0

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failure in a row (1 = the first)."""
        if attempts < 1:
            return 0.0
        return min(self.maximum, self.initial * 2.0 ** min(attempts - 1, 62))


@frozen
class Trouble:
    """An order whose last turns ended on a failing call: how many in a row, the last error, when to try again."""

    attempts: int
    last_error: str
    next_try: float


class OrderBackoff:
    """In-memory backoff of troubled orders, per offering and A order UUID. Thread-safe.

    Only orders whose turn ended on a failing call are kept (:attr:`~fedcore.services.orders.OrderOutcome.fault`);
    any other outcome forgets the order, so a healthy order never waits. After a restart the table is empty and
    the first pass tries every open order: A and B stay the truth, this is only a schedule.
    """

    def __init__(self, policy: BackoffPolicy | None = None) -> None:
        self.policy = policy or BackoffPolicy()
        self._troubles: dict[tuple[str, Uuid], Trouble] = {}
        self._lock = threading.Lock()

    def blocked(self, offering: str, now: float) -> frozenset[Uuid]:
        """The orders of ``offering`` not to try at ``now``."""
        with self._lock:
            return frozenset(u for (o, u), t in self._troubles.items() if o == offering and t.next_try > now)

    def record(self, offering: str, order: Uuid, *, fault: bool, error: str, now: float) -> Trouble | None:
        """An order's turn ended at ``now``: on a failing call (``fault``, with ``error``) or not.

        Returns the order's trouble after this turn (None when it went well and is forgotten).
        """
        key = (offering, order)
        with self._lock:
            if not fault:
                self._troubles.pop(key, None)
                return None
            previous = self._troubles.get(key)
            attempts = previous.attempts + 1 if previous is not None else 1
            trouble = Trouble(attempts, error, now + self.policy.delay(attempts))
            self._troubles[key] = trouble
            return trouble

    def keep_only(self, offering: str, open_orders: Collection[Uuid]) -> None:
        """Forget the orders of ``offering`` that are no longer open on A."""
        with self._lock:
            for key in [k for k in self._troubles if k[0] == offering and k[1] not in open_orders]:
                del self._troubles[key]

    def get(self, offering: str, order: Uuid) -> Trouble | None:
        """The trouble of one order, if any."""
        with self._lock:
            return self._troubles.get((offering, order))

    def troubles(self, offering: str | None = None) -> dict[tuple[str, Uuid], Trouble]:
        """A copy of the table (of one offering when given)."""
        with self._lock:
            return {k: t for k, t in self._troubles.items() if offering is None or k[0] == offering}

