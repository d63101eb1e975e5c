"""Example tests for order-lifecycle branches no other test reaches, run against the in-memory Waldurs.

Each arranges A and B (reaching behind the fakes only where Waldur itself would get there by a race or by another
actor), runs passes of the order service, and asserts outcomes on the fakes' state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from attrs import evolve
from order_world import Times, World

from adapters.memory.orders import MemorySource
from fedcore.enums import OrderState, OrderType, ResourceState
from fedcore.ids import Uuid
from fedcore.lifecycle import idempotency_key
from fedcore.model import Order
from fedcore.services.orders import OrderPorts, OrderProcessor

pytestmark = pytest.mark.unit


@pytest.fixture
def world() -> World:
    return World()


def b_resource_of(world: World, a_resource: Uuid) -> Uuid:
    """The B resource the A resource links to."""
    return Uuid(world.a.resources[a_resource].backend_id)


def keyed(world: World, a_order: Uuid) -> list[Order]:
    """The B orders fedcore submitted for this A order."""
    return world.b.orders_with_key(idempotency_key(a_order))


# (a) B refuses update_limits with a 409 although its resource reads OK ---------------------------------------


def test_a_409_on_update_limits_is_retried_and_the_update_completes_once_b_is_free(world: World) -> None:
    resource = world.create_done(cpu=10)
    b_resource = b_resource_of(world, resource)
    stray = world.b.request_update(b_resource, {"cpu_b": 1}, key="an operator's update")
    world.b.resources[b_resource] = evolve(world.b.resources[b_resource], state=ResourceState.OK)
    order = world.a.order_change(resource, OrderType.UPDATE, {"cpu": 30})

    report = world.run()
    assert report.outcomes[0].status == "retrying"
    assert "wrong state" in str(report.outcomes[0].end)
    assert world.a.orders[order.uuid].state == OrderState.EXECUTING
    assert keyed(world, order.uuid) == []

    world.run()  # B is still busy: still retrying, never failed
    assert world.a.orders[order.uuid].state == OrderState.EXECUTING

    world.b.provider_finish(stray, OrderState.DONE)
    world.run()
    [b_update] = keyed(world, order.uuid)
    assert (b_update.resource_uuid, b_update.limits) == (b_resource, {"cpu_b": 60})
    world.b.provider_finish(b_update.uuid, OrderState.DONE)
    world.run()
    assert world.a.orders[order.uuid].state == OrderState.DONE
    assert world.b.resources[b_resource].limits == {"cpu_b": 60}


# (b) end_date travels to B --------------------------------------------------------------------------------


def test_an_end_date_in_the_a_order_travels_to_the_b_create_order(world: World) -> None:
    order = world.a.order_create(world.project, {"cpu": 1}, name="job")
    world.a.orders[order.uuid] = evolve(order, attributes={"name": "job", "end_date": "2027-06-30"})
    world.run()
    [b_order] = keyed(world, order.uuid)
    assert b_order.attributes == {"name": "job", "end_date": "2027-06-30"}


# (c) a shadow Update narrowed by the resource name ------------------------------------------------------------


@pytest.mark.parametrize("meant", ["alpha", "beta"])
def test_a_shadow_update_naming_one_of_two_federated_resources_reaches_that_one(world: World, meant: str) -> None:
    resources = {name: world.create_done(cpu=1, name=name) for name in ("alpha", "beta")}
    order = world.a.order_change(resources[meant], OrderType.UPDATE, {"cpu": 4}, shadow=True)
    assert order.resource_name == ""  # Waldur's shadow: a fresh nameless resource
    world.a.orders[order.uuid] = evolve(world.a.orders[order.uuid], resource_name=meant)
    world.run()
    [b_update] = keyed(world, order.uuid)
    assert b_update.resource_uuid == b_resource_of(world, resources[meant])
    world.b.provider_finish(b_update.uuid, OrderState.DONE)
    world.run()
    assert world.a.orders[order.uuid].state == OrderState.DONE
    limits = {name: world.b.resources[b_resource_of(world, uuid)].limits for name, uuid in resources.items()}
    assert limits == {name: {"cpu_b": 8 if name == meant else 2} for name in resources}


# (d) an Update of an Erred B resource ----------------------------------------------------------------------


def test_an_update_of_an_erred_b_resource_fails_without_a_b_order(world: World) -> None:
    resource = world.create_done()
    b_resource = b_resource_of(world, resource)
    world.b.resources[b_resource] = evolve(world.b.resources[b_resource], state=ResourceState.ERRED)
    b_orders_before = dict(world.b.orders)
    order = world.a.order_change(resource, OrderType.UPDATE, {"cpu": 5})
    world.run()
    a_order = world.a.orders[order.uuid]
    assert a_order.state == OrderState.ERRED
    assert "only updates the limits of OK resources" in a_order.error_message
    assert b_resource in a_order.error_message
    assert world.b.orders == b_orders_before


# (e) a Terminate of a Creating B resource ------------------------------------------------------------------


def test_a_terminate_of_a_creating_b_resource_retries_until_b_has_created_it(world: World) -> None:
    resource = world.create_done()
    b_resource = b_resource_of(world, resource)
    world.b.resources[b_resource] = evolve(world.b.resources[b_resource], state=ResourceState.CREATING)
    order = world.a.order_change(resource, OrderType.TERMINATE)
    for _ in range(2):
        report = world.run()
        assert report.outcomes[0].status == "retrying"
        assert "Creating" in str(report.outcomes[0].end)
        assert world.a.orders[order.uuid].state == OrderState.EXECUTING
        assert keyed(world, order.uuid) == []
    world.b.resources[b_resource] = evolve(world.b.resources[b_resource], state=ResourceState.OK)
    world.run()
    [b_terminate] = keyed(world, order.uuid)
    world.b.provider_finish(b_terminate.uuid, OrderState.DONE)
    world.run()
    assert world.a.orders[order.uuid].state == OrderState.DONE
    assert world.b.resources[b_resource].state == ResourceState.TERMINATED


# (f) a Conflict on reject_by_provider ----------------------------------------------------------------------


class ListedBeforeSomeoneActs:
    """A's orders as one pass sees them when another actor changes an order right after the listing.

    Delegates to the fake (state lives there); only the listing is followed by ``meanwhile``, once.
    """

    def __init__(self, a: MemorySource, meanwhile: Callable[[], None]) -> None:
        self._a = a
        self._meanwhile: Callable[[], None] | None = meanwhile

    def list_open_orders(self) -> Sequence[Order]:
        """A's listing, then the other actor's change."""
        listed = self._a.list_open_orders()
        if self._meanwhile is not None:
            self._meanwhile()
            self._meanwhile = None
        return listed

    def get_order(self, order_uuid: Uuid) -> Order:
        """As the fake."""
        return self._a.get_order(order_uuid)

    def approve(self, order_uuid: Uuid) -> None:
        """As the fake."""
        self._a.approve(order_uuid)

    def reject(self, order_uuid: Uuid, reason: str) -> None:
        """As the fake."""
        self._a.reject(order_uuid, reason)

    def set_order_backend_id(self, order_uuid: Uuid, backend_id: str) -> None:
        """As the fake."""
        self._a.set_order_backend_id(order_uuid, backend_id)

    def complete(self, order_uuid: Uuid) -> None:
        """As the fake."""
        self._a.complete(order_uuid)

    def fail(self, order_uuid: Uuid, message: str) -> None:
        """As the fake."""
        self._a.fail(order_uuid, message)


def test_a_conflict_on_reject_is_retried_and_the_next_pass_reads_the_new_state(world: World) -> None:
    order = world.a.order_create(world.project, {"gpu": 1})
    racing = ListedBeforeSomeoneActs(world.a, lambda: world.a.approve(order.uuid))  # approved in A's UI meanwhile
    ports = OrderPorts(racing, world.a, world.b, world.b, world.b)
    report = OrderProcessor(ports, Times()).run_pass()
    assert report.outcomes[0].status == "retrying"
    assert "wrong state" in str(report.outcomes[0].end)
    assert world.a.orders[order.uuid].state == OrderState.EXECUTING  # not failed by the refused rejection

    world.run()
    a_order = world.a.orders[order.uuid]
    assert a_order.state == OrderState.ERRED
    assert "'gpu'" in a_order.error_message
    assert world.b.projects == {}


# (g) every Fail and Reject message names the object it is about --------------------------------------------

Named = tuple[Uuid, list[str]]
"""An A order the lifecycle failed or rejected, and what its message must name."""


def _restore(world: World) -> Named:
    order = world.a.order_change(world.create_done(), OrderType.RESTORE)
    return order.uuid, ["Restore"]


def _unknown_component(world: World) -> Named:
    return world.a.order_create(world.project, {"gpu": 1}).uuid, ["'gpu'"]


def _unknown_component_approved_elsewhere(world: World) -> Named:
    order = world.a.order_create(world.project, {"gpu": 1})
    world.a.approve(order.uuid)
    return order.uuid, ["'gpu'"]


def _never_federated(world: World) -> Named:
    resource = world.create_done()
    world.a.resources[resource] = evolve(world.a.resources[resource], backend_id="")
    return world.a.order_change(resource, OrderType.TERMINATE).uuid, [resource]


def _resource_link_not_a_uuid(world: World) -> Named:
    resource = world.create_done()
    world.a.resources[resource] = evolve(world.a.resources[resource], backend_id="slurm-42")
    return world.a.order_change(resource, OrderType.UPDATE, {"cpu": 2}).uuid, [resource, "'slurm-42'"]


def _shadow_of_an_unlinked_resource(world: World) -> Named:
    resource = world.create_done()
    world.a.resources[resource] = evolve(world.a.resources[resource], backend_id="")
    order = world.a.order_change(resource, OrderType.TERMINATE, shadow=True)
    assert order.resource_uuid is not None
    return order.uuid, [order.resource_uuid, resource]


def _shadow_without_candidates(world: World) -> Named:
    resource = world.create_done()
    world.a.resources[resource] = evolve(world.a.resources[resource], backend_id="", name="")
    order = world.a.order_change(resource, OrderType.TERMINATE, shadow=True)
    assert order.resource_uuid is not None
    return order.uuid, [order.resource_uuid]


def _ambiguous_shadow(world: World) -> Named:
    first, second = world.create_done(name="one"), world.create_done(name="two")
    order = world.a.order_change(first, OrderType.UPDATE, {"cpu": 2}, shadow=True)
    assert order.resource_uuid is not None
    return order.uuid, [order.resource_uuid, first, second]


def _order_link_not_a_uuid(world: World) -> Named:
    order = world.a.order_create(world.project, {"cpu": 1})
    world.a.approve(order.uuid)
    world.a.set_order_backend_id(order.uuid, "slurm-job-42")
    return order.uuid, ["'slurm-job-42'"]


def _linked_b_order_gone(world: World) -> Named:
    order = world.a.order_create(world.project, {"cpu": 1})
    world.run()
    b_order = world.b_order_for(order.uuid)
    del world.b.orders[b_order]
    return order.uuid, [b_order]


def _b_order_rejected(world: World) -> Named:
    order = world.a.order_create(world.project, {"cpu": 1})
    world.run()
    b_order = world.b_order_for(order.uuid)
    world.b.provider_finish(b_order, OrderState.REJECTED, "no capacity left")
    return order.uuid, [b_order, "no capacity left"]


def _b_resource_missing(world: World) -> Named:
    resource = world.create_done()
    b_resource = b_resource_of(world, resource)
    del world.b.resources[b_resource]
    return world.a.order_change(resource, OrderType.UPDATE, {"cpu": 2}).uuid, [b_resource]


def _b_resource_in(state: ResourceState) -> Callable[[World], Named]:
    def arrange(world: World) -> Named:
        resource = world.create_done()
        b_resource = b_resource_of(world, resource)
        world.b.resources[b_resource] = evolve(world.b.resources[b_resource], state=state)
        return world.a.order_change(resource, OrderType.UPDATE, {"cpu": 2}).uuid, [b_resource]

    return arrange


def _b_refuses_the_create(world: World) -> Named:
    world.b.components = frozenset({"other"})
    order = world.a.order_create(world.project, {"cpu": 1})
    world.run()
    [b_project] = world.b.projects
    return order.uuid, [b_project]


SCENARIOS: dict[str, Callable[[World], Named]] = {
    "restore": _restore,
    "unknown-component": _unknown_component,
    "unknown-component-approved-elsewhere": _unknown_component_approved_elsewhere,
    "never-federated": _never_federated,
    "resource-link-not-a-uuid": _resource_link_not_a_uuid,
    "shadow-of-unlinked": _shadow_of_an_unlinked_resource,
    "shadow-without-candidates": _shadow_without_candidates,
    "ambiguous-shadow": _ambiguous_shadow,
    "order-link-not-a-uuid": _order_link_not_a_uuid,
    "linked-b-order-gone": _linked_b_order_gone,
    "b-order-rejected": _b_order_rejected,
    "b-resource-missing": _b_resource_missing,
    "b-resource-terminated": _b_resource_in(ResourceState.TERMINATED),
    "b-resource-erred": _b_resource_in(ResourceState.ERRED),
    "b-refuses-the-create": _b_refuses_the_create,
}


@pytest.mark.parametrize(
    "scenario",
    sorted(SCENARIOS),
)
def test_every_fail_and_reject_message_names_the_object_it_is_about(world: World, scenario: str) -> None:
    order, names = SCENARIOS[scenario](world)
    world.run()
    a_order = world.a.orders[order]
    assert a_order.state in (OrderState.ERRED, OrderState.REJECTED), a_order
    missing = [name for name in names if name not in a_order.error_message]
    assert missing == [], a_order.error_message
