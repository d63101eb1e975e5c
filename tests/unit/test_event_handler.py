"""The event handler over in-memory Waldurs: each reaction re-reads state and acts on one object, faults ask for a
retry, unknown B orders and reconciliations become passes of the daemon."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import attrs
import pytest
from daemon_kit import PassingOrders, Worlds, config, daemon

from adapters.config import FedcoreConfig
from fedcore.enums import ObjectType, OfferingUserState, OrderState, Side
from fedcore.events import Event
from fedcore.ids import Uuid
from fedcore.model import OfferingUser, Order
from runners.daemon import Daemon
from runners.events import Deferred, EventHandler, Handled
from runners.wiring import MemoryWorld, Mode

A_OFFERING = Uuid("0" * 32)
B_OFFERING = "b" * 32


def _handler(cfg: FedcoreConfig, d: Daemon) -> EventHandler:
    served = [(svc, o) for svc in d.services() for o in cfg.offerings if o.name == svc.name]
    return EventHandler(served, context=d.context, run_soon=d.run_soon)


def _setup(modes: tuple[Mode, ...] = (Mode.ORDER_PROCESS,)) -> tuple[Worlds, Daemon, EventHandler]:
    cfg = config("hpc")
    worlds = Worlds()
    d = daemon(cfg, worlds, modes=modes)
    return worlds, d, _handler(cfg, d)


def a_order_event(uuid: str, state: OrderState | None = OrderState.PENDING_PROVIDER) -> Event:
    return Event(Side.A, ObjectType.ORDER, A_OFFERING, order_uuid=uuid, order_state=state)


def b_order_event(uuid: str) -> Event:
    return Event(Side.B, ObjectType.ORDER, B_OFFERING, order_uuid=uuid, order_state=OrderState.DONE)


def test_an_a_order_event_submits_the_b_order_at_once_and_a_b_done_event_completes_it() -> None:
    worlds, _, handler = _setup()
    order, _ = worlds.order("hpc")
    world = worlds.built["hpc"]

    first = handler.handle(a_order_event(order.uuid))

    assert isinstance(first, Handled)
    assert not first.retry
    [b_order] = world.b.orders.values()
    assert world.a.orders[order.uuid].state == OrderState.EXECUTING
    assert world.a.orders[order.uuid].backend_id == b_order.uuid

    world.b.provider_finish(b_order.uuid, OrderState.DONE)
    second = handler.handle(b_order_event(b_order.uuid))

    assert isinstance(second, Handled)
    assert not second.retry
    assert world.a.orders[order.uuid].state == OrderState.DONE


def test_a_duplicated_or_stale_event_changes_nothing() -> None:
    worlds, _, handler = _setup()
    order, _ = worlds.order("hpc")
    world = worlds.built["hpc"]
    for _ in range(3):
        assert isinstance(handler.handle(a_order_event(order.uuid)), Handled)
    assert len(world.b.orders) == 1
    [b_order] = world.b.orders.values()
    world.b.provider_finish(b_order.uuid, OrderState.DONE)
    for _ in range(2):
        handler.handle(b_order_event(b_order.uuid))
        handler.handle(a_order_event(order.uuid))  # stale: A's order is done now
    assert world.a.orders[order.uuid].state == OrderState.DONE
    assert len(world.b.orders) == 1


def _b_order_done_and_unknown(*, keyed: bool) -> tuple[MemoryWorld, Daemon, EventHandler, Order, Order]:
    """An A order submitted on its event, its B order done on B (without fedcore's key unless ``keyed``), and
    the link forgotten, as after a restart."""
    worlds, d, handler = _setup()
    order, _ = worlds.order("hpc")
    world = worlds.built["hpc"]
    handler.handle(a_order_event(order.uuid))
    [b_order] = world.b.orders.values()
    if not keyed:
        world.b.orders[b_order.uuid] = attrs.evolve(b_order, key="")  # as the existing agent's orders are
    world.b.provider_finish(b_order.uuid, OrderState.DONE)
    d.context.links.record("hpc", order.uuid, b_order.uuid, finished=True)
    world.faults.reset_counts()
    return world, d, handler, order, b_order


def test_a_b_order_fedcore_does_not_know_is_followed_through_its_key_with_one_read() -> None:
    world, _, handler, order, b_order = _b_order_done_and_unknown(keyed=True)

    result = handler.handle(b_order_event(b_order.uuid))

    assert result == Handled(note=f"A order {order.uuid}: completed (finished)")
    assert world.a.orders[order.uuid].state == OrderState.DONE
    assert world.faults.calls["B.get_order"] == 1  # the key, read from the B order
    assert world.faults.calls["A.list_open_orders"] == 0  # no pass


def test_a_b_order_without_fedcore_key_asks_for_an_order_pass_which_completes_it() -> None:
    world, d, handler, order, b_order = _b_order_done_and_unknown(keyed=False)

    result = handler.handle(b_order_event(b_order.uuid))

    assert isinstance(result, Deferred)
    assert len(result.passes) == 1
    assert world.a.orders[order.uuid].state == OrderState.EXECUTING
    d.tick()  # the daemon runs the requested pass
    assert result.passes[0].result().ok
    assert world.a.orders[order.uuid].state == OrderState.DONE


def test_a_passing_fault_asks_for_a_retry_and_the_next_delivery_succeeds() -> None:
    worlds, _, handler = _setup()
    order, _ = worlds.order("hpc")
    world = worlds.built["hpc"]
    world.faults.fail_next("create_order")

    failed = handler.handle(a_order_event(order.uuid))

    assert isinstance(failed, Handled)
    assert failed.retry
    assert world.a.orders[order.uuid].state != OrderState.ERRED
    again = handler.handle(a_order_event(order.uuid))
    assert isinstance(again, Handled)
    assert not again.retry
    assert len(world.b.orders) == 1


def test_a_read_failure_of_a_is_a_retry_not_an_absence() -> None:
    worlds, _, handler = _setup()
    order, _ = worlds.order("hpc")
    worlds.built["hpc"].faults.fail_next("get_order")
    result = handler.handle(a_order_event(order.uuid))
    assert isinstance(result, Handled)
    assert result.retry


def test_an_order_of_another_offering_or_a_done_one_is_ignored() -> None:
    worlds, _, handler = _setup()
    order, _ = worlds.order("hpc")
    other = Event(Side.A, ObjectType.ORDER, "9" * 32, order_uuid=order.uuid, order_state=OrderState.PENDING_PROVIDER)
    assert handler.handle(other) == Handled(note=f"no configured offering is A's offering {'9' * 32}", ignored=True)
    done = handler.handle(a_order_event(order.uuid, OrderState.DONE))
    assert isinstance(done, Handled)
    assert done.ignored
    assert not worlds.built["hpc"].b.orders


def test_an_event_waits_for_a_pass_holding_the_same_project() -> None:
    worlds, d, handler = _setup()
    order, project = worlds.order("hpc")
    world = worlds.built["hpc"]
    finished = threading.Event()

    def handle() -> None:
        handler.handle(a_order_event(order.uuid))
        finished.set()

    with d.context.locks.hold("hpc", project.uuid):
        thread = threading.Thread(target=handle)
        thread.start()
        assert not finished.wait(0.3)  # blocked on the project's lock: nothing submitted meanwhile
        assert not world.b.orders
    assert finished.wait(10)
    thread.join()
    assert len(world.b.orders) == 1


def test_a_b_username_event_copies_that_one_username_to_a() -> None:
    worlds, _, handler = _setup()
    world = worlds.built["hpc"]
    ann_a = world.a_users.add_offering_user(world.a_users.add_user("ann@cuid"), OfferingUserState.OK)
    bob_a = world.a_users.add_offering_user(world.a_users.add_user("bob@cuid"), OfferingUserState.OK)
    ann_b = world.b_users.add_offering_user(world.b_users.add_user("ann@cuid"), OfferingUserState.OK, "ann01")
    world.b_users.add_offering_user(world.b_users.add_user("bob@cuid"), OfferingUserState.OK, "bob01")
    event = Event(Side.B, ObjectType.OFFERING_USER, B_OFFERING, action="update", offering_user_uuid=ann_b.uuid,
                  username="ann01")

    result = handler.handle(event)

    assert isinstance(result, Handled)
    assert not result.retry
    assert world.a_users.offering_user(ann_a.uuid).username == "ann01"
    assert world.a_users.offering_user(bob_a.uuid).username is None  # one person, not a full sync


def test_a_b_username_event_for_a_deleted_offering_user_needs_nothing() -> None:
    _, _, handler = _setup()
    event = Event(Side.B, ObjectType.OFFERING_USER, B_OFFERING, action="update", offering_user_uuid="7" * 32,
                  username="x")
    result = handler.handle(event)
    assert isinstance(result, Handled)
    assert not result.retry


@pytest.mark.parametrize("object_type", [ObjectType.USER_ROLE, ObjectType.RESOURCE])
def test_membership_events_ask_for_one_coalesced_membership_pass(object_type: ObjectType) -> None:
    _, d, handler = _setup(modes=(Mode.ORDER_PROCESS, Mode.MEMBERSHIP_SYNC))
    d.tick()  # the first passes
    event = Event(Side.A, object_type, A_OFFERING, project_uuid="5" * 32, resource_uuid="6" * 32)
    results = [handler.handle(event) for _ in range(3)]
    futures = {id(f) for r in results if isinstance(r, Deferred) for f in r.passes}
    assert len(futures) == 1  # many events, one pass
    report = d.tick()
    assert [r.mode for r in report.results] == [Mode.MEMBERSHIP_SYNC]


def test_a_reconciliation_the_daemon_does_not_run_needs_nothing() -> None:
    _, _, handler = _setup(modes=(Mode.ORDER_PROCESS,))
    result = handler.handle(Event(Side.A, ObjectType.USER_ROLE, A_OFFERING, project_uuid="5" * 32))
    assert isinstance(result, Handled)
    assert not result.retry


def test_catch_up_asks_for_every_pass_the_daemon_runs_for_the_offerings() -> None:
    _, d, handler = _setup(modes=(Mode.ORDER_PROCESS, Mode.USERNAME_SYNC))
    d.tick()
    deferred = handler.catch_up(handler.offerings_of(Side.A, A_OFFERING))
    assert len(deferred.passes) == 2
    modes = sorted(r.mode for r in d.tick().results)
    assert modes == [Mode.ORDER_PROCESS, Mode.USERNAME_SYNC]
    assert all(f.result().ok for f in deferred.passes)


def test_the_watch_finds_b_orders_that_ended_without_an_event_and_reads_nothing_when_none_wait() -> None:
    worlds, _, handler = _setup()
    world = worlds.built["hpc"]
    assert handler.watch(handler.offerings()) == []
    assert world.faults.calls["B.get_orders"] == 0  # nothing in flight: no call
    first, _ = worlds.order("hpc")
    second, _ = worlds.order("hpc")
    for order in (first, second):
        handler.handle(a_order_event(order.uuid))
    b_first, b_second = (world.a.orders[o.uuid].link for o in (first, second))
    assert b_first is not None
    assert b_second is not None
    world.b.provider_finish(b_first, OrderState.ERRED, "quota exceeded")

    world.faults.reset_counts()
    results = handler.watch(handler.offerings())

    assert len(results) == 1
    # One batched read for both, then the ended one's turn reads its B order again (fresh state, as any turn).
    assert world.faults.calls["B.get_orders"] == 2
    assert world.a.orders[first.uuid].state == OrderState.ERRED
    assert "quota exceeded" in (world.a.orders[first.uuid].error_message or "")
    assert world.a.orders[second.uuid].state == OrderState.EXECUTING
    world.b.provider_finish(b_second, OrderState.DONE)
    handler.watch(handler.offerings())
    assert world.a.orders[second.uuid].state == OrderState.DONE
    assert handler.watch(handler.offerings()) == []  # nothing waits any more


def test_the_watch_reports_a_failed_read_as_a_retry() -> None:
    worlds, _, handler = _setup()
    world = worlds.built["hpc"]
    order, _ = worlds.order("hpc")
    handler.handle(a_order_event(order.uuid))
    world.faults.fail_next("get_orders")
    [result] = handler.watch(handler.offerings())
    assert result.retry
    assert world.a.orders[order.uuid].state == OrderState.EXECUTING


def test_a_pass_whose_listing_an_event_overtook_reads_the_project_again_instead_of_acting_on_it() -> None:
    cfg = config("hpc")
    worlds = Worlds()
    handlers: list[EventHandler] = []

    class EventAfterListing(PassingOrders):
        """A's listing, then (before the pass takes the project's lock) an event handles the first order."""

        def list_open_orders(self) -> Sequence[Order]:
            listed = self.real.list_open_orders()
            if listed and handlers:
                handlers[0].handle(a_order_event(listed[0].uuid))
            return listed

    worlds.wrap["hpc"] = lambda ports: attrs.evolve(ports, a_orders=EventAfterListing(ports.a_orders))
    d = daemon(cfg, worlds, modes=(Mode.ORDER_PROCESS,))
    handlers.append(_handler(cfg, d))
    order, _ = worlds.order("hpc")
    world = worlds.built["hpc"]

    [result] = d.tick().results

    assert result.ok, result.summary  # no approval of an order the event had approved already
    assert len(world.b.orders) == 1
    assert world.a.orders[order.uuid].state == OrderState.EXECUTING
    assert world.faults.calls["A.approve"] == 1  # the event's; the pass read the order again and saw it done


def test_an_order_event_reads_the_order_once_unless_the_project_was_worked_on_meanwhile() -> None:
    worlds, d, handler = _setup()
    first, project = worlds.order("hpc")
    world = worlds.built["hpc"]
    world.faults.reset_counts()
    handler.handle(a_order_event(first.uuid))
    assert world.faults.calls["A.get_order"] == 1

    second, _ = worlds.order("hpc", project)
    real_get = world.a.get_order

    def get_then_someone_works_there(uuid: Uuid) -> Order:
        found = real_get(uuid)
        with d.context.locks.hold("hpc", project.uuid):  # another handler, between the read and the lock
            pass
        world.a.get_order = real_get  # type: ignore[method-assign]
        return found

    world.a.get_order = get_then_someone_works_there  # type: ignore[method-assign,assignment]
    world.faults.reset_counts()
    result = handler.handle(a_order_event(second.uuid))
    assert isinstance(result, Handled)
    assert not result.retry
    assert world.faults.calls["A.get_order"] == 2  # read again under the lock
    assert world.a.orders[second.uuid].state == OrderState.EXECUTING


def test_two_events_for_one_persons_username_patch_a_once() -> None:
    worlds, _, handler = _setup()
    world = worlds.built["hpc"]
    ann_a = world.a_users.add_offering_user(world.a_users.add_user("ann@cuid"), OfferingUserState.OK)
    ann_b = world.b_users.add_offering_user(world.b_users.add_user("ann@cuid"), OfferingUserState.OK, "ann01")
    real_read = world.a_users.offering_users_of
    reads: list[str] = []
    both_read = threading.Event()

    def read_and_wait_for_the_other(cuid: str) -> Sequence[OfferingUser]:
        found = real_read(cuid)
        reads.append(cuid)
        if len(reads) == 2:
            both_read.set()  # without serialisation both handlers read A before either writes
        both_read.wait(0.3)  # with it, the other handler cannot read while this one holds the person
        return found

    world.a_users.offering_users_of = read_and_wait_for_the_other  # type: ignore[method-assign,assignment]
    events = [Event(Side.B, ObjectType.OFFERING_USER, B_OFFERING, action=action, offering_user_uuid=ann_b.uuid,
                    username="ann01") for action in ("update", "username_set")]
    threads = [threading.Thread(target=handler.handle, args=(e,)) for e in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert world.a_users.offering_user(ann_a.uuid).username == "ann01"
    assert world.faults.calls["A.set_offering_user_username"] == 1
