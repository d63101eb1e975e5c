"""Offering-user usernames B -> A: which A offering users need their ``username`` patched.

B's service provider decides the offering-local account name; A must show the same one. The two
offerings' users are matched on the CUID (``user_username``). Only settled B records count (state OK,
a non-empty username); only A records that are live or on their way (OK, Creating, Requested) are
patched; restricted users are left out on both sides. Patching moves an A record to OK with the new
username, so planning again after applying the plan yields nothing (idempotence).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from attrs import field, frozen

from fedcore.enums import OfferingUserState
from fedcore.ids import Uuid, normalize_uuid
from fedcore.model import OfferingUser

SOURCE_STATES = frozenset({OfferingUserState.OK, OfferingUserState.CREATING, OfferingUserState.REQUESTED})
"""A offering-user states whose username fedcore sets."""

TARGET_STATES = frozenset({OfferingUserState.OK})
"""B offering-user states whose username is final enough to copy."""


@frozen
class UsernamePatch:
    """Set the A offering user's ``username`` to ``username`` (``previous`` is for the report only)."""

    offering_user_uuid: Uuid = field(converter=normalize_uuid)
    cuid: str
    username: str
    previous: str | None = None


@frozen
class UsernamePlan:
    """The patches to apply, and the CUIDs skipped because B holds conflicting usernames for them."""

    patches: tuple[UsernamePatch, ...] = ()
    ambiguous: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when nothing is to be patched."""
        return not self.patches


def target_usernames(b_users: Iterable[OfferingUser]) -> tuple[dict[str, str], tuple[str, ...]]:
    """CUID -> settled B username, and the CUIDs for which B shows more than one username."""
    found: defaultdict[str, set[str]] = defaultdict(set)
    for user in b_users:
        name = (user.username or "").strip()
        if user.state in TARGET_STATES and name and not user.is_restricted:
            found[user.user_username].add(name)
    ambiguous = tuple(sorted(cuid for cuid, names in found.items() if len(names) > 1))
    return {cuid: next(iter(names)) for cuid, names in found.items() if len(names) == 1}, ambiguous


def plan_username_patches(a_users: Iterable[OfferingUser], b_users: Iterable[OfferingUser]) -> UsernamePlan:
    """Patch every eligible A offering user whose username differs from its B counterpart's.

    A record that already carries the right name but is still Requested or Creating is patched too: the
    account exists on B, and setting the username is what moves an A record to OK.
    """
    wanted, ambiguous = target_usernames(b_users)
    patches = [
        UsernamePatch(user.uuid, user.user_username, wanted[user.user_username], user.username)
        for user in a_users
        if user.state in SOURCE_STATES
        and not user.is_restricted
        and user.user_username in wanted
        and (user.username != wanted[user.user_username] or user.state is not OfferingUserState.OK)
    ]
    patches.sort(key=lambda p: (p.cuid, p.offering_user_uuid))
    return UsernamePlan(tuple(patches), ambiguous)
