"""Keep linked resource pairs in step: the end date as ``end_date_sync`` says, B's limits onto A as ``limit_sync`` says.

One listing of B's resources serves every pair. A B resource the listing did not return is read on its own, and
only that read's 404 means it is gone. Each pair is planned by :func:`fedcore.policies.plan_pair`; each write is
reported on its own (applied, to retry, refused) and one failure stops nothing else. A pair whose B side could not
be read is skipped and reported, and nothing is written for it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

from attrs import frozen

from fedcore.conversion import Conversion
from fedcore.enums import EndDateSyncDirection, LimitSyncDirection, Side
from fedcore.errors import NotFound, PortError, TransientError
from fedcore.ids import Uuid
from fedcore.model import Resource
from fedcore.policies import EndDateWrite, PolicyWrite, pair_problem, plan_pair
from fedcore.ports.orders import SourceResources, TargetResources
from fedcore.services._outcomes import Outcomes
from fedcore.settings import FederationSettings


@frozen
class PolicyItem:
    """One write for one linked pair: an end date on A or on B, or A's limits."""

    a_resource: Uuid
    b_resource: Uuid
    write: PolicyWrite

    @property
    def name(self) -> str:
        """``end_date on A``, ``end_date on B`` or ``limits on A``, with the resource it is written on."""
        if isinstance(self.write, EndDateWrite):
            on = self.a_resource if self.write.side is Side.A else self.b_resource
            return f"end_date on {self.write.side} resource {on}"
        return f"limits on A resource {self.a_resource}"


@frozen
class PolicyFailure:
    """A write that did not go through, and why (the port's message, naming the call)."""

    item: PolicyItem
    detail: str


@frozen
class PairSkip:
    """A linked pair not brought in step in this pass, and why; ``transient`` when a passing fault was the cause."""

    a_resource: Uuid
    b_resource: Uuid
    reason: str
    transient: bool = False


@frozen
class ResourceSyncReport:
    """Every linked pair of a pass: writes applied, to retry, refused; pairs skipped."""

    applied: tuple[PolicyItem, ...] = ()
    retry: tuple[PolicyFailure, ...] = ()
    failed: tuple[PolicyFailure, ...] = ()
    skipped: tuple[PairSkip, ...] = ()


def _disabled(settings: FederationSettings) -> bool:
    return settings.end_date_sync is EndDateSyncDirection.DISABLED and (
        settings.limit_sync is LimitSyncDirection.DISABLED
    )


def _b_side(target: TargetResources, listed: Mapping[Uuid, Resource], a: Resource) -> Resource | PairSkip:
    uuid = _link(a)
    found = listed.get(uuid)
    if found is not None:
        return found
    try:
        return target.get_resource(uuid)
    except NotFound as exc:
        return PairSkip(a.uuid, uuid, f"B has no resource {uuid}: {exc}")
    except PortError as exc:
        return PairSkip(a.uuid, uuid, f"the B resource could not be read: {exc}", isinstance(exc, TransientError))


def sync_resources(
    linked: Sequence[Resource],
    *,
    source: SourceResources,
    target: TargetResources,
    settings: FederationSettings,
    conversion: Conversion,
) -> ResourceSyncReport:
    """Bring each linked A resource (``linked``: not Terminated, ``link`` set) in step with its B resource.

    Makes no call when there is no pair or both directions are disabled.
    """
    if not linked or _disabled(settings):
        return ResourceSyncReport()
    skipped: list[PairSkip] = []
    try:
        listed = {r.uuid: r for r in target.list_resources()}
    except PortError as exc:
        reason, transient = f"B's resources could not be listed: {exc}", isinstance(exc, TransientError)
        return ResourceSyncReport(skipped=tuple(PairSkip(a.uuid, _link(a), reason, transient) for a in linked))
    outcomes: Outcomes[PolicyItem, PolicyFailure] = Outcomes(PolicyFailure)
    for a in linked:
        b = _b_side(target, listed, a)
        if isinstance(b, PairSkip):
            skipped.append(b)
            continue
        problem = pair_problem(a, b)
        if problem is not None:
            skipped.append(PairSkip(a.uuid, b.uuid, problem))
            continue
        writes = plan_pair(
            a, b, end_date_sync=settings.end_date_sync, limit_sync=settings.limit_sync, conversion=conversion
        )
        for write in writes:
            outcomes.attempt(PolicyItem(a.uuid, b.uuid, write), _writer(source, target, a.uuid, b.uuid, write))
    return ResourceSyncReport(tuple(outcomes.applied), tuple(outcomes.retry), tuple(outcomes.failed), tuple(skipped))


def _link(resource: Resource) -> Uuid:
    link = resource.link
    if link is None:
        raise ValueError(f"A resource {resource.uuid} is not linked to a B resource")
    return link


def _writer(
    source: SourceResources, target: TargetResources, a_uuid: Uuid, b_uuid: Uuid, write: PolicyWrite
) -> Callable[[], None]:
    if isinstance(write, EndDateWrite):
        if write.side is Side.A:
            return functools.partial(source.set_end_date, a_uuid, write.end_date)
        return functools.partial(target.set_end_date, b_uuid, write.end_date)
    return functools.partial(source.set_limits, a_uuid, write.limits)
