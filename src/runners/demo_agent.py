"""fedcore as the demo runs it: every mode, one pass each per poll, told as sentences a person can follow.

Without a broker the agent polls: each :meth:`DemoAgent.tick` runs one ``order_process`` pass, one username
reconciliation, one ``membership_sync`` pass and one ``report`` pass, the same services the daemon wires
(:func:`runners.wiring.build_mode` over ``RestPorts``). What a pass did is read from its report; idle passes say
nothing, and a repeated "waiting" or "skipped" is said once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Protocol

from fedcore import lifecycle as lc
from fedcore.errors import PortError
from fedcore.matching import UserMatch
from fedcore.memberships import ChangeKind
from fedcore.policies import LimitWrite
from fedcore.services.membership_pass import MembershipPassReport
from fedcore.services.orders import OrderOutcome, PassReport
from fedcore.services.report_pass import ReportPassReport
from fedcore.services.usernames import UsernameSyncReport
from runners.wiring import Mode, OfferingServices

_STEPS = {
    "Approve": "approved it on A",
    "CreateProject": "created the B project",
    "SubmitCreate": "submitted a Create order on B",
    "SubmitUpdate": "asked B to update the limits",
    "SubmitTerminate": "asked B to terminate",
    "LinkResource": "linked the A resource to the B resource",
    "LinkOrder": "linked the A order to the B order",
    "Complete": "marked the A order done",
    "Fail": "marked the A order erred",
    "Reject": "rejected it on A",
}


def short(uuid: str | None) -> str:
    """The first 8 hex digits of a UUID: enough to tell the demo's objects apart."""
    return (uuid or "-")[:8]


def amount(value: Decimal | int) -> str:
    """A number without trailing zeros (``5``, ``2.5``)."""
    text = f"{Decimal(value):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def values(mapping: Mapping[str, Decimal | int]) -> str:
    """``a=1, b=2`` in name order (``-`` for none)."""
    return ", ".join(f"{k}={amount(v)}" for k, v in sorted(mapping.items())) or "-"


class Agent(Protocol):
    """What the story asks of fedcore: what it did since the last call (:class:`DemoAgent` runs a pass of every
    mode then; the event demo's agent works on its own and only reports)."""

    @property
    def passes(self) -> int:
        """Passes run so far."""
        ...

    def tick(self) -> list[str]:
        """What fedcore did, one sentence per line."""
        ...


