"""Mirror an A project's team in its B project: resolve each A user on B, diff, grant and revoke.

Reads raise (a failed listing must not look like an empty team). Everything per item is reported: each
user's match outcome, each grant or revocation applied, to retry, or refused. One user's failure never
stops the others.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Sequence

from attrs import frozen

from fedcore.enums import UserMatchField, UserResolveMethod
from fedcore.errors import NotFound, PermanentError, TransientError
from fedcore.ids import Uuid
from fedcore.matching import (
    MatchSettings,
    MatchStatus,
    UserMatch,
    bridge_attributes,
    judge,
    lookup_value,
    matched_targets,
    pick_exact,
)
from fedcore.memberships import ChangeKind, MembershipChange, RoleMap, plan_memberships
from fedcore.model import Member, UserIdentity
from fedcore.ports.users import SourceUsers, TargetMembers, TargetUsers
from fedcore.services._outcomes import Outcomes


@frozen
class ChangeFailure:
    """A grant or revocation that did not go through, and why."""

    change: MembershipChange
    detail: str


@frozen
class MembershipReport:
    """One project's pass: user outcomes, and the changes applied, to retry, or refused."""

    matches: tuple[UserMatch, ...] = ()
    applied: tuple[MembershipChange, ...] = ()
    retry: tuple[ChangeFailure, ...] = ()
    failed: tuple[ChangeFailure, ...] = ()

    @property
    def failed_users(self) -> tuple[UserMatch, ...]:
        """Users whose outcome counts as a failure (refused, or a miss under ``fail``)."""
        return tuple(m for m in self.matches if m.failed)


def _resolve(user: UserIdentity, target: TargetUsers, settings: MatchSettings) -> UserMatch:
    field = settings.identity_field
    if not lookup_value(user, field):
        return pick_exact(user, field, ())
    if settings.method is UserResolveMethod.IDENTITY_BRIDGE:
        attributes = bridge_attributes(user, settings.allowed_attributes)
        return UserMatch(user, MatchStatus.MATCHED, target.push_identity(user.username, settings.source, attributes))
    if settings.method is UserResolveMethod.REMOTE_EDUTEAMS:
        return UserMatch(user, MatchStatus.MATCHED, target.resolve_eduteams(user.username))
    return pick_exact(user, field, target.find_users(field, lookup_value(user, field)))


def resolve_users(users: Iterable[UserIdentity], target: TargetUsers, settings: MatchSettings) -> tuple[UserMatch, ...]:
    """Find (or push) each distinct A user on B; one outcome per user, judged by the not-found action."""
    outcomes: dict[Uuid, UserMatch] = {}
    for user in users:
        if user.uuid in outcomes:
            continue
        try:
            outcome = _resolve(user, target, settings)
        except TransientError as exc:
            outcome = UserMatch(user, MatchStatus.RETRY, detail=str(exc))
        except NotFound as exc:
            outcome = UserMatch(user, MatchStatus.NOT_FOUND, detail=str(exc))
        except PermanentError as exc:
            outcome = UserMatch(user, MatchStatus.REFUSED, detail=str(exc))
        outcomes[user.uuid] = judge(outcome, settings.not_found)
    return tuple(outcomes.values())


def sync_memberships(
    *,
    a_project: Uuid,
    b_project: Uuid,
    source: SourceUsers,
    target: TargetUsers,
    members: TargetMembers,
    settings: MatchSettings,
    roles: RoleMap,
    known: Iterable[UserIdentity] = (),
    protected: Collection[Uuid] = (),
) -> MembershipReport:
    """Make the B project's members mirror the A project's team (see :func:`plan_memberships`)."""
    team = source.list_team(a_project)
    b_members = members.list_members(b_project)
    matches = resolve_users((m.user for m in team), target, settings)
    return mirror_team(
        b_project=b_project, team=team, b_members=b_members, matches=matches, members=members,
        match_field=settings.identity_field, roles=roles, known=known, protected=protected,
    )  # fmt: skip


def mirror_team(
    *,
    b_project: Uuid,
    team: Sequence[Member],
    b_members: Sequence[Member],
    matches: Iterable[UserMatch],
    members: TargetMembers,
    match_field: UserMatchField,
    roles: RoleMap,
    known: Iterable[UserIdentity] = (),
    protected: Collection[Uuid] = (),
) -> MembershipReport:
    """Grant and revoke on the B project from reads already made: the A ``team``, the ``b_members`` and the users'
    ``matches`` (which may cover other projects' members too: a pass resolves each person once).

    The report keeps the outcomes of this team's users only.
    """
    mine = {m.user.uuid for m in team}
    own = tuple(m for m in matches if m.user.uuid in mine)
    plan = plan_memberships(
        a_team=team,
        resolved=matched_targets(own),
        b_members=b_members,
        roles=roles,
        match_field=match_field,
        known=known,
        protected=protected,
    )
    outcomes: Outcomes[MembershipChange, ChangeFailure] = Outcomes(ChangeFailure)
    for change in plan.changes:
        apply = members.add_member if change.kind is ChangeKind.ADD else members.remove_member
        outcomes.attempt(change, functools.partial(apply, b_project, change.user_uuid, change.role))
    return MembershipReport(own, tuple(outcomes.applied), tuple(outcomes.retry), tuple(outcomes.failed))
