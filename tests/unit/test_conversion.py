"""Component conversion: the seed's examples, fan-out/fan-in rules, validation, and the laws as properties."""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fedcore.conversion import DIVISION_PRECISION, Conversion, UnmappedComponent, build_conversion, mapping_problems
from fedcore.errors import ConfigError, FedcoreError
from fedcore.model import ComponentMapping

pytestmark = pytest.mark.unit

D = Decimal
A_NAMES = ("a0", "a1", "a2", "a3", "cpu", "mem")
B_NAMES = ("b0", "b1", "b2", "cpu", "mem")  # "cpu"/"mem" let passthroughs collide with other mappings' targets
TERMINATING = st.sampled_from([D(s) for s in ("1", "2", "0.5", "0.25", "0.125", "128", "1000", "0.001", "2.5", "1024")])
ANY_FACTOR = st.one_of(
    TERMINATING,
    st.sampled_from([D(s) for s in ("1.5", "3", "60", "0.1", "7.25", "0.3")]),
    st.decimals(min_value=D("0.001"), max_value=D("1000"), places=3),
)
LIMIT = st.integers(min_value=0, max_value=10**7)
USAGE = st.decimals(min_value=D(0), max_value=D(10**7), places=2)


@st.composite
def mappings(draw: st.DrawFn, factors: st.SearchStrategy[Decimal] = ANY_FACTOR) -> list[ComponentMapping]:
    """Valid mappings of random structure: passthrough, fan-out, fan-in and mixes of them."""
    result = []
    for source in draw(st.lists(st.sampled_from(A_NAMES), min_size=1, max_size=5, unique=True)):
        if draw(st.booleans()):
            result.append(ComponentMapping(source))
        else:
            targets = draw(st.dictionaries(st.sampled_from(B_NAMES), factors, min_size=1, max_size=3))
            result.append(ComponentMapping(source, targets))
    return result


@st.composite
def fan_in(draw: st.DrawFn, factors: st.SearchStrategy[Decimal] = ANY_FACTOR) -> list[ComponentMapping]:
    """Pure fan-in: every A component has exactly one target, several A components share B components."""
    sources = draw(st.lists(st.sampled_from(A_NAMES), min_size=1, max_size=6, unique=True))
    return [ComponentMapping(s, {draw(st.sampled_from(B_NAMES[:2])): draw(factors)}) for s in sources]


@st.composite
def fan_out(draw: st.DrawFn, factors: st.SearchStrategy[Decimal]) -> list[ComponentMapping]:
    """No fan-in: every B component has one source (targets are private to their A component)."""
    sources = draw(st.lists(st.sampled_from(A_NAMES), min_size=1, max_size=4, unique=True))
    return [ComponentMapping(s, {f"{s}_t{k}": draw(factors) for k in range(draw(st.integers(1, 3)))}) for s in sources]


def values_for(names: frozenset[str], values: st.SearchStrategy[int] | st.SearchStrategy[Decimal]) -> st.SearchStrategy:
    return st.dictionaries(st.sampled_from(sorted(names)), values)


def full_values(names: frozenset[str], values: st.SearchStrategy[int]) -> st.SearchStrategy[dict[str, int]]:
    return st.fixed_dictionaries(dict.fromkeys(sorted(names), values))


def exact_forward(conversion: Conversion, values: Mapping[str, Decimal | int]) -> dict[str, Fraction]:
    """The forward conversion recomputed independently in Fractions, straight from the factors."""
    result: dict[str, Fraction] = {}
    for a, value in values.items():
        for b, factor in conversion.factors[a].items():
            result[b] = result.get(b, Fraction(0)) + Fraction(value) * Fraction(factor)
    return result


# --- the seed's examples and the named scenarios -------------------------------------------------------------------

NODE_HOURS = [ComponentMapping("node_hours", {"cpu_k_hours": D("128.0")})]


def test_seed_example_node_hours_times_128() -> None:
    conversion = build_conversion(NODE_HOURS, source_components=["node_hours"], target_components=["cpu_k_hours"])
    assert conversion.limits_to_target({"node_hours": 10}) == {"cpu_k_hours": 1280}
    assert conversion.limits_to_source({"cpu_k_hours": 1280}) == {"node_hours": 10}
    assert conversion.usage_to_source({"cpu_k_hours": D("640")}) == {"node_hours": D(5)}
    assert conversion.usage_to_source({"cpu_k_hours": D("1")}) == {"node_hours": D("0.0078125")}
    assert conversion.source_components == {"node_hours"}
    assert conversion.target_components == {"cpu_k_hours"}


