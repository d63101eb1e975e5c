"""One job of the daemon: one pass of one mode for one offering, logged, counted and judged.

:func:`run_job` never raises: a pass that could not start (its first read failed: the server is down or refuses
the token) or that hit a bug is logged and reported as failed, so one offering never stops the others. Order
passes hand their batches (one A project each) to the daemon's bounded worker pool and keep the backoff table.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor

from attrs import Factory, define, frozen

from fedcore.errors import PortError
from fedcore.ids import Uuid
from fedcore.matching import MatchStatus
from fedcore.model import Order
from fedcore.services.membership_pass import MembershipPassReport
from fedcore.services.orders import OrderOutcome, OrderPass
from fedcore.services.report_pass import ReportPassReport
from runners.coordination import OrderLinks, ProjectLocks
from runners.logs import order_context
from runners.schedule import OrderBackoff
from runners.sweeps import REPAIR_KINDS, SweepSchedule, sweep_if_due
from runners.telemetry import Telemetry
from runners.wiring import Mode, OfferingServices, local_today

log = logging.getLogger("fedcore.daemon")
orders_log = logging.getLogger("fedcore.orders")


@frozen
class JobResult:
    """How one pass went. ``ok``: every item succeeded. ``unreachable``: the pass could not start (``error``)."""

    offering: str
    mode: Mode
    ok: bool
    seconds: float
    summary: str = ""
    unreachable: bool = False
    error: str = ""


@define
class JobContext:
    """What every job shares: telemetry, the backoff table, the order pool, clocks and the stop flag."""

    telemetry: Telemetry
    backoff: OrderBackoff
    order_pool: Executor
    stopping: Callable[[], bool]
    timezone: str = "UTC"
    reporting_periods: int = 2
    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    locks: ProjectLocks = Factory(ProjectLocks)
    """Held per (offering, A project) by order batches and by event handlers."""
    links: OrderLinks = Factory(OrderLinks)
    """B order -> A order, for B order events."""
    sweeps: SweepSchedule = Factory(SweepSchedule)
    """When each offering's duplicate sweep is due (within its order pass)."""
    follow_ups: int = 0
    """Follow-up rounds an order pass may add to its first (see :class:`_Rounds`); 0 with no pool to fill."""


def run_job(services: OfferingServices, mode: Mode, ctx: JobContext) -> JobResult:
    """One pass of ``mode`` for one offering; never raises."""
    where = {"offering": services.name, "mode": str(mode)}
    started = ctx.monotonic()
    try:
        ok, summary = _PASSES[mode](services, ctx)
    except PortError as exc:
        log.error("%s pass could not run: %s", mode, exc, extra=where)
        result = JobResult(services.name, mode, False, ctx.monotonic() - started, unreachable=True, error=str(exc))
    except Exception as exc:  # a bug in one offering's pass must not stop the others: logged with its traceback
        log.exception("%s pass crashed", mode, extra=where)
        result = JobResult(services.name, mode, False, ctx.monotonic() - started, error=repr(exc))
    else:
        (log.info if ok else log.warning)("%s pass %s: %s", mode, "done" if ok else "incomplete", summary,
                                          extra=where)
        result = JobResult(services.name, mode, ok, ctx.monotonic() - started, summary)
    ctx.telemetry.pass_finished(services.name, str(mode), result.seconds, result.ok, ctx.wall())
    return result


# order_process -------------------------------------------------------------------------------------------------

FOLLOW_UP_ROUNDS = 10
"""Follow-up rounds one order pass may add to its first (:attr:`JobContext.follow_ups` when the daemon has a pool)."""


def _orders(services: OfferingServices, ctx: JobContext) -> tuple[bool, str]:
    rounds = _Rounds(services, ctx)
    rounds.open()
    while rounds.pending:
        done, _ = cf.wait(rounds.pending, return_when=cf.FIRST_COMPLETED)
        rounds.collect(done)
        if rounds.may_follow_up():
            rounds.open()
    ok, summary = rounds.verdict()
    swept = "" if ctx.stopping() else sweep_if_due(services, ctx.sweeps, ctx.wall(), ctx.telemetry)
    return ok, f"{summary}; {swept}" if swept else summary


