"""Fault injection shared by the in-memory fakes: transient faults, refusals, "apply then fail", and crashes.

Fakes call :meth:`Faults.before` and :meth:`Faults.after` around every port method, so tests can make a method
fail before it acts (a passing fault, or a refusal), act and then fail (Waldur's known ``set_state_done`` 500), or
kill the agent right after a write (:class:`Crash`), and count calls to assert call budgets.
"""

from __future__ import annotations

from collections import Counter

from fedcore.errors import PermanentError, TransientError


class Crash(BaseException):
    """Raised right after a write to simulate the agent dying: not an ``Exception``, so no service catches it."""


class Faults:
    """Per-method fault plan and call counters, shared by the fakes that should see the same crash budget."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.writes = 0
        self._fail_before: Counter[str] = Counter()
        self._refuse: Counter[str] = Counter()
        self._fail_after: Counter[str] = Counter()
        self._crash_in: int | None = None

    def fail_next(self, method: str, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` raise TransientError without acting."""
        self._fail_before[method] += times

    def refuse_next(self, method: str, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` raise PermanentError (a 403) without acting."""
        self._refuse[method] += times

    def apply_then_fail(self, method: str, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` act, then raise TransientError (the caller cannot know)."""
        self._fail_after[method] += times

    def crash_after_writes(self, writes: int) -> None:
        """Raise :class:`Crash` right after the ``writes``-th write from now (1 = the next write)."""
        if writes < 1:
            raise ValueError("writes must be at least 1")
        self._crash_in = writes

    def clear(self) -> None:
        """Stop injecting anything (counters are kept)."""
        self._fail_before.clear()
        self._refuse.clear()
        self._fail_after.clear()
        self._crash_in = None

    def reset_counts(self) -> None:
        """Forget the call counters."""
        self.calls.clear()
        self.writes = 0

    @property
    def armed(self) -> bool:
        """True while any fault is pending."""
        return bool(+self._fail_before or +self._refuse or +self._fail_after or self._crash_in is not None)

    def before(self, side: str, method: str) -> None:
        """Count the call; raise if a fault is planned before it acts."""
        name = f"{side}.{method}"
        self.calls[name] += 1
        for key in (name, method):
            if self._fail_before[key] > 0:
                self._fail_before[key] -= 1
                raise TransientError("injected fault", where=name)
            if self._refuse[key] > 0:
                self._refuse[key] -= 1
                raise PermanentError("injected refusal", where=name, status=403)

    def after(self, side: str, method: str, *, write: bool) -> None:
        """After the call acted: raise if a fault or a crash is planned after it."""
        name = f"{side}.{method}"
        if write:
            self.writes += 1
            if self._crash_in is not None:
                self._crash_in -= 1
                if self._crash_in == 0:
                    self._crash_in = None
                    raise Crash(f"agent crashed after {name}")
        for key in (name, method):
            if self._fail_after[key] > 0:
                self._fail_after[key] -= 1
                raise TransientError("injected fault after the change was applied", where=name)
