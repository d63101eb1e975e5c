"""Component conversion: behaviours pinned by mutation testing (scripts/mutation, docs/mutation.md)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fedcore.conversion import Conversion, UnmappedComponent, mapping_problems
from fedcore.errors import ConfigError
from fedcore.model import ComponentMapping

pytestmark = pytest.mark.unit

D = Decimal
IDENTITY = Conversion({})
CPU = Conversion({"cpu": {"vcpu": D(2)}})


def test_an_unknown_b_component_is_reported_as_waldur_bs() -> None:
    with pytest.raises(UnmappedComponent, match=r"component 'gpu' of Waldur B is not in backend_components") as info:
        CPU.limits_to_source({"gpu": 1})
    assert (info.value.side, info.value.component, info.value.known) == ("B", "gpu", ("vcpu",))


def test_a_missing_component_list_is_spelled_none() -> None:
    problems = mapping_problems([ComponentMapping("cpu", {"vcpu": D(1)})], source_components=(), target_components=())
    assert problems == [
        "backend_components.cpu: A has no component 'cpu' (A has: none)",
        "backend_components.cpu.target_components.vcpu: B has no component 'vcpu' (B has: none)",
    ]


@pytest.mark.parametrize("factor", [True, "2", 2.0])
def test_a_factor_that_is_neither_a_decimal_nor_an_int_is_refused(factor: object) -> None:
    with pytest.raises(ConfigError, match="must be a positive finite number"):
        Conversion({"cpu": {"vcpu": factor}})


def test_an_int_factor_is_kept_as_a_decimal() -> None:
    factor = Conversion({"cpu": {"vcpu": 2}}).factors["cpu"]["vcpu"]
    assert isinstance(factor, Decimal)
    assert factor == 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [(D(5), "5"), (D("0.5"), "0.5"), (D("0.2"), "0.2"), (D("0.25"), "0.25"), (D("0.04"), "0.04"), (D("1.5"), "1.5")],
)
def test_exact_results_carry_no_needless_trailing_zeros(value: Decimal, expected: str) -> None:
    assert str(IDENTITY.to_target({"cpu": value})["cpu"]) == expected
    assert str(IDENTITY.usage_to_source({"cpu": value})["cpu"]) == expected


@pytest.mark.parametrize("conversion", [IDENTITY, CPU])
def test_a_non_finite_a_value_is_refused_naming_its_component(conversion: Conversion) -> None:
    with pytest.raises(ValueError, match=r"value of component 'cpu' must be a finite number, got Infinity"):
        conversion.to_target({"cpu": D("Infinity")})


def test_a_non_finite_b_usage_is_refused_naming_its_component() -> None:
    with pytest.raises(ValueError, match=r"value of component 'vcpu' must be a finite number, got NaN"):
        IDENTITY.usage_to_source({"vcpu": D("NaN")})


def test_limits_of_independent_components_are_judged_in_sync_one_group_at_a_time() -> None:
    # cpu -> vcpu (x0.3) and ram -> mem are unconnected. A's cpu limit 1 still converts to B's vcpu 1 (rounded
    # up), so it is kept; ram is out of sync and is estimated from B. Judged together, cpu would become 3.
    conversion = Conversion({"cpu": {"vcpu": D("0.3")}, "ram": {"mem": D(1)}})
    assert conversion.limits_to_source({"vcpu": 1, "mem": 7}, reference={"cpu": 1, "ram": 5}) == {"cpu": 1, "ram": 7}


def test_limits_of_a_component_sorted_after_a_fan_in_group_are_converted_too() -> None:
    # a1 and a2 share vcpu; a3 -> mem stands alone and sorts after a2, which the walk meets as already grouped.
    conversion = Conversion({"a1": {"vcpu": D(1)}, "a2": {"vcpu": D(1)}, "a3": {"mem": D(2)}})
    assert conversion.limits_to_source({"vcpu": 4, "mem": 6}) == {"a1": 2, "a2": 2, "a3": 3}


def test_limits_of_a_chain_of_shared_components_are_judged_as_one_group() -> None:
    # a1 -> {b1, b2}, a2 -> {b2, b3}, a3 -> {b3}: one connected group. b1 is out of sync, so the whole group is
    # estimated from B, although b3 alone would still be in sync with A's a3 (10 x 0.01 + 1 rounds up to 2).
    conversion = Conversion({"a1": {"b1": D(1), "b2": D(1)}, "a2": {"b2": D(1), "b3": D(1)}, "a3": {"b3": D("0.01")}})
    reference = {"a1": 1, "a2": 1, "a3": 10}
    result = conversion.limits_to_source({"b1": 5, "b2": 2, "b3": 2}, reference=reference)
    assert result["a3"] == 18  # 2 x (0.1 / 1.1) / 0.01, rounded down; the reference would have been 10


def test_a_shared_b_amount_is_rounded_into_its_largest_part() -> None:
    # vcpu is fed by cpu (weight 1) and gpu (weight 2): 1 vcpu splits into thirds that have no finite decimal
    # form. The smaller part is rounded up and the largest part absorbs the difference.
    conversion = Conversion({"cpu": {"vcpu": D(1)}, "gpu": {"vcpu": D(1)}})
    parts = conversion.split_usage({"vcpu": D(1)}, reference={"cpu": 1, "gpu": 2})["vcpu"]
    third = D("0.3333333333333333333333333334")
    assert parts == {"cpu": third, "gpu": D(1) - third}
    assert sum(parts.values()) == 1