def test_two_way_fan_out_goes_back_to_100_not_200() -> None:
    conversion = build_conversion([ComponentMapping("cpu", {"cpu_x": D(1), "cpu_y": D(1)})])
    assert conversion.limits_to_target({"cpu": 100}) == {"cpu_x": 100, "cpu_y": 100}
    assert conversion.limits_to_source({"cpu_x": 100, "cpu_y": 100}) == {"cpu": 100}
    assert conversion.usage_to_source({"cpu_x": D(100), "cpu_y": D(100)}) == {"cpu": D(100)}


def test_fan_out_limits_take_the_smallest_estimate_and_usage_the_largest() -> None:
    conversion = build_conversion([ComponentMapping("node", {"cpu": D(128), "mem": D(256)})])
    # B's admin cut memory only: A may now sell only what both targets still cover.
    assert conversion.limits_to_source({"cpu": 1280, "mem": 1280}) == {"node": 5}
    # The job used all the memory of 2 nodes but the CPUs of one: usage explains both.
    assert conversion.usage_to_source({"cpu": D(128), "mem": D(512)}) == {"node": D(2)}


def test_fan_in_usage_is_split_by_reference_weights() -> None:
    conversion = build_conversion(
        [ComponentMapping("small", {"cores": D(2)}), ComponentMapping("big", {"cores": D(8)})]
    )
    # Weights: small 3 x 2 = 6, big 3 x 8 = 24; 100 core-hours split 20 / 80.
    assert conversion.split_usage({"cores": D(100)}, {"small": 3, "big": 3}) == {
        "cores": {"small": D(20), "big": D(80)}
    }
    assert conversion.usage_to_source({"cores": D(100)}, {"small": 3, "big": 3}) == {"small": D(10), "big": D(10)}


def test_fan_in_usage_without_reference_uses_equal_shares_that_add_up_exactly() -> None:
    conversion = build_conversion([ComponentMapping(a, {"x": D(1)}) for a in ("a", "b", "c")])
    for reference in (None, {"a": 0, "b": 0, "c": 0}):
        parts = conversion.split_usage({"x": D(10)}, reference)["x"]
        assert sum(Fraction(part) for part in parts.values()) == 10
        assert all(abs(Fraction(part) - Fraction(10, 3)) < Fraction(1, 10**20) for part in parts.values())


def test_fan_in_limits_are_shared_out_and_never_oversold() -> None:
    conversion = build_conversion([ComponentMapping("a", {"x": D(2)}), ComponentMapping("b", {"x": D("0.5")})])
    assert conversion.limits_to_source({"x": 10}, reference={"a": 3, "b": 8}) == {"a": 3, "b": 8}  # in sync
    assert conversion.limits_to_source({"x": 20}, reference={"a": 3, "b": 8}) == {"a": 6, "b": 16}
    assert conversion.limits_to_source({"x": 10}) == {"a": 2, "b": 10}  # equal shares of B's 10


def test_passthrough_sharing_its_name_with_another_target_is_plain_fan_in() -> None:
    conversion = build_conversion([ComponentMapping("cpu"), ComponentMapping("node", {"cpu": D(128)})])
    assert conversion.factors == {"cpu": {"cpu": D(1)}, "node": {"cpu": D(128)}}
    assert conversion.limits_to_target({"cpu": 10, "node": 1}) == {"cpu": 138}
    assert conversion.usage_to_source({"cpu": D(138)}, {"cpu": 10, "node": 1}) == {"cpu": D(10), "node": D(1)}


def test_no_mappings_forward_everything_unchanged() -> None:
    conversion = build_conversion([])
    assert conversion.is_identity
    assert conversion.knows_source("anything")
    assert conversion.knows_target("anything")
    assert conversion.limits_to_target({"gpu": 3}) == {"gpu": 3}
    assert conversion.limits_to_source({"gpu": 3}, {"gpu": 1}) == {"gpu": 3}
    assert conversion.usage_to_source({"gpu": D("1.25")}) == {"gpu": D("1.25")}


def test_forward_limits_round_up_and_reverse_rounds_down() -> None:
    conversion = build_conversion([ComponentMapping("a", {"x": D("1.5")})])
    assert conversion.limits_to_target({"a": 3}) == {"x": 5}  # 4.5 rounded up
    assert conversion.to_target({"a": 3}) == {"x": D("4.5")}
    assert conversion.limits_to_source({"x": 5}) == {"a": 3}  # 3.33 rounded down: 4 A units would need 6


