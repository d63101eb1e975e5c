"""Events from Waldur's STOMP queues as domain values: what happened, on which side, to which object.

Events only accelerate: every handler re-reads current state, so an event needs to say only *which* object to
look at. The adapter decodes frames into :class:`Event` (known shape) or :class:`Malformed` (anything it could not
decode, kept with the queue and a short excerpt for the log); both travel in a :class:`Delivery` that the consumer
acknowledges once the effect is durable, or gives back for redelivery.
"""

from __future__ import annotations

from attrs import field, frozen

from fedcore.enums import ObjectType, OfferingUserState, OrderState, Side
from fedcore.ids import Uuid, normalize_uuid, optional_uuid

MAX_EXCERPT = 200
"""How much of a malformed frame is kept for the log."""


def _excerpt(value: str) -> str:
    return value if len(value) <= MAX_EXCERPT else value[: MAX_EXCERPT - 1] + "…"


@frozen
class Event:
    """One decoded message: ``object_type`` on ``side``'s offering, with the identifiers it carried.

    Only the fields the message type carries are set (see EVENTS.md §5): an ``order`` event has ``order_uuid``
    and ``order_state``; a ``user_role`` event ``user_uuid``, ``user_username``, ``project_uuid``, ``role_name``
    and ``granted``; an ``offering_user`` event ``action``, ``offering_user_uuid``, ``user_uuid``, ``username``
    and ``state``; a ``resource`` event ``resource_uuid``.
    """

    side: Side
    object_type: ObjectType
    offering_uuid: Uuid = field(converter=normalize_uuid)
    action: str = ""
    order_uuid: Uuid | None = field(default=None, converter=optional_uuid)
    order_state: OrderState | None = None
    resource_uuid: Uuid | None = field(default=None, converter=optional_uuid)
    project_uuid: Uuid | None = field(default=None, converter=optional_uuid)
    user_uuid: Uuid | None = field(default=None, converter=optional_uuid)
    user_username: str = ""
    role_name: str = ""
    granted: bool | None = None
    offering_user_uuid: Uuid | None = field(default=None, converter=optional_uuid)
    username: str = ""
    state: OfferingUserState | None = None


@frozen
class Malformed:
    """A frame that could not be decoded: where it came from, why, and the start of its body."""

    side: Side
    queue: str
    reason: str
    excerpt: str = field(default="", converter=_excerpt)


@frozen
class Delivery:
    """One message handed to fedcore. ``tag`` is the adapter's opaque acknowledgement handle.

    ``attempt`` counts deliveries of this message (1 the first time); a consumer gives up on a message that keeps
    failing after a bounded number of attempts, acknowledges it, and leaves the repair to reconciliation.
    """

    tag: str
    body: Event | Malformed
    attempt: int = 1
