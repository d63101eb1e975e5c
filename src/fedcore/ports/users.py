"""Ports for users, memberships and usernames, shaped for the REST adapter: one listing per call.

A (:class:`SourceUsers`) provides the team of a project and its offering users; B
(:class:`TargetUsers`) finds, creates or releases people and shows its offering users. The membership
writes on B go through :class:`TargetMembers`, the membership slice of :class:`fedcore.ports.TargetProjects`.
Both sides answer for one user at a time too (:meth:`SourceUsers.offering_users_of`), so one username event
costs two small reads instead of two full listings.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

from fedcore.enums import OfferingUserState, UserMatchField
from fedcore.ids import Uuid
from fedcore.model import JsonValue, Member, OfferingUser, UserIdentity


class SourceUsers(Protocol):
    """Waldur A: the offering's users and the teams of the projects that use it."""

    def list_offering_users(self, states: Collection[OfferingUserState]) -> Sequence[OfferingUser]:
        """Every offering user of A's offering in any of ``states`` (one listing)."""
        ...

    def offering_users_of(self, user_username: str) -> Sequence[OfferingUser]:
        """The offering users of A's offering whose CUID is ``user_username``, in any state (one small read).

        Waldur's ``user_username`` filter: exact but case-insensitive. An unknown user gives an empty result.
        """
        ...

    def set_offering_user_username(self, offering_user_uuid: Uuid, username: str) -> None:
        """``PATCH {"username": ...}``: sets the offering-local username, which moves the record to OK."""
        ...

    def list_team(self, project_uuid: Uuid) -> Sequence[Member]:
        """Every role of every user in the A project, each user with its CUID (username) and email."""
        ...


class TargetUsers(Protocol):
    """Waldur B: finding or creating the B counterpart of an A user, and B's offering users."""

    def push_identity(self, username: str, source: str, attributes: Mapping[str, JsonValue]) -> Uuid:
        """Identity bridge: create or update the B user ``username`` (the CUID) from ``source``; its UUID."""
        ...

    def remove_identity(self, username: str, source: str) -> None:
        """Identity bridge removal: ``source`` no longer vouches for the B user ``username`` (the CUID).

        The source leaves the user's active sources and the attributes it owned are cleared; a user left
        with no active source is deactivated. NotFound when B has no such user; PermanentError (403) when
        the source is not managed by fedcore's token, (400) when it is malformed.
        """
        ...

    def resolve_eduteams(self, cuid: str) -> Uuid:
        """Remote eduTEAMS: create or update the B user for ``cuid``; NotFound when eduTEAMS does not know it."""
        ...

    def find_users(self, match_field: UserMatchField, value: str) -> Sequence[UserIdentity]:
        """B users as Waldur's filter for ``match_field`` returns them (email: substring; others: exact).

        These are candidates: the caller picks the exact match. Only users visible to the token appear.
        """
        ...

    def list_offering_users(self, states: Collection[OfferingUserState]) -> Sequence[OfferingUser]:
        """Every offering user of B's offering in any of ``states`` (one listing)."""
        ...

    def get_offering_user(self, offering_user_uuid: Uuid) -> OfferingUser:
        """One B offering user by UUID; NotFound when B answers 404."""
        ...

    def offering_users_of(self, user_username: str) -> Sequence[OfferingUser]:
        """The offering users of B's offering whose user is ``user_username``, in any state (one small read).

        Waldur's ``user_username`` filter: exact but case-insensitive. An unknown user gives an empty result.
        """
        ...


class TargetMembers(Protocol):
    """The members of B projects: every :class:`fedcore.ports.TargetProjects` satisfies this port."""

    def list_members(self, project_uuid: Uuid) -> Sequence[Member]:
        """Every role of every user in the B project."""
        ...

    def add_member(self, project_uuid: Uuid, user_uuid: Uuid, role: str) -> None:
        """Grant ``role`` to the B user in the B project."""
        ...

    def remove_member(self, project_uuid: Uuid, user_uuid: Uuid, role: str) -> None:
        """Revoke ``role`` from the B user in the B project."""
        ...
