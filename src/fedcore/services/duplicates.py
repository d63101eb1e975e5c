"""The duplicate sweep: B Create orders that a second replica left behind after the A order closed.

An A order's own turns repair the duplicates they see (:mod:`fedcore.lifecycle.decide`): a loser still pending is
deleted, a done one has its resource terminated. Two cases escape them: a replica whose losing B order B's provider
took up before it could be deleted, when the other replica completed the A order meanwhile (the A order is no
longer listed as open, so no turn comes back to it); and a replica that died between submitting and looking
again. The sweep finds them from B's side, level-triggered, whatever happened before:

1. one listing of the B offering's Create orders modified since ``since`` that carry fedcore's key;
2. for each B project among them, one keyed listing: every B order of those keys, old ones included;
3. for each key held by more than one B order that did not fail, the A order it names (one read): while it is
   open, its own turns decide; once it is closed, the B order A links serves (the oldest when A links none of
   them), and every other is repaired: deleted while ``pending-*``, its resource terminated once the order is done
   (after reading the resource: one already terminating or terminated is left alone), passed over while B works on
   it (a later sweep, whose window covers its next change, repairs it).

The sweep never touches the B order A links, and never an order of a key whose A order is open or unknown.

B projects: a turn deletes the B project it just created when an older one with the same ``backend_id`` exists; a
delete that failed leaves an empty duplicate. The sweep lists the B projects created since ``since`` (one call),
and for each ``backend_id`` among them every project carrying it (one call each): the oldest serves, every other
created before ``settled_before`` is deleted (Waldur refuses, 409, while it holds resources: reported). Younger
ones are left for the next sweep: a replica creating one this very moment may not have seen the older yet.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Mapping

from attrs import field, frozen

from fedcore import lifecycle as lc
from fedcore.enums import OrderState, OrderType, ResourceState
from fedcore.errors import Conflict, NotFound, PermanentError, PortError
from fedcore.ids import Uuid
from fedcore.model import Order
from fedcore.services.orders import OPEN_STATES, OrderPorts

_PENDING = (OrderState.PENDING_CONSUMER, OrderState.PENDING_PROVIDER)
_TERMINABLE = (ResourceState.OK, ResourceState.ERRED)


def _counts(counts: Mapping[str, int]) -> Mapping[str, int]:
    return dict(counts)


@frozen
class SweepReport:
    """What one sweep found and did. ``repairs`` and ``refused`` name each B object; ``waiting`` lists duplicates
    B is still working on; ``failed`` the reads or writes that failed (the next sweep tries again)."""

    orders_listed: int
    keys_duplicated: int
    repairs: tuple[str, ...] = ()
    projects_duplicated: int = 0
    repaired: Mapping[str, int] = field(factory=dict, converter=_counts)
    """How many repairs of each kind: ``order_deleted``, ``resource_terminated``, ``project_deleted``."""
    waiting: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Nothing failed (duplicates B is still working on are not a failure: a later sweep gets them)."""
        return not self.failed


