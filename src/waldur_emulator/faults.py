"""Fault injection for reliability tests: latency, error statuses, timeouts, dropped connections and
"apply then fail" (the change is committed, the response is a 500, as Waldur's set_state_done sometimes does).

Rules are matched by HTTP method and a regular expression on the path; the first matching rule decides.
Random choices come from a seeded generator, so a seeded run injects the same faults in the same order.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Mapping
from typing import Any

import attrs

ERROR_STATUSES = (500, 502, 503)
FAULT_KINDS = ("error", "timeout", "drop", "apply_then_fail")


@attrs.frozen
class FaultRule:
    """One rule: where it applies, what it injects and how often.

    ``kind`` is ``None`` (latency only), ``error`` (answer ``status`` without applying), ``timeout`` (hold the
    request ``timeout_seconds`` and then drop it), ``drop`` (close the connection without an answer) or
    ``apply_then_fail`` (apply, then answer 500). ``rate`` is the probability per matching request; ``times``
    limits how many requests the rule fires on (None: unlimited).
    """

    path: str = ".*"
    method: str = "*"
    latency: float = 0.0
    kind: str | None = None
    rate: float = 1.0
    status: int = 500
    timeout_seconds: float = 30.0
    times: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.kind is not None and self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")
        if self.kind == "error" and self.status not in ERROR_STATUSES:
            raise ValueError(f"error status must be one of {ERROR_STATUSES}")
        if not 0.0 <= self.rate <= 1.0 or self.latency < 0:
            raise ValueError("rate must be within [0, 1] and latency non-negative")
        re.compile(self.path)

    def matches(self, method: str, path: str) -> bool:
        """Whether this rule applies to a request."""
        return (self.method in ("*", method)) and re.search(self.path, path) is not None

    def to_json(self) -> dict[str, Any]:
        """The rule as the admin API shows it."""
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FaultRule:
        """Build a rule from the admin API's JSON (unknown keys are rejected)."""
        unknown = set(data) - {f.name for f in attrs.fields(cls)}
        if unknown:
            raise ValueError(f"unknown fault rule fields: {sorted(unknown)}")
        return cls(**data)


@attrs.frozen
class Decision:
    """What to do with one request."""

    latency: float = 0.0
    kind: str | None = None
    status: int = 500
    timeout_seconds: float = 0.0


NO_FAULT = Decision()


class FaultInjector:
    """The runtime-switchable rule list of one emulator."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._fired: dict[int, int] = {}
        self._random = random.Random(seed)
        self.injected = 0

    def add(self, rule: FaultRule) -> FaultRule:
        """Append a rule (it applies from the next request)."""
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()
            self._fired.clear()

    def reseed(self, seed: int) -> None:
        """Restart the random sequence."""
        with self._lock:
            self._random = random.Random(seed)

    @property
    def rules(self) -> list[FaultRule]:
        """A copy of the current rules."""
        with self._lock:
            return list(self._rules)

    def decide(self, method: str, path: str) -> Decision:
        """The fault (if any) for this request; admin endpoints are never faulted."""
        if path.startswith("/api/emulator/"):
            return NO_FAULT
        with self._lock:
            for index, rule in enumerate(self._rules):
                if not rule.matches(method, path):
                    continue
                fired = self._fired.get(index, 0)
                if rule.times is not None and fired >= rule.times:
                    continue
                if rule.rate < 1.0 and self._random.random() >= rule.rate:
                    return Decision(latency=rule.latency)
                self._fired[index] = fired + 1
                if rule.kind is not None:
                    self.injected += 1
                return Decision(rule.latency, rule.kind, rule.status, rule.timeout_seconds)
        return NO_FAULT