def test_non_terminating_usage_is_rounded_up_at_the_documented_precision() -> None:
    conversion = build_conversion([ComponentMapping("a", {"x": D(3)})])
    value = conversion.usage_to_source({"x": D(1)})["a"]
    assert len(value.as_tuple().digits) == DIVISION_PRECISION
    assert Fraction(1, 3) < Fraction(value) < Fraction(1, 3) + Fraction(1, 10**DIVISION_PRECISION)


def test_unmapped_components_are_errors_naming_the_known_ones() -> None:
    conversion = build_conversion(NODE_HOURS)
    with pytest.raises(UnmappedComponent, match=r"'gpu' of Waldur A .*known: node_hours") as raised:
        conversion.limits_to_target({"gpu": 1})
    assert isinstance(raised.value, ValueError)
    assert isinstance(raised.value, FedcoreError)
    with pytest.raises(UnmappedComponent, match=r"'node_hours' of Waldur B .*known: cpu_k_hours"):
        conversion.usage_to_source({"node_hours": D(1)})
    with pytest.raises(UnmappedComponent, match="'gpu' of Waldur A"):
        conversion.limits_to_source({"cpu_k_hours": 1}, reference={"gpu": 1})
    assert conversion.knows_target("cpu_k_hours")
    assert not conversion.knows_target("gpu")


def test_non_finite_usage_is_refused() -> None:
    with pytest.raises(ValueError, match="'cpu_k_hours' must be a finite number, got NaN"):
        build_conversion(NODE_HOURS).usage_to_source({"cpu_k_hours": D("NaN")})


def test_every_problem_is_reported_at_once_with_its_path() -> None:
    bad = [
        ComponentMapping("node_hours", {"cpu_k_hours": D(0), "mem": D("NaN")}),
        ComponentMapping("node_hours"),
        ComponentMapping("gpu.hours", {"gpu": D("-Infinity")}),
        ComponentMapping("ram", {"mem": D(-2)}),
    ]
    with pytest.raises(ConfigError) as raised:
        build_conversion(bad, source_components=["node_hours", "ram"], target_components=["cpu_k_hours", "mem"])
    assert raised.value.problems == (
        "backend_components.node_hours: configured 2 times",
        "backend_components.node_hours.target_components.cpu_k_hours.factor: must be a positive finite number, got 0",
        "backend_components.node_hours.target_components.mem.factor: must be a positive finite number, got NaN",
        "backend_components.node_hours: passthrough needs a B component named 'node_hours' (B has: cpu_k_hours, mem)",
        "backend_components['gpu.hours']: A has no component 'gpu.hours' (A has: node_hours, ram)",
        "backend_components['gpu.hours'].target_components.gpu: B has no component 'gpu' (B has: cpu_k_hours, mem)",
        "backend_components['gpu.hours'].target_components.gpu.factor: must be a positive finite number, got -Infinity",
        "backend_components.ram.target_components.mem.factor: must be a positive finite number, got -2",
    )


def test_float_factors_and_empty_names_are_refused() -> None:
    problems = mapping_problems(
        [ComponentMapping("a", {"x": 0.5}), ComponentMapping("", {"": D(1)})]  # type: ignore[dict-item]
    )
    assert problems == [
        "backend_components.a.target_components.x.factor: must be a positive finite number (Decimal or int),"
        " got float 0.5",
        "backend_components['']: component name must not be empty",
        "backend_components[''].target_components['']: component name must not be empty",
    ]


def test_direct_construction_validates_too() -> None:
    with pytest.raises(ConfigError, match=r"backend_components\.a\.target_components\.x\.factor"):
        Conversion({"a": {"x": D(0)}})
    assert Conversion({"a": {"x": 2}}).factors == {"a": {"x": D(2)}}


# --- law 1: passthrough is the identity ----------------------------------------------------------------------------


@given(st.data(), st.lists(st.sampled_from(A_NAMES), min_size=1, unique=True))
def test_law_passthrough_is_the_identity_both_ways(data: st.DataObject, names: list[str]) -> None:
    conversion = build_conversion([ComponentMapping(n) for n in names])
    limits = data.draw(values_for(conversion.source_components, LIMIT))
    usage = data.draw(values_for(conversion.target_components, USAGE))
    reference = data.draw(st.none() | values_for(conversion.source_components, LIMIT))
    assert conversion.limits_to_target(limits) == limits
    assert conversion.to_target(limits) == limits
    assert conversion.limits_to_source(limits, reference) == limits
    assert conversion.usage_to_source(usage, reference) == usage


# --- law 2: linearity and monotonicity -----------------------------------------------------------------------------


