"""Playing B's own service provider: per offering, approve pending-provider orders and finish them after a delay,
or fail/reject them by rule, so federated orders complete with nothing else running. Off by default.

A background thread calls :meth:`ProviderSimulation.tick` every few tens of milliseconds; tests with a fake clock
call ``tick()`` themselves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from . import orderflow

if TYPE_CHECKING:
    from .core import Core
    from .records_market import Order

OUTCOMES = ("done", "erred", "rejected")


@attrs.frozen
class Condition:
    """Matches an order: by a limit value (``limit`` above ``above``), an attribute value, or the order type."""

    limit: str | None = None
    above: int | None = None
    attribute: str | None = None
    equals: Any = None
    order_type: str | None = None

    def matches(self, order: Order) -> bool:
        """All given parts must hold."""
        if self.order_type is not None and order.type != self.order_type:
            return False
        if self.limit is not None and not order.limits.get(self.limit, 0) > (self.above or 0):
            return False
        return self.attribute is None or order.attributes.get(self.attribute) == self.equals


@attrs.frozen
class SimulationRule:
    """How the simulated provider treats an offering's orders.

    ``delay``: seconds between the order reaching pending-provider and its end. ``outcome``: the default end.
    ``reject_when`` / ``err_when``: conditions that reject (at approval time) or fail (at the end) an order.
    """

    delay: float = 0.0
    outcome: str = "done"
    reject_when: tuple[Condition, ...] = ()
    err_when: tuple[Condition, ...] = ()
    error_message: str = "Simulated provider failure."

    def __attrs_post_init__(self) -> None:
        if self.outcome not in OUTCOMES or self.delay < 0:
            raise ValueError(f"outcome must be one of {OUTCOMES} and delay non-negative")

    def to_json(self) -> dict[str, Any]:
        """The rule as the admin API shows it."""
        return attrs.asdict(self, recurse=True)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SimulationRule:
        """Parse the admin API's JSON; unknown keys are rejected."""
        allowed = {f.name for f in attrs.fields(cls)}
        if set(data) - allowed:
            raise ValueError(f"unknown simulation fields: {sorted(set(data) - allowed)}")
        fields = dict(data)
        for key in ("reject_when", "err_when"):
            fields[key] = tuple(Condition(**c) for c in fields.get(key, ()))
        return cls(**fields)


class ProviderSimulation:
    """The per-offering rules and the thread that applies them."""

    def __init__(self, core: Core, *, interval: float = 0.02) -> None:
        self._core = core
        self._rules: dict[str, SimulationRule] = {}
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def rules(self) -> dict[str, SimulationRule]:
        """Offering UUID -> rule."""
        with self._core.lock:
            return dict(self._rules)

    def configure(self, offering_uuid: str, rule: SimulationRule | None) -> None:
        """Start (or with None stop) simulating an offering's provider."""
        with self._core.lock:
            if rule is None:
                self._rules.pop(offering_uuid, None)
            else:
                self._rules[offering_uuid] = rule
        if rule is not None and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="provider-simulation", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.tick()

    def stop(self) -> None:
        """Stop the background thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)

    def tick(self) -> int:
        """Apply every due step now; returns how many orders changed."""
        core = self._core
        pending: list[Callable[[], None]] = []
        changed = 0
        with core.lock:
            saved, core.after_commit = core.after_commit, pending
            try:
                now = core.now()
                for offering_uuid, rule in self._rules.items():
                    for key in core.state.orders_by_offering.get(offering_uuid):
                        order = core.state.orders[key]
                        if order.state not in ("pending-provider", "executing"):
                            continue
                        if (now - order.modified).total_seconds() < (rule.delay if order.state == "executing" else 0):
                            continue
                        self._step(order, rule)
                        changed += 1
            finally:
                core.after_commit = saved
        for action in pending:
            action()
        return changed

    def _step(self, order: Order, rule: SimulationRule) -> None:
        core = self._core
        if order.state == "pending-provider":
            if rule.outcome == "rejected" or any(c.matches(order) for c in rule.reject_when):
                orderflow.reject(core, order, by_provider=True, comment="Rejected by the simulated provider.")
            else:
                orderflow.approve_by_provider(core, order, None)
            return
        if rule.outcome == "erred" or any(c.matches(order) for c in rule.err_when):
            orderflow.set_erred(core, order, rule.error_message, "")
        else:
            orderflow.set_done(core, order)
