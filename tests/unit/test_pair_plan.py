"""The plan for one linked resource pair: which end date and limits to write, and when a pair is left alone."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from attrs import evolve
from hypothesis import given
from hypothesis import strategies as st

from fedcore.conversion import Conversion, build_conversion
from fedcore.enums import EndDateSyncDirection, LimitSyncDirection, ResourceState
from fedcore.model import ComponentMapping, Resource
from fedcore.policies import EndDateWrite, LimitWrite, PolicyWrite, Side, limits_as_source, pair_problem, plan_pair

pytestmark = pytest.mark.unit

D, L, R = EndDateSyncDirection, LimitSyncDirection, ResourceState
JAN = dt.date(2026, 1, 31)
IDENTITY = build_conversion([])
NODE_HOURS = build_conversion([ComponentMapping("node_hours", {"cpu_k_hours": Decimal(128)}), ComponentMapping("cpu")])


def pair(a_limits: dict[str, int], b_limits: dict[str, int], a_end: dt.date | None = None,
         b_end: dt.date | None = None) -> tuple[Resource, Resource]:  # fmt: skip
    a = Resource(f"{1:032x}", R.OK, f"{0xA:032x}", f"{2:032x}", limits=a_limits, end_date=a_end,
                 backend_id=f"{3:032x}")  # fmt: skip
    b = Resource(f"{3:032x}", R.OK, f"{0xB:032x}", f"{4:032x}", limits=b_limits, end_date=b_end)
    return a, b


def plan(a: Resource, b: Resource, end: EndDateSyncDirection = D.BIDIRECTIONAL, limits: LimitSyncDirection = L.B_TO_A,
         conversion: Conversion = IDENTITY) -> tuple[PolicyWrite, ...]:  # fmt: skip
    return plan_pair(a, b, end_date_sync=end, limit_sync=limits, conversion=conversion)


@pytest.mark.parametrize(("a_state", "b_state"), [(R.OK, R.UPDATING), (R.CREATING, R.OK), (R.OK, R.ERRED),
                                                  (R.TERMINATING, R.OK)])  # fmt: skip
def test_a_pair_is_synced_only_when_both_sides_are_ok(a_state: ResourceState, b_state: ResourceState) -> None:
    a, b = pair({}, {})
    assert pair_problem(a, b) is None
    problem = pair_problem(evolve(a, state=a_state), evolve(b, state=b_state))
    assert problem is not None
    assert f"A resource is {a_state}" in problem
    assert f"B resource is {b_state}" in problem


def test_end_date_follows_a_when_bidirectional_and_no_change_time_is_known() -> None:
    assert plan(*pair({}, {}, a_end=JAN)) == (EndDateWrite(Side.B, JAN),)
    assert plan(*pair({}, {}, b_end=JAN), end=D.B_TO_A) == (EndDateWrite(Side.A, JAN),)
    assert plan(*pair({}, {}, b_end=JAN), end=D.DISABLED) == ()


def test_b_limits_reach_a_converted_keeping_what_the_conversion_cannot_express() -> None:
    a, b = pair({"node_hours": 3, "cpu": 5, "legacy": 7}, {"cpu_k_hours": 640, "cpu": 5, "gpu_b_only": 2})
    [write] = plan(a, b, conversion=NODE_HOURS)
    assert write == LimitWrite({"node_hours": 5, "cpu": 5, "legacy": 7}, frozenset({"node_hours"}))
    assert plan(a, b, limits=L.DISABLED, conversion=NODE_HOURS) == ()


def test_a_pair_in_step_plans_nothing() -> None:
    a, b = pair({"node_hours": 3, "cpu": 5}, {"cpu_k_hours": 384, "cpu": 5}, a_end=JAN, b_end=JAN)
    assert plan(a, b, conversion=NODE_HOURS) == ()


FAN_IN = build_conversion([ComponentMapping("cpu", {"core_hours": Decimal(1)}),
                           ComponentMapping("gpu", {"core_hours": Decimal(4)}),
                           ComponentMapping("ram", {"mem": Decimal("0.7")})])  # fmt: skip
MIXED = build_conversion([ComponentMapping("cpu", {"core_hours": Decimal(1)}),
                          ComponentMapping("gpu", {"core_hours": Decimal(4), "gpu_hours": Decimal(1)})])  # fmt: skip
amounts = st.integers(0, 100_000)
dates = st.none() | st.dates(dt.date(2026, 1, 1), dt.date(2027, 12, 31))


def test_a_fan_in_share_is_refined_until_it_reproduces_itself() -> None:
    # Shared out by A's current weights (1:0) and written, B's 2 core hours would be weighted 1:0 ... next time.
    a, b = pair({"cpu": 0, "gpu": 0}, {"core_hours": 2, "gpu_hours": 0})
    assert limits_as_source(MIXED, b.limits, a.limits) == {"cpu": 2, "gpu": 0}
    assert MIXED.limits_to_source(b.limits, reference=a.limits) == {"cpu": 1, "gpu": 0}  # one round only


def apply(a: Resource, b: Resource, writes: tuple[PolicyWrite, ...]) -> tuple[Resource, Resource]:
    for write in writes:
        if isinstance(write, LimitWrite):
            a = evolve(a, limits=write.limits)
        elif write.side is Side.A:
            a = evolve(a, end_date=write.end_date)
        else:
            b = evolve(b, end_date=write.end_date)
    return a, b


@st.composite
def pairs(draw: st.DrawFn, conversion: Conversion) -> tuple[Resource, Resource]:
    a_names = sorted(conversion.source_components) or ["cpu", "gpu"]
    b_names = sorted(conversion.target_components) or ["cpu", "gpu"]
    return pair({n: draw(amounts) for n in a_names}, {n: draw(amounts) for n in b_names}, draw(dates), draw(dates))


@given(data=st.data(), conversion=st.sampled_from([IDENTITY, NODE_HOURS, FAN_IN]),
       directions=st.tuples(st.sampled_from(list(D)), st.sampled_from(list(L))))  # fmt: skip
def test_applying_the_plan_converges_in_one_step(
    data: st.DataObject, conversion: Conversion, directions: tuple[EndDateSyncDirection, LimitSyncDirection]
) -> None:
    a, b = data.draw(pairs(conversion))
    a, b = apply(a, b, plan(a, b, *directions, conversion=conversion))
    assert plan(a, b, *directions, conversion=conversion) == ()


@given(data=st.data())
def test_limits_written_on_a_never_ask_b_for_more_than_it_has(data: st.DataObject) -> None:
    a, b = data.draw(pairs(MIXED))
    a, b = apply(a, b, plan(a, b, conversion=MIXED))
    forward = MIXED.to_target(a.limits)
    assert all(forward[c] <= b.limits[c] for c in b.limits)
