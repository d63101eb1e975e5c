"""The order service against the in-memory Waldurs: every path of the lifecycle, with outcomes asserted on state."""

from __future__ import annotations

import pytest
from attrs import evolve
from order_world import A_OFFERING, B_CUSTOMER, B_OFFERING, World

from adapters.memory.faults import Crash, Faults
from adapters.memory.orders import MemorySource, MemoryTarget
from fedcore.enums import OrderState, OrderType, ResourceState
from fedcore.ids import Uuid
from fedcore.lifecycle import idempotency_key
from fedcore.model import ProjectKey
from fedcore.ports.orders import SourceOrders, SourceResources, TargetOrders, TargetProjects, TargetResources
from fedcore.services.orders import OrderProcessor

pytestmark = pytest.mark.unit

@pytest.fixture
def world() -> World:
    return World()


def test_fakes_satisfy_the_ports() -> None:
    faults = Faults()
    source = MemorySource(A_OFFERING, faults=faults)
    target = MemoryTarget(B_OFFERING, B_CUSTOMER, faults=faults)
    ports: tuple[SourceOrders, SourceResources, TargetOrders, TargetResources, TargetProjects] = (
        source, source, target, target, target,
    )
    assert len(ports) == 5


def test_create_goes_through_b_and_links_both_sides(world: World) -> None:
    order = world.a.order_create(world.project, {"cpu": 5}, name="sim")
    report = world.agent().run_pass()
    assert report.count("waiting") == 1
    a_order = world.a.orders[order.uuid]
    assert a_order.state == OrderState.EXECUTING
    [b_order] = world.b.orders_with_key(idempotency_key(order.uuid))
    assert b_order.limits == {"cpu_b": 10}
    assert b_order.attributes["name"] == "sim"
    assert a_order.backend_id == b_order.uuid
    assert order.resource_uuid is not None
    assert world.a.resources[order.resource_uuid].backend_id == b_order.resource_uuid
    [project] = world.b.projects_with_key(ProjectKey(world.project.customer_uuid, world.project.uuid))
    assert project.name == "physics"

    world.b.provider_finish(b_order.uuid, OrderState.DONE)
    report = world.agent().run_pass()
    assert report.count("completed") == 1
    assert world.a.orders[order.uuid].state == OrderState.DONE
    assert world.a.resources[order.resource_uuid].state == ResourceState.OK


def test_a_create_in_a_new_project_costs_eleven_calls_besides_the_listings(world: World) -> None:
    order = world.a.order_create(world.project, {"cpu": 1})
    world.faults.reset_counts()
    world.run()
    world.b.provider_finish(world.b_order_for(order.uuid), OrderState.DONE)
    world.run()
    listings = world.faults.calls["A.list_open_orders"]
    assert listings == 2
    # Eight as ever, and three looks for another replica's work: the B project again after creating it, the key
    # again after submitting, the key once more before completing.
    assert dict(world.faults.calls) == {
        "A.list_open_orders": 2, "A.approve": 1, "B.find_project": 2, "B.create_project": 1, "B.create_order": 1,
        "B.find_orders": 2, "A.set_resource_backend_id": 1, "A.set_order_backend_id": 1, "B.get_orders": 1,
        "A.complete": 1,
    }
    assert world.a.orders[order.uuid].state == OrderState.DONE


def test_create_orders_in_a_burst_cost_at_most_eight_calls_each(world: World) -> None:
    second = world.a.add_project()
    orders = [world.a.order_create(project, {"cpu": n}) for n in range(1, 11) for project in (world.project, second)]
    world.faults.reset_counts()
    world.run()
    for order in orders:
        world.b.provider_finish(world.b_order_for(order.uuid), OrderState.DONE)
    world.run()
    assert all(world.a.orders[o.uuid].state == OrderState.DONE for o in orders)
    assert sum(world.faults.calls.values()) / len(orders) <= 8, dict(world.faults.calls)


def test_idle_pass_costs_one_call(world: World) -> None:
    world.create_done()
    world.faults.reset_counts()
    world.run()
    assert sum(world.faults.calls.values()) == 1


def test_second_order_in_a_project_reuses_the_b_project(world: World) -> None:
    world.create_done()
    world.a.order_create(world.project, {"cpu": 2})
    world.run()
    assert len(world.b.projects) == 1


@pytest.mark.parametrize("outcome", [OrderState.ERRED, OrderState.REJECTED, OrderState.CANCELED])
def test_b_failure_fails_the_a_order_with_bs_reason(world: World, outcome: OrderState) -> None:
    order = world.a.order_create(world.project, {"cpu": 3})
    world.run()
    world.b.provider_finish(world.b_order_for(order.uuid), outcome, "quota exceeded on cluster")
    world.run()
    a_order = world.a.orders[order.uuid]
    assert a_order.state == OrderState.ERRED
    assert "quota exceeded on cluster" in a_order.error_message
    assert str(outcome) in a_order.error_message


