"""The ``report`` pass of one offering: B's usage of every linked resource pair, totals and per user, reported on A
for each billing period the pass covers (:func:`fedcore.passes.billing_periods`).

Level-triggered and stateless: each pair and period is read on both sides and A gets only what it does not
already show (:func:`fedcore.services.usage.sync_usage`), so a second pass writes nothing. A's resource listing
is the one read the whole pass depends on; its failure propagates and nothing is written. The username map (one
listing per side) is read once per pass; when it cannot be read, every item is skipped rather than reported
without its per-user split. A pair and period whose usage could not be read on either side is skipped and
reported; nothing is written for it. B components that no A component maps to are left out of what A gets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from attrs import frozen

from fedcore.conversion import Conversion
from fedcore.errors import PortError, TransientError
from fedcore.ids import Uuid
from fedcore.model import Resource
from fedcore.passes import billing_periods, linked_resources
from fedcore.ports.orders import SourceResources
from fedcore.ports.usage import SourceUsage, TargetUsage
from fedcore.ports.users import SourceUsers, TargetUsers
from fedcore.services.usage import UsageReport, read_username_map, sync_usage
from fedcore.settings import FederationSettings
from fedcore.usage import UsageConverter


@frozen
class ReportPorts:
    """What the report pass talks to: A's resources, users and usage; B's users and usage."""

    a_resources: SourceResources
    a_users: SourceUsers
    a_usage: SourceUsage
    b_users: TargetUsers
    b_usage: TargetUsage


@frozen
class UsageItem:
    """One linked pair in one billing period: what reporting its usage did, or why it was skipped.

    ``transient`` marks a skip caused by a passing fault.
    """

    a_resource: Uuid
    b_resource: Uuid
    billing_period: dt.date
    report: UsageReport | None = None
    skipped: str = ""
    transient: bool = False

    @property
    def complete(self) -> bool:
        """True when A now shows this usage: nothing was skipped, to retry or refused."""
        report = self.report
        return report is not None and not report.retry and not report.failed


@frozen
class ReportPassReport:
    """One pass: the billing periods it covered (oldest first) and every pair and period, by A resource."""

    periods: tuple[dt.date, ...]
    items: tuple[UsageItem, ...] = ()

    @property
    def complete(self) -> bool:
        """True when every item is complete."""
        return all(item.complete for item in self.items)


def _converter(conversion: Conversion) -> UsageConverter:
    def to_source(b_usage: Mapping[str, Decimal]) -> Mapping[str, Decimal]:
        return conversion.usage_to_source({c: v for c, v in b_usage.items() if conversion.knows_target(c)})

    return to_source


def run_report_pass(
    ports: ReportPorts, settings: FederationSettings, conversion: Conversion, *, today: dt.date, periods: int
) -> ReportPassReport:
    """Report B's usage on A for every linked pair in the ``periods`` billing periods up to ``today``'s month.

    ``today`` is a date in the configured time zone. ValueError for ``periods`` below 1, before any call.
    """
    chosen = billing_periods(today, periods)
    pairs = [(a, a.link) for a in linked_resources(ports.a_resources.list_resources()) if a.link is not None]
    if not pairs:
        return ReportPassReport(chosen)
    try:
        usernames = read_username_map(ports.a_users, ports.b_users, settings.match.identity_field)
    except PortError as exc:
        reason, transient = f"the username map could not be read: {exc}", isinstance(exc, TransientError)
        return ReportPassReport(chosen, tuple(UsageItem(a.uuid, b, p, None, reason, transient)
                                              for a, b in pairs for p in chosen))  # fmt: skip
    convert = _converter(conversion)
    items = [_report(ports, a, b, period, convert=convert, usernames=usernames) for a, b in pairs for period in chosen]
    return ReportPassReport(chosen, tuple(items))


def _report(
    ports: ReportPorts, a: Resource, b: Uuid, period: dt.date, *, convert: UsageConverter, usernames: Mapping[str, str]
) -> UsageItem:
    try:
        report = sync_usage(
            a_resource=a.uuid, b_resource=b, billing_period=period, source=ports.a_usage, target=ports.b_usage,
            convert=convert, usernames=usernames,
        )  # fmt: skip
    except PortError as exc:
        return UsageItem(a.uuid, b, period, None, f"usage could not be read: {exc}", isinstance(exc, TransientError))
    return UsageItem(a.uuid, b, period, report)
