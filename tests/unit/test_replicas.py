"""Two replicas on one offering: the oldest B project and the oldest keyed B order serve, every other is repaired.

The other replica is played by a wrapper around B that creates its rival B order or B project just before (or
just after) fedcore's own creation reaches B, which is the race two ``fedcore run`` processes meet
(tests/faults/test_two_replicas.py runs the real thing).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st
from order_world import Times, World
from rival_kit import RivalB

from fedcore.enums import OrderState, ResourceState
from fedcore.ids import Uuid
from fedcore.lifecycle import choose_project, discard_key, idempotency_key
from fedcore.model import NewOrder, Order, Project, ProjectKey
from fedcore.services.duplicates import sweep_duplicates
from fedcore.services.orders import OrderPorts, OrderProcessor, PassReport


def processor(world: World, rival: RivalB) -> OrderProcessor:
    b = cast(Any, rival)
    return OrderProcessor(OrderPorts(world.a, world.a, b, world.b, b), Times())


def run(world: World, rival: RivalB) -> PassReport:
    return processor(world, rival).run_pass()


def rival_submits(world: World) -> Callable[[NewOrder], object]:
    """The other replica submits the same Create order (same key, same B project) first."""
    return world.b.create_order


def keyed(world: World, a_order: Uuid) -> list[Order]:
    return world.b.orders_with_key(idempotency_key(a_order))


def with_a_done_duplicate(world: World) -> tuple[Uuid, Order]:
    """An A order linked to its B order, and a younger B order with its key; both done on B."""
    order = world.a.order_create(world.project, {"cpu": 1})
    world.run()
    [ours] = keyed(world, order.uuid)
    theirs = world.b.create_order(NewOrder(ours.project_uuid, idempotency_key(order.uuid), {"cpu_b": 2}))
    for b_order in (ours, theirs):
        world.b.provider_finish(b_order.uuid, OrderState.DONE)
    return order.uuid, theirs


@pytest.fixture
def world() -> World:
    return World()


def test_a_rival_order_submitted_first_serves_and_ours_is_deleted_while_pending(world: World) -> None:
    rival = RivalB(world.b)
    order = world.a.order_create(world.project, {"cpu": 1})
    rival.before_order = rival_submits(world)
    report = run(world, rival)
    [winner] = keyed(world, order.uuid)  # ours is gone: deleted before B's provider saw it
    assert world.a.orders[order.uuid].link == winner.uuid
    assert world.a.resources[Uuid(order.resource_uuid or "")].link == winner.resource_uuid
    [outcome] = report.outcomes
    assert outcome.steps == ("Approve", "CreateProject", "SubmitCreate", "LinkResource", "LinkOrder",
                             "DeleteDuplicate")
    assert outcome.status == "waiting"
    assert outcome.duplicates == ()
    world.b.provider_finish(winner.uuid, OrderState.DONE)
    run(world, rival)
    assert world.a.orders[order.uuid].state == OrderState.DONE


def test_ours_is_terminated_when_b_completed_it_before_fedcore_looked_again(world: World) -> None:
    rival = RivalB(world.b)
    order = world.a.order_create(world.project, {"cpu": 1})
    rival.before_order = rival_submits(world)
    rival.after_order = lambda ours: world.b.provider_finish(ours.uuid, OrderState.DONE)
    report = run(world, rival)
    winner, ours = keyed(world, order.uuid)
    assert world.a.orders[order.uuid].link == winner.uuid
    assert report.outcomes[0].steps[-1] == "TerminateDuplicate"
    assert ours.resource_uuid is not None
    assert world.b.resources[ours.resource_uuid].state == ResourceState.TERMINATING
    [discard] = [o for o in world.b.orders.values() if o.key == discard_key(ours.uuid)]
    world.b.provider_finish(discard.uuid, OrderState.DONE)
    world.b.provider_finish(winner.uuid, OrderState.DONE)
    run(world, rival)
    assert world.a.orders[order.uuid].state == OrderState.DONE
    assert world.b.resources[ours.resource_uuid].state == ResourceState.TERMINATED
    assert world.b.resources[Uuid(winner.resource_uuid or "")].state == ResourceState.OK


def test_a_duplicate_b_took_up_before_fedcore_could_delete_it_is_read_again_and_terminated(world: World) -> None:
    rival = RivalB(world.b)
    order = world.a.order_create(world.project, {"cpu": 1})
    rival.before_order = rival_submits(world)
    rival.before_delete = lambda uuid: world.b.provider_finish(uuid, OrderState.DONE)
    report = run(world, rival)
    winner, ours = keyed(world, order.uuid)
    assert world.a.orders[order.uuid].link == winner.uuid
    assert report.outcomes[0].steps[-1] == "TerminateDuplicate"
    assert world.b.resources[Uuid(ours.resource_uuid or "")].state == ResourceState.TERMINATING


def test_a_rival_order_submitted_after_ours_loses_and_is_repaired_by_whoever_sees_it(world: World) -> None:
    rival = RivalB(world.b)
    order = world.a.order_create(world.project, {"cpu": 1})
    rival.after_order = lambda ours: world.b.create_order(
        NewOrder(ours.project_uuid, idempotency_key(order.uuid), {"cpu_b": 2}))
    report = run(world, rival)
    [ours] = keyed(world, order.uuid)
    assert world.a.orders[order.uuid].link == ours.uuid
    assert report.outcomes[0].repairs
    assert report.outcomes[0].repairs[0].startswith("delete B order")


def test_before_completing_a_linked_create_a_younger_linked_order_gives_way_to_the_oldest(world: World) -> None:
    """The window the rule leaves (creation stamps in the opposite order of the commits): A links the younger of
    two keyed B orders. Before completing, fedcore reads the key, links A to the oldest, terminates the other."""
    order = world.a.order_create(world.project, {"cpu": 1})
    world.run()
    [younger] = keyed(world, order.uuid)
    older = world.b.create_order(NewOrder(younger.project_uuid, idempotency_key(order.uuid), {"cpu_b": 2}))
    older = world.b.orders[older.uuid] = Order(**{**_fields(older), "created": dt.datetime(2000, 1, 1, tzinfo=dt.UTC)})
    for b_order in (older, younger):
        world.b.provider_finish(b_order.uuid, OrderState.DONE)
    report = world.run()
    assert world.a.orders[order.uuid].link == older.uuid
    assert world.a.resources[Uuid(order.resource_uuid or "")].link == older.resource_uuid
    assert report.outcomes[0].steps == ("LinkResource", "LinkOrder", "TerminateDuplicate", "Complete")
    assert world.b.resources[Uuid(younger.resource_uuid or "")].state == ResourceState.TERMINATING


def _fields(order: Order) -> dict[str, Any]:
    import attrs

    return attrs.asdict(order, recurse=False)


def test_a_duplicate_b_is_still_working_on_keeps_the_a_order_open_until_it_can_be_terminated(world: World) -> None:
    rival = RivalB(world.b)
    order = world.a.order_create(world.project, {"cpu": 1})
    rival.after_order = lambda ours: world.b.create_order(
        NewOrder(ours.project_uuid, idempotency_key(order.uuid), {"cpu_b": 2}))
    world.faults.refuse_next("delete_order")  # B's provider took it up before fedcore could delete it
    run(world, rival)
    ours, theirs = keyed(world, order.uuid)
    world.b.provider_approve(theirs.uuid)
    world.b.provider_finish(ours.uuid, OrderState.DONE)
    waiting = world.run()
    assert world.a.orders[order.uuid].state == OrderState.EXECUTING
    assert waiting.outcomes[0].status == "waiting"
    assert "duplicates" in waiting.outcomes[0].reason
    world.b.provider_finish(theirs.uuid, OrderState.DONE)
    done = world.run()
    assert done.outcomes[0].steps == ("TerminateDuplicate", "Complete")
    assert world.b.resources[Uuid(theirs.resource_uuid or "")].state == ResourceState.TERMINATING


def test_a_transient_fault_in_a_repair_keeps_the_a_order_open_and_the_next_pass_repairs(world: World) -> None:
    order, theirs = with_a_done_duplicate(world)
    world.faults.fail_next("request_termination")
    failed = world.run()
    assert failed.outcomes[0].status == "retrying"
    assert failed.outcomes[0].fault
    assert world.a.orders[order].state == OrderState.EXECUTING
    world.run()
    assert world.a.orders[order].state == OrderState.DONE
    assert world.b.resources[Uuid(theirs.resource_uuid or "")].state == ResourceState.TERMINATING


def test_a_refused_repair_is_reported_and_never_fails_or_holds_the_a_order(world: World) -> None:
    order, _ = with_a_done_duplicate(world)
    world.faults.refuse_next("request_termination")
    report = world.run()
    [outcome] = report.outcomes
    assert outcome.status == "completed"
    assert outcome.repairs
    assert "B refused" in outcome.repairs[0]
    assert world.a.orders[order].state == OrderState.DONE


def test_an_older_rival_project_serves_and_the_one_fedcore_just_created_is_deleted(world: World) -> None:
    rival = RivalB(world.b)
    order = world.a.order_create(world.project, {"cpu": 1})
    rival.before_project = lambda key: world.b.create_project(key, "theirs", "")
    report = run(world, rival)
    key = ProjectKey(world.project.customer_uuid, world.project.uuid)
    [theirs] = world.b.projects_with_key(key)
    assert theirs.name == "theirs"
    [b_order] = keyed(world, order.uuid)
    assert b_order.project_uuid == theirs.uuid
    assert report.outcomes[0].steps[:4] == ("Approve", "CreateProject", "DeleteProject", "SubmitCreate")


def test_a_younger_rival_project_is_not_fedcores_to_delete(world: World) -> None:
    order = world.a.order_create(world.project, {"cpu": 1})
    world.run()
    key = ProjectKey(world.project.customer_uuid, world.project.uuid)
    world.b.create_project(key, "theirs", "")
    later = world.a.order_create(world.project, {"cpu": 2})
    world.run()
    [ours] = keyed(world, order.uuid)
    [b_later] = keyed(world, later.uuid)
    assert b_later.project_uuid == ours.project_uuid  # the oldest serves every later order
    assert len(world.b.projects_with_key(key)) == 2  # the other replica deletes its own


def test_a_project_that_cannot_be_deleted_is_reported_and_the_order_goes_on(world: World) -> None:
    rival = RivalB(world.b)
    world.a.order_create(world.project, {"cpu": 1})
    rival.before_project = lambda key: world.b.create_project(key, "theirs", "")
    world.faults.refuse_next("delete_project")
    [outcome] = run(world, rival).outcomes
    assert outcome.status == "waiting"
    assert outcome.repairs
    assert "B refused" in outcome.repairs[0]


@given(st.lists(st.tuples(st.integers(1, 50), st.none() | st.integers(0, 59)), min_size=1, max_size=8,
                unique_by=lambda t: t[0]), st.randoms())
def test_every_replica_chooses_the_same_project_whatever_the_listing_order(
    rows: list[tuple[int, int | None]], rnd: random.Random
) -> None:
    projects = [Project(f"{n:032x}", "p", "3" * 32, "k",
                        created=None if m is None else dt.datetime(2026, 5, 1, 12, m, tzinfo=dt.UTC))
                for n, m in rows]
    shuffled = list(projects)
    rnd.shuffle(shuffled)
    chosen = choose_project(shuffled)
    assert chosen == choose_project(projects)
    dated = [p for p in projects if p.created is not None]
    if dated:
        assert chosen is not None
        assert chosen.created == min(p.created for p in dated if p.created is not None)


def test_no_project_is_none() -> None:
    assert choose_project([]) is None


def test_in_the_older_rival_project_an_order_approved_elsewhere_adopts_the_rivals_keyed_order(world: World) -> None:
    """The rival made the project first and already submitted this order into it: after moving to the rival's
    project, fedcore looks the key up there (it did not create that project) and adopts, never submits."""
    rival = RivalB(world.b)
    order = world.a.order_create(world.project, {"cpu": 1})
    world.a.approve(order.uuid)

    def rival_first(key: ProjectKey) -> None:
        theirs = world.b.create_project(key, "theirs", "")
        world.b.create_order(NewOrder(theirs.uuid, idempotency_key(order.uuid), {"cpu_b": 2}))

    rival.before_project = rival_first
    [outcome] = run(world, rival).outcomes
    assert outcome.steps == ("CreateProject", "DeleteProject", "LinkResource", "LinkOrder")
    [b_order] = keyed(world, order.uuid)
    assert world.a.orders[order.uuid].link == b_order.uuid


def test_every_order_of_the_batch_follows_the_move_to_the_older_project(world: World) -> None:
    rival = RivalB(world.b)
    orders = [world.a.order_create(world.project, {"cpu": n}) for n in (1, 2)]
    rival.before_project = lambda key: world.b.create_project(key, "theirs", "")
    report = run(world, rival)
    assert [o.status for o in report.outcomes] == ["waiting", "waiting"]
    [theirs] = world.b.projects.values()
    assert all(keyed(world, o.uuid)[0].project_uuid == theirs.uuid for o in orders)


def test_a_new_project_is_looked_up_once_more_for_the_whole_batch(world: World) -> None:
    for n in (1, 2, 3):
        world.a.order_create(world.project, {"cpu": n})
    world.faults.reset_counts()
    world.run()
    assert world.faults.calls["B.find_project"] == 2  # before creating it, and once after


def test_a_done_linked_create_is_read_from_its_projects_keyed_listing_not_alone(world: World) -> None:
    orders = [world.a.order_create(world.project, {"cpu": n}) for n in (1, 2)]
    world.run()
    for order in orders:
        world.b.provider_finish(world.b_order_for(order.uuid), OrderState.DONE)
        world.b.unlisted.add(world.b_order_for(order.uuid))  # finished: not in the batch of in-flight orders
    world.faults.reset_counts()
    report = world.run()
    assert [o.status for o in report.outcomes] == ["completed", "completed"]
    assert (world.faults.calls["B.get_order"], world.faults.calls["B.find_orders"]) == (0, 1)


def test_a_failed_duplicate_holds_nothing_and_the_next_one_is_still_repaired(world: World) -> None:
    order = world.a.order_create(world.project, {"cpu": 1})
    world.run()
    [ours] = keyed(world, order.uuid)
    failed, pending = (world.b.create_order(NewOrder(ours.project_uuid, idempotency_key(order.uuid), {"cpu_b": n}))
                       for n in (2, 3))
    world.b.provider_finish(failed.uuid, OrderState.ERRED)
    world.b.provider_finish(ours.uuid, OrderState.DONE)
    [outcome] = world.run().outcomes
    assert outcome.steps == ("DeleteDuplicate", "Complete")
    assert pending.uuid not in world.b.orders
    assert failed.uuid in world.b.orders


def test_a_duplicate_gone_or_already_being_removed_is_said_so(world: World) -> None:
    order = world.a.order_create(world.project, {"cpu": 1})
    world.run()
    [ours] = keyed(world, order.uuid)
    gone = world.b.create_order(NewOrder(ours.project_uuid, idempotency_key(order.uuid), {"cpu_b": 2}))
    removing = world.b.create_order(NewOrder(ours.project_uuid, idempotency_key(order.uuid), {"cpu_b": 3}))
    for b_order in (ours, removing):
        world.b.provider_finish(b_order.uuid, OrderState.DONE)
    real_delete, real_terminate = world.b.delete_order, world.b.request_termination

    def already_gone(uuid: Uuid) -> None:
        del world.b.orders[uuid]
        real_delete(uuid)

    def already_terminating(resource: Uuid, key: str) -> Uuid:
        real_terminate(resource, "someone else's")
        return real_terminate(resource, key)

    world.b.delete_order = already_gone  # type: ignore[method-assign,assignment]
    world.b.request_termination = already_terminating  # type: ignore[method-assign,assignment]
    [outcome] = world.run().outcomes
    assert outcome.status == "completed"
    assert outcome.repairs == (
        f"delete B order {gone.uuid}, a duplicate: already gone",
        f"terminate B resource {removing.resource_uuid} of B order {removing.uuid}, a duplicate: B refused it as in "
        "the wrong state (already being removed)",
    )


def test_an_event_turn_completes_without_looking_the_key_up_again_and_the_sweep_repairs(world: World) -> None:
    """An event is answered at once: the A order completes from its linked B order alone (one read); a duplicate a
    second replica made meanwhile is left to the duplicate sweep, which repairs it once the A order closed."""
    order, theirs = with_a_done_duplicate(world)
    world.faults.reset_counts()
    processor = world.agent()
    opened = processor.read_open_order(order)
    assert opened is not None
    outcome = processor.process_order(opened)
    assert outcome.steps == ("Complete",)
    assert world.faults.calls["B.find_orders"] == 0
    assert world.b.resources[Uuid(theirs.resource_uuid or "")].state == ResourceState.OK
    report = sweep_duplicates(world.ports, dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
                              dt.datetime(2100, 1, 1, tzinfo=dt.UTC))
    assert report.repaired == {"resource_terminated": 1}
