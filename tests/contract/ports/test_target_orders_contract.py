"""Contract of Waldur B's order ports (TargetOrders, TargetResources, TargetProjects), for every implementation.

Each test arranges its world through an :class:`~contract.ports.orders_world.OrdersWorld` (B's service provider
approving and finishing orders, B's listings missing an order) and then speaks only through the ports. Pinned here:
where the idempotency key travels and how it is found again, which reads may miss an order and which may not, 409
versus 404, resources following their orders, and listings that hold everything. A's ports:
``test_orders_contract.py``.
"""

from __future__ import annotations

import datetime as dt
import uuid as uuid_lib
from collections.abc import Callable, Iterator

import pytest

from adapters.memory.orders import MemoryTarget
from contract.ports.orders_world import (
    B_CUSTOMER,
    B_OFFERING,
    OrdersWorld,
    also_over_tcp,
    open_world,
    parametrize_worlds,
)
from fedcore.enums import OrderState, OrderType, ResourceState
from fedcore.errors import Conflict, NotFound, PermanentError
from fedcore.ids import Uuid
from fedcore.model import NewOrder, Order, Project, ProjectKey
from fedcore.ports.orders import TargetOrders, TargetProjects, TargetResources
from fedcore.ports.users import TargetMembers

pytestmark = pytest.mark.contract

MANY = 31
"""More records than one page of the emulator (10) or of a small ``page_size``: listings must follow every page."""

R = ResourceState


pytest_generate_tests = parametrize_worlds


@pytest.fixture
def world(request: pytest.FixtureRequest) -> Iterator[OrdersWorld]:
    """A fresh world of each implementation (closed, and its traffic checked, afterwards)."""
    yield from open_world(request.param)


def new_key() -> ProjectKey:
    """A project key no B project carries yet."""
    return ProjectKey(uuid_lib.uuid4().hex, uuid_lib.uuid4().hex)


def b_project(world: OrdersWorld) -> Project:
    """A new B project, created through the port."""
    return world.b_projects.create_project(new_key(), "physics", "Federated from A")


def submit(world: OrdersWorld, project: Project, key: str, cpu: int = 1, name: str = "res") -> Order:
    """Submit a Create order on B."""
    return world.b_orders.create_order(NewOrder(project.uuid, key, {"cpu": cpu}, {"name": name}))


def b_resource(world: OrdersWorld, state: ResourceState, project: Project | None = None) -> Uuid:
    """A B resource brought to ``state`` through the ports and B's provider, as Waldur B moves resources."""
    created = submit(world, project or b_project(world), f"make-{uuid_lib.uuid4().hex}", cpu=4)
    assert created.resource_uuid is not None
    resource = created.resource_uuid
    if state == R.CREATING:
        return resource
    if state == R.ERRED:
        world.b_provider_finish(created.uuid, OrderState.ERRED, "backend down")
        return resource
    world.b_provider_approve(created.uuid)
    world.b_provider_finish(created.uuid, OrderState.DONE)
    if state == R.UPDATING:
        world.b_orders.request_update(resource, {"cpu": 8}, "busy-update")
    elif state in (R.TERMINATING, R.TERMINATED):
        terminate = world.b_orders.request_termination(resource, "busy-terminate")
        if state == R.TERMINATED:
            world.b_provider_approve(terminate)
            world.b_provider_finish(terminate, OrderState.DONE)
    assert world.b_resources.get_resource(resource).state == state
    return resource


def test_memory_target_is_a_target_orders_port() -> None:
    # Checked by mypy: each assignment fails type checking when the fake drifts from its Protocol.
    port: TargetOrders = MemoryTarget(B_OFFERING, B_CUSTOMER)
    assert port.get_orders(set()) == {}


def test_memory_target_is_a_target_resources_port() -> None:
    port: TargetResources = MemoryTarget(B_OFFERING, B_CUSTOMER)
    assert list(port.list_resources()) == []


def test_memory_target_is_a_target_projects_port_and_so_a_members_port() -> None:
    port: TargetProjects = MemoryTarget(B_OFFERING, B_CUSTOMER)
    members: TargetMembers = port
    assert port.find_project(new_key()) is None
    assert members is port