class _Sweep:
    def __init__(self, ports: OrderPorts) -> None:
        self.ports = ports
        self.repairs: list[str] = []
        self.waiting: list[str] = []
        self.refused: list[str] = []
        self.failed: list[str] = []
        self.kinds: Counter[str] = Counter()

    def run(self, since: dt.datetime, settled_before: dt.datetime) -> SweepReport:
        # A failure of this first listing propagates: the sweep could not start.
        recent = [o for o in self.ports.b_orders.list_keyed_creates(since) if lc.a_order_of_key(o.key)]
        keys_by_project: defaultdict[Uuid, set[str]] = defaultdict(set)
        for order in recent:
            keys_by_project[order.project_uuid].add(order.key)
        duplicated = 0
        for project, keys in sorted(keys_by_project.items()):
            try:
                found = self.ports.b_orders.find_orders(project, keys)
            except PortError as exc:
                self.failed.append(f"the keyed orders of B project {project}: {exc}")
                continue
            creates = (o for o in found if o.key in keys and o.type == OrderType.CREATE)
            for key, match in sorted(lc.choose_keyed(creates).items()):
                alive = [o for o in (match.winner, *match.duplicates) if not o.state.is_failure]
                if len(alive) > 1:
                    duplicated += 1
                    self._settle(key, alive)
        projects = self._projects(since, settled_before)
        return SweepReport(len(recent), duplicated, tuple(self.repairs), projects, self.kinds, tuple(self.waiting),
                           tuple(self.refused), tuple(self.failed))

    def _projects(self, since: dt.datetime, settled_before: dt.datetime) -> int:
        b_projects = self.ports.b_projects
        try:
            recent = b_projects.projects_created_after(since)
        except PortError as exc:
            self.failed.append(f"the B projects created since {since.isoformat()}: {exc}")
            return 0
        duplicated = 0
        for backend_id in sorted({p.backend_id for p in recent if p.backend_id}):
            try:
                sharing = b_projects.projects_with_backend_id(backend_id)
            except PortError as exc:
                self.failed.append(f"the B projects with backend_id {backend_id}: {exc}")
                continue
            serving = lc.choose_project(sharing)
            losers = [p for p in sharing if serving is not None and p.uuid != serving.uuid]
            if not losers:
                continue
            duplicated += 1
            for loser in losers:
                if loser.created is None or loser.created > settled_before:
                    continue
                self._delete_project(loser.uuid, backend_id)
        return duplicated

    def _delete_project(self, project: Uuid, backend_id: str) -> None:
        what = f"B project {project} (a duplicate for backend_id {backend_id})"
        try:
            self.ports.b_projects.delete_project(project)
        except NotFound:
            return
        except Conflict as exc:
            self.refused.append(f"{what}: B refused to delete it: {exc.detail}")
        except PermanentError as exc:
            self.refused.append(f"{what}: B refused: {exc.detail}")
        except PortError as exc:
            self.failed.append(f"{what}: {exc}")
        else:
            self.repairs.append(f"deleted {what}")
            self.kinds["project_deleted"] += 1

    def _settle(self, key: str, alive: list[Order]) -> None:
        a_uuid = lc.a_order_of_key(key)
        assert a_uuid is not None
        try:
            a_order = self.ports.a_orders.get_order(a_uuid)
        except NotFound:
            return  # not an order of this offering (or gone): not fedcore's to judge
        except PortError as exc:
            self.failed.append(f"A order {a_uuid}: {exc}")
            return
        if a_order.state in OPEN_STATES:
            return  # its own turns repair what they see
        uuids = {o.uuid for o in alive}
        served = a_order.link if a_order.link in uuids else alive[0].uuid  # alive is oldest first
        for duplicate in alive:
            if duplicate.uuid != served:
                self._repair(duplicate, served)

    def _repair(self, duplicate: Order, served: Uuid) -> None:
        what = f"B order {duplicate.uuid} (a duplicate of B order {served})"
        try:
            if duplicate.state in _PENDING:
                try:
                    self.ports.b_orders.delete_order(duplicate.uuid)
                except Conflict:
                    duplicate = self.ports.b_orders.get_order(duplicate.uuid)  # B's provider took it up: read again
                else:
                    self.repairs.append(f"deleted {what}")
                    self.kinds["order_deleted"] += 1
                    return
            if duplicate.state == OrderState.DONE and duplicate.resource_uuid is not None:
                self._terminate(duplicate, what)
            elif not duplicate.state.is_terminal:
                self.waiting.append(f"{what} is {duplicate.state}")
        except NotFound:
            pass  # gone meanwhile
        except PermanentError as exc:
            self.refused.append(f"{what}: B refused: {exc.detail}")
        except PortError as exc:
            self.failed.append(f"{what}: {exc}")

    def _terminate(self, duplicate: Order, what: str) -> None:
        assert duplicate.resource_uuid is not None
        resource = self.ports.b_resources.get_resource(duplicate.resource_uuid)
        if resource.state not in _TERMINABLE:
            return  # already terminating or terminated (an earlier repair), or B is still working on it
        self.ports.b_orders.request_termination(resource.uuid, lc.discard_key(duplicate.uuid))
        self.repairs.append(f"terminated B resource {resource.uuid} of {what}")
        self.kinds["resource_terminated"] += 1


def sweep_duplicates(ports: OrderPorts, since: dt.datetime, settled_before: dt.datetime) -> SweepReport:
    """One duplicate sweep over the B Create orders modified, and the B projects created, since ``since``; duplicate
    projects created after ``settled_before`` are left for a later sweep (see the module's description)."""
    return _Sweep(ports).run(since, settled_before)
