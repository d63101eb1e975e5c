"""Waldur 8.0.5 enumerations, with their exact API values (shared/waldur/API.md section 2)."""

from __future__ import annotations

import enum


class Side(enum.StrEnum):
    """One of the two Waldurs: A, the source where users order; B, the target that provides."""

    A = "A"
    B = "B"


class OrderState(enum.StrEnum):
    """A marketplace order's ``state`` as the API renders it."""

    PENDING_CONSUMER = "pending-consumer"
    PENDING_PROVIDER = "pending-provider"
    PENDING_PROJECT = "pending-project"
    PENDING_START_DATE = "pending-start-date"
    EXECUTING = "executing"
    DONE = "done"
    ERRED = "erred"
    CANCELED = "canceled"
    REJECTED = "rejected"

    @property
    def is_terminal(self) -> bool:
        """Done, erred, canceled or rejected: nothing will change this order any more."""
        return self in TERMINAL_ORDER_STATES

    @property
    def is_failure(self) -> bool:
        """Erred, canceled or rejected: the order ended without doing its work."""
        return self in FAILED_ORDER_STATES

    @property
    def code(self) -> int:
        """The server's internal integer code (used in a few STOMP payloads)."""
        return _ORDER_STATE_CODES[self]


TERMINAL_ORDER_STATES = frozenset(
    {OrderState.DONE, OrderState.ERRED, OrderState.CANCELED, OrderState.REJECTED}
)
FAILED_ORDER_STATES = frozenset({OrderState.ERRED, OrderState.CANCELED, OrderState.REJECTED})
PENDING_ORDER_STATES = frozenset(
    {
        OrderState.PENDING_CONSUMER,
        OrderState.PENDING_PROVIDER,
        OrderState.PENDING_PROJECT,
        OrderState.PENDING_START_DATE,
    }
)
_ORDER_STATE_CODES = {
    OrderState.PENDING_CONSUMER: 1,
    OrderState.EXECUTING: 2,
    OrderState.DONE: 3,
    OrderState.ERRED: 4,
    OrderState.CANCELED: 5,
    OrderState.REJECTED: 6,
    OrderState.PENDING_PROVIDER: 7,
    OrderState.PENDING_PROJECT: 8,
    OrderState.PENDING_START_DATE: 9,
}


class OrderType(enum.StrEnum):
    """A marketplace order's ``type`` (Waldur's RequestTypes)."""

    CREATE = "Create"
    UPDATE = "Update"
    TERMINATE = "Terminate"
    RESTORE = "Restore"


class ResourceState(enum.StrEnum):
    """A marketplace resource's ``state``."""

    CREATING = "Creating"
    OK = "OK"
    ERRED = "Erred"
    UPDATING = "Updating"
    TERMINATING = "Terminating"
    TERMINATED = "Terminated"


class OfferingUserState(enum.StrEnum):
    """A marketplace offering user's ``state`` (display values; see :attr:`code` for the integers)."""

    REQUESTED = "Requested"
    CREATING = "Creating"
    PENDING_ACCOUNT_LINKING = "Pending account linking"
    PENDING_ADDITIONAL_VALIDATION = "Pending additional validation"
    OK = "OK"
    REQUESTED_DELETION = "Requested deletion"
    DELETING = "Deleting"
    DELETED = "Deleted"
    ERROR_CREATING = "Error creating"
    ERROR_DELETING = "Error deleting"

    @property
    def code(self) -> int:
        """The server's integer code, as sent in ``username_set`` events (1 Requested ... 10 Error deleting)."""
        return _OFFERING_USER_CODES.index(self) + 1

    @classmethod
    def from_code(cls, code: int) -> OfferingUserState:
        """The state whose integer code is ``code``; ``ValueError`` for anything outside 1-10."""
        if not 1 <= code <= len(_OFFERING_USER_CODES):
            raise ValueError(f"unknown offering user state code {code!r}; expected 1-{len(_OFFERING_USER_CODES)}")
        return _OFFERING_USER_CODES[code - 1]


_OFFERING_USER_CODES = list(OfferingUserState)


class OfferingState(enum.StrEnum):
    """A marketplace offering's ``state``."""

    DRAFT = "Draft"
    ACTIVE = "Active"
    PAUSED = "Paused"
    ARCHIVED = "Archived"
    UNAVAILABLE = "Unavailable"


class ObjectType(enum.StrEnum):
    """Waldur 8.0.5's observable object types (event subscription queues)."""

    ORDER = "order"
    USER_ROLE = "user_role"
    RESOURCE = "resource"
    OFFERING_USER = "offering_user"
    IMPORTABLE_RESOURCES = "importable_resources"
    SERVICE_ACCOUNT = "service_account"
    COURSE_ACCOUNT = "course_account"
    RESOURCE_PERIODIC_LIMITS = "resource_periodic_limits"


class UserResolveMethod(enum.StrEnum):
    """How an A user is found or made on B (``backend_settings.user_resolve_method``)."""

    IDENTITY_BRIDGE = "identity_bridge"
    REMOTE_EDUTEAMS = "remote_eduteams"
    USER_FIELD = "user_field"


class UserMatchField(enum.StrEnum):
    """Which user field identifies a person on both sides (``backend_settings.user_match_field``)."""

    CUID = "cuid"
    EMAIL = "email"
    USERNAME = "username"


class UserNotFoundAction(enum.StrEnum):
    """What to do, per user, when an A user has no B counterpart."""

    WARN = "warn"
    FAIL = "fail"


class EndDateSyncDirection(enum.StrEnum):
    """Which way resource end dates are copied (``backend_settings.end_date_sync_direction``)."""

    A_TO_B = "a_to_b"
    B_TO_A = "b_to_a"
    BIDIRECTIONAL = "bidirectional"
    DISABLED = "disabled"


class LimitSyncDirection(enum.StrEnum):
    """Whether limits changed on B are copied back to A (``backend_settings.limit_sync_direction``)."""

    B_TO_A = "b_to_a"
    DISABLED = "disabled"
