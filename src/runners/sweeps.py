"""When the duplicate sweep (:mod:`fedcore.services.duplicates`) runs: within an offering's order pass, once every
``period`` seconds, over the B orders modified since the previous successful sweep started (less a margin for the
clocks of fedcore and B), the first one of a process over the last week.

A sweep that could not run (B or A unreachable) is tried again after ``period``, over a window that still starts
where the last successful one did: an outage never leaves a gap.
"""

from __future__ import annotations

import datetime as dt
import logging

from attrs import Factory, define

from fedcore.errors import PortError
from fedcore.services.duplicates import SweepReport
from runners.telemetry import NullTelemetry, Telemetry
from runners.wiring import OfferingServices

DEFAULT_SWEEP_MINUTES = 10.0
FIRST_WINDOW = dt.timedelta(days=7)
"""How far back the first sweep of a process looks: a replica may have died before this process started."""
PROJECT_SETTLE = dt.timedelta(minutes=5)
"""A duplicate B project younger than this is left for a later sweep (a replica may be creating it right now)."""

REPAIR_KINDS = {"DeleteDuplicate": "order_deleted", "TerminateDuplicate": "resource_terminated",
                "DeleteProject": "project_deleted"}
"""An order turn's repair steps (:attr:`OrderOutcome.steps`) as the kinds of ``fedcore_duplicates_repaired_total``."""

log = logging.getLogger("fedcore.orders")


@define
class SweepSchedule:
    """Per offering: when the last sweep was tried, and where the next window starts."""

    period: float = DEFAULT_SWEEP_MINUTES * 60
    """Seconds between sweeps of one offering; 0 or less: never."""
    _tried: dict[str, float] = Factory(dict)
    _window: dict[str, float] = Factory(dict)

    def due(self, offering: str, now: float) -> dt.datetime | None:
        """The start of the window to sweep when a sweep of ``offering`` is due at ``now`` (epoch seconds)."""
        if self.period <= 0:
            return None
        tried = self._tried.get(offering)
        if tried is not None and now - tried < self.period:
            return None
        start = self._window.get(offering, now - FIRST_WINDOW.total_seconds())
        return dt.datetime.fromtimestamp(start, dt.UTC)

    def record(self, offering: str, started: float, *, ok: bool) -> None:
        """A sweep started at ``started`` ended; a successful one moves the next window's start (with a margin of
        two periods for clock skew between fedcore and B)."""
        self._tried[offering] = started
        if ok:
            self._window[offering] = started - 2 * self.period


def sweep_if_due(
    services: OfferingServices, schedule: SweepSchedule, now: float, telemetry: Telemetry | None = None
) -> str:
    """Run the duplicate sweep of ``services``' offering when it is due; log what it found and did. Returns a
    summary for the pass's log line ("" when no sweep ran, or it found nothing)."""
    since = schedule.due(services.name, now)
    if since is None:
        return ""
    where = {"offering": services.name, "mode": "order_process"}
    try:
        settled = dt.datetime.fromtimestamp(now, dt.UTC) - PROJECT_SETTLE
        report = services.sweep_duplicates(since, settled)
    except PortError as exc:
        schedule.record(services.name, now, ok=False)
        log.warning("duplicate sweep could not run: %s", exc, extra=where)
        return "duplicate sweep not run"
    schedule.record(services.name, now, ok=report.ok)
    _log(report, where)
    counted = telemetry or NullTelemetry()
    for kind, count in report.repaired.items():
        for _ in range(count):
            counted.duplicate_repaired(services.name, kind)
    if not (report.keys_duplicated or report.projects_duplicated or report.failed):
        log.debug("%s", summary(report), extra=where)
        return ""
    return summary(report)


def _log(report: SweepReport, where: dict[str, str]) -> None:
    for line in report.repairs:
        log.warning("duplicate sweep: %s", line, extra=where)
    for line in report.refused:
        log.warning("duplicate sweep: %s", line, extra=where)
    for line in report.failed:
        log.warning("duplicate sweep: could not read or repair %s", line, extra=where)
    for line in report.waiting:
        log.info("duplicate sweep: %s; repaired once B has finished it", line, extra=where)


def summary(report: SweepReport) -> str:
    """One phrase for the order pass's summary line."""
    parts = [f"duplicate sweep: {report.orders_listed} keyed B orders looked at"]
    if report.keys_duplicated or report.projects_duplicated:
        parts.append(f"{report.keys_duplicated} keys and {report.projects_duplicated} B projects duplicated, "
                     f"{len(report.repairs)} repaired")
    if report.waiting:
        parts.append(f"{len(report.waiting)} still in progress on B")
    if report.refused or report.failed:
        parts.append(f"{len(report.refused) + len(report.failed)} refused or failed")
    return ", ".join(parts)
