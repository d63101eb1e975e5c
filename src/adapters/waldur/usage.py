"""The usage ports over Waldur's component usages: read on B as the consumer, read and write on A as the provider.

:class:`TargetUsage` implements :class:`fedcore.ports.TargetUsage` on Waldur B; :class:`SourceUsage` implements
:class:`fedcore.ports.SourceUsage` on Waldur A. A billing period is a month: any date names the month it falls in,
and Waldur is always asked for its first day.

**Unknown resources.** Waldur's usage listings filter by ``resource_uuid`` and answer an empty list for a resource
that does not exist (or is not visible), the same as for one with nothing reported. When, and only when, a
listing comes back empty (or ``set_usage`` is refused with a 400), the resource itself is read with
``field=uuid``; its 404 becomes :class:`~fedcore.errors.NotFound`. A resource with usage costs no extra call.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from decimal import Decimal

from adapters.waldur.http import Params, WaldurHttp
from adapters.waldur.wire import structure_list, to_domain
from adapters.waldur.wire_usage import (
    COMPONENT_USAGE_FIELDS,
    USER_USAGE_FIELDS,
    WireComponentUsage,
    WireUserUsage,
    amount,
    component_total,
    component_usage_uuid,
    user_usage_to_domain,
)
from fedcore.errors import NotFound, PermanentError
from fedcore.ids import Uuid
from fedcore.model import ResourceUsage, UserUsage

USAGES = "marketplace-component-usages/"
USER_USAGES = "marketplace-component-user-usages/"
CONSUMER_RESOURCES = "marketplace-resources/"
PROVIDER_RESOURCES = "marketplace-provider-resources/"


def month(day: dt.date) -> dt.date:
    """The billing period ``day`` falls in (its first day)."""
    return day.replace(day=1)


def report_moment(period: dt.date) -> str:
    """The ``date`` sent with ``set_usage``: noon UTC on the period's first day.

    Waldur files a usage under the month of this moment; noon keeps it in that month whatever the server's time
    zone (up to twelve hours either way).
    """
    return dt.datetime.combine(month(period), dt.time(12), tzinfo=dt.UTC).isoformat()


class _Usages:
    """Reading one Waldur's component usages; ``resources`` is the resource view the token may read."""

    def __init__(self, http: WaldurHttp, resources: str) -> None:
        self._http = http
        self._resources = resources

    def components(self, resource_uuid: Uuid, period: dt.date, params: Params = ()) -> list[WireComponentUsage]:
        where = self._http.where("GET", USAGES)
        query = [("resource_uuid", resource_uuid), ("billing_period", period.isoformat()), *params]
        return structure_list(self._http.list(USAGES, query, fields=COMPONENT_USAGE_FIELDS), WireComponentUsage, where)

    def require(self, resource_uuid: Uuid) -> None:
        """NotFound (from the resource's own 404) when the resource does not exist or is not visible."""
        self._http.get(f"{self._resources}{resource_uuid}/", fields=("uuid",))

    def read(self, resource_uuid: Uuid, billing_period: dt.date) -> ResourceUsage:
        period = month(billing_period)
        rows = self.components(resource_uuid, period)
        if not rows:
            self.require(resource_uuid)
            return ResourceUsage(resource_uuid, period)
        where = self._http.where("GET", USAGES)
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for row in rows:  # several plan periods of one month each carry a part of the total
            component, value = to_domain(where, component_total, row)
            totals[component] += value
        return ResourceUsage(resource_uuid, period, dict(totals), self.per_user(resource_uuid, period))

    def per_user(self, resource_uuid: Uuid, period: dt.date) -> list[UserUsage]:
        where = self._http.where("GET", USER_USAGES)
        query = [("resource_uuid", resource_uuid), ("component_usage__billing_period", period.isoformat())]
        rows = structure_list(self._http.list(USER_USAGES, query, fields=USER_USAGE_FIELDS), WireUserUsage, where)
        amounts: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for row in rows:
            usage = to_domain(where, user_usage_to_domain, row)
            amounts[usage.component, usage.username] += usage.amount
        return [UserUsage(component, username, value) for (component, username), value in sorted(amounts.items())]


class TargetUsage:
    """Waldur B's usage of the resources fedcore ordered, as their consumer sees it."""

    def __init__(self, http: WaldurHttp) -> None:
        self._usages = _Usages(http, CONSUMER_RESOURCES)

    def read_usage(self, resource_uuid: Uuid, billing_period: dt.date) -> ResourceUsage:
        """Component usages (``resource_uuid``, ``billing_period``) and their per-user split
        (``component_usage__billing_period``); NotFound for an unknown resource (see the module's docstring)."""
        return self._usages.read(resource_uuid, billing_period)


class SourceUsage:
    """Waldur A's usage of the offering's resources, read and reported as their service provider."""

    def __init__(self, http: WaldurHttp) -> None:
        self._http = http
        self._usages = _Usages(http, PROVIDER_RESOURCES)

    def read_usage(self, resource_uuid: Uuid, billing_period: dt.date) -> ResourceUsage:
        """What A shows for the resource in the period; NotFound for an unknown resource."""
        return self._usages.read(resource_uuid, billing_period)

    def set_usage(self, resource_uuid: Uuid, billing_period: dt.date, totals: Mapping[str, Decimal]) -> None:
        """``POST marketplace-component-usages/set_usage/``: each component's total replaced (so retried).

        Amounts are sent as decimal strings rounded to 0.01; nothing is sent for no totals. Waldur answers an
        unknown resource with a 400; that one refusal is told apart from the others by reading the resource.
        """
        if not totals:
            return
        path = f"{USAGES}set_usage/"
        usages = [{"type": component, "amount": amount(value)} for component, value in sorted(totals.items())]
        body = {"resource": resource_uuid, "date": report_moment(billing_period), "usages": usages}
        try:
            self._http.post(path, body, idempotent=True)
        except PermanentError as refused:
            if refused.status != 400:
                raise
            try:
                self._usages.require(resource_uuid)
            except NotFound as missing:
                raise missing from refused
            raise

    def set_user_usages(
        self, resource_uuid: Uuid, billing_period: dt.date, component: str, usages: Mapping[str, Decimal]
    ) -> None:
        """``POST marketplace-component-usages/{uuid}/set_user_usages/`` on the component's usage in the period.

        The ComponentUsage is found by listing (``resource_uuid``, ``billing_period``, ``type``); NotFound when
        the component has no total there yet (or the resource is unknown). Each user's amount is created or
        replaced, so the call is retried; nothing is sent for no users.
        """
        period = month(billing_period)
        found = [row for row in self._usages.components(resource_uuid, period, [("type", component)])
                 if row.type == component]
        where = self._http.where("GET", USAGES)
        if not found:
            raise NotFound(f"no {component!r} usage of resource {resource_uuid} in {period:%Y-%m}", where=where)
        latest = max(found, key=lambda row: (row.date or "", row.uuid))
        parent = to_domain(where, component_usage_uuid, latest)
        if not usages:
            return
        items = [{"username": username, "usage": amount(value)} for username, value in sorted(usages.items())]
        self._http.post(f"{USAGES}{parent}/set_user_usages/", {"usages": items}, idempotent=True)
