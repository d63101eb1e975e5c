"""Usage B -> A: behaviours pinned by mutation testing (scripts/mutation, docs/mutation.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest

from fedcore.enums import OfferingUserState, UserMatchField
from fedcore.ids import normalize_uuid
from fedcore.model import OfferingUser, ResourceUsage, UserUsage
from fedcore.usage import apportion, plan_usage, quantize, username_map

pytestmark = pytest.mark.unit

PERIOD = dt.date(2026, 2, 1)
A_RES, B_RES = normalize_uuid(f"a{1:031x}"), normalize_uuid(f"b{1:031x}")


def ou(n: int, cuid: str, username: str | None) -> OfferingUser:
    return OfferingUser(
        uuid=f"{n:032x}",
        user_uuid=f"{n + 500:032x}",
        user_username=cuid,
        offering_uuid=f"{9:032x}",
        state=OfferingUserState.OK,
        username=username,
    )


def usage(resource: str, totals: dict[str, str], rows: tuple[tuple[str, str, str], ...] = ()) -> ResourceUsage:
    return ResourceUsage(
        resource, PERIOD, {k: Decimal(v) for k, v in totals.items()}, [UserUsage(c, u, Decimal(a)) for c, u, a in rows]
    )


def same(values: Mapping[str, Decimal]) -> dict[str, Decimal]:
    return dict(values)


def test_username_map_keeps_the_case_of_a_usernames_under_the_username_field() -> None:
    # Username matching is exact on both sides: an A "Bob" is B's "Bob", and not B's "bob".
    b_users = [ou(1, "Bob", "bob_b1"), ou(2, "bob", "bob_b2")]
    assert username_map(b_users, [ou(11, "Bob", "bob_a")], UserMatchField.USERNAME) == {"bob_b1": "bob_a"}


def test_quantize_rounds_half_even_whatever_the_callers_decimal_context() -> None:
    with localcontext(rounding=ROUND_HALF_UP):
        assert quantize(Decimal("0.125")) == Decimal("0.12")
        assert quantize(Decimal("0.135")) == Decimal("0.14")


def test_apportion_refuses_negative_amounts_saying_so() -> None:
    with pytest.raises(ValueError, match=r"^usage amounts cannot be negative$"):
        apportion(Decimal("1.00"), {"ann": Decimal(-1)})


def test_apportion_with_zero_weights_gives_zero_shares_in_the_quantum() -> None:
    shares = apportion(Decimal("0.00"), {"ann": Decimal(0), "bob": Decimal(0)})
    assert {k: str(v) for k, v in shares.items()} == {"ann": "0.00", "bob": "0.00"}


def test_apportion_gives_the_left_over_quantum_to_the_largest_remainder_not_the_first_key() -> None:
    # One cent for 1:2 -> exact shares 1/3 and 2/3 of a cent; "bob" has the larger remainder.
    assert apportion(Decimal("0.01"), {"ann": Decimal(1), "bob": Decimal(2)}) == {
        "ann": Decimal("0.00"),
        "bob": Decimal("0.01"),
    }
    # Three cents for 1:1:8 -> 0.3, 0.3 and 2.4 cents: the third cent goes to "cid" (remainder 0.4).
    assert apportion(Decimal("0.03"), {"ann": Decimal(1), "bob": Decimal(1), "cid": Decimal(8)}) == {
        "ann": Decimal("0.00"),
        "bob": Decimal("0.00"),
        "cid": Decimal("0.03"),
    }


def test_plan_rounds_totals_and_user_shares_to_the_given_quantum() -> None:
    b = usage(B_RES, {"cpu": "10.6"}, (("cpu", "ann_b", "3.3"), ("cpu", "bob_b", "7.3")))
    plan = plan_usage(b, usage(A_RES, {}), same, {"ann_b": "ann_a", "bob_b": "bob_a"}, Decimal("1"))
    assert plan.totals == {"cpu": Decimal("11")}
    assert plan.per_user == {"cpu": {"ann_a": Decimal("3"), "bob_a": Decimal("8")}}
    assert {str(v) for v in plan.per_user["cpu"].values()} == {"3", "8"}


def test_plan_keeps_user_shares_of_later_components_when_an_earlier_one_has_none() -> None:
    b = usage(B_RES, {"aaa": "1", "zzz": "2"}, (("zzz", "ann_b", "2"),))
    plan = plan_usage(b, usage(A_RES, {}), same, {"ann_b": "ann_a"})
    assert list(plan.totals or {}) == ["aaa", "zzz"]
    assert plan.per_user == {"zzz": {"ann_a": Decimal("2.00")}}