def test_transient_faults_never_fail_an_order(world: World) -> None:
    order = world.a.order_create(world.project, {"cpu": 3})
    for method in ("approve", "find_project", "create_project", "create_order", "set_resource_backend_id"):
        world.faults.fail_next(method)
        report = world.agent().run_pass()
        assert report.count("retrying") == 1
        assert world.a.orders[order.uuid].state != OrderState.ERRED
    world.run()
    world.b.provider_finish(world.b_order_for(order.uuid), OrderState.DONE)
    world.faults.fail_next("get_orders")
    world.run()
    assert world.a.orders[order.uuid].state == OrderState.EXECUTING
    world.faults.apply_then_fail("complete")
    world.run()
    world.run()
    assert world.a.orders[order.uuid].state == OrderState.DONE
    assert len(world.b.orders) == 1


@pytest.mark.parametrize("crash_after", range(1, 7))
def test_a_crash_after_any_write_duplicates_nothing(world: World, crash_after: int) -> None:
    order = world.a.order_create(world.project, {"cpu": 4})
    world.faults.crash_after_writes(crash_after)
    crashed = False
    for _ in range(4):
        try:
            world.run()
        except Crash:
            crashed = True
        for b_order in world.b.open_orders():
            world.b.provider_finish(b_order.uuid, OrderState.DONE)
    assert crashed
    b_orders = world.b.orders_with_key(idempotency_key(order.uuid))
    assert len(b_orders) == 1
    assert len(world.b.projects) == 1
    assert world.a.orders[order.uuid].state == OrderState.DONE
    assert order.resource_uuid is not None
    assert world.a.resources[order.resource_uuid].backend_id == b_orders[0].resource_uuid


def test_unknown_component_rejects_the_order_before_any_write(world: World) -> None:
    order = world.a.order_create(world.project, {"gpu": 1})
    report = world.agent().run_pass()
    a_order = world.a.orders[order.uuid]
    assert a_order.state == OrderState.REJECTED
    assert "gpu" in a_order.error_message
    assert report.outcomes[0].steps == ("Reject",)
    assert world.b.orders == {}
    assert world.b.projects == {}


def test_b_refusal_carries_waldurs_detail(world: World) -> None:
    world.b.components = frozenset({"other"})
    order = world.a.order_create(world.project, {"cpu": 1})
    world.run()
    a_order = world.a.orders[order.uuid]
    assert a_order.state == OrderState.ERRED
    assert "Unknown components: cpu_b" in a_order.error_message


def test_update_converts_limits_and_completes(world: World) -> None:
    resource = world.create_done(cpu=10)
    order = world.a.order_change(resource, OrderType.UPDATE, {"cpu": 20})
    world.run()
    b_resource_uuid = Uuid(world.a.resources[resource].backend_id)
    [b_update] = world.b.orders_with_key(idempotency_key(order.uuid))
    assert b_update.type == OrderType.UPDATE
    assert b_update.limits == {"cpu_b": 40}
    assert b_update.resource_uuid == b_resource_uuid
    world.b.provider_finish(b_update.uuid, OrderState.DONE)
    world.run()
    assert world.a.orders[order.uuid].state == OrderState.DONE
    assert world.b.resources[b_resource_uuid].limits == {"cpu_b": 40}


@pytest.mark.parametrize("type_", [OrderType.UPDATE, OrderType.TERMINATE])
def test_shadow_resource_is_resolved_to_the_real_link(world: World, type_: OrderType) -> None:
    resource = world.create_done()
    order = world.a.order_change(resource, type_, {"cpu": 7}, shadow=True)
    assert order.resource_uuid != resource
    world.run()
    [b_order] = world.b.orders_with_key(idempotency_key(order.uuid))
    assert b_order.resource_uuid == Uuid(world.a.resources[resource].backend_id)
    world.b.provider_finish(b_order.uuid, OrderState.DONE)
    world.run()
    assert world.a.orders[order.uuid].state == OrderState.DONE


def test_shadow_without_any_federated_resource_fails_clearly(world: World) -> None:
    resource = world.create_done()
    world.a.resources[resource] = evolve(world.a.resources[resource], backend_id="")
    order = world.a.order_change(resource, OrderType.TERMINATE, shadow=True)
    world.run()
    a_order = world.a.orders[order.uuid]
    assert a_order.state == OrderState.REJECTED
    assert f"is a shadow of A resource {resource}, which has no link to B" in a_order.error_message


def test_shadow_is_never_resolved_to_one_of_several_resources(world: World) -> None:
    first = world.create_done()
    world.create_done()
    order = world.a.order_change(first, OrderType.TERMINATE, shadow=True)
    world.run()
    assert world.a.orders[order.uuid].state == OrderState.REJECTED
    assert "2 resources could be meant" in world.a.orders[order.uuid].error_message
    assert all(o.type == OrderType.CREATE for o in world.b.orders.values())