class TestTargetOrders:
    """B's orders: submission with an idempotency key, lookups by key and by UUID, and Waldur's state rules."""

    @also_over_tcp
    def test_a_create_order_carries_its_key_and_names_its_new_resource_at_once(self, world: OrdersWorld) -> None:
        project = b_project(world)
        created = submit(world, project, "fedcore-order:1", cpu=3, name="sim")
        assert (created.type, created.project_uuid, created.limits) == (OrderType.CREATE, project.uuid, {"cpu": 3})
        assert not created.state.is_terminal
        assert created.resource_uuid is not None
        resource = world.b_resources.get_resource(created.resource_uuid)
        assert (resource.state, resource.project_uuid, resource.name) == (R.CREATING, project.uuid, "sim")
        [found] = world.b_orders.find_orders(project.uuid, {"fedcore-order:1"})
        assert (found.uuid, found.key, found.resource_uuid) == (created.uuid, "fedcore-order:1", created.resource_uuid)
        assert world.b_orders.get_order(created.uuid).key == "fedcore-order:1"

    @also_over_tcp
    def test_a_create_order_b_cannot_accept_is_refused_not_absent(self, world: OrdersWorld) -> None:
        project = b_project(world)
        requests = [
            NewOrder(project.uuid, "bad-component", {"gpu": 1}, {"name": "x"}),
            NewOrder(world.unknown_uuid(), "bad-project", {"cpu": 1}, {"name": "x"}),
        ]
        for request in requests:
            with pytest.raises(PermanentError) as refused:
                world.b_orders.create_order(request)
            assert not isinstance(refused.value, NotFound | Conflict)
            assert refused.value.status == 400
        assert list(world.b_orders.find_orders(project.uuid, {"bad-component", "bad-project"})) == []
        assert [r for r in world.b_resources.list_resources() if r.project_uuid == project.uuid] == []

    def test_an_update_order_carries_its_key(self, world: OrdersWorld) -> None:
        project = b_project(world)
        resource = b_resource(world, R.OK, project)
        uuid = world.b_orders.request_update(resource, {"cpu": 16}, "fedcore-order:u")
        [found] = world.b_orders.find_orders(project.uuid, {"fedcore-order:u"})
        assert (found.uuid, found.key, found.type) == (uuid, "fedcore-order:u", OrderType.UPDATE)
        assert (found.resource_uuid, found.limits) == (resource, {"cpu": 16})
        assert world.b_orders.get_order(uuid).key == "fedcore-order:u"

    @pytest.mark.parametrize("state", [R.OK, R.ERRED])
    def test_a_terminate_order_carries_its_key(self, world: OrdersWorld, state: ResourceState) -> None:
        project = b_project(world)
        resource = b_resource(world, state, project)
        uuid = world.b_orders.request_termination(resource, "fedcore-order:t")
        [found] = world.b_orders.find_orders(project.uuid, {"fedcore-order:t"})
        assert (found.uuid, found.key, found.type, found.resource_uuid) == (
            uuid, "fedcore-order:t", OrderType.TERMINATE, resource,
        )  # fmt: skip
        assert world.b_orders.get_order(uuid).key == "fedcore-order:t"

    def test_find_orders_returns_every_order_with_any_key_oldest_first(self, world: OrdersWorld) -> None:
        project, elsewhere = b_project(world), b_project(world)
        first = submit(world, project, "k1")
        second = submit(world, project, "k2")
        replica = submit(world, project, "k1")  # a second replica submitted the same order
        submit(world, project, "k3")
        other_project = submit(world, elsewhere, "k1")
        found = list(world.b_orders.find_orders(project.uuid, {"k1", "k2"}))
        assert {o.uuid for o in found} == {first.uuid, second.uuid, replica.uuid}
        assert all(o.created is not None for o in found)
        assert found == sorted(found, key=lambda o: (o.created, o.uuid))
        assert [o.uuid for o in found if o.key == "k1"] == [first.uuid, replica.uuid]
        assert [o.uuid for o in world.b_orders.find_orders(elsewhere.uuid, {"k1", "k2"})] == [other_project.uuid]
        assert list(world.b_orders.find_orders(project.uuid, {"k9"})) == []
        assert list(world.b_orders.find_orders(project.uuid, set())) == []

    @also_over_tcp
    def test_find_orders_holds_every_keyed_order_of_the_project(self, world: OrdersWorld) -> None:
        project = b_project(world)
        keys = {f"fedcore-order:{n}" for n in range(MANY)}
        placed = {submit(world, project, key).uuid for key in sorted(keys)}
        submit(world, project, "someone else's")
        assert {o.uuid for o in world.b_orders.find_orders(project.uuid, keys)} == placed

    @also_over_tcp
    def test_get_orders_may_miss_an_order_that_get_order_finds(self, world: OrdersWorld) -> None:
        project = b_project(world)
        seen, hidden = submit(world, project, "k1"), submit(world, project, "k2")
        world.b_provider_approve(seen.uuid)
        world.hide_from_batched_reads(hidden.uuid)
        batch = world.b_orders.get_orders({seen.uuid, hidden.uuid, world.unknown_uuid()})
        assert set(batch) == {seen.uuid}
        assert (batch[seen.uuid].uuid, batch[seen.uuid].state) == (seen.uuid, OrderState.EXECUTING)
        alone = world.b_orders.get_order(hidden.uuid)
        assert (alone.uuid, alone.key) == (hidden.uuid, "k2")
        # A world may have to finish an order to hide it (the REST adapter's batch lists in-flight orders only).
        assert alone.state == OrderState.PENDING_PROVIDER or alone.state.is_terminal
        assert world.b_orders.get_orders(set()) == {}

    def test_get_orders_reads_many_orders_and_their_current_state(self, world: OrdersWorld) -> None:
        project = b_project(world)
        orders = [submit(world, project, f"k{n}") for n in range(MANY)]
        world.b_provider_approve(orders[0].uuid)
        world.b_provider_finish(orders[0].uuid, OrderState.DONE)
        world.b_provider_finish(orders[1].uuid, OrderState.REJECTED, "no capacity")
        batch = world.b_orders.get_orders({o.uuid for o in orders})
        # Every in-flight order is in the batch; a finished one may be missing (the REST adapter lists in-flight
        # orders only), and is then read alone, as the order service does.
        assert {o.uuid for o in orders[2:]} <= set(batch) <= {o.uuid for o in orders}
        assert all(batch[o.uuid].state == OrderState.PENDING_PROVIDER for o in orders[2:])
        finished = {o.uuid: batch.get(o.uuid) or world.b_orders.get_order(o.uuid) for o in orders[:2]}
        assert finished[orders[0].uuid].state == OrderState.DONE
        assert (finished[orders[1].uuid].state, finished[orders[1].uuid].error_message) == (
            OrderState.REJECTED, "no capacity",
        )  # fmt: skip

    @also_over_tcp
    def test_a_pending_order_is_deleted_and_its_resource_never_made(self, world: OrdersWorld) -> None:
        project = b_project(world)
        created = submit(world, project, "fedcore-order:del")
        assert created.resource_uuid is not None
        world.b_orders.delete_order(created.uuid)
        assert world.b_orders.find_orders(project.uuid, {"fedcore-order:del"}) == []
        with pytest.raises(NotFound):
            world.b_orders.get_order(created.uuid)
        with pytest.raises(NotFound):
            world.b_orders.delete_order(created.uuid)
        assert world.b_resources.get_resource(created.resource_uuid).state != R.OK

    @also_over_tcp
    def test_keyed_creates_are_listed_by_modification_time(self, world: OrdersWorld) -> None:
        project = b_project(world)
        keyed = submit(world, project, f"fedcore-order:{uuid_lib.uuid4().hex}")
        other = submit(world, project, "not-a-fedcore-key")
        listed = {o.uuid: o for o in world.b_orders.list_keyed_creates(dt.datetime(2000, 1, 1, tzinfo=dt.UTC))}
        assert keyed.uuid in listed
        assert other.uuid not in listed
        assert listed[keyed.uuid].key == keyed.key
        assert listed[keyed.uuid].modified is not None
        assert world.b_orders.list_keyed_creates(dt.datetime(2100, 1, 1, tzinfo=dt.UTC)) == []

    def test_an_order_b_took_up_is_not_deleted(self, world: OrdersWorld) -> None:
        project = b_project(world)
        created = submit(world, project, "fedcore-order:taken")
        world.b_provider_approve(created.uuid)
        with pytest.raises(Conflict):
            world.b_orders.delete_order(created.uuid)
        world.b_provider_finish(created.uuid, OrderState.DONE)
        with pytest.raises(Conflict):
            world.b_orders.delete_order(created.uuid)
        assert world.b_orders.get_order(created.uuid).state == OrderState.DONE

    def test_unknown_orders_and_resources_are_not_found(self, world: OrdersWorld) -> None:
        missing = world.unknown_uuid()
        acts: list[Callable[[], object]] = [
            lambda: world.b_orders.get_order(missing),
            lambda: world.b_resources.get_resource(missing),
            lambda: world.b_orders.request_update(missing, {"cpu": 1}, "k"),
            lambda: world.b_orders.request_termination(missing, "k"),
        ]
        for act in acts:
            with pytest.raises(NotFound) as refused:
                act()
            assert isinstance(refused.value, PermanentError)

    @pytest.mark.parametrize("state", [R.CREATING, R.ERRED, R.UPDATING, R.TERMINATING, R.TERMINATED])
    def test_update_of_a_resource_not_ok_or_busy_conflicts(self, world: OrdersWorld, state: ResourceState) -> None:
        project = b_project(world)
        resource = b_resource(world, state, project)
        with pytest.raises(Conflict):
            world.b_orders.request_update(resource, {"cpu": 2}, "refused")
        assert list(world.b_orders.find_orders(project.uuid, {"refused"})) == []
        assert world.b_resources.get_resource(resource).state == state

    @also_over_tcp
    def test_update_conflicts_while_another_order_is_in_progress(self, world: OrdersWorld) -> None:
        project = b_project(world)
        resource = b_resource(world, R.OK, project)
        first = world.b_orders.request_update(resource, {"cpu": 2}, "first")
        with pytest.raises(Conflict):
            world.b_orders.request_update(resource, {"cpu": 3}, "second")
        with pytest.raises(Conflict):
            world.b_orders.request_termination(resource, "third")
        world.b_provider_approve(first)
        world.b_provider_finish(first, OrderState.DONE)
        world.b_orders.request_update(resource, {"cpu": 3}, "second")
        assert [o.key for o in world.b_orders.find_orders(project.uuid, {"first", "second", "third"})] == [
            "first", "second",
        ]  # fmt: skip

    @pytest.mark.parametrize("state", [R.CREATING, R.UPDATING, R.TERMINATING, R.TERMINATED])
    def test_termination_of_a_resource_neither_ok_nor_erred_conflicts(
        self, world: OrdersWorld, state: ResourceState
    ) -> None:
        project = b_project(world)
        resource = b_resource(world, state, project)
        with pytest.raises(Conflict):
            world.b_orders.request_termination(resource, "refused")
        assert list(world.b_orders.find_orders(project.uuid, {"refused"})) == []

    def test_resources_follow_their_orders(self, world: OrdersWorld) -> None:
        project = b_project(world)
        resource = b_resource(world, R.OK, project)
        assert world.b_resources.get_resource(resource).limits == {"cpu": 4}
        update = world.b_orders.request_update(resource, {"cpu": 6}, "grow")
        world.b_provider_approve(update)
        world.b_provider_finish(update, OrderState.DONE)
        assert (world.b_resources.get_resource(resource).state, world.b_resources.get_resource(resource).limits) == (
            R.OK, {"cpu": 6},
        )  # fmt: skip
        refused = world.b_orders.request_update(resource, {"cpu": 99}, "too much")
        world.b_provider_finish(refused, OrderState.REJECTED, "quota")
        assert world.b_resources.get_resource(resource).limits == {"cpu": 6}
        terminate = world.b_orders.request_termination(resource, "end")
        world.b_provider_approve(terminate)
        world.b_provider_finish(terminate, OrderState.DONE)
        assert world.b_resources.get_resource(resource).state == R.TERMINATED


