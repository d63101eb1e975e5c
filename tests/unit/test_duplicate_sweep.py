"""The duplicate sweep: B Create orders a second replica left behind once the A order closed, found from B's side."""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import logging

import pytest
from daemon_kit import Recorder
from order_world import World

from fedcore.enums import OrderState, ResourceState
from fedcore.errors import TransientError
from fedcore.ids import Uuid
from fedcore.lifecycle import Complete, discard_key, idempotency_key
from fedcore.model import NewOrder, Order, Project, ProjectKey
from fedcore.services.duplicates import SweepReport, sweep_duplicates
from fedcore.services.orders import OrderOutcome
from runners.jobs import JobContext, after_order
from runners.schedule import OrderBackoff
from runners.sweeps import FIRST_WINDOW, SweepSchedule, summary, sweep_if_due

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATER = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
"""Every duplicate B project counts as settled (the fakes' clock is in 2026)."""


@pytest.fixture
def world() -> World:
    return World()


def done_with_a_loser(world: World, *, loser_state: OrderState) -> tuple[Uuid, Order, Order]:
    """An A order completed by one replica (linked to its B order), and the other replica's younger B order with
    the same key left in ``loser_state``."""
    order = world.a.order_create(world.project, {"cpu": 1})
    world.run()
    [winner] = world.b.orders_with_key(idempotency_key(order.uuid))
    world.b.provider_finish(winner.uuid, OrderState.DONE)
    world.run()
    assert world.a.orders[order.uuid].state == OrderState.DONE
    loser = world.b.create_order(NewOrder(winner.project_uuid, idempotency_key(order.uuid), {"cpu_b": 2}))
    if loser_state == OrderState.EXECUTING:
        world.b.provider_approve(loser.uuid)
    elif loser_state == OrderState.DONE:
        world.b.provider_finish(loser.uuid, OrderState.DONE)
    return order.uuid, winner, world.b.orders[loser.uuid]


def two_projects_done(world: World) -> Project:
    """A Create done in the world's A project and in a second one (returned): two B projects."""
    world.create_done()
    other = world.a.add_project("chemistry")
    order = world.a.order_create(other, {"cpu": 1})
    world.run()
    world.b.provider_finish(world.b_order_for(order.uuid), OrderState.DONE)
    world.run()
    return other


def sweep(world: World) -> SweepReport:
    return sweep_duplicates(world.ports, EPOCH, LATER)


def resource_state(world: World, order: Order) -> ResourceState:
    return world.b.resources[Uuid(order.resource_uuid or "")].state


def test_a_done_loser_has_its_resource_terminated_once(world: World) -> None:
    _, winner, loser = done_with_a_loser(world, loser_state=OrderState.DONE)
    report = sweep(world)
    assert (report.keys_duplicated, report.ok) == (1, True)
    assert report.repairs == (f"terminated B resource {loser.resource_uuid} of B order {loser.uuid} (a duplicate of "
                              f"B order {winner.uuid})",)
    assert resource_state(world, loser) == ResourceState.TERMINATING
    assert resource_state(world, winner) == ResourceState.OK
    [discard] = [o for o in world.b.orders.values() if o.key == discard_key(loser.uuid)]
    world.b.provider_finish(discard.uuid, OrderState.DONE)
    world.faults.reset_counts()
    again = sweep(world)
    assert again.repairs == ()
    assert world.faults.calls["B.request_termination"] == 0
    assert resource_state(world, loser) == ResourceState.TERMINATED


def test_a_pending_loser_is_deleted(world: World) -> None:
    order, winner, loser = done_with_a_loser(world, loser_state=OrderState.PENDING_PROVIDER)
    report = sweep(world)
    assert report.repairs == (f"deleted B order {loser.uuid} (a duplicate of B order {winner.uuid})",)
    assert world.b.orders_with_key(idempotency_key(order)) == [world.b.orders[winner.uuid]]


def test_a_loser_b_is_working_on_waits_for_a_later_sweep(world: World) -> None:
    _, winner, loser = done_with_a_loser(world, loser_state=OrderState.EXECUTING)
    world.faults.reset_counts()
    report = sweep(world)
    assert report.repairs == ()
    assert report.waiting == (f"B order {loser.uuid} (a duplicate of B order {winner.uuid}) is executing",)
    assert world.faults.calls["B.delete_order"] + world.faults.calls["B.request_termination"] == 0
    world.b.provider_finish(loser.uuid, OrderState.DONE)
    assert len(sweep(world).repairs) == 1
    assert resource_state(world, loser) == ResourceState.TERMINATING


