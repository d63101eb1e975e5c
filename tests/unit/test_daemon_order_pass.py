"""The order service's runner hooks: orders left out of a pass, batches of one A project, the B order in outcomes."""

from __future__ import annotations

import pytest
from attrs import evolve
from order_world import World

from fedcore.enums import OrderState, OrderType, ResourceState
from fedcore.ids import Uuid

pytestmark = pytest.mark.unit


@pytest.fixture
def world() -> World:
    return World()


def test_skipped_orders_are_listed_but_not_touched(world: World) -> None:
    first = world.a.order_create(world.project, {"cpu": 1}, name="one")
    second = world.a.order_create(world.project, {"cpu": 2}, name="two")
    report = world.agent().run_pass(skip={second.uuid})
    assert [o.order_uuid for o in report.outcomes] == [first.uuid]
    assert report.skipped == (second.uuid,)
    assert world.a.orders[second.uuid].state == OrderState.PENDING_PROVIDER


def test_a_pass_is_cut_into_batches_of_one_a_project_in_listing_order(world: World) -> None:
    other = world.a.add_project("chemistry")
    one = world.a.order_create(world.project, {"cpu": 1}, name="one")
    two = world.a.order_create(other, {"cpu": 1}, name="two")
    three = world.a.order_create(world.project, {"cpu": 1}, name="three")
    opened = world.agent().open_pass(skip={two.uuid})
    assert [o.uuid for o in opened.listed] == [one.uuid, two.uuid, three.uuid]
    assert [[o.uuid for o in b] for b in opened.batches] == [[one.uuid, three.uuid]]
    assert opened.skipped == (two.uuid,)
    opened = world.agent().open_pass()
    assert [[o.uuid for o in b] for b in opened.batches] == [[one.uuid, three.uuid], [two.uuid]]
    outcomes = [o for batch in reversed(opened.batches) for o in opened.process(batch)]
    assert {o.status for o in outcomes} == {"waiting"}
    # One B project per A project, even with the batches processed out of order.
    assert len(world.b.projects) == 2


def test_the_batch_of_linked_b_orders_is_read_once_when_the_pass_opens(world: World) -> None:
    other = world.a.add_project("chemistry")
    for project in (world.project, other, world.project):
        world.a.order_create(project, {"cpu": 1})
    world.run()
    world.faults.reset_counts()
    opened = world.agent().open_pass()
    assert world.faults.calls["B.get_orders"] == 1
    for batch in opened.batches:
        opened.process(batch)
    assert world.faults.calls["B.get_orders"] == 1


def test_an_outcome_names_the_b_order_once_known_and_why_the_turn_ended(world: World) -> None:
    order = world.a.order_create(world.project, {"cpu": 1})
    [outcome] = world.run().outcomes
    b_order = world.b_order_for(order.uuid)
    assert (outcome.b_order_uuid, outcome.status) == (b_order, "waiting")
    assert outcome.reason.startswith(f"B order {b_order} is ")
    world.b.provider_finish(b_order, OrderState.ERRED, "quota exceeded")
    [outcome] = world.run().outcomes
    assert (outcome.b_order_uuid, outcome.status) == (b_order, "failed")
    assert "quota exceeded" in outcome.reason
    rejected = world.a.order_create(world.project, {"gpu": 1})
    [outcome] = world.run().outcomes
    assert (outcome.order_uuid, outcome.b_order_uuid, outcome.status) == (rejected.uuid, None, "rejected")
    assert "gpu" in outcome.reason


def test_a_completed_order_has_no_reason(world: World) -> None:
    order = world.a.order_create(world.project, {"cpu": 1})
    world.run()
    world.b.provider_finish(world.b_order_for(order.uuid), OrderState.DONE)
    [outcome] = world.run().outcomes
    assert (outcome.status, outcome.reason) == ("completed", "")


def test_a_turn_ended_by_a_failing_call_is_a_fault_and_a_busy_b_resource_is_not(world: World) -> None:
    order = world.a.order_create(world.project, {"cpu": 1})
    world.faults.fail_next("approve")
    [outcome] = world.run().outcomes
    assert (outcome.status, outcome.fault) == ("retrying", True)
    assert outcome.reason.startswith("transient: ")
    world.run()
    world.b.provider_finish(world.b_order_for(order.uuid), OrderState.DONE)
    [outcome] = world.run().outcomes
    assert (outcome.status, outcome.fault) == ("completed", False)
    assert order.resource_uuid is not None
    b_resource = Uuid(world.a.resources[order.resource_uuid].backend_id)
    world.b.resources[b_resource] = evolve(world.b.resources[b_resource], state=ResourceState.UPDATING)
    world.a.order_change(order.resource_uuid, OrderType.UPDATE, {"cpu": 2})
    [outcome] = world.run().outcomes
    assert (outcome.status, outcome.fault) == ("retrying", False)
    assert "must wait" in outcome.reason