class TestTargetResources:
    """B's resources under fedcore's customer: single reads, the full listing, the consumer's end date."""

    def test_the_listing_holds_every_resource_in_any_state(self, world: OrdersWorld) -> None:
        first, second = b_project(world), b_project(world)
        made = {b_resource(world, R.CREATING, first) for _ in range(MANY)}
        made |= {b_resource(world, state, second) for state in (R.OK, R.ERRED, R.TERMINATED)}
        listed = {r.uuid: r for r in world.b_resources.list_resources() if r.project_uuid in (first.uuid, second.uuid)}
        assert set(listed) == made
        assert {r.project_uuid for r in listed.values()} == {first.uuid, second.uuid}
        assert {r.state for r in listed.values()} == {R.CREATING, R.OK, R.ERRED, R.TERMINATED}

    def test_end_date_is_set_and_cleared(self, world: OrdersWorld) -> None:
        resource = b_resource(world, R.OK)
        world.b_resources.set_end_date(resource, dt.date(2027, 1, 31))
        assert world.b_resources.get_resource(resource).end_date == dt.date(2027, 1, 31)
        assert {r.uuid: r.end_date for r in world.b_resources.list_resources()}[resource] == dt.date(2027, 1, 31)
        world.b_resources.set_end_date(resource, None)
        assert world.b_resources.get_resource(resource).end_date is None

    def test_end_date_of_an_unknown_resource_is_not_found(self, world: OrdersWorld) -> None:
        with pytest.raises(NotFound):
            world.b_resources.set_end_date(world.unknown_uuid(), dt.date(2027, 1, 31))


