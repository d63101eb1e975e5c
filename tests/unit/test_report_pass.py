"""The report pass over the in-memory Waldurs: B's usage of every linked pair reported on A, period by period."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from adapters.memory.faults import Faults
from adapters.memory.orders import MemorySource
from adapters.memory.usage import MemoryUsage
from adapters.memory.users import MemoryUsers
from fedcore.conversion import build_conversion
from fedcore.enums import OfferingUserState, ResourceState
from fedcore.errors import PermanentError, TransientError
from fedcore.ids import Uuid
from fedcore.matching import MatchSettings
from fedcore.model import ComponentMapping, Resource, UserUsage
from fedcore.services.report_pass import ReportPassReport, ReportPorts, run_report_pass
from fedcore.settings import FederationSettings

pytestmark = pytest.mark.unit

A_OFFERING, B_OFFERING, B_CUSTOMER = Uuid(f"{0xA0:032x}"), Uuid(f"{0xB0:032x}"), Uuid(f"{0xBC:032x}")
SETTINGS = FederationSettings(A_OFFERING, B_OFFERING, B_CUSTOMER, match=MatchSettings(source="isd:puhuri"))
NODE_HOURS = build_conversion([ComponentMapping("node_hours", {"cpu_k_hours": Decimal(128)}), ComponentMapping("cpu")])
TODAY = dt.date(2026, 3, 15)
FEB, MAR = dt.date(2026, 2, 1), dt.date(2026, 3, 1)


def d(value: str) -> Decimal:
    return Decimal(value)


class World:
    """One offering: pairs R1-BR1 and R2-BR2, an unlinked R3 and a terminated pair R4-BR4; usage seeded on B."""

    def __init__(self) -> None:
        self.faults = Faults()
        self.a = MemorySource(A_OFFERING, faults=self.faults)
        self.a_users = MemoryUsers("A", offering_uuid=A_OFFERING, faults=self.faults)
        self.b_users = MemoryUsers("B", offering_uuid=B_OFFERING, faults=self.faults)
        self.a_usage, self.b_usage = MemoryUsage("A", faults=self.faults), MemoryUsage("B", faults=self.faults)
        self.ports = ReportPorts(self.a, self.a_users, self.a_usage, self.b_users, self.b_usage)
        self.r1, self.br1 = self.pair(ResourceState.OK)
        self.r2, self.br2 = self.pair(ResourceState.OK)
        self.r3 = self.a.new_uuid()
        self.a.resources[self.r3] = Resource(self.r3, ResourceState.CREATING, A_OFFERING, self.a.new_uuid())
        self.r4, self.br4 = self.pair(ResourceState.TERMINATED)
        for cuid, a_name, b_name in (("ann@cuid", "ann_a", "ann_b"), ("bob@cuid", "bob_a", "bob_b"),
                                     ("cid@cuid", None, "cid_b")):  # fmt: skip
            if a_name:
                self.a_users.add_offering_user(self.a_users.add_user(cuid), OfferingUserState.OK, a_name)
            self.b_users.add_offering_user(self.b_users.add_user(cuid), OfferingUserState.OK, b_name)
        self.b_usage.report(self.br1, FEB, {"cpu_k_hours": d("256"), "cpu": d("10")},
                            [UserUsage("cpu_k_hours", "ann_b", d("128")), UserUsage("cpu_k_hours", "bob_b", d("128"))])
        self.b_usage.report(self.br1, MAR, {"cpu": d("3")}, [UserUsage("cpu", "ann_b", d("3"))])
        self.b_usage.report(self.br2, MAR, {"cpu": d("7"), "gpu_b_only": d("5")}, [UserUsage("cpu", "cid_b", d("7"))])
        self.b_usage.report(self.br4, MAR, {"cpu": d("1")}, [])  # fmt: skip

    def pair(self, state: ResourceState) -> tuple[Uuid, Uuid]:
        b = self.b_usage.add_resource(f"{0xB:08x}{len(self.a.resources) + 1:024x}")
        a = self.a.new_uuid()
        self.a.resources[a] = Resource(a, state, A_OFFERING, self.a.new_uuid(), backend_id=b)
        self.a_usage.add_resource(a)
        return a, b

    def run(self, periods: int = 2) -> ReportPassReport:
        return run_report_pass(self.ports, SETTINGS, NODE_HOURS, today=TODAY, periods=periods)

    def state(self) -> object:
        components = ("node_hours", "cpu")
        return {(r, p): (self.a_usage.totals(r, p), {c: self.a_usage.user_usages(r, p, c) for c in components})
                for r in (self.r1, self.r2, self.r4) for p in (FEB, MAR)}  # fmt: skip


def test_a_pass_reports_every_linked_pair_for_each_period_converted_and_per_user() -> None:
    world = World()
    report = world.run()
    assert report.periods == (FEB, MAR)
    assert [(i.a_resource, i.b_resource, i.billing_period) for i in report.items] == [
        (world.r1, world.br1, FEB), (world.r1, world.br1, MAR), (world.r2, world.br2, FEB), (world.r2, world.br2, MAR),
    ]  # fmt: skip
    assert [i.report.written if i.report else None for i in report.items] == [
        ("totals", "users:node_hours"), ("totals", "users:cpu"), (), ("totals",)
    ]  # fmt: skip
    assert report.complete
    assert world.a_usage.totals(world.r1, FEB) == {"node_hours": d("2"), "cpu": d("10")}
    assert world.a_usage.user_usages(world.r1, FEB, "node_hours") == {"ann_a": d("1"), "bob_a": d("1")}
    assert world.a_usage.user_usages(world.r1, MAR, "cpu") == {"ann_a": d("3")}
    assert world.a_usage.totals(world.r2, MAR) == {"cpu": d("7")}  # B's gpu_b_only maps to nothing on A
    assert report.items[3].report is not None
    assert report.items[3].report.plan.unmapped == ("cid_b",)  # no A username: counted in the totals only
    assert world.a_usage.totals(world.r4, MAR) == {}  # a terminated pair is not reported
    assert world.faults.calls == {
        "A.list_resources": 1, "B.list_offering_users": 1, "A.list_offering_users": 1,
        "B.read_usage": 4, "A.read_usage": 4, "A.set_usage": 3, "A.set_user_usages": 2,
    }  # fmt: skip


def test_a_second_pass_reads_and_writes_nothing() -> None:
    world = World()
    world.run()
    world.faults.reset_counts()
    report = world.run()
    assert all(i.report is not None and i.report.plan.is_empty for i in report.items)
    assert world.faults.writes == 0
    assert world.faults.calls == {
        "A.list_resources": 1, "B.list_offering_users": 1, "A.list_offering_users": 1, "B.read_usage": 4,
        "A.read_usage": 4,
    }  # fmt: skip


def test_one_period_is_the_current_month_only() -> None:
    world = World()
    report = world.run(periods=1)
    assert report.periods == (MAR,)
    assert [i.billing_period for i in report.items] == [MAR, MAR]
    assert world.a_usage.totals(world.r1, FEB) == {}


@pytest.mark.parametrize("periods", [0, -2])
def test_no_period_is_refused_before_any_call(periods: int) -> None:
    world = World()
    with pytest.raises(ValueError, match="at least 1 billing period"):
        world.run(periods)
    assert world.faults.calls == {}


def test_an_offering_without_linked_resources_costs_one_call() -> None:
    world = World()
    world.a.resources = {world.r3: world.a.resources[world.r3]}
    assert world.run().items == ()
    assert world.faults.calls == {"A.list_resources": 1}


# --- failures: every call, transient and permanent --------------------------------------------------------------


def inject(faults: Faults, method: str, *, permanent: bool) -> None:
    (faults.refuse_next if permanent else faults.fail_next)(method)


@pytest.mark.parametrize("permanent", [False, True], ids=["transient", "permanent"])
def test_a_failed_resource_listing_ends_the_pass_before_any_write(permanent: bool) -> None:
    world = World()
    inject(world.faults, "A.list_resources", permanent=permanent)
    with pytest.raises(PermanentError if permanent else TransientError):
        world.run()
    assert world.faults.writes == 0


@pytest.mark.parametrize("permanent", [False, True], ids=["transient", "permanent"])
@pytest.mark.parametrize("method", ["B.list_offering_users", "A.list_offering_users"])
def test_without_the_username_map_every_item_is_skipped_and_nothing_written(method: str, permanent: bool) -> None:
    world, reference = World(), World()
    reference.run()
    inject(world.faults, method, permanent=permanent)
    report = world.run()
    assert len(report.items) == 4
    assert all(i.report is None and i.transient is not permanent for i in report.items)
    assert all(i.skipped.startswith("the username map could not be read") for i in report.items)
    assert world.faults.writes == 0
    world.run()
    assert world.state() == reference.state()


@pytest.mark.parametrize("permanent", [False, True], ids=["transient", "permanent"])
@pytest.mark.parametrize("method", ["B.read_usage", "A.read_usage"])
def test_an_unreadable_item_is_skipped_and_written_by_the_next_pass(method: str, permanent: bool) -> None:
    world, reference = World(), World()
    reference.run()
    inject(world.faults, method, permanent=permanent)
    report = world.run()
    first, *others = report.items
    assert (first.report, first.transient) == (None, not permanent)
    assert first.skipped.startswith("usage could not be read")
    assert world.a_usage.totals(world.r1, FEB) == {}  # nothing written from a failed read
    assert all(i.complete for i in others)
    assert not report.complete
    world.run()
    assert world.state() == reference.state()


@pytest.mark.parametrize("permanent", [False, True], ids=["transient", "permanent"])
def test_unwritten_totals_block_that_items_user_usage_and_nothing_else(permanent: bool) -> None:
    world, reference = World(), World()
    reference.run()
    inject(world.faults, "A.set_usage", permanent=permanent)
    report = world.run()
    first = report.items[0].report
    assert first is not None
    failures = first.failed if permanent else first.retry
    assert [f.step for f in failures] == ["totals", "users:node_hours"]
    assert "injected" in failures[0].detail
    assert failures[1].detail == "blocked: the totals were not written"
    assert all(i.complete for i in report.items[1:])
    world.run()
    assert world.state() == reference.state()
    world.faults.reset_counts()
    world.run()
    assert world.faults.writes == 0


@pytest.mark.parametrize("permanent", [False, True], ids=["transient", "permanent"])
def test_a_failed_user_usage_write_is_reported_and_retried_by_the_next_pass(permanent: bool) -> None:
    world, reference = World(), World()
    reference.run()
    inject(world.faults, "A.set_user_usages", permanent=permanent)
    report = world.run()
    first = report.items[0].report
    assert first is not None
    assert first.written == ("totals",)
    assert [f.step for f in (first.failed if permanent else first.retry)] == ["users:node_hours"]
    world.run()
    assert world.state() == reference.state()