def test_the_b_order_a_links_is_never_touched_even_when_younger(world: World) -> None:
    order, winner, loser = done_with_a_loser(world, loser_state=OrderState.DONE)
    world.a.set_order_backend_id(order, loser.uuid)  # A links the younger one (the window the oldest rule leaves)
    report = sweep(world)
    assert len(report.repairs) == 1
    assert resource_state(world, loser) == ResourceState.OK
    assert resource_state(world, winner) == ResourceState.TERMINATING


def test_a_key_whose_a_order_is_open_is_left_to_its_turns(world: World) -> None:
    order = world.a.order_create(world.project, {"cpu": 1})
    world.run()
    [first] = world.b.orders_with_key(idempotency_key(order.uuid))
    world.b.create_order(NewOrder(first.project_uuid, idempotency_key(order.uuid), {"cpu_b": 2}))
    world.faults.reset_counts()
    report = sweep(world)
    assert (report.keys_duplicated, report.repairs) == (1, ())
    assert world.faults.calls["B.delete_order"] == 0


def test_orders_modified_before_the_window_are_not_looked_at(world: World) -> None:
    done_with_a_loser(world, loser_state=OrderState.DONE)
    later = max(o.modified for o in world.b.orders.values() if o.modified is not None) + dt.timedelta(seconds=1)
    report = sweep_duplicates(world.ports, later, LATER)
    assert (report.orders_listed, report.keys_duplicated) == (0, 0)


def test_failed_reads_are_reported_and_the_next_sweep_repairs(world: World) -> None:
    _, _, loser = done_with_a_loser(world, loser_state=OrderState.DONE)
    world.faults.fail_next("get_order")  # the A order
    failed = sweep(world)
    assert not failed.ok
    assert failed.failed[0].startswith("A order ")
    assert resource_state(world, loser) == ResourceState.OK
    world.faults.fail_next("find_orders")
    assert not sweep(world).ok
    assert sweep(world).ok
    assert resource_state(world, loser) == ResourceState.TERMINATING


def test_a_refused_repair_is_reported(world: World) -> None:
    done_with_a_loser(world, loser_state=OrderState.DONE)
    world.faults.refuse_next("request_termination")
    report = sweep(world)
    assert report.ok
    assert len(report.refused) == 1
    assert "B refused" in report.refused[0]


def test_a_failing_listing_means_the_sweep_could_not_run(world: World) -> None:
    world.faults.fail_next("list_keyed_creates")
    with pytest.raises(TransientError):
        sweep(world)


# B projects ------------------------------------------------------------------------------------------------------


def test_an_empty_duplicate_project_is_deleted_and_the_oldest_kept(world: World) -> None:
    world.create_done()
    [serving] = world.b.projects.values()
    key = ProjectKey(world.project.customer_uuid, world.project.uuid)
    left = world.b.create_project(key, "left by a replica whose delete failed", "")
    report = sweep(world)
    assert report.projects_duplicated == 1
    assert report.repairs == (f"deleted B project {left.uuid} (a duplicate for backend_id {key.backend_id})",)
    assert world.b.projects_with_key(key) == [serving]
    assert sweep(world).projects_duplicated == 0


def test_a_duplicate_project_holding_a_resource_is_reported_not_deleted(world: World) -> None:
    world.create_done()
    key = ProjectKey(world.project.customer_uuid, world.project.uuid)
    used = world.b.create_project(key, "a replica ordered in it", "")
    world.b.create_order(NewOrder(used.uuid, "someone-else", {"cpu_b": 1}))
    report = sweep(world)
    assert report.repairs == ()
    assert len(report.refused) == 1
    assert "Project has active resources" in report.refused[0]
    assert len(world.b.projects_with_key(key)) == 2


def test_a_duplicate_project_younger_than_the_settling_time_is_left_for_later(world: World) -> None:
    world.create_done()
    key = ProjectKey(world.project.customer_uuid, world.project.uuid)
    young = world.b.create_project(key, "being created by a replica right now", "")
    assert young.created is not None
    report = sweep_duplicates(world.ports, EPOCH, young.created - dt.timedelta(seconds=1))
    assert (report.projects_duplicated, report.repairs) == (1, ())
    assert len(world.b.projects_with_key(key)) == 2


# The schedule ---------------------------------------------------------------------------------------------------