class TestTargetProjects:
    """B's projects, found by the A project's key, and their members."""

    @also_over_tcp
    def test_a_created_project_is_found_by_its_key(self, world: OrdersWorld) -> None:
        key = new_key()
        created = world.b_projects.create_project(key, "physics", "Federated from project x on Waldur A")
        found = world.b_projects.find_project(key)
        assert found is not None
        assert (found.uuid, found.name, found.description) == (
            created.uuid, "physics", "Federated from project x on Waldur A",
        )  # fmt: skip
        assert (found.backend_id, found.customer_uuid) == (key.backend_id, world.b_customer)

    @also_over_tcp
    def test_of_two_projects_with_one_key_the_oldest_is_found_until_it_is_deleted(self, world: OrdersWorld) -> None:
        key = new_key()
        first = world.b_projects.create_project(key, "first", "")
        second = world.b_projects.create_project(key, "second", "")
        for _ in range(3):
            found = world.b_projects.find_project(key)
            assert found is not None
            assert found.uuid == first.uuid
            assert found.created is not None
        world.b_projects.delete_project(first.uuid)
        after = world.b_projects.find_project(key)
        assert after is not None
        assert after.uuid == second.uuid
        with pytest.raises(NotFound):
            world.b_projects.delete_project(world.unknown_uuid())

    @also_over_tcp
    def test_projects_are_listed_by_backend_id_and_by_creation_time(self, world: OrdersWorld) -> None:
        key, other = new_key(), new_key()
        first = world.b_projects.create_project(key, "first", "")
        second = world.b_projects.create_project(key, "second", "")
        world.b_projects.create_project(other, "other", "")
        sharing = world.b_projects.projects_with_backend_id(key.backend_id)
        assert sorted(p.uuid for p in sharing) == sorted([first.uuid, second.uuid])
        recent = {p.uuid for p in world.b_projects.projects_created_after(dt.datetime(2000, 1, 1, tzinfo=dt.UTC))}
        assert {first.uuid, second.uuid} <= recent
        assert world.b_projects.projects_created_after(dt.datetime(2100, 1, 1, tzinfo=dt.UTC)) == []
        world.b_projects.delete_project(second.uuid)
        assert [p.uuid for p in world.b_projects.projects_with_backend_id(key.backend_id)] == [first.uuid]

    def test_a_project_holding_a_resource_is_not_deleted(self, world: OrdersWorld) -> None:
        key = new_key()
        project = world.b_projects.create_project(key, "physics", "")
        submit(world, project, "fedcore-order:keeps")
        with pytest.raises(Conflict):
            world.b_projects.delete_project(project.uuid)
        assert world.b_projects.find_project(key) == project

    def test_an_unknown_key_finds_nothing(self, world: OrdersWorld) -> None:
        key = new_key()
        world.b_projects.create_project(key, "physics", "")
        assert world.b_projects.find_project(new_key()) is None
        swapped = ProjectKey(key.project_uuid, key.customer_uuid)
        assert world.b_projects.find_project(swapped) is None

    def test_members_are_added_listed_and_removed(self, world: OrdersWorld) -> None:
        project = b_project(world)
        ann, bob = world.b_user("ann@cuid"), world.b_user("bob@cuid")
        world.b_projects.add_member(project.uuid, ann, "PROJECT.ADMIN")
        world.b_projects.add_member(project.uuid, ann, "PROJECT.MEMBER")
        world.b_projects.add_member(project.uuid, bob, "PROJECT.MEMBER")
        world.b_projects.remove_member(project.uuid, ann, "PROJECT.ADMIN")
        ours = {ann, bob}
        listed = {(m.user.uuid, m.role) for m in world.b_projects.list_members(project.uuid) if m.user.uuid in ours}
        assert listed == {(ann, "PROJECT.MEMBER"), (bob, "PROJECT.MEMBER")}

    def test_adding_a_role_twice_is_refused_not_absent(self, world: OrdersWorld) -> None:
        project = b_project(world)
        ann = world.b_user("ann@cuid")
        world.b_projects.add_member(project.uuid, ann, "PROJECT.ADMIN")
        with pytest.raises(PermanentError) as refused:
            world.b_projects.add_member(project.uuid, ann, "PROJECT.ADMIN")
        assert not isinstance(refused.value, NotFound | Conflict)
        assert [m.role for m in world.b_projects.list_members(project.uuid) if m.user.uuid == ann] == [
            "PROJECT.ADMIN"
        ]
