"""Follow-up rounds of an order pass: once a batch has submitted B orders, the pass lists again as soon as a worker
would idle and gives the finished projects another turn, instead of leaving what B finished to the next period."""

from __future__ import annotations

import concurrent.futures as cf
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import attrs
import pytest
from daemon_kit import PassingOrders, Recorder, Worlds, config, daemon

from fedcore.enums import OrderState
from fedcore.ids import Uuid
from fedcore.lifecycle import idempotency_key
from fedcore.model import Order
from fedcore.ports import SourceOrders
from runners.daemon import Daemon
from runners.exitcodes import ExitCode
from runners.jobs import FOLLOW_UP_ROUNDS, JobContext, run_job
from runners.schedule import OrderBackoff
from runners.telemetry import NullTelemetry
from runners.wiring import Mode, Ports

pytestmark = pytest.mark.unit

T = TypeVar("T")


class Watched(PassingOrders):
    """A's orders, counting listings and approvals; B's provider may finish each B order once it is linked on A."""

    def __init__(self, real: SourceOrders, worlds: Worlds, *, b_finishes: bool) -> None:
        super().__init__(real)
        self.worlds = worlds
        self.b_finishes = b_finishes
        self.listings = 0
        self.approvals: dict[Uuid, int] = {}
        self.lock = threading.Lock()

    def list_open_orders(self) -> Sequence[Order]:
        with self.lock:
            self.listings += 1
        return self.real.list_open_orders()

    def approve(self, order_uuid: Uuid) -> None:
        with self.lock:
            self.approvals[order_uuid] = self.approvals.get(order_uuid, 0) + 1
        self.real.approve(order_uuid)

    def set_order_backend_id(self, order_uuid: Uuid, backend_id: str) -> None:
        self.real.set_order_backend_id(order_uuid, backend_id)
        if self.b_finishes:
            self.worlds.built["hpc"].b.provider_finish(Uuid(backend_id), OrderState.DONE)


def watched(worlds: Worlds, *, b_finishes: bool = True, kind: type[Watched] = Watched, workers: int = 2,
            ) -> tuple[Daemon, Watched]:
    """A daemon with a pool of ``workers`` over one offering whose A orders are :class:`Watched` (or ``kind``)."""
    seen: list[Watched] = []

    def wrap(ports: Ports) -> Ports:
        orders = kind(ports.a_orders, worlds, b_finishes=b_finishes)
        seen.append(orders)
        return attrs.evolve(ports, a_orders=orders)

    worlds.wrap["hpc"] = wrap
    runner = daemon(config("hpc"), worlds, workers=workers, periods={Mode.ORDER_PROCESS: 0.0},
                    follow_ups=FOLLOW_UP_ROUNDS)
    return runner, seen[0]


def one_b_order_each(worlds: Worlds, orders: Sequence[Order]) -> bool:
    b = worlds.built["hpc"].b
    return all(len(b.orders_with_key(idempotency_key(o.uuid))) == 1 for o in orders)


def test_b_orders_finished_at_once_are_completed_by_a_follow_up_round_of_the_same_pass() -> None:
    worlds = Worlds()
    runner, a_orders = watched(worlds)
    try:
        first, project = worlds.order("hpc")
        second, _ = worlds.order("hpc", project)
        [result] = runner.tick().results
    finally:
        runner.close()
    assert (result.ok, result.summary) == (True, "2 open order(s): 2 completed in 2 rounds")
    assert a_orders.listings == 2
    a = worlds.built["hpc"].a
    assert [a.orders[o.uuid].state for o in (first, second)] == [OrderState.DONE, OrderState.DONE]
    assert one_b_order_each(worlds, [first, second])


def test_an_idle_pass_lists_once_and_orders_b_has_not_finished_cost_one_follow_up_listing() -> None:
    worlds = Worlds()
    runner, a_orders = watched(worlds, b_finishes=False)
    try:
        [idle] = runner.tick().results
        assert (a_orders.listings, idle.summary) == (1, "0 open order(s): none processed")
        order, _ = worlds.order("hpc")
        [result] = runner.tick().results
    finally:
        runner.close()
    assert (result.ok, result.summary) == (True, "1 open order(s): 1 waiting in 2 rounds")
    assert a_orders.listings == 3  # the idle pass, then the pass that submitted and its one follow-up
    assert worlds.built["hpc"].a.orders[order.uuid].state == OrderState.EXECUTING


