"""One test per order-lifecycle defect found by review (issue "Domain corrections", defects 1-6).

Each failed against the lifecycle before its fix; each asserts outcomes on the fakes' state.
"""

from __future__ import annotations

import uuid as uuid_lib
from collections.abc import Callable

import attrs
import pytest
from attrs import evolve
from hypothesis import given
from hypothesis import strategies as st
from order_world import World

from fedcore.enums import OrderState, OrderType, ResourceState
from fedcore.ids import Uuid
from fedcore.lifecycle import choose_keyed, idempotency_key
from fedcore.model import NewOrder, Order, ProjectKey

pytestmark = pytest.mark.unit


def hyphenated(uuid: str) -> str:
    return str(uuid_lib.UUID(uuid))


@pytest.fixture
def world() -> World:
    return World()


# 1. Links are compared without normalising -----------------------------------------------------------------


@pytest.mark.parametrize("spell", [hyphenated, str.upper, lambda u: f" {u} "])
def test_a_link_in_any_spelling_follows_the_same_b_order(world: World, spell: Callable[[str], str]) -> None:
    order = world.a.order_create(world.project, {"cpu": 1})
    world.run()
    b_order = world.b_order_for(order.uuid)
    world.a.orders[order.uuid] = evolve(world.a.orders[order.uuid], backend_id=spell(b_order))
    world.b.provider_finish(b_order, OrderState.DONE)
    world.run()
    assert world.a.orders[order.uuid].state == OrderState.DONE


def test_a_hyphenated_resource_link_reaches_the_right_b_resource(world: World) -> None:
    resource = world.create_done()
    b_resource = world.a.resources[resource].backend_id
    world.a.resources[resource] = evolve(world.a.resources[resource], backend_id=hyphenated(b_resource))
    order = world.a.order_change(resource, OrderType.UPDATE, {"cpu": 3})
    world.run()
    [b_update] = world.b.orders_with_key(idempotency_key(order.uuid))
    assert b_update.resource_uuid == b_resource


def test_a_link_that_is_not_a_uuid_fails_with_the_value(world: World) -> None:
    order = world.a.order_create(world.project, {"cpu": 1})
    world.a.approve(order.uuid)
    world.a.set_order_backend_id(order.uuid, "slurm-job-42")
    world.run()
    a_order = world.a.orders[order.uuid]
    assert a_order.state == OrderState.ERRED
    assert "'slurm-job-42' is not a B order UUID" in a_order.error_message


# 2. A B order missing from a batched read is taken as deleted ----------------------------------------------


def test_an_order_missing_from_the_batch_is_read_alone_and_completes(world: World) -> None:
    order = world.a.order_create(world.project, {"cpu": 1})
    world.run()
    b_order = world.b_order_for(order.uuid)
    world.b.unlisted.add(b_order)
    world.run()
    assert world.a.orders[order.uuid].state == OrderState.EXECUTING
    world.b.provider_finish(b_order, OrderState.DONE)
    world.run()
    assert world.a.orders[order.uuid].state == OrderState.DONE


def test_only_a_404_on_the_single_read_means_gone_and_the_error_quotes_it(world: World) -> None:
    order = world.a.order_create(world.project, {"cpu": 1})
    world.run()
    b_order = world.b_order_for(order.uuid)
    world.b.unlisted.add(b_order)
    world.faults.fail_next("find_orders")  # the keyed listing of its B project, which a Create's link looks in next
    world.run()
    assert world.a.orders[order.uuid].state == OrderState.EXECUTING  # a failed read is never "absent"
    world.faults.fail_next("get_order")
    world.b.orders[b_order] = attrs.evolve(world.b.orders[b_order], key="")  # in no keyed listing: read alone
    world.run()
    assert world.a.orders[order.uuid].state == OrderState.EXECUTING
    del world.b.orders[b_order]
    world.run()
    a_order = world.a.orders[order.uuid]
    assert a_order.state == OrderState.ERRED
    assert f"order {b_order} not found" in a_order.error_message


