"""What an event asks fedcore to do: a pure, total routing of every :class:`~fedcore.events.Event` to a
:class:`Reaction`.

Events only accelerate. A reaction names *what to look at again*, never what to write: the runner re-reads the
current state of A and B and the ordinary services decide, so a duplicated, reordered or stale event is harmless.

| Side | Object type | Reaction |
|---|---|---|
| A | ``order`` (``pending-provider``, or no state) | :class:`ProcessOrder`: that A order, now |
| A | ``order`` in another state | :class:`Ignore` (``pending-consumer``: the consumer's turn; ``done``: fedcore's) |
| A | ``user_role``, ``resource`` | :class:`Reconcile` ``membership``: teams, end dates and limits of the offering |
| A | ``offering_user`` | :class:`Reconcile` ``username``: a new A offering user may take a username B already set |
| B | ``order`` ``done`` (or another end state, or no state) | :class:`FollowBOrder`: the A order linked to it |
| B | ``order`` ``pending-*`` | :class:`Ignore`: the B order waits for B's provider (or consumer), not for fedcore |
| B | ``offering_user`` with a username | :class:`SyncOfferingUser`: that one person's username onto A |
| B | ``offering_user`` without one, or ``delete`` | :class:`Ignore` |
| any | any other type | :class:`Ignore` (fedcore does not subscribe to it; a stray message is acknowledged) |

A :class:`~fedcore.events.Malformed` frame needs no reaction function: it is logged and acknowledged.
"""

from __future__ import annotations

import enum

from attrs import frozen

from fedcore.enums import ObjectType, OrderState, Side
from fedcore.events import Event
from fedcore.ids import Uuid


class Pass(enum.StrEnum):
    """The level-triggered passes an event can ask for sooner than their schedule."""

    ORDERS = "orders"
    MEMBERSHIP = "membership"
    USERNAME = "username"


@frozen
class ProcessOrder:
    """Give the A order ``order_uuid`` its turn now (read it, then the order lifecycle)."""

    order_uuid: Uuid


@frozen
class FollowBOrder:
    """B's order ``b_order_uuid`` changed: give the A order linked to it its turn (or, when fedcore does not know
    which A order that is, an order pass of the offering)."""

    b_order_uuid: Uuid


@frozen
class SyncOfferingUser:
    """B's offering user ``offering_user_uuid`` has a username now: copy that one person's username onto A."""

    offering_user_uuid: Uuid


@frozen
class Reconcile:
    """Run the offering's ``what`` pass soon (coalesced: many events, one pass)."""

    what: Pass


@frozen
class Ignore:
    """Nothing to do; ``why`` is for the debug log."""

    why: str


Reaction = ProcessOrder | FollowBOrder | SyncOfferingUser | Reconcile | Ignore

_A_ORDER_STATES = frozenset({OrderState.PENDING_PROVIDER, OrderState.EXECUTING})
_DELETE = "delete"


def react(event: Event) -> Reaction:
    """What ``event`` asks for (see the module table). Total: every event has exactly one reaction."""
    if event.side is Side.A:
        return _on_a(event)
    return _on_b(event)


def _on_a(event: Event) -> Reaction:
    match event.object_type:
        case ObjectType.ORDER:
            if event.order_uuid is None:  # pragma: no cover - the decoder requires it
                return Ignore("order event without an order")
            if event.order_state is None or event.order_state in _A_ORDER_STATES:
                return ProcessOrder(event.order_uuid)
            return Ignore(f"A order {event.order_uuid} is {event.order_state}: nothing for the provider to do")
        case ObjectType.USER_ROLE | ObjectType.RESOURCE:
            return Reconcile(Pass.MEMBERSHIP)
        case ObjectType.OFFERING_USER:
            if event.action == _DELETE:
                return Ignore("an A offering user was deleted")
            return Reconcile(Pass.USERNAME)
        case _:
            return Ignore(f"fedcore does not act on {event.object_type} events")


def _on_b(event: Event) -> Reaction:
    match event.object_type:
        case ObjectType.ORDER:
            if event.order_uuid is None:  # pragma: no cover - the decoder requires it
                return Ignore("order event without an order")
            if event.order_state is not None and not event.order_state.is_terminal:
                return Ignore(f"B order {event.order_uuid} is {event.order_state}: B's turn, not fedcore's")
            return FollowBOrder(event.order_uuid)
        case ObjectType.OFFERING_USER:
            if event.offering_user_uuid is None:  # pragma: no cover - the decoder requires it
                return Ignore("offering user event without an offering user")
            if event.action == _DELETE:
                return Ignore("a B offering user was deleted (A keeps its username)")
            if not event.username:
                return Ignore("the B offering user has no username yet")
            return SyncOfferingUser(event.offering_user_uuid)
        case _:
            return Ignore(f"fedcore does not act on {event.object_type} events from B")
