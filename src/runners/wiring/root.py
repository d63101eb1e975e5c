"""Wiring one offering's services from its configuration and its ports."""

from __future__ import annotations

import datetime as dt
import enum
import zoneinfo
from collections.abc import Callable

from attrs import frozen

from adapters.config import FedcoreConfig, OfferingConfig, federation_settings
from fedcore.conversion import Conversion, build_conversion
from fedcore.ports import (
    Clock,
    SourceOrders,
    SourceResources,
    SourceUsage,
    SourceUsers,
    TargetOrders,
    TargetProjects,
    TargetResources,
    TargetUsage,
    TargetUsers,
)
from fedcore.services.duplicates import SweepReport, sweep_duplicates
from fedcore.services.membership_pass import MembershipPassReport, MembershipPorts, run_membership_pass
from fedcore.services.orders import OrderPorts, OrderProcessor
from fedcore.services.report_pass import ReportPassReport, ReportPorts, run_report_pass
from fedcore.services.usernames import UsernameSyncReport, sync_username, sync_usernames
from fedcore.settings import FederationSettings


class Mode(enum.StrEnum):
    """The daemon's modes, named as waldur-site-agent names them (``username_sync`` is fedcore's own)."""

    ORDER_PROCESS = "order_process"
    MEMBERSHIP_SYNC = "membership_sync"
    REPORT = "report"
    USERNAME_SYNC = "username_sync"


MODES = tuple(Mode)


@frozen
class Ports:
    """Everything one offering's services talk to: A's and B's sides of each port, and a clock."""

    a_orders: SourceOrders
    a_resources: SourceResources
    a_users: SourceUsers
    a_usage: SourceUsage
    b_orders: TargetOrders
    b_resources: TargetResources
    b_projects: TargetProjects
    b_users: TargetUsers
    b_usage: TargetUsage
    clock: Clock

    @property
    def orders(self) -> OrderPorts:
        """The slice the order lifecycle takes."""
        return OrderPorts(self.a_orders, self.a_resources, self.b_orders, self.b_resources, self.b_projects)

    @property
    def memberships(self) -> MembershipPorts:
        """The slice the membership pass takes."""
        return MembershipPorts(self.a_resources, self.a_users, self.b_resources, self.b_projects, self.b_users)

    @property
    def reports(self) -> ReportPorts:
        """The slice the report pass takes."""
        return ReportPorts(self.a_resources, self.a_users, self.a_usage, self.b_users, self.b_usage)


PortsFactory = Callable[[OfferingConfig], Ports]
"""Builds the ports of one offering from its configuration (tokens, URLs and UUIDs are all in it)."""


@frozen
class OfferingServices:
    """One offering's services, ready to run: what a runner calls on every pass."""

    name: str
    settings: FederationSettings
    conversion: Conversion
    ports: Ports
    orders: OrderProcessor

    def sweep_duplicates(self, since: dt.datetime, settled_before: dt.datetime) -> SweepReport:
        """Repair what another replica duplicated on B: Create orders modified since ``since``, projects created
        since then (those created after ``settled_before`` are left for later)."""
        return sweep_duplicates(self.ports.orders, since, settled_before)

    def sync_usernames(self) -> UsernameSyncReport:
        """Copy every settled B offering-user username onto A (two listings, a patch per mismatch)."""
        return sync_usernames(self.ports.a_users, self.ports.b_users, self.settings.match.identity_field)

    def sync_username(self, cuid: str) -> UsernameSyncReport:
        """Copy one person's B username onto A (for one event instead of a full listing)."""
        return sync_username(self.ports.a_users, self.ports.b_users, cuid, self.settings.match.identity_field)

    def membership_pass(self) -> MembershipPassReport:
        """One ``membership_sync`` pass: teams mirrored on B, identities released, end dates and limits in step."""
        return run_membership_pass(self.ports.memberships, self.settings, self.conversion)

    def report_pass(self, today: dt.date, periods: int) -> ReportPassReport:
        """One ``report`` pass: B's usage onto A for ``periods`` billing periods up to ``today``'s month.

        ``today`` is the date in the configured time zone (:func:`local_today`); ``periods`` is the
        configuration's ``reporting_periods``.
        """
        return run_report_pass(self.ports.reports, self.settings, self.conversion, today=today, periods=periods)


def local_today(clock: Clock, timezone: str) -> dt.date:
    """Today's date in ``timezone`` (the configuration's ``timezone``, an IANA name) by ``clock``: the runner's
    reading of the Clock port for the report pass, whose billing periods are months in that zone."""
    return clock.now().astimezone(zoneinfo.ZoneInfo(timezone)).date()


def build_offering(offering: OfferingConfig, *, ports: PortsFactory) -> OfferingServices:
    """Wire one offering: its :class:`FederationSettings`, its conversion, its ports, its services."""
    settings = federation_settings(offering)
    conversion = build_conversion(settings.components)
    bound = ports(offering)
    processor = OrderProcessor(bound.orders, conversion, passthrough_attributes=settings.passthrough_attributes)
    return OfferingServices(offering.name, settings, conversion, bound, processor)


def takes_part(offering: OfferingConfig, mode: Mode) -> bool:
    """Whether ``offering`` is served in ``mode`` (by its ``*_backend: waldur`` keys)."""
    match mode:
        case Mode.ORDER_PROCESS:
            return offering.processes_orders
        case Mode.MEMBERSHIP_SYNC:
            return offering.syncs_membership
        case Mode.REPORT:
            return offering.reports_usage
        case Mode.USERNAME_SYNC:
            return offering.username_reconciliation_enabled
    raise AssertionError(mode)  # pragma: no cover


def build_mode(config: FedcoreConfig, mode: Mode | str, *, ports: PortsFactory) -> tuple[OfferingServices, ...]:
    """Every offering of ``config`` that takes part in ``mode``, wired; ValueError for an unknown mode name."""
    try:
        chosen = Mode(mode)
    except ValueError:
        raise ValueError(f"unknown mode {mode!r}; known: {', '.join(MODES)}") from None
    return tuple(build_offering(o, ports=ports) for o in config.offerings if takes_part(o, chosen))