class Growing(Watched):
    """A's orders, where the consumer places one more order in the first project at every listing."""

    def list_open_orders(self) -> Sequence[Order]:
        listed = super().list_open_orders()
        world = self.worlds.built["hpc"]
        world.a.order_create(next(iter(world.a.projects.values())), {"node_hours": 1})
        return listed


def test_follow_up_rounds_are_bounded() -> None:
    worlds = Worlds()
    runner, a_orders = watched(worlds, b_finishes=False, kind=Growing)
    try:
        worlds.order("hpc")
        [result] = runner.tick().results
    finally:
        runner.close()
    assert a_orders.listings == 1 + FOLLOW_UP_ROUNDS
    assert result.ok
    assert result.summary.endswith(f"in {1 + FOLLOW_UP_ROUNDS} rounds")


class HeldBack(Watched):
    """A's orders, where approving the orders of one project waits until the pass has listed a second time."""

    def __init__(self, real: SourceOrders, worlds: Worlds, *, b_finishes: bool) -> None:
        super().__init__(real, worlds, b_finishes=b_finishes)
        self.held: set[Uuid] = set()
        self.listed_again = threading.Event()

    def list_open_orders(self) -> Sequence[Order]:
        listed = super().list_open_orders()
        if self.listings >= 2:
            self.listed_again.set()
        return listed

    def approve(self, order_uuid: Uuid) -> None:
        if order_uuid in self.held:
            assert self.listed_again.wait(10), "no follow-up round while a batch was still running"
        super().approve(order_uuid)


def test_a_follow_up_round_leaves_out_the_projects_whose_batch_is_still_running() -> None:
    worlds = Worlds()
    runner, a_orders = watched(worlds, kind=HeldBack, workers=3)
    assert isinstance(a_orders, HeldBack)
    try:
        slow, slow_project = worlds.order("hpc")
        slow_too, _ = worlds.order("hpc", slow_project)
        quick, _ = worlds.order("hpc")
        a_orders.held = {slow.uuid}
        report = runner.tick()
    finally:
        runner.close()
    [result] = report.results
    assert report.exit_code == ExitCode.OK, result.summary
    assert a_orders.listed_again.is_set()
    orders = [slow, slow_too, quick]
    assert all(a_orders.approvals[o.uuid] == 1 for o in orders)  # no order given two turns at once
    assert one_b_order_each(worlds, orders)
    assert {worlds.built["hpc"].a.orders[o.uuid].state for o in orders} == {OrderState.DONE}


def test_run_until_stopped_follows_up_by_default_and_a_tick_runs_one_round() -> None:
    worlds = Worlds()
    seen: list[Watched] = []

    def wrap(ports: Ports) -> Ports:
        seen.append(Watched(ports.a_orders, worlds, b_finishes=True))
        return attrs.evolve(ports, a_orders=seen[-1])

    worlds.wrap["hpc"] = wrap
    ticking = daemon(config("hpc"), worlds, workers=2)
    try:
        order, _ = worlds.order("hpc")
        [result] = ticking.tick().results
    finally:
        ticking.close()
    assert (result.summary, seen[0].listings) == ("1 open order(s): 1 waiting", 1)

    worlds = Worlds()
    worlds.wrap["hpc"] = wrap
    runner = daemon(config("hpc"), worlds, workers=2, telemetry=Recorder(lambda _: runner.stop()))
    try:
        order, _ = worlds.order("hpc")
        assert runner.run_until_stopped(shutdown_timeout=10) == ExitCode.OK
    finally:
        runner.close()
    assert worlds.built["hpc"].a.orders[order.uuid].state == OrderState.DONE  # in the first pass, by its follow-up
    assert seen[1].listings == 2


class Recording(cf.Executor):
    """Runs each batch at once, noting how many orders it held."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> cf.Future[T]:
        self.sizes.append(len(args[2]))
        future: cf.Future[T] = cf.Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_the_longest_batch_goes_to_the_pool_first() -> None:
    worlds = Worlds()
    runner = daemon(config("hpc"), worlds)
    worlds.order("hpc")  # a project with one order, listed first
    _, three = worlds.order("hpc")
    _, two = worlds.order("hpc")
    for project, more in ((three, 2), (two, 1)):
        for _ in range(more):
            worlds.order("hpc", project)
    pool = Recording()
    result = run_job(runner.jobs[0].services, Mode.ORDER_PROCESS, JobContext(NullTelemetry(), OrderBackoff(), pool,
                                                                              lambda: False))
    assert result.ok
    assert pool.sizes == [3, 2, 1]
