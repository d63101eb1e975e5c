"""Carrying out what an event asks (:mod:`fedcore.reactions`) for the offerings it concerns.

:meth:`EventHandler.handle` returns either a finished :class:`Handled` (acknowledge the message, or give it back
when ``retry``) or a :class:`Deferred`: the event asked for a pass (:class:`~fedcore.reactions.Reconcile`, or an
order pass when a B order's A order is unknown), and the message is settled when that pass ends. Every effect
is a synchronous REST write, so when ``handle`` returns (or the pass ends) successfully the effect is durable on
Waldur and the message may be acknowledged.

Faults. A passing fault (timeout, connection error, 429, 5xx) makes the result ``retry``; a refusal is the
services' business (an order refused on B fails its A order with B's words, exactly as in a pass) and the message
is settled. An exception from a bug is reported as ``retry`` too: the consumer gives up after a bounded number of
attempts and reconciliation repairs what is left.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence

from attrs import frozen

from adapters.config import OfferingConfig
from fedcore import lifecycle as lc
from fedcore.enums import Side, UserMatchField
from fedcore.errors import NotFound, PortError, TransientError
from fedcore.events import Event
from fedcore.ids import Uuid
from fedcore.reactions import FollowBOrder, Ignore, Pass, ProcessOrder, Reaction, Reconcile, SyncOfferingUser, react
from runners.jobs import FINISHED, JobContext, JobResult, after_order
from runners.wiring import Mode, OfferingServices

log = logging.getLogger("fedcore.events")

PASS_MODES = {Pass.ORDERS: Mode.ORDER_PROCESS, Pass.MEMBERSHIP: Mode.MEMBERSHIP_SYNC, Pass.USERNAME: Mode.USERNAME_SYNC}

RunSoon = Callable[[str, Mode], "cf.Future[JobResult] | None"]
"""Asks the daemon for a pass of one offering (:meth:`runners.daemon.Daemon.run_soon`)."""


@frozen
class Handled:
    """The event's work is over: acknowledge it, or (``retry``) give it back for another attempt."""

    retry: bool = False
    note: str = ""
    ignored: bool = False


@frozen
class Deferred:
    """The event asked for passes: settle the message when they end (acknowledge when all succeeded)."""

    passes: tuple[cf.Future[JobResult], ...]
    note: str = ""


Result = Handled | Deferred


def routes(
    served: Iterable[tuple[OfferingServices, OfferingConfig]],
) -> dict[tuple[Side, Uuid], tuple[OfferingServices, ...]]:
    """Which offerings an event of each side's offering concerns: A's offering UUID, B's STOMP offering UUID
    (``target_stomp_offering_uuid``, else ``target_offering_uuid``).

    A B offering may serve several A offerings (one configuration entry each): its events go to all of them.
    """
    found: dict[tuple[Side, Uuid], list[OfferingServices]] = {}
    for svc, offering in served:
        found.setdefault((Side.A, offering.waldur_offering_uuid), []).append(svc)
        found.setdefault((Side.B, offering.backend_settings.stomp_offering_uuid), []).append(svc)
    return {key: tuple(value) for key, value in found.items()}


