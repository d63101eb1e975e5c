"""The routing of events to reactions: the table of fedcore.reactions, and totality over every event."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedcore.enums import ObjectType, OfferingUserState, OrderState, Side
from fedcore.events import Event
from fedcore.ids import Uuid
from fedcore.reactions import FollowBOrder, Ignore, Pass, ProcessOrder, Reconcile, SyncOfferingUser, react

OFFERING = "a" * 32
ORDER = Uuid("1" * 32)
USER = Uuid("2" * 32)


@pytest.mark.parametrize(
    ("event", "reaction"),
    [
        (Event(Side.A, ObjectType.ORDER, OFFERING, order_uuid=ORDER, order_state=OrderState.PENDING_PROVIDER),
         ProcessOrder(ORDER)),
        (Event(Side.A, ObjectType.ORDER, OFFERING, action="provider_info_set", order_uuid=ORDER), ProcessOrder(ORDER)),
        (Event(Side.A, ObjectType.USER_ROLE, OFFERING, project_uuid=USER, granted=True), Reconcile(Pass.MEMBERSHIP)),
        (Event(Side.A, ObjectType.RESOURCE, OFFERING, resource_uuid=USER), Reconcile(Pass.MEMBERSHIP)),
        (Event(Side.A, ObjectType.OFFERING_USER, OFFERING, action="create", offering_user_uuid=USER),
         Reconcile(Pass.USERNAME)),
        (Event(Side.B, ObjectType.ORDER, OFFERING, order_uuid=ORDER, order_state=OrderState.DONE),
         FollowBOrder(ORDER)),
        (Event(Side.B, ObjectType.OFFERING_USER, OFFERING, action="username_set", offering_user_uuid=USER,
               username="ann01", state=OfferingUserState.OK), SyncOfferingUser(USER)),
        (Event(Side.B, ObjectType.OFFERING_USER, OFFERING, action="update", offering_user_uuid=USER,
               username="ann01"), SyncOfferingUser(USER)),
    ],
)
def test_each_event_asks_for_its_reaction(event: Event, reaction: object) -> None:
    assert react(event) == reaction


@pytest.mark.parametrize(
    "event",
    [
        Event(Side.A, ObjectType.ORDER, OFFERING, order_uuid=ORDER, order_state=OrderState.PENDING_CONSUMER),
        Event(Side.A, ObjectType.ORDER, OFFERING, order_uuid=ORDER, order_state=OrderState.DONE),
        Event(Side.A, ObjectType.OFFERING_USER, OFFERING, action="delete", offering_user_uuid=USER),
        Event(Side.B, ObjectType.OFFERING_USER, OFFERING, action="create", offering_user_uuid=USER, username=""),
        Event(Side.B, ObjectType.OFFERING_USER, OFFERING, action="delete", offering_user_uuid=USER, username="x"),
        Event(Side.B, ObjectType.USER_ROLE, OFFERING, project_uuid=USER),
        Event(Side.B, ObjectType.ORDER, OFFERING, order_uuid=ORDER, order_state=OrderState.PENDING_PROVIDER),
        Event(Side.A, ObjectType.SERVICE_ACCOUNT, OFFERING, action="create"),
        Event(Side.A, ObjectType.IMPORTABLE_RESOURCES, OFFERING),
    ],
)
def test_events_fedcore_has_nothing_to_do_for_are_ignored_with_a_reason(event: Event) -> None:
    reaction = react(event)
    assert isinstance(reaction, Ignore)
    assert reaction.why


uuids = st.uuids().map(lambda u: u.hex)
events = st.builds(
    Event,
    side=st.sampled_from(Side),
    object_type=st.sampled_from(ObjectType),
    offering_uuid=uuids,
    action=st.sampled_from(["", "create", "update", "delete", "username_set", "grant", "weird"]),
    order_uuid=st.none() | uuids,
    order_state=st.none() | st.sampled_from(OrderState),
    offering_user_uuid=st.none() | uuids,
    username=st.sampled_from(["", "ann01"]),
)


@given(events)
def test_every_event_has_exactly_one_reaction_and_never_raises(event: Event) -> None:
    reaction = react(event)
    assert isinstance(reaction, ProcessOrder | FollowBOrder | SyncOfferingUser | Reconcile | Ignore)
    if isinstance(reaction, ProcessOrder):
        assert event.side is Side.A
        assert reaction.order_uuid == event.order_uuid
    if isinstance(reaction, FollowBOrder | SyncOfferingUser):
        assert event.side is Side.B