@given(st.data(), mappings(), st.integers(min_value=0, max_value=50))
def test_law_exact_forward_is_linear(data: st.DataObject, mapping: list[ComponentMapping], k: int) -> None:
    """to_target(x + y) == to_target(x) + to_target(y) and to_target(k x) == k to_target(x), exactly."""
    conversion = build_conversion(mapping)
    x = data.draw(full_values(conversion.source_components, LIMIT))
    y = data.draw(full_values(conversion.source_components, LIMIT))
    fx, fy = conversion.to_target(x), conversion.to_target(y)
    assert {b: Fraction(v) for b, v in fx.items()} == exact_forward(conversion, x)
    summed = conversion.to_target({a: x[a] + y[a] for a in x})
    assert {b: Fraction(v) for b, v in summed.items()} == {b: Fraction(fx[b]) + Fraction(fy[b]) for b in fx}
    scaled = conversion.to_target({a: k * x[a] for a in x})
    assert {b: Fraction(v) for b, v in scaled.items()} == {b: k * Fraction(fx[b]) for b in fx}


@given(st.data(), mappings())
def test_law_rounded_forward_is_the_ceiling_and_nearly_additive(
    data: st.DataObject, mapping: list[ComponentMapping]
) -> None:
    """limits_to_target == ceil(to_target), hence f(x) + f(y) - 1 <= f(x + y) <= f(x) + f(y) componentwise."""
    conversion = build_conversion(mapping)
    x = data.draw(full_values(conversion.source_components, LIMIT))
    y = data.draw(full_values(conversion.source_components, LIMIT))
    fx, fy = conversion.limits_to_target(x), conversion.limits_to_target(y)
    assert fx == {b: math.ceil(v) for b, v in exact_forward(conversion, x).items()}
    summed = conversion.limits_to_target({a: x[a] + y[a] for a in x})
    for b, value in summed.items():
        assert fx[b] + fy[b] - 1 <= value <= fx[b] + fy[b]
    assert all(value >= exact_forward(conversion, x)[b] for b, value in fx.items())  # B never gets less


@given(st.data(), mappings())
def test_law_forward_is_monotonic(data: st.DataObject, mapping: list[ComponentMapping]) -> None:
    conversion = build_conversion(mapping)
    low = data.draw(full_values(conversion.source_components, LIMIT))
    high = {a: v + data.draw(st.integers(min_value=0, max_value=1000)) for a, v in low.items()}
    f_low, f_high = conversion.limits_to_target(low), conversion.limits_to_target(high)
    assert all(f_low[b] <= f_high[b] for b in f_low)
    e_low, e_high = conversion.to_target(low), conversion.to_target(high)
    assert all(e_low[b] <= e_high[b] for b in e_low)


# --- law 3: shared B usage is apportioned, never counted twice -----------------------------------------------------


@given(st.data(), fan_in(TERMINATING))
def test_law_fan_in_usage_adds_back_up_exactly(data: st.DataObject, mapping: list[ComponentMapping]) -> None:
    """Pure fan-in: sum over A of usage x factor == the B usage, per B component, to the last digit."""
    conversion = build_conversion(mapping)
    usage = data.draw(values_for(conversion.target_components, USAGE))
    reference = data.draw(st.none() | values_for(conversion.source_components, st.integers(0, 1000)))
    a_usage = conversion.usage_to_source(usage, reference)
    back = exact_forward(conversion, a_usage)
    assert back == {b: Fraction(u) for b, u in usage.items()}


@given(st.data(), mappings())
def test_law_split_parts_add_up_exactly_and_usage_explains_b(
    data: st.DataObject, mapping: list[ComponentMapping]
) -> None:
    """Any N:M mapping: the split of each B amount adds up to it exactly; the A usage covers every B amount."""
    conversion = build_conversion(mapping)
    usage = data.draw(values_for(conversion.target_components, USAGE))
    reference = data.draw(st.none() | values_for(conversion.source_components, st.integers(0, 1000)))
    for b, parts in conversion.split_usage(usage, reference).items():
        assert sum(Fraction(part) for part in parts.values()) == Fraction(usage[b])
        assert all(part >= 0 for part in parts.values())
    back = exact_forward(conversion, conversion.usage_to_source(usage, reference))
    assert all(back[b] >= Fraction(u) for b, u in usage.items())


@given(st.data(), fan_in())
def test_law_fan_in_usage_is_exact_within_precision_for_any_factor(
    data: st.DataObject, mapping: list[ComponentMapping]
) -> None:
    conversion = build_conversion(mapping)
    usage = data.draw(values_for(conversion.target_components, USAGE))
    back = exact_forward(conversion, conversion.usage_to_source(usage))
    for b, u in usage.items():
        assert Fraction(u) <= back[b] <= Fraction(u) * (1 + Fraction(1, 10 ** (DIVISION_PRECISION - 2)))


