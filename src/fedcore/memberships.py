"""Project memberships A -> B as a pure diff in one identity space: B user UUIDs.

The A team is first mapped to B users (see :mod:`fedcore.matching`) and its roles to B roles; the plan
is what to grant and revoke on the B project so that it mirrors the A team. Safety first: a B member is
only ever revoked when it is *managed*, i.e. it is the B counterpart of an A user. Members who cannot be
mapped to an A identity (fedcore's own user, people added on B by hand) are never touched, and neither
is anyone who maps to an A team member whose lookup did not succeed this time.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping, Sequence

from attrs import field, frozen

from fedcore.enums import UserMatchField
from fedcore.ids import Uuid, normalize_uuid
from fedcore.matching import same_person
from fedcore.model import Member, OfferingUser, UserIdentity, str_map


@frozen
class RoleMap:
    """An A project role name -> B project role name: the one rule for translating roles.

    ``mapping`` (the config's ``role_mapping``) wins; an unmapped role becomes ``default`` when one is set
    (fedcore's ``default_role`` key) and otherwise keeps its own name: operators of waldur-site-agent expect
    role names to carry over, so a file without ``default_role`` grants on B the roles it names on A.
    """

    mapping: Mapping[str, str] = field(factory=dict, converter=str_map)
    default: str | None = None

    def b_role(self, a_role: str) -> str:
        """The B role for ``a_role``: its mapping, else ``default``, else ``a_role`` itself."""
        return self.mapping.get(a_role, self.default or a_role)


class ChangeKind(enum.StrEnum):
    """Grant or revoke one role."""

    ADD = "add"
    REMOVE = "remove"


@frozen
class MembershipChange:
    """One role of one B user to grant or revoke in the B project."""

    kind: ChangeKind
    user_uuid: Uuid = field(converter=normalize_uuid)
    role: str


@frozen
class MembershipPlan:
    """The changes that make the B project mirror the A team: grants first, then revocations.

    Grants go first so that a role change (revoke old + grant new) never leaves the user without access
    when the revocation succeeds and the grant fails.
    """

    changes: tuple[MembershipChange, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when the B project already mirrors the A team."""
        return not self.changes


def plan_memberships(
    *,
    a_team: Sequence[Member],
    resolved: Mapping[Uuid, Uuid],
    b_members: Sequence[Member],
    roles: RoleMap,
    match_field: UserMatchField,
    known: Iterable[UserIdentity] = (),
    protected: Collection[Uuid] = (),
) -> MembershipPlan:
    """Diff the A team (mapped through ``resolved``: A user UUID -> B user UUID) against ``b_members``.

    A B member is managed when it is a resolved target, or when it is the exact counterpart (on
    ``match_field``) of a ``known`` A identity outside the team (e.g. A's offering users): those are the
    only members whose extra roles are revoked. Members matching an unresolved team member, members in
    ``protected`` and members mapping to no A identity at all are left alone.
    """
    desired = {(resolved[m.user.uuid], roles.b_role(m.role)) for m in a_team if m.user.uuid in resolved}
    current = {(m.user.uuid, m.role) for m in b_members}
    unresolved = [m.user for m in a_team if m.user.uuid not in resolved]
    former = [u for u in known if u.uuid not in resolved]
    targets = set(resolved.values())

    def managed(b_user: UserIdentity) -> bool:
        if b_user.uuid in protected:
            return False
        if b_user.uuid in targets:
            return True
        if any(same_person(a_user, b_user, match_field) for a_user in unresolved):
            return False
        return any(same_person(a_user, b_user, match_field) for a_user in former)

    b_users = {m.user.uuid: m.user for m in b_members}
    adds = sorted(desired - current)
    removes = sorted((u, r) for u, r in current - desired if managed(b_users[u]))
    return MembershipPlan(
        tuple(MembershipChange(ChangeKind.ADD, u, r) for u, r in adds)
        + tuple(MembershipChange(ChangeKind.REMOVE, u, r) for u, r in removes)
    )


def known_identities(offering_users: Iterable[OfferingUser]) -> list[UserIdentity]:
    """A's offering users as identities (user UUID, CUID, email): the A people fedcore may manage on B.

    One identity per A user. They are compared with :func:`fedcore.matching.same_person`, so a CUID
    matches B's whatever its case, and an email only when A's offering shows it (an offering that hides
    ``user_email`` leaves former members unrecognised under email matching, hence never revoked).
    """
    found: dict[Uuid, UserIdentity] = {}
    for u in offering_users:
        found.setdefault(u.user_uuid, UserIdentity(uuid=u.user_uuid, username=u.user_username, email=u.user_email))
    return list(found.values())
