"""Usage B -> A: conversion back, username mapping via the CUID, apportioning, and the sync service."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.memory.usage import MemoryUsage
from fedcore.enums import OfferingUserState, UserMatchField
from fedcore.errors import PermanentError
from fedcore.ids import normalize_uuid
from fedcore.model import OfferingUser, ResourceUsage, UserUsage
from fedcore.services.usage import UsageReport, sync_usage
from fedcore.usage import apportion, plan_usage, quantize, username_map

pytestmark = pytest.mark.unit

PERIOD = dt.date(2026, 2, 1)
A_RES, B_RES = normalize_uuid(f"a{1:031x}"), normalize_uuid(f"b{1:031x}")


def halve(b_usage: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """A simple reverse conversion: B ``cpu_hours`` = 2 x A ``cpu``; other components pass through."""
    return {("cpu" if k == "cpu_hours" else k): (v / 2 if k == "cpu_hours" else v) for k, v in b_usage.items()}


def ou(n: int, cuid: str, username: str | None, state: OfferingUserState = OfferingUserState.OK) -> OfferingUser:
    return OfferingUser(
        uuid=f"{n:032x}",
        user_uuid=f"{n + 500:032x}",
        user_username=cuid,
        offering_uuid=f"{9:032x}",
        state=state,
        username=username,
    )


def usage(resource: str, totals: dict[str, str], rows: tuple[tuple[str, str, str], ...] = ()) -> ResourceUsage:
    return ResourceUsage(
        resource, PERIOD, {k: Decimal(v) for k, v in totals.items()}, [UserUsage(c, u, Decimal(a)) for c, u, a in rows]
    )


def test_username_map_joins_on_the_cuid() -> None:
    b_users = [ou(1, "ann", "ann_b"), ou(2, "bob", "bob_b"), ou(3, "cid", None)]
    a_users = [ou(11, "ann", "ann_a"), ou(12, "bob", None), ou(13, "cid", "cid_a")]
    assert username_map(b_users, a_users) == {"ann_b": "ann_a"}


def test_username_map_compares_cuids_case_insensitively() -> None:
    assert username_map([ou(1, "alice@cuid", "alice_b")], [ou(11, "Alice@CUID", "alice_a")]) == {"alice_b": "alice_a"}


def test_username_map_joins_on_the_username_exactly_under_the_username_field() -> None:
    b_users = [ou(1, "Bob", "bob_b1"), ou(2, "bob", "bob_b2")]
    assert username_map(b_users, [ou(11, "bob", "bob_a")], UserMatchField.USERNAME) == {"bob_b2": "bob_a"}


def test_username_map_joins_on_the_email_under_the_email_field() -> None:
    b_users = [attrs.evolve(ou(1, "ann-b", "ann_b"), user_email="ann@example.org")]
    a_users = [attrs.evolve(ou(11, "ann-a", "ann_a"), user_email="Ann@Example.org"), ou(12, "ann-b", "decoy")]
    assert username_map(b_users, a_users, UserMatchField.EMAIL) == {"ann_b": "ann_a"}


def test_username_map_never_guesses_between_two_a_usernames() -> None:
    a_users = [ou(11, "ann", "ann_a"), ou(12, "ANN", "ann_other")]
    assert username_map([ou(1, "ann", "ann_b")], a_users) == {}


def test_plan_converts_totals_and_maps_users() -> None:
    b = usage(B_RES, {"cpu_hours": "10", "gpu": "1.005"}, (("cpu_hours", "ann_b", "6"), ("cpu_hours", "zed_b", "4")))
    plan = plan_usage(b, usage(A_RES, {}), halve, {"ann_b": "ann_a"})
    assert plan.totals == {"cpu": Decimal("5.00"), "gpu": Decimal("1.00")}
    assert plan.per_user == {"cpu": {"ann_a": Decimal("3.00")}}
    assert plan.unmapped == ("zed_b",)


def test_plan_is_empty_when_a_already_shows_the_usage() -> None:
    b = usage(B_RES, {"cpu_hours": "10"}, (("cpu_hours", "ann_b", "6"),))
    a = usage(A_RES, {"cpu": "5"}, (("cpu", "ann_a", "3.0"),))
    assert plan_usage(b, a, halve, {"ann_b": "ann_a"}).is_empty


def test_user_usage_without_a_total_is_not_planned() -> None:
    b = usage(B_RES, {}, (("cpu_hours", "ann_b", "6"),))
    assert plan_usage(b, usage(A_RES, {}), halve, {"ann_b": "ann_a"}).is_empty


def test_several_b_usernames_of_one_a_user_add_up() -> None:
    b = usage(B_RES, {"ram": "3"}, (("ram", "ann_b", "1"), ("ram", "ann_old", "2")))
    plan = plan_usage(b, usage(A_RES, {}), halve, {"ann_b": "ann_a", "ann_old": "ann_a"})
    assert plan.per_user == {"ram": {"ann_a": Decimal("3.00")}}


def test_apportion_gives_leftover_cents_to_the_largest_remainders() -> None:
    shares = apportion(Decimal("1.00"), {"x": Decimal(1), "y": Decimal(1), "z": Decimal(1)})
    assert shares == {"x": Decimal("0.34"), "y": Decimal("0.33"), "z": Decimal("0.33")}
    assert apportion(Decimal("0.00"), {"x": Decimal(0)}) == {"x": Decimal("0.00")}
    with pytest.raises(ValueError, match="negative"):
        apportion(Decimal("1"), {"x": Decimal(-1)})
    with pytest.raises(ValueError, match="multiple"):
        apportion(Decimal("0.001"), {"x": Decimal(1)})


amounts = st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False, allow_infinity=False)


@given(weights=st.dictionaries(st.sampled_from("abcdefgh"), amounts, min_size=1), total=amounts)
def test_apportioning_adds_up_and_stays_within_a_quantum(weights: dict[str, Decimal], total: Decimal) -> None:
    total = quantize(total)
    shares = apportion(total, weights)
    assert set(shares) == set(weights)
    assert sum(shares.values(), Decimal(0)) == total or sum(weights.values()) == 0
    weight_sum = sum(weights.values(), Decimal(0))
    for key, share in shares.items():
        assert share >= 0
        if weight_sum:
            assert abs(share - total * weights[key] / weight_sum) <= Decimal("0.01")


@given(rows=st.lists(st.tuples(st.sampled_from(["ann_b", "bob_b", "cid_b"]), amounts), min_size=1, max_size=8))
def test_per_user_usage_adds_up_to_the_converted_sum(rows: list[tuple[str, Decimal]]) -> None:
    b = usage(B_RES, {"cpu_hours": str(sum((a for _, a in rows), Decimal(0)))})
    b = ResourceUsage(B_RES, PERIOD, b.totals, [UserUsage("cpu_hours", u, a) for u, a in rows])
    plan = plan_usage(b, usage(A_RES, {}), halve, {"ann_b": "ann", "bob_b": "bob", "cid_b": "cid"})
    assert plan.totals is not None
    split = plan.per_user.get("cpu", {})
    assert sum(split.values(), Decimal(0)) == plan.totals["cpu"] or plan.totals["cpu"] == 0


def test_plan_with_the_real_conversion_uses_usage_to_source() -> None:
    conversion_module = pytest.importorskip("fedcore.conversion")
    conversion = conversion_module.Conversion({"node_hours": {"cpu_hours": Decimal(128)}})
    b = usage(B_RES, {"cpu_hours": "384"}, (("cpu_hours", "ann_b", "128"), ("cpu_hours", "bob_b", "256")))
    plan = plan_usage(b, usage(A_RES, {}), conversion.usage_to_source, {"ann_b": "ann", "bob_b": "bob"})
    assert plan.totals == {"node_hours": Decimal("3.00")}
    assert plan.per_user == {"node_hours": {"ann": Decimal("1.00"), "bob": Decimal("2.00")}}


# --- the service, on the in-memory ledger ---------------------------------------------------------------


def ledgers() -> tuple[MemoryUsage, MemoryUsage]:
    a, b = MemoryUsage("A"), MemoryUsage("B")
    a.add_resource(A_RES)
    b.add_resource(B_RES)
    b.report(
        B_RES,
        PERIOD,
        {"cpu_hours": Decimal(10), "ram": Decimal(4)},
        [UserUsage("cpu_hours", "ann_b", Decimal(6)), UserUsage("ram", "ann_b", Decimal(4))],
    )
    return a, b


def run(a: MemoryUsage, b: MemoryUsage) -> UsageReport:
    return sync_usage(
        a_resource=A_RES,
        b_resource=B_RES,
        billing_period=PERIOD,
        source=a,
        target=b,
        convert=halve,
        usernames={"ann_b": "ann_a"},
    )


def test_sync_writes_totals_then_user_usages_and_is_idempotent() -> None:
    a, b = ledgers()
    report = run(a, b)
    assert report.written == ("totals", "users:cpu", "users:ram")
    assert a.totals(A_RES, PERIOD) == {"cpu": Decimal("5.00"), "ram": Decimal("4.00")}
    assert a.user_usages(A_RES, PERIOD, "cpu") == {"ann_a": Decimal("3.00")}
    second = run(a, b)
    assert second.plan.is_empty
    assert second.written == ()
    assert a.faults.calls["A.set_usage"] == 1


def test_a_failing_user_write_does_not_stop_the_other_component() -> None:
    a, b = ledgers()
    a.faults.fail_next("set_user_usages")
    report = run(a, b)
    assert report.written == ("totals", "users:ram")
    assert [f.step for f in report.retry] == ["users:cpu"]
    assert a.user_usages(A_RES, PERIOD, "ram") == {"ann_a": Decimal("4.00")}
    assert run(a, b).written == ("users:cpu",)


def test_failed_totals_block_the_user_writes_of_that_pass() -> None:
    a, b = ledgers()
    a.faults.fail_next("set_usage")
    report = run(a, b)
    assert report.written == ()
    assert [f.step for f in report.retry] == ["totals", "users:cpu", "users:ram"]
    assert a.totals(A_RES, PERIOD) == {}


def test_a_missing_a_resource_raises_on_read() -> None:
    a, b = ledgers()
    with pytest.raises(PermanentError):
        sync_usage(
            a_resource=normalize_uuid(f"c{1:031x}"),
            b_resource=B_RES,
            billing_period=PERIOD,
            source=a,
            target=b,
            convert=halve,
            usernames={},
        )