class EventHandler:
    """Runs the reaction of each event for every offering it concerns (see the module doc)."""

    def __init__(
        self,
        served: Iterable[tuple[OfferingServices, OfferingConfig]],
        *,
        context: JobContext,
        run_soon: RunSoon,
    ) -> None:
        self._routes: Mapping[tuple[Side, Uuid], Sequence[OfferingServices]] = routes(served)
        self._ctx = context
        self._run_soon = run_soon
        self._guard = threading.Lock()
        self._people: dict[tuple[str, str], threading.Lock] = {}

    def offerings(self) -> list[OfferingServices]:
        """Every configured offering the handler serves, once each."""
        return list({id(s): s for found in self._routes.values() for s in found}.values())

    def offerings_of(self, side: Side, offering_uuid: Uuid) -> Sequence[OfferingServices]:
        """The configured offerings an event of ``side``'s ``offering_uuid`` concerns."""
        return self._routes.get((side, offering_uuid), ())

    def handle(self, event: Event) -> Result:
        """Carry out ``event``'s reaction for every offering it concerns."""
        reaction = react(event)
        served = self.offerings_of(event.side, event.offering_uuid)
        if not served:
            return Handled(note=f"no configured offering is {event.side}'s offering {event.offering_uuid}",
                           ignored=True)
        if isinstance(reaction, Ignore):
            return Handled(note=reaction.why, ignored=True)
        results = [self._one(svc, reaction) for svc in served]
        return _combine(results)

    def catch_up(self, offerings: Iterable[OfferingServices]) -> Deferred:
        """After a (re)connect: every pass of these offerings that events accelerate, soon (repairs what was
        missed while the connection was down)."""
        futures = []
        for svc in offerings:
            for what in Pass:
                future = self._run_soon(svc.name, PASS_MODES[what])
                if future is not None:
                    futures.append(future)
        return Deferred(tuple(futures), note="catch-up")

    def watch(self, offerings: Iterable[OfferingServices]) -> list[Handled]:
        """Look at B's orders that A orders wait on (one batched read per offering with any; none otherwise) and
        give each A order whose B order ended its turn: Waldur 8.0.5 sends no event when a B order errs, is
        rejected or canceled, nor (without provider access) when it is done for a resource now terminated."""
        results: list[Handled] = []
        for svc in offerings:
            waiting = self._ctx.links.in_flight(svc.name)
            if not waiting:
                continue
            try:
                found = svc.ports.b_orders.get_orders(list(waiting))
            except PortError as exc:
                results.append(Handled(retry=True, note=f"{svc.name}: B's orders could not be read: {exc}"))
                continue
            for b_order, order in found.items():
                if order.state.is_terminal and b_order in waiting:
                    try:
                        results.append(self._order(svc, waiting[b_order]))
                    except PortError as exc:
                        results.append(Handled(retry=True, note=f"{svc.name}: {exc}"))
        return results

    # --- one offering ---------------------------------------------------------------------------------

    def _one(self, svc: OfferingServices, reaction: Reaction) -> Result:
        try:
            match reaction:
                case ProcessOrder(order_uuid=uuid):
                    return self._order(svc, uuid)
                case FollowBOrder(b_order_uuid=b_order):
                    return self._follow(svc, b_order)
                case SyncOfferingUser(offering_user_uuid=uuid):
                    return self._username(svc, uuid)
                case Reconcile(what=what):
                    return self._reconcile(svc, what, "")
                case Ignore(why=why):  # pragma: no cover - handled before
                    return Handled(note=why)
        except TransientError as exc:
            return Handled(retry=True, note=f"{svc.name}: passing fault: {exc}")
        except PortError as exc:
            return Handled(retry=True, note=f"{svc.name}: {exc}")
        raise AssertionError(reaction)  # pragma: no cover

    def _order(self, svc: OfferingServices, uuid: Uuid) -> Handled:
        processor, locks = svc.orders, self._ctx.locks
        before = locks.versions(svc.name)
        order = processor.read_open_order(uuid)
        if order is None:
            return Handled(note=f"A order {uuid} is not open")
        project = order.project_uuid
        with locks.hold(svc.name, project):
            if locks.version(svc.name, project) != before.get(project, 0):
                # Another handler or a pass worked in the project since the read: read the order again.
                order = processor.read_open_order(uuid)
                if order is None:
                    return Handled(note=f"A order {uuid} is no longer open")
            outcome = processor.process_order(order)
        after_order(svc.name, outcome, self._ctx)
        if outcome.status == "completed" and outcome.order_type == "Create":
            # A project may have just become federated: mirror its team now, not at the next membership pass.
            self._run_soon(svc.name, PASS_MODES[Pass.MEMBERSHIP])
        if outcome.fault:
            return Handled(retry=True, note=f"A order {uuid}: {outcome.reason}")
        done = " (finished)" if outcome.status in FINISHED else ""
        return Handled(note=f"A order {uuid}: {outcome.status}{done}")

    def _follow(self, svc: OfferingServices, b_order: Uuid) -> Result:
        """The A order a B order serves: from the index of what passes and events saw, else from the key fedcore
        stamped on the B order (one read), else (an order fedcore did not key, e.g. the existing agent's) a pass."""
        a_order = self._ctx.links.a_order_of(svc.name, b_order)
        if a_order is None:
            try:
                a_order = lc.a_order_of_key(svc.ports.b_orders.get_order(b_order).key)
            except NotFound:
                return Handled(note=f"B order {b_order} is not visible to fedcore")
        if a_order is None:
            return self._reconcile(svc, Pass.ORDERS, f"B order {b_order} carries no fedcore key")
        return self._order(svc, a_order)

    def _username(self, svc: OfferingServices, uuid: Uuid) -> Result:
        try:
            record = svc.ports.b_users.get_offering_user(uuid)
        except NotFound:
            return Handled(note=f"B offering user {uuid} is gone")
        if svc.settings.match.identity_field is UserMatchField.EMAIL:
            # B's username is the person's own there, not A's CUID: only the full sync can join them.
            return self._reconcile(svc, Pass.USERNAME, "users are matched by email")
        with self._person_lock(svc.name, record.user_username):
            # One person at a time: B sends two events for one change (``update`` and ``username_set``); the
            # second reads A after the first wrote, and has nothing left to patch.
            report = svc.sync_username(record.user_username)
        for failure in (*report.retry, *report.failed):
            log.warning("username of %s not copied to A: %s", failure.patch.cuid, failure.detail,
                        extra={"offering": svc.name})
        if report.retry:
            return Handled(retry=True, note=f"username of {record.user_username}: {report.retry[0].detail}")
        return Handled(note=f"username of {record.user_username}: {len(report.applied)} patch(es)")

    def _person_lock(self, offering: str, cuid: str) -> threading.Lock:
        with self._guard:
            return self._people.setdefault((offering, cuid.casefold()), threading.Lock())

    def _reconcile(self, svc: OfferingServices, what: Pass, why: str) -> Result:
        future = self._run_soon(svc.name, PASS_MODES[what])
        if future is None:
            return Handled(note=f"{svc.name} takes no part in {PASS_MODES[what]}")
        return Deferred((future,), note=f"{PASS_MODES[what]} pass of {svc.name}" + (f" ({why})" if why else ""))


def _combine(results: Sequence[Result]) -> Result:
    if len(results) == 1:
        return results[0]
    futures = tuple(f for r in results if isinstance(r, Deferred) for f in r.passes)
    notes = "; ".join(r.note for r in results if r.note)
    retry = any(isinstance(r, Handled) and r.retry for r in results)
    if futures and not retry:
        return Deferred(futures, note=notes)
    return Handled(retry=retry, note=notes)
