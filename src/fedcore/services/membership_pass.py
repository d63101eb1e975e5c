"""The ``membership_sync`` pass of one offering: mirror the team of every federated A project in its B project,
release on B the identities of people who left every project of the offering, and keep linked resources' end
dates and limits in step (:mod:`fedcore.services.resource_sync`).

Level-triggered and stateless: everything is read anew. A's resource listing is the one read the whole pass
depends on; its failure propagates and nothing is written. Every other failed read is reported on the project or
pair it concerns, and nothing that depended on it is written: a project whose team, B project or B members could
not be read is skipped, and one team that could not be read suspends every identity removal of the pass.

People are resolved on B once per pass, whatever the number of their projects. A person is released (identity
bridge only) when they are A's offering user, hold a role in a B project of the pass, and are in no team of the
offering on A. The release is made before their roles are revoked, and their roles stay while it is not done, so
a release that failed is found again by the next pass.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

from attrs import Factory, frozen

from fedcore.conversion import Conversion
from fedcore.enums import OfferingUserState, UserResolveMethod
from fedcore.errors import PortError, TransientError
from fedcore.ids import Uuid
from fedcore.memberships import known_identities
from fedcore.model import Member, Project, UserIdentity
from fedcore.passes import OfferingProject, identities_to_remove, linked_resources, offering_projects
from fedcore.ports.orders import SourceResources, TargetProjects, TargetResources
from fedcore.ports.users import SourceUsers, TargetUsers
from fedcore.services._outcomes import Outcomes
from fedcore.services.memberships import MembershipReport, mirror_team, resolve_users
from fedcore.services.resource_sync import ResourceSyncReport, sync_resources
from fedcore.settings import FederationSettings

T = TypeVar("T")


@frozen
class MembershipPorts:
    """What the membership pass talks to: A's resources and users, B's resources, projects (members) and users."""

    a_resources: SourceResources
    a_users: SourceUsers
    b_resources: TargetResources
    b_projects: TargetProjects
    b_users: TargetUsers


@frozen
class ProjectOutcome:
    """One federated A project: its B project and what mirroring its team did, or why it was skipped.

    ``transient`` marks a skip caused by a passing fault (a later pass should do better).
    """

    project_uuid: Uuid
    b_project_uuid: Uuid | None = None
    report: MembershipReport | None = None
    skipped: str = ""
    transient: bool = False


@frozen
class Removal:
    """Releasing one B user from fedcore's identity-bridge source; ``username`` is their CUID as B spells it."""

    username: str
    user_uuid: Uuid


@frozen
class RemovalFailure:
    """A release that did not go through, and why."""

    removal: Removal
    detail: str


@frozen
class MembershipPassReport:
    """One pass: each federated project, the identity releases, the resource pairs.

    ``removal_skipped`` says why no release was attempted ("" when the pass decided them).
    """

    projects: tuple[ProjectOutcome, ...] = ()
    removed: tuple[Removal, ...] = ()
    removal_retry: tuple[RemovalFailure, ...] = ()
    removal_failed: tuple[RemovalFailure, ...] = ()
    removal_skipped: str = ""
    resources: ResourceSyncReport = Factory(ResourceSyncReport)


@frozen
class _Ready:
    project: OfferingProject
    b_project: Project
    team: Sequence[Member]
    b_members: Sequence[Member]


def _read(read: Callable[[], T]) -> T | PortError:
    try:
        return read()
    except PortError as exc:
        return exc


def _skip(project: OfferingProject, why: str, exc: PortError) -> ProjectOutcome:
    return ProjectOutcome(project.project_uuid, skipped=f"{why}: {exc}", transient=isinstance(exc, TransientError))