class _Rounds:
    """One order pass: a first round over every A project, then follow-up rounds while there is work they can do.

    A round lists A's open orders and hands each project's batch to the pool, except the projects whose batch of
    an earlier round is still running (their orders wait for a later round or pass). Once a batch has submitted B
    orders (a turn wrote and now waits, typically on B), the pass does not wait a whole period to come back to
    them: as soon as none of its batches is left queued (a worker would otherwise idle), it lists again and gives
    the projects whose batch has ended another turn (completing what B has finished meanwhile, starting orders
    placed since). A round that finds nothing to write adds no other; an idle pass costs its one listing.
    """

    def __init__(self, services: OfferingServices, ctx: JobContext) -> None:
        self.services, self.ctx = services, ctx
        self.pending: set[cf.Future[_Batch]] = set()
        self.rounds = 0
        self.seen: set[Uuid] = set()
        self.last_listed: tuple[Order, ...] = ()
        self.in_backoff = 0
        self.outcomes: dict[Uuid, OrderOutcome] = {}
        self.moved = self.unread = self.unstarted = self.faults = 0
        self._running: dict[Uuid, cf.Future[_Batch]] = {}  # A project -> its latest batch
        self._batches: dict[cf.Future[_Batch], tuple[Uuid, int]] = {}  # batch -> (A project, orders in it)
        self._follow = False

    def open(self) -> None:
        """List A's open orders and hand the batch of every project not running to the pool."""
        ctx, name = self.ctx, self.services.name
        busy = {p for p, f in self._running.items() if not f.done()}  # a finished batch has released its lock
        versions = ctx.locks.versions(name)  # before the listing: a lock released after it makes a batch stale
        try:
            opened = self.services.orders.open_pass(skip=ctx.backoff.blocked(name, ctx.monotonic()))
        except PortError as exc:
            if not self.rounds:
                raise
            log.warning("order_process follow-up round not started: %s", exc,
                        extra={"offering": name, "mode": "order_process"})
            self.faults += 1
            self._follow = False
            return
        if not self.rounds:
            self.in_backoff = len(opened.skipped)
        self.rounds += 1
        self._follow = False
        self.last_listed = opened.listed
        self.seen.update(o.uuid for o in opened.listed)
        _report_waiting(self.services, opened.listed, ctx)
        for batch in sorted(opened.batches, key=len, reverse=True):  # the longest first: the shortest tail
            project = batch[0].project_uuid
            if project in busy:
                continue
            future = ctx.order_pool.submit(_batch, self.services, opened, batch, ctx, versions)
            self._running[project] = future
            self._batches[future] = (project, len(batch))
            self.pending.add(future)

    def collect(self, done: Iterable[cf.Future[_Batch]]) -> None:
        """Book finished batches (a batch that raised raises here, as the pass's bug)."""
        for future in done:
            self.pending.discard(future)
            _, size = self._batches.pop(future)
            batch = future.result()
            self.outcomes.update((o.order_uuid, o) for o in batch.outcomes)
            self.moved += batch.moved
            self.unread += batch.unread
            self.unstarted += size - len(batch.outcomes) - batch.moved - batch.unread
            self._follow |= any(o.steps and not o.fault and o.status in _FOLLOWED for o in batch.outcomes)

    def may_follow_up(self) -> bool:
        """Whether to start a follow-up round now: a finished batch wrote and waits, none of this pass's batches is
        still queued, rounds are left, and the daemon is not stopping."""
        return (self._follow and self.rounds <= self.ctx.follow_ups and not self.ctx.stopping()
                and all(f.running() or f.done() for f in self.pending))

    def verdict(self) -> tuple[bool, str]:
        """Whether every order's turn went without a failing call, and the pass's summary."""
        name, ctx = self.services.name, self.ctx
        ctx.backoff.keep_only(name, {o.uuid for o in self.last_listed})
        outcomes = self.outcomes.values()
        faults = self.faults + sum(1 for o in outcomes if o.fault) + self.unread
        counts = _counts(o.status for o in outcomes)
        summary = f"{len(self.seen)} open order(s): {counts or 'none processed'}"
        if self.rounds > 1:
            summary += f" in {self.rounds} rounds"
        if self.in_backoff:
            summary += f"; {self.in_backoff} in backoff"
        if faults:
            summary += f"; {faults} failed call(s)"
        if self.moved:
            summary += f"; {self.moved} finished meanwhile by events"
        if self.unread:
            summary += f"; {self.unread} could not be read again"
        if self.unstarted:
            summary += f"; {self.unstarted} not started (stopping)"
        return faults == 0 and self.unstarted == 0, summary


