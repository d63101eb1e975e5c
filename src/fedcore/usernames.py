"""Offering-user usernames B -> A: which A offering users need their ``username`` patched.

B's service provider decides the offering-local account name; A must show the same one. A and B
offering users are joined on the field that identifies a person in this federation (the CUID, or the
email or username under ``user_field`` matching), compared by :func:`fedcore.matching.match_key`. Only
settled B records count (state OK, a non-empty username), restricted ones included: restriction is
about access, not identity. Only A records that are live or on their way (OK, Creating, Requested) and
not restricted are patched: a restricted A record was frozen by A's operator. Patching moves an A
record to OK with the new username, so planning again after applying the plan yields nothing.
See docs/usernames.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from attrs import field, frozen

from fedcore.enums import OfferingUserState, UserMatchField
from fedcore.ids import Uuid, normalize_uuid
from fedcore.matching import match_key, offering_user_value
from fedcore.model import OfferingUser

SOURCE_STATES = frozenset({OfferingUserState.OK, OfferingUserState.CREATING, OfferingUserState.REQUESTED})
"""A offering-user states whose username fedcore sets."""

TARGET_STATES = frozenset({OfferingUserState.OK})
"""B offering-user states whose username is final enough to copy."""


@frozen
class UsernamePatch:
    """Set the A offering user's ``username`` to ``username`` (``previous`` is for the report only).

    ``cuid`` is the A user's CUID (``user_username``), whatever field joined it to B.
    """

    offering_user_uuid: Uuid = field(converter=normalize_uuid)
    cuid: str
    username: str
    previous: str | None = None


@frozen
class UsernamePlan:
    """The patches to apply, and the join keys skipped as ambiguous.

    A key is ambiguous when B holds conflicting usernames for it, or when it names more than one A user
    (e.g. two A users sharing an email): fedcore cannot tell whose account the B name is.
    """

    patches: tuple[UsernamePatch, ...] = ()
    ambiguous: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when nothing is to be patched."""
        return not self.patches


def target_usernames(
    b_users: Iterable[OfferingUser], match_field: UserMatchField = UserMatchField.CUID
) -> tuple[dict[str, str], tuple[str, ...]]:
    """Join key -> settled B username, and the keys for which B shows more than one username.

    Restricted B records count: a restricted account keeps its name.
    """
    found: defaultdict[str, set[str]] = defaultdict(set)
    for user in b_users:
        name = (user.username or "").strip()
        key = match_key(offering_user_value(user, match_field), match_field)
        if user.state in TARGET_STATES and name and key:
            found[key].add(name)
    ambiguous = tuple(sorted(key for key, names in found.items() if len(names) > 1))
    return {key: next(iter(names)) for key, names in found.items() if len(names) == 1}, ambiguous


def _eligible_by_key(
    a_users: Iterable[OfferingUser], match_field: UserMatchField
) -> tuple[dict[str, list[OfferingUser]], set[str]]:
    """Live or pending A records by join key, and the keys naming more than one A user."""
    records: defaultdict[str, list[OfferingUser]] = defaultdict(list)
    for user in a_users:
        key = match_key(offering_user_value(user, match_field), match_field)
        if user.state in SOURCE_STATES and key:
            records[key].append(user)
    shared = {key for key, found in records.items() if len({u.user_uuid for u in found}) > 1}
    return records, shared


def plan_username_patches(
    a_users: Iterable[OfferingUser],
    b_users: Iterable[OfferingUser],
    match_field: UserMatchField = UserMatchField.CUID,
) -> UsernamePlan:
    """Patch every eligible A offering user whose username differs from its B counterpart's.

    ``match_field`` is the federation's identity field (:attr:`fedcore.matching.MatchSettings.identity_field`),
    the same one membership sync matches people on. A record that already carries the right name but is
    still Requested or Creating is patched too: the account exists on B, and setting the username is what
    moves an A record to OK.
    """
    wanted, ambiguous = target_usernames(b_users, match_field)
    by_key, shared = _eligible_by_key(a_users, match_field)
    patches = [
        UsernamePatch(user.uuid, user.user_username, wanted[key], user.username)
        for key, users in by_key.items()
        if key in wanted and key not in shared
        for user in users
        if not user.is_restricted and (user.username != wanted[key] or user.state is not OfferingUserState.OK)
    ]
    patches.sort(key=lambda p: (p.cuid, p.offering_user_uuid))
    skipped = set(ambiguous) | (shared & set(wanted))
    return UsernamePlan(tuple(patches), tuple(sorted(skipped)))
