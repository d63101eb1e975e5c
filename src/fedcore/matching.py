"""Matching an A user to a B user: pure decisions over what the B port answered.

Three ways to find a person on B (``UserResolveMethod``): push them with the identity bridge, ask
remote-eduteams, or look them up by a user field. The ports do the calls; this module decides what to
send (:func:`bridge_attributes`), which lookup candidate really matches (:func:`pick_exact`: Waldur's
``email`` filter is a case-insensitive *substring*, so a listing is only a list of candidates), and what
a miss means for one user (:func:`judge`). A miss never aborts a batch: each user gets an outcome.

One comparison rule serves every join of A and B people (:func:`match_key`): CUIDs and emails compare
case-insensitively, usernames exactly; surrounding whitespace never counts.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping

from attrs import field, frozen

from fedcore.enums import UserMatchField, UserNotFoundAction, UserResolveMethod
from fedcore.ids import Uuid, is_identity_source, optional_uuid
from fedcore.model import JsonValue, OfferingUser, UserIdentity

DEFAULT_BRIDGE_ATTRIBUTES = frozenset({"first_name", "last_name", "email", "organization", "affiliations"})
"""Waldur's default ``FEDERATED_IDENTITY_SYNC_ALLOWED_ATTRIBUTES``: the profile fields the bridge accepts."""

_BRIDGEABLE = ("first_name", "last_name", "email", "organization", "civil_number", "affiliations")


def _source(_instance: object, _attribute: object, value: str) -> None:
    if value and not is_identity_source(value):
        raise ValueError(f"identity bridge source {value!r} must look like 'isd:name'")


def _names(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


@frozen
class MatchSettings:
    """How A users are found on B, and what a miss means (from the offering's backend settings).

    ``source`` is the identity-bridge source (``isd:<name>``); it is required for ``identity_bridge``.
    ``allowed_attributes`` are the profile fields B's bridge accepts; anything else would be refused.
    """

    method: UserResolveMethod = UserResolveMethod.IDENTITY_BRIDGE
    match_field: UserMatchField = UserMatchField.CUID
    not_found: UserNotFoundAction = UserNotFoundAction.WARN
    source: str = field(default="", validator=_source)
    allowed_attributes: frozenset[str] = field(default=DEFAULT_BRIDGE_ATTRIBUTES, converter=_names)

    def __attrs_post_init__(self) -> None:
        if self.method is UserResolveMethod.IDENTITY_BRIDGE and not self.source:
            raise ValueError("the identity_bridge method needs a source (e.g. 'isd:puhuri')")

    @property
    def identity_field(self) -> UserMatchField:
        """The field that identifies a person on both sides: the CUID unless users are looked up by a field.

        The identity bridge and remote-eduteams both create B users whose username is the CUID.
        """
        return self.match_field if self.method is UserResolveMethod.USER_FIELD else UserMatchField.CUID


class MatchStatus(enum.StrEnum):
    """What became of one A user."""

    MATCHED = "matched"
    NOT_FOUND = "not_found"
    AMBIGUOUS = "ambiguous"
    REFUSED = "refused"
    RETRY = "retry"


@frozen
class UserMatch:
    """One A user's outcome. ``target`` is the B user UUID when matched.

    ``failed`` is the per-user verdict: a refusal always fails; a miss (not found, ambiguous) fails only
    under ``UserNotFoundAction.FAIL`` and is a warning otherwise; ``retry`` means "try again later".
    """

    user: UserIdentity
    status: MatchStatus
    target: Uuid | None = field(default=None, converter=optional_uuid)
    detail: str = ""
    failed: bool = False

    @property
    def matched(self) -> bool:
        """True when the user has a B counterpart."""
        return self.status is MatchStatus.MATCHED


def lookup_value(user: UserIdentity, match_field: UserMatchField) -> str:
    """The value to look the A user up by on B.

    CUID and username both use the A username: in federated deployments the CUID *is* the username, and
    B has no ``cuid`` filter (it is B's ``username``). Email uses the A email as given.
    """
    if match_field is UserMatchField.EMAIL:
        return user.email.strip()
    return user.username.strip()


def match_key(value: str, match_field: UserMatchField) -> str:
    """The form in which a ``match_field`` value is compared: equal keys mean the same person.

    CUIDs and emails are compared whole but case-insensitively (casefolded), as Waldur's own filters on
    them are (``user_username`` is ``iexact``) and as mail systems treat addresses. A ``username`` is
    compared exactly: it is a local account name, and ``Bob`` and ``bob`` may be two people. Surrounding
    whitespace is never part of a value. An empty key identifies no one.
    """
    value = value.strip()
    return value if match_field is UserMatchField.USERNAME else value.casefold()


def offering_user_value(user: OfferingUser, match_field: UserMatchField) -> str:
    """The value that identifies the person behind an offering user: ``user_email`` or the CUID."""
    return user.user_email if match_field is UserMatchField.EMAIL else user.user_username


def same_person(a_user: UserIdentity, b_user: UserIdentity, match_field: UserMatchField) -> bool:
    """True when ``b_user`` is an exact match for ``a_user`` on ``match_field`` (never a substring)."""
    wanted = match_key(lookup_value(a_user, match_field), match_field)
    return bool(wanted) and wanted == match_key(lookup_value(b_user, match_field), match_field)


def pick_exact(a_user: UserIdentity, match_field: UserMatchField, candidates: Iterable[UserIdentity]) -> UserMatch:
    """Choose the B user among lookup ``candidates``: exactly one exact match, else not found / ambiguous.

    The outcome is not judged yet (``failed`` is False); :func:`judge` applies the not-found action.
    """
    if not lookup_value(a_user, match_field):
        return UserMatch(a_user, MatchStatus.NOT_FOUND, detail=f"the A user has no {match_field} to match on")
    exact = {c.uuid: c for c in candidates if same_person(a_user, c, match_field)}
    if len(exact) == 1:
        return UserMatch(a_user, MatchStatus.MATCHED, target=next(iter(exact)))
    if not exact:
        return UserMatch(a_user, MatchStatus.NOT_FOUND, detail=f"no B user with this {match_field}")
    return UserMatch(a_user, MatchStatus.AMBIGUOUS, detail=f"{len(exact)} B users share this {match_field}")


def judge(outcome: UserMatch, action: UserNotFoundAction) -> UserMatch:
    """Stamp ``failed`` on one outcome: refusals always fail, misses fail only under ``FAIL``."""
    miss = outcome.status in (MatchStatus.NOT_FOUND, MatchStatus.AMBIGUOUS)
    failed = outcome.status is MatchStatus.REFUSED or (miss and action is UserNotFoundAction.FAIL)
    return UserMatch(outcome.user, outcome.status, target=outcome.target, detail=outcome.detail, failed=failed)


def bridge_attributes(user: UserIdentity, allowed: Collection[str]) -> dict[str, JsonValue]:
    """The profile fields to push with the identity bridge: allowed and non-empty only.

    Sending a field B does not allow is a 400 for the whole call, and an empty value would be ignored at
    best, so both are left out here rather than discovered one refusal at a time.
    """
    result: dict[str, JsonValue] = {}
    for name in _BRIDGEABLE:
        if name not in allowed:
            continue
        value = getattr(user, name)
        if name == "affiliations":
            if value:
                result[name] = list(value)
        elif value.strip():
            result[name] = value.strip()
    return result


def matched_targets(outcomes: Iterable[UserMatch]) -> Mapping[Uuid, Uuid]:
    """A user UUID -> B user UUID for every matched outcome."""
    return {o.user.uuid: o.target for o in outcomes if o.target is not None and o.matched}
