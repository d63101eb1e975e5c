"""Contract of Waldur A's order ports (SourceOrders, SourceResources), for every implementation.

Each test arranges its world through an :class:`~contract.ports.orders_world.OrdersWorld` (A's users placing orders)
and then speaks only through the ports, asserting what the ports promise: which orders are open, which state
changes Waldur allows (409 otherwise, never "not found"), what reads back after a write, and that listings hold
everything, however many pages the REST adapter has to read. Listings are checked on the objects a test made (a live
Waldur's offering holds other tests' orders and resources too). B's ports: ``test_target_orders_contract.py``.
"""

from __future__ import annotations

import datetime as dt
import uuid as uuid_lib
from collections.abc import Callable, Iterator

import pytest

from adapters.memory.orders import MemorySource
from contract.ports.live_world import live_problem
from contract.ports.orders_world import A_OFFERING, OrdersWorld, also_over_tcp, open_world, parametrize_worlds
from fedcore.enums import OrderState, OrderType, ResourceState
from fedcore.errors import Conflict, NotFound, PermanentError, TransientError
from fedcore.ids import Uuid
from fedcore.model import Order, Resource
from fedcore.ports.orders import SourceOrders, SourceResources

pytestmark = pytest.mark.contract

MANY = 301
"""More records than Waldur's largest page (300): a listing must follow every page."""


pytest_generate_tests = parametrize_worlds


@pytest.fixture
def world(request: pytest.FixtureRequest) -> Iterator[OrdersWorld]:
    """A fresh world of each implementation (closed, and its traffic checked, afterwards)."""
    yield from open_world(request.param)


def hyphenated(uuid: str) -> str:
    """The SDK's spelling of a UUID (Waldur's own has no hyphens)."""
    return str(uuid_lib.UUID(uuid))


def open_orders(world: OrdersWorld) -> dict[Uuid, Order]:
    """A's open orders by UUID, read through the port."""
    return {o.uuid: o for o in world.a_orders.list_open_orders()}


def a_resources(world: OrdersWorld) -> dict[Uuid, Resource]:
    """A's resources by UUID, read through the port."""
    return {r.uuid: r for r in world.a_resources.list_resources()}


def executing(world: OrdersWorld, project: Uuid) -> Order:
    """An approved (executing) Create order."""
    order = world.a_order_create(project, {"cpu": 1})
    world.a_orders.approve(order.uuid)
    return order


def ok_resource(world: OrdersWorld, project: Uuid, name: str = "res") -> Uuid:
    """An A resource whose Create order fedcore completed: OK."""
    order = world.a_order_create(project, {"cpu": 2}, name=name)
    world.a_orders.approve(order.uuid)
    world.a_orders.complete(order.uuid)
    assert order.resource_uuid is not None
    return order.resource_uuid


def order_in(world: OrdersWorld, state: OrderState) -> Order:
    """A Create order taken to ``state`` through the port (pending-provider, executing, done, rejected, erred)."""
    order = world.a_order_create(world.a_project(), {"cpu": 1})
    if state in (OrderState.EXECUTING, OrderState.DONE):
        world.a_orders.approve(order.uuid)
    if state == OrderState.DONE:
        world.a_orders.complete(order.uuid)
    if state == OrderState.REJECTED:
        world.a_orders.reject(order.uuid, "no")
    if state == OrderState.ERRED:
        world.a_orders.fail(order.uuid, "broken")
    assert world.a_order(order.uuid).state == state
    return order


def test_live_waldur_runs_these_suites_when_configured() -> None:
    problem = live_problem()
    if problem:
        pytest.skip(problem)


def test_memory_source_is_a_source_orders_port() -> None:
    # Checked by mypy: the assignment fails type checking when the fake drifts from its Protocol.
    port: SourceOrders = MemorySource(A_OFFERING)
    assert list(port.list_open_orders()) == []


def test_memory_source_is_a_source_resources_port() -> None:
    # Checked by mypy, as above.
    port: SourceResources = MemorySource(A_OFFERING)
    assert list(port.list_resources()) == []