# 3. An invalid order writes on both sides before failing ---------------------------------------------------


def test_an_invalid_create_approved_elsewhere_fails_before_any_b_write(world: World) -> None:
    order = world.a.order_create(world.project, {"gpu": 1})
    world.a.approve(order.uuid)  # someone approved it before fedcore saw it
    world.faults.reset_counts()
    world.run()
    assert world.a.orders[order.uuid].state == OrderState.ERRED
    assert "gpu" in world.a.orders[order.uuid].error_message
    assert world.b.projects == {}
    assert world.faults.writes == 1  # only set_state_erred


def test_an_invalid_update_is_rejected_without_touching_b(world: World) -> None:
    resource = world.create_done()
    order = world.a.order_change(resource, OrderType.UPDATE, {"gpu": 4})
    before = dict(world.b.orders)
    world.run()
    assert world.a.orders[order.uuid].state == OrderState.REJECTED
    assert "'gpu'" in world.a.orders[order.uuid].error_message
    assert world.b.orders == before


def test_a_rejection_refused_by_a_is_retried_not_failed(world: World) -> None:
    order = world.a.order_create(world.project, {"gpu": 1})
    world.faults.fail_next("reject")
    report = world.run()
    assert report.outcomes[0].status == "retrying"
    assert world.a.orders[order.uuid].state == OrderState.PENDING_PROVIDER
    world.run()
    assert world.a.orders[order.uuid].state == OrderState.REJECTED


# 4. Update after a crash loses B's outcome -----------------------------------------------------------------


def test_update_submitted_before_a_crash_keeps_bs_outcome_on_an_erred_resource(world: World) -> None:
    resource = world.create_done()
    order = world.a.order_change(resource, OrderType.UPDATE, {"cpu": 30})
    world.a.approve(order.uuid)
    world.faults.crash_after_writes(1)  # dies right after update_limits on B, before linking on A
    with pytest.raises(BaseException, match="crashed"):
        world.run()
    b_update = world.b_order_for(order.uuid)
    world.b.provider_finish(b_update, OrderState.DONE)
    b_resource = Uuid(world.a.resources[resource].backend_id)
    world.b.resources[b_resource] = evolve(world.b.resources[b_resource], state=ResourceState.ERRED)
    world.run()
    a_order = world.a.orders[order.uuid]
    assert a_order.state == OrderState.DONE, a_order.error_message
    assert a_order.link == b_update


# 5. A read failure is repeated for every order in a pass ---------------------------------------------------


def test_a_failing_project_lookup_is_made_once_per_pass(world: World) -> None:
    orders = [world.a.order_create(world.project, {"cpu": n}) for n in range(5)]
    for order in orders:
        world.a.approve(order.uuid)
    world.faults.fail_next("find_project", 100)
    world.faults.reset_counts()
    report = world.run()
    assert report.count("retrying") == 5
    assert world.faults.calls["B.find_project"] == 1


def test_a_failing_resource_listing_is_made_once_per_pass(world: World) -> None:
    resources = [world.create_done(name=f"r{n}") for n in range(3)]
    for resource in resources:
        world.a.order_change(resource, OrderType.TERMINATE)
    world.faults.fail_next("list_project_resources", 100)
    world.faults.reset_counts()
    report = world.run()
    assert report.count("retrying") == 3
    assert world.faults.calls["A.list_project_resources"] == 1


def test_a_failing_b_resource_read_is_made_once_per_pass(world: World) -> None:
    resource = world.create_done()
    shadow = world.a.order_change(resource, OrderType.TERMINATE, shadow=True)
    update = world.a.order_change(resource, OrderType.UPDATE, {"cpu": 5})
    for order in (shadow, update):
        world.a.approve(order.uuid)
    world.faults.fail_next("get_resource", 100)
    world.faults.reset_counts()
    report = world.run()
    assert report.count("retrying") == 2
    assert world.faults.calls["B.get_resource"] == 1