_FOLLOWED = frozenset({"waiting", "retrying"})
"""Outcomes after which an order that was written to this turn is worth a follow-up round."""


def _report_waiting(services: OfferingServices, listed: Sequence[Order], ctx: JobContext) -> None:
    now = services.ports.clock.now()
    created = [o.created for o in listed if o.created is not None]
    oldest = max(0.0, (now - min(created)).total_seconds()) if created else 0.0
    ctx.telemetry.orders_waiting(services.name, len(listed), oldest)


@define
class _Batch:
    """What one batch did: the orders' outcomes, and (in a stale batch) how many orders were found no longer open
    (``moved``) or could not be read again (``unread``)."""

    outcomes: list[OrderOutcome]
    moved: int = 0
    unread: int = 0


def _batch(
    services: OfferingServices, opened: OrderPass, batch: Sequence[Order], ctx: JobContext,
    versions: Mapping[Uuid, int],
) -> _Batch:
    """The orders of one A project, one after the other, holding the project's lock (an event handler may want
    one of them); none is started once the daemon is stopping.

    When an event handler worked in the project since the pass listed A's orders, the listing (and the pass's
    reads) of this project are stale: each order is read again and given its turn with fresh reads, as an event
    would, so that no step is taken on a state that is gone (an approval of an order already approved).
    """
    done = _Batch([])
    if not batch:
        return done
    project = batch[0].project_uuid
    with ctx.locks.hold(services.name, project):
        stale = ctx.locks.version(services.name, project) != versions.get(project, 0)
        for order in batch:
            if ctx.stopping():
                break
            if stale:
                try:
                    fresh = services.orders.read_open_order(order.uuid)
                except PortError as exc:
                    orders_log.warning("order not read again (the pass's listing is stale): %s", exc,
                                       extra=order_context(services.name, order.uuid))
                    done.unread += 1
                    continue
                if fresh is None:
                    done.moved += 1
                    continue
                outcome = services.orders.process_order(fresh)
            else:
                [outcome] = opened.process([order])
            after_order(services.name, outcome, ctx)
            done.outcomes.append(outcome)
    return done


FINISHED = frozenset({"completed", "failed", "rejected"})
"""Order outcomes after which the A order is terminal."""


def after_order(offering: str, outcome: OrderOutcome, ctx: JobContext) -> None:
    """Book one order's turn, from a pass or an event: backoff, telemetry, the B-order index, the log."""
    ctx.links.record(offering, outcome.order_uuid, outcome.b_order_uuid, finished=outcome.status in FINISHED)
    trouble = ctx.backoff.record(offering, outcome.order_uuid, fault=outcome.fault, error=outcome.reason,
                                 now=ctx.monotonic())
    ctx.telemetry.order_finished(offering, outcome.order_type, outcome.status)
    extra = order_context(offering, outcome.order_uuid, outcome.b_order_uuid, outcome.order_type)
    steps = f" after {', '.join(outcome.steps)}" if outcome.steps else ""
    if trouble is not None:
        orders_log.warning("order %s%s (attempt %d, next try in %.0f s): %s", outcome.status, steps,
                           trouble.attempts, ctx.backoff.policy.delay(trouble.attempts), outcome.reason, extra=extra)
    elif outcome.status in ("failed", "rejected"):
        orders_log.warning("order %s%s: %s", outcome.status, steps, outcome.reason, extra=extra)
    elif outcome.steps:
        orders_log.info("order %s%s%s", outcome.status, steps, f": {outcome.reason}" if outcome.reason else "",
                        extra=extra)
    else:
        orders_log.debug("order %s: %s", outcome.status, outcome.reason, extra=extra)
    for repair in outcome.repairs:
        orders_log.warning("duplicate on B (another replica's, or an earlier attempt's): %s", repair, extra=extra)
    for step in outcome.steps:
        if step in REPAIR_KINDS:
            ctx.telemetry.duplicate_repaired(offering, REPAIR_KINDS[step])
    if outcome.duplicates:
        orders_log.warning("other B orders carry this order's key and were left alone: %s",
                           ", ".join(outcome.duplicates), extra=extra)


# membership_sync, report, username_sync ------------------------------------------------------------------------


def _memberships(services: OfferingServices, _: JobContext) -> tuple[bool, str]:
    report = services.membership_pass()
    return membership_verdict(services.name, report)