def test_a_never_federated_resource_is_not_resolved_to_another(world: World) -> None:
    world.create_done()
    failed = world.a.order_create(world.project, {"gpu": 1}, name="broken")
    world.run()
    assert failed.resource_uuid is not None
    order = world.a.order_change(failed.resource_uuid, OrderType.TERMINATE)
    world.run()
    assert world.a.orders[order.uuid].state == OrderState.REJECTED
    assert "never created there" in world.a.orders[order.uuid].error_message
    assert all(o.type == OrderType.CREATE for o in world.b.orders.values())


def test_terminate_of_an_already_terminated_b_resource_is_done(world: World) -> None:
    resource = world.create_done()
    b_resource = Uuid(world.a.resources[resource].backend_id)
    stray = world.b.request_termination(b_resource, key="someone else")
    world.b.provider_finish(stray, OrderState.DONE)
    order = world.a.order_change(resource, OrderType.TERMINATE)
    world.run()
    assert world.a.orders[order.uuid].state == OrderState.DONE
    assert world.b.orders_with_key(idempotency_key(order.uuid)) == []


def test_terminate_waits_while_b_terminates_and_retries_a_failed_read(world: World) -> None:
    resource = world.create_done()
    b_resource = Uuid(world.a.resources[resource].backend_id)
    stray = world.b.request_termination(b_resource, key="someone else")
    order = world.a.order_change(resource, OrderType.TERMINATE)
    report = world.agent().run_pass()
    assert report.outcomes[0].status == "waiting"
    world.faults.fail_next("get_resource", 3)
    world.b.provider_finish(stray, OrderState.DONE)
    world.run()
    assert world.a.orders[order.uuid].state == OrderState.EXECUTING
    world.faults.clear()
    world.run()
    assert world.a.orders[order.uuid].state == OrderState.DONE


def test_terminate_through_b(world: World) -> None:
    resource = world.create_done()
    order = world.a.order_change(resource, OrderType.TERMINATE)
    world.run()
    [b_order] = world.b.orders_with_key(idempotency_key(order.uuid))
    assert b_order.type == OrderType.TERMINATE
    world.b.provider_finish(b_order.uuid, OrderState.DONE)
    world.run()
    assert world.a.orders[order.uuid].state == OrderState.DONE
    assert world.a.resources[resource].state == ResourceState.TERMINATED
    assert world.b.resources[Uuid(world.a.resources[resource].backend_id)].state == ResourceState.TERMINATED


def test_update_waits_while_b_resource_is_busy(world: World) -> None:
    resource = world.create_done()
    b_resource = Uuid(world.a.resources[resource].backend_id)
    busy = world.b.request_update(b_resource, {"cpu_b": 1}, key="someone else")
    order = world.a.order_change(resource, OrderType.UPDATE, {"cpu": 2})
    report = world.agent().run_pass()
    assert report.outcomes[0].status == "retrying"
    world.b.provider_finish(busy, OrderState.DONE)
    world.run()
    assert len(world.b.orders_with_key(idempotency_key(order.uuid))) == 1


def test_linked_b_order_that_vanished_fails_the_order(world: World) -> None:
    order = world.a.order_create(world.project, {"cpu": 1})
    world.run()
    del world.b.orders[world.b_order_for(order.uuid)]
    world.run()
    assert world.a.orders[order.uuid].state == OrderState.ERRED
    assert "no longer exists" in world.a.orders[order.uuid].error_message


def test_restore_orders_are_rejected_without_approval(world: World) -> None:
    resource = world.create_done()
    order = world.a.order_change(resource, OrderType.RESTORE)
    report = world.agent().run_pass()
    assert report.outcomes[0].steps == ("Reject",)
    assert world.a.orders[order.uuid].state == OrderState.REJECTED
    assert "not supported" in world.a.orders[order.uuid].error_message


def test_only_configured_attributes_pass_through(world: World) -> None:
    order = world.a.order_create(world.project, {"cpu": 1}, name="job")
    world.a.orders[order.uuid] = evolve(order, attributes={"name": "job", "purpose": "science", "internal": "x"})
    world.run()
    [b_order] = world.b.orders_with_key(idempotency_key(order.uuid))
    assert b_order.attributes == {"name": "job", "purpose": "science"}


def test_the_real_conversion_drives_b_limits_and_refuses_unknown_components() -> None:
    from decimal import Decimal

    from fedcore.conversion import build_conversion
    from fedcore.model import ComponentMapping

    world = World()
    world.b.components = frozenset({"cpu_k_hours", "storage"})
    conversion = build_conversion(
        [ComponentMapping("node_hours", {"cpu_k_hours": Decimal(128)}), ComponentMapping("storage", {})]
    )
    agent = OrderProcessor(world.ports, conversion)
    good = world.a.order_create(world.project, {"node_hours": 3, "storage": 5})
    bad = world.a.order_create(world.project, {"gpu_hours": 1})
    agent.run_pass()
    [b_order] = world.b.orders_with_key(idempotency_key(good.uuid))
    assert b_order.limits == {"cpu_k_hours": 384, "storage": 5}
    assert world.a.orders[bad.uuid].state == OrderState.REJECTED
    assert "gpu_hours" in world.a.orders[bad.uuid].error_message