# 6. "Newest wins" in find_orders ---------------------------------------------------------------------------


def test_of_two_b_orders_with_one_key_the_oldest_is_adopted_and_the_other_deleted(world: World) -> None:
    order = world.a.order_create(world.project, {"cpu": 2})
    world.a.approve(order.uuid)
    world.faults.crash_after_writes(2)  # project created, B order submitted, then the agent dies
    with pytest.raises(BaseException, match="crashed"):
        world.run()
    [first] = world.b.orders_with_key(idempotency_key(order.uuid))
    [project] = world.b.projects_with_key(ProjectKey(world.project.customer_uuid, world.project.uuid))
    second = world.b.create_order(NewOrder(project.uuid, idempotency_key(order.uuid), {"cpu_b": 4}))
    report = world.run()
    assert world.a.orders[order.uuid].link == first.uuid
    assert report.outcomes[0].duplicates == ()
    assert report.outcomes[0].repairs == (f"delete B order {second.uuid}, a duplicate",)
    assert world.b.orders_with_key(idempotency_key(order.uuid)) == [world.b.orders[first.uuid]]


def _keyed(uuid: int, minute: int | None) -> Order:
    import datetime as dt

    created = None if minute is None else dt.datetime(2026, 5, 1, 12, minute, tzinfo=dt.UTC)
    return Order(uuid=f"{uuid:032x}", type=OrderType.CREATE, state=OrderState.EXECUTING, offering_uuid="1" * 32,
                 project_uuid="2" * 32, customer_uuid="3" * 32, key="k", created=created)


@given(st.lists(st.tuples(st.integers(1, 50), st.none() | st.integers(0, 59)), min_size=1, max_size=8,
                unique_by=lambda t: t[0]), st.randoms())
def test_every_replica_chooses_the_same_keyed_order_whatever_the_listing_order(
    rows: list[tuple[int, int | None]], rnd: object
) -> None:
    orders = [_keyed(u, m) for u, m in rows]
    shuffled = list(orders)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    chosen, again = choose_keyed(orders)["k"], choose_keyed(shuffled)["k"]
    assert chosen == again
    dated = [o for o in orders if o.created is not None]
    expected = min(dated, key=lambda o: (o.created, o.uuid)) if dated else min(orders, key=lambda o: o.uuid)
    assert chosen.winner == expected
    assert {o.uuid for o in chosen.duplicates} == {o.uuid for o in orders} - {expected.uuid}


# 11. A paged listing that shows an order twice, and an order that moved under a pass ------------------------------


def test_an_order_listed_twice_gets_one_turn_in_a_pass(world: World) -> None:
    order = world.a.order_create(world.project, {"cpu": 1})
    real = world.a.list_open_orders

    def paged_twice() -> list[Order]:
        listed = list(real())
        return listed + listed  # it moved from one page to the next while the listing was paged

    world.a.list_open_orders = paged_twice  # type: ignore[method-assign]
    report = world.run()
    assert [o.order_uuid for o in report.outcomes] == [order.uuid]
    assert world.faults.calls["A.approve"] == 1
    assert not any(o.fault for o in report.outcomes)


def test_an_order_approved_under_a_pass_is_a_conflict_read_again_next_turn_not_a_fault(world: World) -> None:
    order = world.a.order_create(world.project, {"cpu": 1})
    stale = world.a.orders[order.uuid]
    world.a.approve(order.uuid)  # another actor approved it after the listing
    world.a.list_open_orders = lambda: [stale]  # type: ignore[method-assign]
    [outcome] = world.run().outcomes
    assert outcome.status == "retrying"
    assert not outcome.fault  # no backoff: the state moved, no call failed
    del world.a.list_open_orders
    world.run()
    assert world.b_order_for(order.uuid)
