"""Copy offering-user usernames from B to A: two listings, then one PATCH per mismatch.

Each patch stands alone: a failing patch is reported (retry later when transient, failed when refused)
and the others still go through. A failing listing raises: without both sides nothing can be decided,
and "no users" must never be inferred from an error.
"""

from __future__ import annotations

from attrs import frozen

from fedcore.errors import PermanentError, TransientError
from fedcore.ports.users import SourceUsers, TargetUsers
from fedcore.usernames import SOURCE_STATES, TARGET_STATES, UsernamePatch, plan_username_patches


@frozen
class PatchFailure:
    """A patch that did not go through, and why (the port's message, naming the call)."""

    patch: UsernamePatch
    detail: str


@frozen
class UsernameSyncReport:
    """What one pass did: patches applied, to retry later, refused; CUIDs skipped as ambiguous on B."""

    applied: tuple[UsernamePatch, ...] = ()
    retry: tuple[PatchFailure, ...] = ()
    failed: tuple[PatchFailure, ...] = ()
    ambiguous: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """True when every planned patch was applied."""
        return not self.retry and not self.failed


def sync_usernames(source: SourceUsers, target: TargetUsers) -> UsernameSyncReport:
    """Make A's offering-user usernames equal B's (B state OK, matched on the CUID)."""
    b_users = target.list_offering_users(TARGET_STATES)
    a_users = source.list_offering_users(SOURCE_STATES)
    plan = plan_username_patches(a_users, b_users)
    applied: list[UsernamePatch] = []
    retry: list[PatchFailure] = []
    failed: list[PatchFailure] = []
    for patch in plan.patches:
        try:
            source.set_offering_user_username(patch.offering_user_uuid, patch.username)
        except TransientError as exc:
            retry.append(PatchFailure(patch, str(exc)))
        except PermanentError as exc:
            failed.append(PatchFailure(patch, str(exc)))
        else:
            applied.append(patch)
    return UsernameSyncReport(tuple(applied), tuple(retry), tuple(failed), plan.ambiguous)
