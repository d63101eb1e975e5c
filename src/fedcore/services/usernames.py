"""Copy offering-user usernames from B to A: read both sides, plan, one PATCH per mismatch.

:func:`sync_usernames` reconciles the whole offering (one listing per side); :func:`sync_username` one
person, e.g. on a username event from B (a per-user read per side). Both use the same pure plan
(:func:`fedcore.usernames.plan_username_patches`), so they agree on who is patched.

Each patch stands alone: a failing patch is reported (retry later when transient, failed when refused)
and the others still go through. A failing read raises: without both sides nothing can be decided, and
"no users" must never be inferred from an error.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from attrs import frozen

from fedcore.enums import UserMatchField
from fedcore.ids import Uuid
from fedcore.matching import match_key
from fedcore.model import OfferingUser
from fedcore.ports.users import SourceUsers, TargetUsers
from fedcore.services._outcomes import Outcomes
from fedcore.usernames import SOURCE_STATES, TARGET_STATES, UsernamePatch, UsernamePlan, plan_username_patches


@frozen
class PatchFailure:
    """A patch that did not go through, and why (the port's message, naming the call)."""

    patch: UsernamePatch
    detail: str


@frozen
class UsernameSyncReport:
    """What one pass did: patches applied, to retry later, refused; join keys skipped as ambiguous."""

    applied: tuple[UsernamePatch, ...] = ()
    retry: tuple[PatchFailure, ...] = ()
    failed: tuple[PatchFailure, ...] = ()
    ambiguous: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """True when every planned patch was applied."""
        return not self.retry and not self.failed


def sync_usernames(
    source: SourceUsers, target: TargetUsers, match_field: UserMatchField = UserMatchField.CUID
) -> UsernameSyncReport:
    """Make A's offering-user usernames equal B's (B state OK), people joined on ``match_field``.

    Pass the federation's ``MatchSettings.identity_field``, the field membership sync matches people on.
    """
    b_users = target.list_offering_users(TARGET_STATES)
    a_users = source.list_offering_users(SOURCE_STATES)
    return _apply(source, plan_username_patches(a_users, b_users, match_field))


def sync_username(
    source: SourceUsers, target: TargetUsers, cuid: str, match_field: UserMatchField = UserMatchField.CUID
) -> UsernameSyncReport:
    """Sync the username of one A user (``cuid``, A's ``user_username``): small reads, a patch only if needed.

    Under CUID or username matching, B's records are read by the same name: two reads. Under email
    matching the B person has a username of their own, so they are first found by the email A's record
    shows (exact matches among Waldur's substring candidates): three reads for one B person, and nothing
    to do when A shows no email. The plan is the one :func:`sync_usernames` uses, with one blind spot: a
    second A user sharing the email is only seen by the full pass, which then reports the email as ambiguous.
    """
    a_users = source.offering_users_of(cuid)
    b_users = _b_records_of(target, a_users, cuid, match_field)
    return _apply(source, plan_username_patches(a_users, b_users, match_field))


def _b_records_of(
    target: TargetUsers, a_users: Sequence[OfferingUser], cuid: str, match_field: UserMatchField
) -> Sequence[OfferingUser]:
    if match_field is not UserMatchField.EMAIL:
        return target.offering_users_of(cuid)
    emails = {match_key(u.user_email, match_field): u.user_email.strip() for u in a_users if u.user_email.strip()}
    records: dict[Uuid, OfferingUser] = {}
    for key, email in emails.items():
        people = {u.uuid: u for u in target.find_users(match_field, email) if match_key(u.email, match_field) == key}
        for person in people.values():
            records.update((r.uuid, r) for r in target.offering_users_of(person.username))
    return list(records.values())


def _apply(source: SourceUsers, plan: UsernamePlan) -> UsernameSyncReport:
    outcomes: Outcomes[UsernamePatch, PatchFailure] = Outcomes(PatchFailure)
    for patch in plan.patches:
        outcomes.attempt(
            patch, functools.partial(source.set_offering_user_username, patch.offering_user_uuid, patch.username)
        )
    return UsernameSyncReport(tuple(outcomes.applied), tuple(outcomes.retry), tuple(outcomes.failed), plan.ambiguous)
