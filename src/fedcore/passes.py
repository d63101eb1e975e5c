"""What a periodic pass covers, decided from what A showed: its projects and resource pairs, whose identity
fedcore may release on B, and which billing periods a usage report covers.

A pass is level-triggered: it starts from A's listing of the offering's resources. A resource that is not
Terminated keeps its project in the offering; one that reached B (its ``backend_id`` names a B resource) makes
the project *federated*: its team is mirrored in its B project, and the pair's end date, limits and usage are
kept in step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from attrs import field, frozen

from fedcore.enums import ResourceState, UserMatchField
from fedcore.ids import Uuid, normalize_uuid, optional_uuid
from fedcore.matching import match_key
from fedcore.model import ProjectKey, Resource, UserIdentity


def _resources(value: Iterable[Resource]) -> tuple[Resource, ...]:
    return tuple(value)


@frozen
class OfferingProject:
    """An A project holding at least one resource of the offering that is not Terminated.

    ``linked`` are those of its resources that reached B, by UUID; ``customer_uuid`` is the project's customer
    as its resources show it (None when none shows it, or they disagree).
    """

    project_uuid: Uuid = field(converter=normalize_uuid)
    customer_uuid: Uuid | None = field(default=None, converter=optional_uuid)
    linked: tuple[Resource, ...] = field(default=(), converter=_resources)

    @property
    def federated(self) -> bool:
        """True when a resource of the project reached B: its team is mirrored in its B project."""
        return bool(self.linked)

    @property
    def key(self) -> ProjectKey | None:
        """The project's key on B (``<customer>_<project>``), or None when its customer is unknown."""
        return None if self.customer_uuid is None else ProjectKey(self.customer_uuid, self.project_uuid)


def _live(resource: Resource) -> bool:
    return resource.state is not ResourceState.TERMINATED


def linked_resources(resources: Iterable[Resource]) -> tuple[Resource, ...]:
    """The A resources that reached B and are not Terminated, by UUID: the pairs a pass keeps in step."""
    return tuple(sorted((r for r in resources if _live(r) and r.link is not None), key=lambda r: r.uuid))


def offering_projects(resources: Iterable[Resource]) -> tuple[OfferingProject, ...]:
    """The projects of the offering's resources that are not Terminated, by project UUID."""
    grouped: dict[Uuid, list[Resource]] = {}
    for resource in resources:
        if _live(resource):
            grouped.setdefault(resource.project_uuid, []).append(resource)
    projects = []
    for project_uuid, members in sorted(grouped.items()):
        customers = {r.customer_uuid for r in members if r.customer_uuid is not None}
        customer = next(iter(customers)) if len(customers) == 1 else None
        projects.append(OfferingProject(project_uuid, customer, linked_resources(members)))
    return tuple(projects)


def identities_to_remove(
    *, team: Iterable[UserIdentity], b_members: Iterable[UserIdentity], known: Iterable[UserIdentity]
) -> tuple[UserIdentity, ...]:
    """The B users whose identity fedcore's bridge source releases: people who left every project of the offering.

    ``team`` is every member of every project of the offering on A (each of those teams read in full),
    ``b_members`` the B users holding a role in the B projects of the pass, ``known`` A's offering users as
    identities. A B member is released when it is a known A person (same CUID, compared as
    :func:`fedcore.matching.match_key` compares CUIDs) who is in no team, neither by A user UUID nor by CUID.
    People added on B by hand and fedcore's own user match no A person and are never released. Each B user once,
    sorted by username then UUID.
    """
    cuid = UserMatchField.CUID
    staying_uuids: set[Uuid] = set()
    staying_keys: set[str] = set()
    for user in team:
        staying_uuids.add(user.uuid)
        staying_keys.add(match_key(user.username, cuid))
    leaving = {match_key(u.username, cuid) for u in known if u.uuid not in staying_uuids} - staying_keys - {""}
    found = {b.uuid: b for b in b_members if match_key(b.username, cuid) in leaving}
    return tuple(sorted(found.values(), key=lambda u: (u.username, u.uuid)))


def billing_periods(today: dt.date, periods: int) -> tuple[dt.date, ...]:
    """The first days of the ``periods`` months ending with ``today``'s month, oldest first (1: that month only).

    ``today`` is a date in the configured time zone (the caller converts the clock's instant); a billing
    period is a calendar month. ValueError when ``periods`` is below 1.
    """
    if periods < 1:
        raise ValueError(f"a report covers at least 1 billing period, not {periods}")
    last = today.year * 12 + today.month - 1
    return tuple(dt.date(month // 12, month % 12 + 1, 1) for month in range(last - periods + 1, last + 1))