def run_membership_pass(
    ports: MembershipPorts, settings: FederationSettings, conversion: Conversion
) -> MembershipPassReport:
    """One level-triggered pass over the offering's federated projects and linked resources (see the module doc)."""
    resources = ports.a_resources.list_resources()
    pairs = sync_resources(
        linked_resources(resources), source=ports.a_resources, target=ports.b_resources, settings=settings,
        conversion=conversion,
    )  # fmt: skip
    projects = offering_projects(resources)
    federated = [p for p in projects if p.federated]
    if not federated:
        return MembershipPassReport(removal_skipped="no federated project", resources=pairs)
    offering_users = _read(lambda: ports.a_users.list_offering_users(frozenset(OfferingUserState)))
    if isinstance(offering_users, PortError):
        why = "A's offering users could not be read"
        return MembershipPassReport(
            tuple(_skip(p, why, offering_users) for p in federated), removal_skipped=f"{why}: {offering_users}",
            resources=pairs,
        )  # fmt: skip
    known = known_identities(offering_users)
    bridge = settings.match.method is UserResolveMethod.IDENTITY_BRIDGE
    # Teams of projects not yet on B matter only to removal: their members are still in the offering.
    teams = {p.project_uuid: _read(functools.partial(ports.a_users.list_team, p.project_uuid))
             for p in (projects if bridge else federated)}  # fmt: skip
    outcomes: dict[Uuid, ProjectOutcome] = {}
    ready: list[_Ready] = []
    for project in federated:
        found = _b_side(ports.b_projects, project, teams[project.project_uuid])
        if isinstance(found, ProjectOutcome):
            outcomes[project.project_uuid] = found
        else:
            ready.append(found)
    matches = resolve_users((m.user for r in ready for m in r.team), ports.b_users, settings.match)
    releases, protected, removal_skipped = _release(ports.b_users, settings, teams, ready, known, bridge=bridge)
    for r in ready:
        report = mirror_team(
            b_project=r.b_project.uuid, team=r.team, b_members=r.b_members, matches=matches,
            members=ports.b_projects, match_field=settings.match.identity_field, roles=settings.roles, known=known,
            protected=protected,
        )  # fmt: skip
        outcomes[r.project.project_uuid] = ProjectOutcome(r.project.project_uuid, r.b_project.uuid, report)
    return MembershipPassReport(
        tuple(outcomes[p.project_uuid] for p in federated),
        tuple(releases.applied), tuple(releases.retry), tuple(releases.failed), removal_skipped, pairs,
    )  # fmt: skip


def _b_side(
    b_projects: TargetProjects, project: OfferingProject, team: Sequence[Member] | PortError
) -> _Ready | ProjectOutcome:
    if isinstance(team, PortError):
        return _skip(project, "the A team could not be read", team)
    key = project.key
    if key is None:
        return ProjectOutcome(project.project_uuid, skipped="no resource of the project shows its customer")
    b_project = _read(functools.partial(b_projects.find_project, key))
    if isinstance(b_project, PortError):
        return _skip(project, f"the B project {key.backend_id} could not be looked up", b_project)
    if b_project is None:
        return ProjectOutcome(project.project_uuid, skipped=f"no B project {key.backend_id} yet")
    b_members = _read(functools.partial(b_projects.list_members, b_project.uuid))
    if isinstance(b_members, PortError):
        return _skip(project, f"the members of B project {b_project.uuid} could not be read", b_members)
    return _Ready(project, b_project, team, b_members)


def _release(
    b_users: TargetUsers,
    settings: FederationSettings,
    teams: Mapping[Uuid, Sequence[Member] | PortError],
    ready: Iterable[_Ready],
    known: Iterable[UserIdentity],
    *,
    bridge: bool,
) -> tuple[Outcomes[Removal, RemovalFailure], frozenset[Uuid], str]:
    """Release the people who left the offering; the B users whose roles must stay this pass; why none was tried."""
    outcomes: Outcomes[Removal, RemovalFailure] = Outcomes(RemovalFailure)
    if not bridge:
        return outcomes, frozenset(), f"users are resolved by {settings.match.method}, not the identity bridge"
    read = [m.user for team in teams.values() if not isinstance(team, PortError) for m in team]
    leaving = identities_to_remove(team=read, b_members=(m.user for r in ready for m in r.b_members), known=known)
    unread = sorted(uuid for uuid, team in teams.items() if isinstance(team, PortError))
    if unread:
        # One of them may still be in a team that could not be read: no release, and no revocation either, so
        # the next pass finds them again.
        why = f"the team of A project {', '.join(unread)} could not be read"
        return outcomes, frozenset(u.uuid for u in leaving), why
    for user in leaving:
        removal = Removal(user.username, user.uuid)
        outcomes.attempt(removal, functools.partial(b_users.remove_identity, user.username, settings.match.source))
    # A refused release is not retried (it would be refused again); a passing fault keeps the person's roles.
    return outcomes, frozenset(f.removal.user_uuid for f in outcomes.retry), ""