class TestSourceOrders:
    """Waldur A's orders of fedcore's offering: the open listing, provider actions and links."""

    def test_open_orders_are_exactly_the_pending_provider_and_executing_ones(self, world: OrdersWorld) -> None:
        orders = {state: order_in(world, state) for state in (
            OrderState.PENDING_PROVIDER, OrderState.EXECUTING, OrderState.DONE, OrderState.REJECTED,
            OrderState.ERRED,
        )}  # fmt: skip
        mine = {o.uuid for o in orders.values()}
        listed = open_orders(world)
        assert {uuid: o.state for uuid, o in listed.items() if uuid in mine} == {
            orders[OrderState.PENDING_PROVIDER].uuid: OrderState.PENDING_PROVIDER,
            orders[OrderState.EXECUTING].uuid: OrderState.EXECUTING,
        }

    def test_a_create_order_shows_what_the_user_ordered(self, world: OrdersWorld) -> None:
        project = world.a_project()
        order = world.a_order_create(project, {"cpu": 5}, name="sim")
        seen = open_orders(world)[order.uuid]
        assert (seen.type, seen.state) == (OrderType.CREATE, OrderState.PENDING_PROVIDER)
        assert (seen.project_uuid, seen.limits, seen.resource_name) == (project, {"cpu": 5}, "sim")
        assert seen.resource_uuid is not None
        assert a_resources(world)[seen.resource_uuid].state == ResourceState.CREATING
        assert (seen.backend_id, seen.key) == ("", "")

    @pytest.mark.parametrize("type_", [OrderType.UPDATE, OrderType.TERMINATE])
    def test_a_change_order_names_its_resource(self, world: OrdersWorld, type_: OrderType) -> None:
        resource = ok_resource(world, world.a_project())
        limits = {"cpu": 9} if type_ == OrderType.UPDATE else None
        order = world.a_order_change(resource, type_, limits)
        seen = open_orders(world)[order.uuid]
        assert (seen.type, seen.state, seen.resource_uuid) == (type_, OrderState.PENDING_PROVIDER, resource)
        if limits:
            assert seen.limits == limits

    def test_approve_moves_a_pending_order_to_executing(self, world: OrdersWorld) -> None:
        order = world.a_order_create(world.a_project(), {"cpu": 1})
        world.a_orders.approve(order.uuid)
        assert open_orders(world)[order.uuid].state == OrderState.EXECUTING

    @also_over_tcp
    @pytest.mark.parametrize("state", [OrderState.EXECUTING, OrderState.DONE, OrderState.REJECTED])
    def test_approve_and_reject_of_an_order_not_pending_provider_conflict(
        self, world: OrdersWorld, state: OrderState
    ) -> None:
        order = order_in(world, state)
        with pytest.raises(Conflict):
            world.a_orders.approve(order.uuid)
        with pytest.raises(Conflict):
            world.a_orders.reject(order.uuid, "too late")
        assert world.a_order(order.uuid).state == state

    def test_reject_keeps_the_reason_as_the_error_message(self, world: OrdersWorld) -> None:
        order = world.a_order_create(world.a_project(), {"cpu": 1})
        world.a_orders.reject(order.uuid, "component 'gpu' is not offered")
        rejected = world.a_order(order.uuid)
        assert (rejected.state, rejected.error_message) == (OrderState.REJECTED, "component 'gpu' is not offered")
        assert order.uuid not in open_orders(world)

    def test_complete_needs_an_executing_order(self, world: OrdersWorld) -> None:
        order = world.a_order_create(world.a_project(), {"cpu": 1})
        with pytest.raises(Conflict):
            world.a_orders.complete(order.uuid)
        world.a_orders.approve(order.uuid)
        world.a_orders.complete(order.uuid)
        assert world.a_order(order.uuid).state == OrderState.DONE
        with pytest.raises(Conflict):
            world.a_orders.complete(order.uuid)

    @pytest.mark.parametrize("state", [OrderState.PENDING_PROVIDER, OrderState.EXECUTING, OrderState.DONE])
    def test_fail_is_allowed_from_any_state(self, world: OrdersWorld, state: OrderState) -> None:
        order = order_in(world, state)
        world.a_orders.fail(order.uuid, "B order 0123 is erred: quota exceeded")
        failed = world.a_order(order.uuid)
        assert (failed.state, failed.error_message) == (OrderState.ERRED, "B order 0123 is erred: quota exceeded")

    @also_over_tcp
    def test_order_backend_id_round_trips_and_reads_back_normalised(self, world: OrdersWorld) -> None:
        project = world.a_project()
        bare, dashed = executing(world, project), executing(world, project)
        link = world.unknown_uuid()
        world.a_orders.set_order_backend_id(bare.uuid, link)
        world.a_orders.set_order_backend_id(dashed.uuid, hyphenated(link))
        listed = open_orders(world)
        assert listed[bare.uuid].backend_id == listed[dashed.uuid].backend_id == link
        assert listed[dashed.uuid].link == link

    @also_over_tcp
    @pytest.mark.parametrize("state", [OrderState.PENDING_PROVIDER, OrderState.EXECUTING, OrderState.DONE,
                                       OrderState.REJECTED, OrderState.ERRED])
    def test_get_order_reads_one_order_in_any_state(self, world: OrdersWorld, state: OrderState) -> None:
        order = order_in(world, state)
        seen = world.a_orders.get_order(order.uuid)
        assert (seen.uuid, seen.state, seen.type, seen.offering_uuid) == (order.uuid, state, OrderType.CREATE,
                                                                          order.offering_uuid)
        assert (seen.project_uuid, seen.resource_uuid, seen.limits) == (order.project_uuid, order.resource_uuid,
                                                                         {"cpu": 1})

    def test_get_order_agrees_with_the_open_listing_and_sees_links(self, world: OrdersWorld) -> None:
        order = executing(world, world.a_project())
        link = world.unknown_uuid()
        world.a_orders.set_order_backend_id(order.uuid, hyphenated(link))
        seen = world.a_orders.get_order(order.uuid)
        assert seen == open_orders(world)[order.uuid]
        assert (seen.backend_id, seen.link) == (link, link)

    @also_over_tcp
    def test_get_order_of_an_unknown_order_is_not_found(self, world: OrdersWorld) -> None:
        with pytest.raises(NotFound) as refused:
            world.a_orders.get_order(world.unknown_uuid())
        assert isinstance(refused.value, PermanentError)

    def test_get_order_through_a_passing_fault_is_transient_then_reads(self, world: OrdersWorld) -> None:
        order = world.a_order_create(world.a_project(), {"cpu": 1})
        world.a_next_order_read_fails(order.uuid)
        with pytest.raises(TransientError) as failed:
            world.a_orders.get_order(order.uuid)
        assert not isinstance(failed.value, PermanentError)
        assert world.a_orders.get_order(order.uuid).state == OrderState.PENDING_PROVIDER

    @also_over_tcp
    def test_actions_on_an_unknown_order_are_not_found(self, world: OrdersWorld) -> None:
        missing = world.unknown_uuid()
        acts: list[Callable[[], None]] = [
            lambda: world.a_orders.approve(missing),
            lambda: world.a_orders.reject(missing, "no"),
            lambda: world.a_orders.complete(missing),
            lambda: world.a_orders.fail(missing, "no"),
            lambda: world.a_orders.set_order_backend_id(missing, "x"),
        ]
        for act in acts:
            with pytest.raises(NotFound) as refused:
                act()
            assert isinstance(refused.value, PermanentError)

    @also_over_tcp
    def test_the_open_listing_holds_every_order_whatever_the_page_size(self, world: OrdersWorld) -> None:
        project = world.a_project()
        placed = {world.a_order_create(project, {"cpu": n + 1}).uuid for n in range(MANY)}
        listed = [o.uuid for o in world.a_orders.list_open_orders() if o.project_uuid == project]
        assert (set(listed), len(listed)) == (placed, MANY)


