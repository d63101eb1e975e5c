"""An in-memory Waldur usage ledger: component usages and per-user usages per resource and period.

:class:`MemoryUsage` satisfies :class:`~fedcore.ports.usage.SourceUsage` and
:class:`~fedcore.ports.usage.TargetUsage`, with Waldur's rules where fedcore depends on them: a billing
period is a month (any date in it names it); ``set_usage`` creates or replaces a component's usage; user
usage hangs off an existing component usage (NotFound otherwise); unknown resources are NotFound;
negative amounts are refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal

from adapters.memory.faults import Faults
from fedcore.errors import NotFound, PermanentError
from fedcore.ids import Uuid, normalize_uuid
from fedcore.model import ResourceUsage, UserUsage

_Key = tuple[Uuid, dt.date]


def month(day: dt.date) -> dt.date:
    """The billing period (first day of the month) that ``day`` falls in."""
    return day.replace(day=1)


class MemoryUsage:
    """Usage of the resources of one Waldur (A or B). Arrange with :meth:`add_resource` and :meth:`report`."""

    def __init__(self, side: str, *, faults: Faults | None = None) -> None:
        self.side = side
        self.faults = faults or Faults()
        self._resources: set[Uuid] = set()
        self._totals: dict[_Key, dict[str, Decimal]] = {}
        self._users: dict[_Key, dict[str, dict[str, Decimal]]] = {}

    # --- helpers for tests ---------------------------------------------------------------------

    def add_resource(self, resource_uuid: str) -> Uuid:
        """Make a resource known (usage can only be reported for known resources)."""
        uuid = normalize_uuid(resource_uuid)
        self._resources.add(uuid)
        return uuid

    def report(
        self, resource_uuid: Uuid, billing_period: dt.date, totals: Mapping[str, Decimal], per_user: Iterable[UserUsage]
    ) -> None:
        """Record usage directly, as the provider's own reporting would (bypasses faults and rules)."""
        key = (self._known(resource_uuid), month(billing_period))
        self._totals[key] = dict(totals)
        users = self._users.setdefault(key, {})
        for row in per_user:
            users.setdefault(row.component, {})[row.username] = row.amount

    def totals(self, resource_uuid: Uuid, billing_period: dt.date) -> dict[str, Decimal]:
        """The component totals recorded for the resource and period."""
        return dict(self._totals.get((normalize_uuid(resource_uuid), month(billing_period)), {}))

    def user_usages(self, resource_uuid: Uuid, billing_period: dt.date, component: str) -> dict[str, Decimal]:
        """Username -> amount recorded for one component of the resource and period."""
        key = (normalize_uuid(resource_uuid), month(billing_period))
        return dict(self._users.get(key, {}).get(component, {}))

    # --- SourceUsage / TargetUsage -------------------------------------------------------------

    def read_usage(self, resource_uuid: Uuid, billing_period: dt.date) -> ResourceUsage:
        """Totals and per-user usage of the resource in the period (empty when none was reported)."""
        self.faults.before(self.side, "read_usage")
        key = (self._known(resource_uuid), month(billing_period))
        rows = [
            UserUsage(component, username, amount)
            for component, users in sorted(self._users.get(key, {}).items())
            for username, amount in sorted(users.items())
        ]
        usage = ResourceUsage(key[0], key[1], self._totals.get(key, {}), rows)
        self.faults.after(self.side, "read_usage", write=False)
        return usage

    def set_usage(self, resource_uuid: Uuid, billing_period: dt.date, totals: Mapping[str, Decimal]) -> None:
        """Create or replace the usage of each given component."""
        self.faults.before(self.side, "set_usage")
        key = (self._known(resource_uuid), month(billing_period))
        self._check_amounts(totals, "set_usage")
        self._totals.setdefault(key, {}).update(totals)
        self.faults.after(self.side, "set_usage", write=True)

    def set_user_usages(
        self, resource_uuid: Uuid, billing_period: dt.date, component: str, usages: Mapping[str, Decimal]
    ) -> None:
        """Create or update users' usage of a component that already has a component usage."""
        self.faults.before(self.side, "set_user_usages")
        key = (self._known(resource_uuid), month(billing_period))
        if component not in self._totals.get(key, {}):
            raise NotFound(f"no component usage for {component!r}", where=f"{self.side} set_user_usages", status=404)
        self._check_amounts(usages, "set_user_usages")
        self._users.setdefault(key, {}).setdefault(component, {}).update(usages)
        self.faults.after(self.side, "set_user_usages", write=True)

    # --- internals -----------------------------------------------------------------------------

    def _known(self, resource_uuid: Uuid) -> Uuid:
        uuid = normalize_uuid(resource_uuid)
        if uuid not in self._resources:
            raise NotFound(f"resource {uuid} not found", where=f"{self.side} component-usages", status=404)
        return uuid

    def _check_amounts(self, amounts: Mapping[str, Decimal], method: str) -> None:
        negative = sorted(k for k, v in amounts.items() if v < 0)
        if negative:
            raise PermanentError(f"negative usage for {', '.join(negative)}", where=f"{self.side} {method}", status=400)