def membership_verdict(offering: str, report: MembershipPassReport) -> tuple[bool, str]:
    """Whether a membership pass fully succeeded, and its summary; each problem is logged."""
    problems: list[str] = []
    skipped_users: dict[str, str] = {}
    changes = applied = 0
    for project in report.projects:
        # Skips that start with "no " are decisions (no B project yet), not failures of a read.
        if project.skipped and (project.transient or not project.skipped.startswith("no ")):
            problems.append(f"A project {project.project_uuid}: {project.skipped}")
        if project.report is not None:
            applied += len(project.report.applied)
            changes += len(project.report.applied) + len(project.report.retry) + len(project.report.failed)
            problems += [f"B project {project.b_project_uuid}: {f.change.kind} {f.change.role} for user "
                         f"{f.change.user_uuid}: {f.detail}" for f in (*project.report.retry, *project.report.failed)]
            problems += [f"user {m.user.username}: {m.detail or m.status}" for m in project.report.failed_users]
            skipped_users.update((m.user.username, m.detail or str(m.status)) for m in project.report.matches
                                 if m.status in (MatchStatus.NOT_FOUND, MatchStatus.AMBIGUOUS) and not m.failed)
    problems += [f"release of {f.removal.username}: {f.detail}"
                 for f in (*report.removal_retry, *report.removal_failed)]
    pairs = report.resources
    problems += [f"{f.item.name}: {f.detail}" for f in (*pairs.retry, *pairs.failed)]
    problems += [f"A resource {s.a_resource}: {s.reason}" for s in pairs.skipped if s.transient]
    where = {"offering": offering, "mode": "membership_sync"}
    for problem in problems:
        log.warning("membership_sync: %s", problem, extra=where)
    for username, why in sorted(skipped_users.items()):
        log.warning("membership_sync: user %s left out of B (user_not_found_action: warn): %s", username, why,
                    extra=where)
    summary = (f"{len(report.projects)} federated project(s), {applied}/{changes} role change(s) applied, "
               f"{len(report.removed)} identity release(s), {len(pairs.applied)} pair write(s)")
    if skipped_users:
        summary += f", {len(skipped_users)} user(s) not found on B"
    return not problems, summary + (f"; {len(problems)} problem(s)" if problems else "")


def _report(services: OfferingServices, ctx: JobContext) -> tuple[bool, str]:
    today = local_today(services.ports.clock, ctx.timezone)
    report = services.report_pass(today, ctx.reporting_periods)
    return report_verdict(services.name, report)


def report_verdict(offering: str, report: ReportPassReport) -> tuple[bool, str]:
    """Whether a report pass brought every resource and period in step, and its summary; each gap is logged."""
    where = {"offering": offering, "mode": "report"}
    for item in report.items:
        if item.complete:
            continue
        detail = item.skipped or "; ".join(f"{f.step}: {f.detail}" for f in (
            *(item.report.retry if item.report else ()), *(item.report.failed if item.report else ())))
        log.warning("usage of A resource %s for %s not reported: %s", item.a_resource,
                    f"{item.billing_period:%Y-%m}", detail, extra=where)
    written = sum(len(i.report.written) for i in report.items if i.report is not None)
    periods = ", ".join(f"{p:%Y-%m}" for p in report.periods)
    done = sum(1 for i in report.items if i.complete)
    return report.complete, f"{done}/{len(report.items)} resource-period(s) in step ({periods}), {written} write(s)"


def _usernames(services: OfferingServices, _: JobContext) -> tuple[bool, str]:
    report = services.sync_usernames()
    where = {"offering": services.name, "mode": "username_sync"}
    for failure in (*report.retry, *report.failed):
        log.warning("username of %s not copied to A: %s", failure.patch.cuid, failure.detail, extra=where)
    for key in report.ambiguous:
        log.warning("username of %s not copied: several people match", key, extra=where)
    summary = f"{len(report.applied)} username(s) copied to A"
    if not report.complete:
        summary += f", {len(report.retry) + len(report.failed)} not"
    return report.complete, summary


def _counts(statuses: Iterable[str]) -> str:
    tally: dict[str, int] = {}
    for status in statuses:
        tally[status] = tally.get(status, 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(tally.items()))


_PASSES: dict[Mode, Callable[[OfferingServices, JobContext], tuple[bool, str]]] = {
    Mode.ORDER_PROCESS: _orders,
    Mode.MEMBERSHIP_SYNC: _memberships,
    Mode.REPORT: _report,
    Mode.USERNAME_SYNC: _usernames,
}