class DemoAgent:
    """Runs one pass of each mode per :meth:`tick` and returns what they did, one sentence per line."""

    POLLS = ("order_process", "username_sync", "membership_sync", "report")

    def __init__(self, services: Mapping[Mode, OfferingServices], today: Callable[[], dt.date], periods: int) -> None:
        self._services = services
        self._today = today
        self._periods = periods
        self._said: set[str] = set()
        self.passes = 0

    def tick(self) -> list[str]:
        """One pass of every mode, in the order above; a pass that could not start is reported, not raised."""
        self.passes += 1
        lines: list[str] = []
        services = self._services
        passes: tuple[tuple[str, Callable[[], list[str]]], ...] = (
            ("order_process", lambda: self._orders(services[Mode.ORDER_PROCESS].orders.run_pass())),
            ("username_sync", lambda: self._usernames(services[Mode.USERNAME_SYNC].sync_usernames())),
            ("membership_sync", lambda: self._memberships(services[Mode.MEMBERSHIP_SYNC].membership_pass())),
            ("report", lambda: self._usage(services[Mode.REPORT].report_pass(self._today(), self._periods))),
        )
        for mode, run in passes:
            try:
                lines += [f"[{mode}] {line}" for line in run()]
            except PortError as exc:  # the one read a pass depends on failed: the next poll tries again
                lines += self._once(f"[{mode}] pass not run, tried again at the next poll: {exc}")
        return lines

    def _once(self, line: str) -> list[str]:
        if line in self._said:
            return []
        self._said.add(line)
        return [line]

    def _orders(self, report: PassReport) -> list[str]:
        lines: list[str] = []
        for outcome in report.outcomes:
            lines += self._order(outcome)
        return lines

    def _order(self, outcome: OrderOutcome) -> list[str]:
        name = f"{outcome.order_type} order {short(outcome.order_uuid)} on A"
        done = "; ".join(_STEPS.get(step, step) for step in outcome.steps)
        match outcome.end:
            case lc.Wait(reason=reason) | lc.Retry(reason=reason):
                return ([f"{name}: {done}"] if done else []) + self._once(f"{name}: {outcome.status}: {reason}")
            case lc.Fail(message=message) | lc.Reject(message=message):
                return [f"{name}: {done or outcome.status} ({message})"]
        return [f"{name}: {done or outcome.status}"]

    def _usernames(self, report: UsernameSyncReport) -> list[str]:
        lines = [f"{p.cuid}: username of the A offering user set to {p.username!r} (was {p.previous or 'unset'})"
                 for p in report.applied]
        lines += self._failures(f"{f.patch.cuid}: {f.detail}" for f in (*report.retry, *report.failed))
        lines += self._failures(f"ambiguous: {a}" for a in report.ambiguous)
        return lines

    def _memberships(self, report: MembershipPassReport) -> list[str]:
        lines: list[str] = []
        for project in report.projects:
            if project.report is None:
                lines += self._once(f"A project {short(project.project_uuid)} skipped: {project.skipped}")
                continue
            names = _b_names(project.report.matches)
            for change in project.report.applied:
                verb = "granted" if change.kind is ChangeKind.ADD else "revoked"
                who = names.get(change.user_uuid, f"B user {short(change.user_uuid)}")
                lines.append(f"{verb} {change.role} in B project {short(project.b_project_uuid)} to {who}")
            lines += self._failures(f"{f.change.kind} {f.change.role} for B user {short(f.change.user_uuid)}: "
                                    f"{f.detail}" for f in (*project.report.retry, *project.report.failed))
            lines += self._failures(f"{m.user.username}: {m.status} {m.detail}" for m in project.report.failed_users)
        lines += [f"released {r.username} from the identity bridge on B" for r in report.removed]
        for item in report.resources.applied:
            if isinstance(item.write, LimitWrite):
                lines.append(f"limits of A resource {short(item.a_resource)} set from B's: {values(item.write.limits)}")
            else:
                lines.append(f"{item.name} set to {item.write.end_date or 'none'}")
        lines += self._failures(f"{f.item.name}: {f.detail}" for f in (*report.resources.retry,
                                                                       *report.resources.failed))
        return lines

    def _usage(self, report: ReportPassReport) -> list[str]:
        lines: list[str] = []
        for item in report.items:
            where = f"A resource {short(item.a_resource)}, {item.billing_period:%Y-%m}"
            if item.report is None:
                lines += self._once(f"{where}: skipped: {item.skipped}")
                continue
            plan = item.report.plan
            if "totals" in item.report.written and plan.totals is not None:
                lines.append(f"{where}: usage on A set to {values(plan.totals)}")
            for component, users in sorted(plan.per_user.items()):
                if f"users:{component}" in item.report.written:
                    lines.append(f"{where}: {component} per user on A set to {values(users)}")
            if plan.unmapped:
                lines += self._once(f"{where}: B usernames with no A person: {', '.join(plan.unmapped)}")
            lines += self._failures(f"{where}: {f.step}: {f.detail}" for f in (*item.report.retry,
                                                                               *item.report.failed))
        return lines

    def _failures(self, lines: Iterable[str]) -> list[str]:
        said: list[str] = []
        for line in lines:
            said += self._once(line)
        return said


def _b_names(matches: Iterable[UserMatch]) -> dict[str, str]:
    return {m.target: m.user.username for m in matches if m.target is not None}