def test_the_first_sweep_looks_a_week_back_then_from_the_last_good_one_less_two_periods() -> None:
    schedule = SweepSchedule(period=600)
    now = 1_800_000_000.0
    assert schedule.due("hpc", now) == dt.datetime.fromtimestamp(now - FIRST_WINDOW.total_seconds(), dt.UTC)
    schedule.record("hpc", now, ok=True)
    assert schedule.due("hpc", now + 599) is None
    assert schedule.due("other", now + 1) is not None
    assert schedule.due("hpc", now + 600) == dt.datetime.fromtimestamp(now - 1200, dt.UTC)
    schedule.record("hpc", now + 600, ok=False)  # B down: the window keeps its start
    assert schedule.due("hpc", now + 1200) == dt.datetime.fromtimestamp(now - 1200, dt.UTC)


def test_a_period_of_zero_never_sweeps() -> None:
    assert SweepSchedule(period=0).due("hpc", 1.0) is None


class _Services:
    name = "hpc"

    def __init__(self, world: World, fail: bool = False) -> None:
        self.world, self.fail = world, fail

    def sweep_duplicates(self, since: dt.datetime, settled_before: dt.datetime) -> SweepReport:
        if self.fail:
            raise TransientError("B is down", where="B")
        return sweep_duplicates(self.world.ports, EPOCH, LATER)


def test_sweep_if_due_logs_every_repair_and_summarises(world: World, caplog: pytest.LogCaptureFixture) -> None:
    done_with_a_loser(world, loser_state=OrderState.DONE)
    schedule = SweepSchedule(period=600)
    telemetry = Recorder()
    with caplog.at_level(logging.INFO, logger="fedcore.orders"):
        said = sweep_if_due(_Services(world), schedule, 1_800_000_000.0, telemetry)  # type: ignore[arg-type]
        again = sweep_if_due(_Services(world), schedule, 1_800_000_001.0, telemetry)  # type: ignore[arg-type]
    assert telemetry.repaired == [("hpc", "resource_terminated")]
    assert said == "duplicate sweep: 2 keyed B orders looked at, 1 keys and 0 B projects duplicated, 1 repaired"
    assert again == ""
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "terminated B resource" in caplog.records[0].getMessage()


def test_a_sweep_that_could_not_run_says_so(world: World, caplog: pytest.LogCaptureFixture) -> None:
    schedule = SweepSchedule(period=600)
    with caplog.at_level(logging.WARNING, logger="fedcore.orders"):
        said = sweep_if_due(_Services(world, fail=True), schedule, 1_800_000_000.0)  # type: ignore[arg-type]
    assert said == "duplicate sweep not run"
    assert "duplicate sweep could not run: B: B is down" in caplog.text
    assert schedule.due("hpc", 1_800_000_600.0) is not None


def test_summary_counts_what_is_left() -> None:
    report = SweepReport(5, 2, repairs=("a",), projects_duplicated=1, waiting=("b",), refused=("c",), failed=("d",))
    assert summary(report) == ("duplicate sweep: 5 keyed B orders looked at, 2 keys and 1 B projects duplicated, "
                               "1 repaired, 1 still in progress on B, 2 refused or failed")


def test_an_order_turns_repairs_are_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    telemetry = Recorder()
    ctx = JobContext(telemetry, OrderBackoff(), cf.ThreadPoolExecutor(1), stopping=lambda: False)
    steps = ("SubmitCreate", "LinkResource", "LinkOrder", "DeleteDuplicate", "TerminateDuplicate", "Complete")
    repairs = ("delete B order 1, a duplicate", "terminate B resource 2 of B order 3, a duplicate")
    outcome = OrderOutcome(Uuid("a" * 32), "Create", steps, Complete(), repairs=repairs)
    with caplog.at_level(logging.WARNING, logger="fedcore.orders"):
        after_order("hpc", outcome, ctx)
    ctx.order_pool.shutdown()
    assert telemetry.repaired == [("hpc", "order_deleted"), ("hpc", "resource_terminated")]
    assert [r.getMessage() for r in caplog.records] == [
        "duplicate on B (another replica's, or an earlier attempt's): delete B order 1, a duplicate",
        "duplicate on B (another replica's, or an earlier attempt's): terminate B resource 2 of B order 3, a duplicate",
    ]


# What each finding says, and that the sweep goes on past it -----------------------------------------------------


def test_every_failure_is_named_and_the_sweep_goes_on(world: World) -> None:
    _, winner, _ = done_with_a_loser(world, loser_state=OrderState.DONE)
    world.faults.fail_next("find_orders")
    world.faults.fail_next("projects_created_after")
    report = sweep(world)
    assert report.failed == (
        f"the keyed orders of B project {winner.project_uuid}: B.find_orders: injected fault",
        f"the B projects created since {EPOCH.isoformat()}: B.projects_created_after: injected fault",
    )
    assert report.projects_duplicated == 0
    key = ProjectKey(world.project.customer_uuid, world.project.uuid)
    world.b.create_project(key, "left behind", "")
    world.faults.fail_next("projects_with_backend_id")
    assert sweep(world).failed == (
        f"the B projects with backend_id {key.backend_id}: B.projects_with_backend_id: injected fault",
    )