# --- law 4: round trips --------------------------------------------------------------------------------------------


@given(st.data(), mappings())
def test_law_limits_round_trip_with_reference(data: st.DataObject, mapping: list[ComponentMapping]) -> None:
    conversion = build_conversion(mapping)
    limits = data.draw(values_for(conversion.source_components, LIMIT))
    assert conversion.limits_to_source(conversion.limits_to_target(limits), reference=limits) == limits


@given(st.data(), fan_out(st.sampled_from([D(s) for s in ("1", "1.5", "2", "3", "60", "128", "1000.001")])))
def test_law_limits_round_trip_without_reference_when_recoverable(
    data: st.DataObject, mapping: list[ComponentMapping]
) -> None:
    """No fan-in and factors >= 1: B's limits alone determine A's."""
    conversion = build_conversion(mapping)
    limits = data.draw(values_for(conversion.source_components, LIMIT))
    assert conversion.limits_to_source(conversion.limits_to_target(limits)) == limits


@given(st.data(), mappings())
def test_law_reverse_limits_never_oversell_b(data: st.DataObject, mapping: list[ComponentMapping]) -> None:
    """Whatever B's limits and A's reference, A's new limits convert to no more than B grants."""
    conversion = build_conversion(mapping)
    b_limits = data.draw(values_for(conversion.target_components, LIMIT))
    reference = data.draw(st.none() | values_for(conversion.source_components, LIMIT))
    forward = conversion.limits_to_target(conversion.limits_to_source(b_limits, reference))
    assert all(forward[b] <= b_limits[b] for b in forward if b in b_limits)


@given(st.data(), mappings())
def test_law_usage_round_trip_with_reference(data: st.DataObject, mapping: list[ComponentMapping]) -> None:
    """usage_to_source(to_target(L), reference=L) gives L back (and 0 for fan-in partners absent from L)."""
    conversion = build_conversion(mapping)
    limits = data.draw(values_for(conversion.source_components, LIMIT))
    result = conversion.usage_to_source(conversion.to_target(limits), reference=limits)
    assert {a: result[a] for a in limits} == limits
    assert all(value == 0 for a, value in result.items() if a not in limits)


# --- law 5: invalid mappings and unknown components ----------------------------------------------------------------


@given(
    st.data(),
    mappings(),
    st.sampled_from([D(0), D("-1"), D("-0.5"), D("NaN"), D("sNaN"), D("Infinity"), D("-Infinity")]),
)
def test_law_invalid_factors_raise_config_error_naming_the_path(
    data: st.DataObject, mapping: list[ComponentMapping], bad: Decimal
) -> None:
    index = data.draw(st.integers(0, len(mapping) - 1))
    source, target = mapping[index].source, data.draw(st.sampled_from(B_NAMES))
    broken = [
        *mapping[:index],
        ComponentMapping(source, {**mapping[index].targets, target: bad}),
        *mapping[index + 1 :],
    ]
    with pytest.raises(ConfigError) as raised:
        build_conversion(broken)
    assert (
        f"backend_components.{source}.target_components.{target}.factor: must be a positive finite number, got {bad}"
        in (raised.value.problems)
    )


@given(st.data(), mappings())
def test_law_unknown_offering_components_raise_config_error_naming_the_path(
    data: st.DataObject, mapping: list[ComponentMapping]
) -> None:
    conversion = build_conversion(mapping)
    missing_a = data.draw(st.sampled_from(sorted(conversion.source_components)))
    missing_b = data.draw(st.sampled_from(sorted(conversion.target_components)))
    with pytest.raises(ConfigError) as raised:
        build_conversion(
            mapping,
            source_components=conversion.source_components - {missing_a},
            target_components=conversion.target_components - {missing_b},
        )
    assert any(p.startswith(f"backend_components.{missing_a}: A has no component") for p in raised.value.problems)
    assert any(f"B component named '{missing_b}'" in p or f".{missing_b}: B has no" in p for p in raised.value.problems)


@given(st.data(), mappings())
def test_law_unknown_a_components_raise_unmapped_component(
    data: st.DataObject, mapping: list[ComponentMapping]
) -> None:
    conversion = build_conversion(mapping)
    unknown = data.draw(st.sampled_from(("gpu", "storage", *A_NAMES)))
    assume(unknown not in conversion.source_components)
    limits = {**data.draw(values_for(conversion.source_components, LIMIT)), unknown: 1}
    with pytest.raises(UnmappedComponent) as raised:
        conversion.limits_to_target(limits)
    assert raised.value.component == unknown
    assert raised.value.known == tuple(sorted(conversion.source_components))