class TestSourceResources:
    """Waldur A's resources of fedcore's offering: listings, links, end dates and limits written by the provider."""

    def test_resources_follow_their_create_orders(self, world: OrdersWorld) -> None:
        project = world.a_project()
        done = ok_resource(world, project, "done")
        failed = world.a_order_create(project, {"cpu": 1}, name="failed")
        world.a_orders.approve(failed.uuid)
        world.a_orders.fail(failed.uuid, "B refused")
        assert failed.resource_uuid is not None
        states = {uuid: r.state for uuid, r in a_resources(world).items()}
        assert (states[done], states[failed.resource_uuid]) == (ResourceState.OK, ResourceState.ERRED)
        assert a_resources(world)[done].limits == {"cpu": 2}

    def test_listings_hold_every_resource_of_the_offering_or_of_one_project(self, world: OrdersWorld) -> None:
        physics, chemistry = world.a_project(), world.a_project()
        mine = {ok_resource(world, physics, f"p{n}") for n in range(30)}
        creating = world.a_order_create(physics, {"cpu": 1}).resource_uuid
        assert creating is not None
        mine.add(creating)
        theirs = {ok_resource(world, chemistry, "c")}
        terminated = ok_resource(world, chemistry, "t")
        terminate = world.a_order_change(terminated, OrderType.TERMINATE)
        world.a_orders.approve(terminate.uuid)
        world.a_orders.complete(terminate.uuid)
        theirs.add(terminated)
        ours = {uuid for uuid, r in a_resources(world).items() if r.project_uuid in (physics, chemistry)}
        assert ours == mine | theirs
        assert a_resources(world)[terminated].state == ResourceState.TERMINATED
        assert {r.uuid for r in world.a_resources.list_project_resources(physics)} == mine
        assert {r.uuid for r in world.a_resources.list_project_resources(chemistry)} == theirs
        assert {r.project_uuid for r in world.a_resources.list_project_resources(physics)} == {physics}
        assert list(world.a_resources.list_project_resources(world.a_project())) == []

    def test_resource_backend_id_round_trips_and_reads_back_normalised(self, world: OrdersWorld) -> None:
        project = world.a_project()
        bare, dashed = ok_resource(world, project, "bare"), ok_resource(world, project, "dashed")
        link = world.unknown_uuid()
        world.a_resources.set_resource_backend_id(bare, link)
        world.a_resources.set_resource_backend_id(dashed, hyphenated(link).upper())
        listed = {r.uuid: r for r in world.a_resources.list_project_resources(project)}
        assert listed[bare].backend_id == listed[dashed].backend_id == link
        assert listed[dashed].link == link

    @also_over_tcp
    def test_end_date_is_set_and_cleared(self, world: OrdersWorld) -> None:
        resource = ok_resource(world, world.a_project())
        world.a_resources.set_end_date(resource, dt.date(2027, 3, 31))
        assert a_resources(world)[resource].end_date == dt.date(2027, 3, 31)
        world.a_resources.set_end_date(resource, None)
        assert a_resources(world)[resource].end_date is None

    def test_limits_are_written_directly_without_an_order(self, world: OrdersWorld) -> None:
        resource = ok_resource(world, world.a_project())
        world.a_resources.set_limits(resource, {"cpu": 42})
        assert (a_resources(world)[resource].limits, a_resources(world)[resource].state) == (
            {"cpu": 42}, ResourceState.OK,
        )  # fmt: skip
        assert [o for o in world.a_orders.list_open_orders() if o.resource_uuid == resource] == []

    def test_writes_to_an_unknown_resource_are_not_found(self, world: OrdersWorld) -> None:
        missing = world.unknown_uuid()
        acts: list[Callable[[], None]] = [
            lambda: world.a_resources.set_resource_backend_id(missing, "x"),
            lambda: world.a_resources.set_end_date(missing, None),
            lambda: world.a_resources.set_limits(missing, {"cpu": 1}),
        ]
        for act in acts:
            with pytest.raises(NotFound):
                act()