def test_a_repair_that_fails_is_named(world: World) -> None:
    _, winner, loser = done_with_a_loser(world, loser_state=OrderState.DONE)
    world.faults.fail_next("request_termination")
    report = sweep(world)
    assert report.failed == (f"B order {loser.uuid} (a duplicate of B order {winner.uuid}): "
                             "B.request_termination: injected fault",)
    assert report.repaired == {}


def test_every_duplicated_key_and_every_repair_is_counted(world: World) -> None:
    first = done_with_a_loser(world, loser_state=OrderState.DONE)
    second = done_with_a_loser(world, loser_state=OrderState.DONE)
    third = done_with_a_loser(world, loser_state=OrderState.PENDING_PROVIDER)
    fourth = done_with_a_loser(world, loser_state=OrderState.PENDING_PROVIDER)
    report = sweep(world)
    assert report.keys_duplicated == 4
    assert report.repaired == {"resource_terminated": 2, "order_deleted": 2}
    for _, _, loser in (first, second):
        assert resource_state(world, loser) == ResourceState.TERMINATING
    for _, _, loser in (third, fourth):
        assert loser.uuid not in world.b.orders


def test_when_a_links_none_of_them_the_oldest_serves(world: World) -> None:
    order, winner, loser = done_with_a_loser(world, loser_state=OrderState.DONE)
    world.a.set_order_backend_id(order, Uuid("e" * 32))  # an operator's edit, or an unkeyed order
    sweep(world)
    assert resource_state(world, winner) == ResourceState.OK
    assert resource_state(world, loser) == ResourceState.TERMINATING


def test_a_duplicate_b_took_up_between_the_listing_and_the_delete_is_read_again(world: World) -> None:
    _, _, loser = done_with_a_loser(world, loser_state=OrderState.PENDING_PROVIDER)
    real_delete = world.b.delete_order

    def taken_up_first(uuid: Uuid) -> None:
        world.b.provider_finish(uuid, OrderState.DONE)
        real_delete(uuid)

    world.b.delete_order = taken_up_first  # type: ignore[method-assign,assignment]
    report = sweep(world)
    assert report.repaired == {"resource_terminated": 1}
    assert resource_state(world, loser) == ResourceState.TERMINATING


def test_projects_of_every_backend_id_are_swept_and_a_refusal_is_named(world: World) -> None:
    other = two_projects_done(world)
    first = ProjectKey(world.project.customer_uuid, world.project.uuid)
    second = ProjectKey(other.customer_uuid, other.uuid)
    left = world.b.create_project(second, "left behind", "")
    report = sweep(world)
    assert report.projects_duplicated == 1
    assert report.repaired == {"project_deleted": 1}
    assert left.uuid not in world.b.projects
    assert len(world.b.projects_with_key(first)) == 1
    kept = world.b.create_project(second, "another", "")
    world.faults.refuse_next("delete_project")
    refused = sweep(world)
    assert refused.refused == (f"B project {kept.uuid} (a duplicate for backend_id {second.backend_id}): B refused: "
                               "injected refusal",)


def test_a_duplicate_project_exactly_as_old_as_the_settling_time_is_deleted(world: World) -> None:
    world.create_done()
    key = ProjectKey(world.project.customer_uuid, world.project.uuid)
    young = world.b.create_project(key, "settled just now", "")
    assert young.created is not None
    assert sweep_duplicates(world.ports, EPOCH, young.created).repaired == {"project_deleted": 1}


def test_duplicate_projects_of_two_a_projects_are_both_counted_and_a_failed_delete_named(world: World) -> None:
    other = two_projects_done(world)
    keys = [ProjectKey(p.customer_uuid, p.uuid) for p in (world.project, other)]
    left = [world.b.create_project(key, "left behind", "") for key in keys for _ in range(2)]
    world.faults.fail_next("delete_project")
    report = sweep(world)
    assert report.projects_duplicated == 2
    assert report.repaired == {"project_deleted": 3}
    assert report.failed == (f"B project {left[0].uuid} (a duplicate for backend_id {keys[0].backend_id}): "
                             "B.delete_project: injected fault",)
    assert sweep(world).repaired == {"project_deleted": 1}
