"""Component conversion between Waldur A and Waldur B: factors, rounding, fan-out and fan-in.

The operator maps each A component onto B components with factors (B value = A value x factor); a
mapping without targets is a passthrough (same name, factor 1). Every A component of a mapping and
every B component it names form a bipartite graph, so all N:M mixes have one meaning:

- forward (A -> B): each B value is the sum of its contributions; limits are rounded **up**, so B
  never allocates less than A sold; :meth:`Conversion.to_target` is the exact, un-rounded version.
- reverse limits (B -> A): the largest whole A limit whose forward conversion fits inside B's limits
  (fan-out: the *smallest* estimate; fan-in: B's limit is shared out first); when A's current limits
  (``reference``) already convert to exactly B's limits, they are returned unchanged.
- reverse usage (B -> A): a shared B amount is split among its A components so the parts add up to it
  exactly; each A usage is the *largest* estimate over its targets (the smallest A usage explaining
  everything B measured).

All arithmetic is exact (:class:`fractions.Fraction` inside, :class:`decimal.Decimal` outside). The one
inexact step is writing a non-terminating quotient (a factor of 3, an equal share of 1/3) as a Decimal:
it is rounded up at :data:`DIVISION_PRECISION` significant digits. docs/conversion.md is the operator's
view of the same rules.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from decimal import ROUND_CEILING, Context, Decimal, localcontext
from fractions import Fraction
from typing import cast

from attrs import field, frozen

from fedcore.errors import ConfigError, FedcoreError
from fedcore.model import ComponentMapping

DIVISION_PRECISION = 28
"""Significant digits kept when a quotient has no finite decimal form (rounded up); Python's default too."""

_INEXACT = Context(prec=DIVISION_PRECISION, rounding=ROUND_CEILING)
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_\-]+")


class UnmappedComponent(FedcoreError, ValueError):
    """A value named a component the configured mapping does not know; it is never passed through silently."""

    def __init__(self, side: str, component: str, known: Iterable[str]) -> None:
        self.side = side
        self.component = component
        self.known = tuple(sorted(known))
        super().__init__(
            f"component {component!r} of Waldur {side} is not in backend_components (known: {_listing(self.known)})"
        )


def _listing(names: Iterable[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if _PLAIN_NAME.fullmatch(name) else f"{path}[{name!r}]"


def _factor_problem(factor: object) -> str | None:
    if isinstance(factor, bool) or not isinstance(factor, Decimal | int):
        return f"must be a positive finite number (Decimal or int), got {type(factor).__name__} {factor!r}"
    value = Decimal(factor)
    if not value.is_finite() or value <= 0:
        return f"must be a positive finite number, got {value}"
    return None


def mapping_problems(
    mappings: Sequence[ComponentMapping],
    *,
    source_components: Collection[str] | None = None,
    target_components: Collection[str] | None = None,
) -> list[str]:
    """Every problem of ``mappings``, each prefixed by its config path; empty when the mapping is valid.

    ``source_components`` / ``target_components`` are the component types of A's and B's offerings;
    when given, every name must exist there. The config loader calls this to report all problems at once.
    """
    problems: list[str] = []
    for name, count in Counter(m.source for m in mappings).items():
        if count > 1:
            problems.append(f"{_join('backend_components', name)}: configured {count} times")
    for mapping in mappings:
        path = _join("backend_components", mapping.source)
        if not mapping.source:
            problems.append(f"{path}: component name must not be empty")
        elif source_components is not None and mapping.source not in source_components:
            problems.append(f"{path}: A has no component {mapping.source!r} (A has: {_listing(source_components)})")
        if mapping.is_passthrough:
            if mapping.source and target_components is not None and mapping.source not in target_components:
                problems.append(
                    f"{path}: passthrough needs a B component named {mapping.source!r}"
                    f" (B has: {_listing(target_components)})"
                )
            continue
        for target, factor in mapping.targets.items():
            tpath = _join(f"{path}.target_components", target)
            if not target:
                problems.append(f"{tpath}: component name must not be empty")
            elif target_components is not None and target not in target_components:
                problems.append(f"{tpath}: B has no component {target!r} (B has: {_listing(target_components)})")
            if (problem := _factor_problem(factor)) is not None:
                problems.append(f"{tpath}.factor: {problem}")
    return problems


def build_conversion(
    mappings: Sequence[ComponentMapping],
    *,
    source_components: Collection[str] | None = None,
    target_components: Collection[str] | None = None,
) -> Conversion:
    """Validate ``mappings`` and return their :class:`Conversion`; raise ConfigError listing every problem.

    No mappings at all gives the identity conversion: the operator configured no components, so every
    component is forwarded unchanged under its own name.
    """
    problems = mapping_problems(mappings, source_components=source_components, target_components=target_components)
    if problems:
        raise ConfigError(problems)
    return Conversion({m.source: m.targets for m in mappings})


def _freeze(factors: Mapping[str, Mapping[str, object]]) -> Mapping[str, Mapping[str, Decimal]]:
    return {a: ({b: _as_decimal(f) for b, f in targets.items()} or {a: Decimal(1)}) for a, targets in factors.items()}


def _as_decimal(factor: object) -> Decimal:
    if isinstance(factor, int) and not isinstance(factor, bool):
        return Decimal(factor)
    # Anything else is kept as given so that validation (run right after) can name it in its message.
    return cast(Decimal, factor)


def _to_decimal(value: Fraction) -> Decimal:
    """``value`` as a Decimal: exact when it has a finite decimal form, else rounded up (see module doc)."""
    rest, twos, fives = value.denominator, 0, 0
    while rest % 2 == 0:
        rest, twos = rest // 2, twos + 1
    while rest % 5 == 0:
        rest, fives = rest // 5, fives + 1
    if rest == 1:
        digits = max(twos, fives)
        return Decimal(f"{value.numerator * (10**digits // value.denominator)}E{-digits}")
    with localcontext(_INEXACT):
        return Decimal(value.numerator) / Decimal(value.denominator)


def _exact(component: str, value: Decimal | int) -> Fraction:
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError(f"value of component {component!r} must be a finite number, got {value}")
    return Fraction(value)


@frozen
class Conversion:
    """A validated component mapping and the conversions it defines (see the module doc for the rules).

    ``factors`` is A component -> {B component -> factor}; a passthrough appears as ``{name: 1}``.
    No factors at all is the identity conversion. Build it with :func:`build_conversion`; direct
    construction validates the factors too (without component lists).
    """

    factors: Mapping[str, Mapping[str, Decimal]] = field(converter=_freeze)

    def __attrs_post_init__(self) -> None:
        problems = mapping_problems([ComponentMapping(a, dict(targets)) for a, targets in self.factors.items()])
        if problems:
            raise ConfigError(problems)

    @property
    def is_identity(self) -> bool:
        """True when no components are configured: everything passes unchanged under its own name."""
        return not self.factors

    @property
    def source_components(self) -> frozenset[str]:
        """The A components this mapping knows (empty for the identity, which knows every name)."""
        return frozenset(self.factors)

    @property
    def target_components(self) -> frozenset[str]:
        """The B components this mapping knows (empty for the identity, which knows every name)."""
        return frozenset(b for targets in self.factors.values() for b in targets)

    def knows_source(self, component: str) -> bool:
        """True when an A value for ``component`` can be converted."""
        return self.is_identity or component in self.factors

    def knows_target(self, component: str) -> bool:
        """True when a B value for ``component`` can be converted (callers drop B-only components with it)."""
        return self.is_identity or component in self.target_components

    def to_target(self, a_values: Mapping[str, Decimal | int]) -> dict[str, Decimal]:
        """Exact forward conversion (no rounding): each B value is the sum of A value x factor over its sources."""
        return {b: _to_decimal(value) for b, value in self._forward(a_values).items()}

    def limits_to_target(self, a_limits: Mapping[str, int]) -> dict[str, int]:
        """A limits as B limits, each rounded up so B never allocates less than A sold."""
        return {b: math.ceil(value) for b, value in self._forward(a_limits).items()}

    def limits_to_source(
        self, b_limits: Mapping[str, int], reference: Mapping[str, int] | None = None
    ) -> dict[str, int]:
        """B limits as A limits: the largest whole A limits whose forward conversion fits inside ``b_limits``.

        ``reference`` (A's current limits) weights how a fan-in B limit is shared out (equal shares
        without it). Where A's current limits already feed and convert to exactly ``b_limits`` (judged per
        connected group of components) they are returned unchanged, which makes the round trip exact.
        """
        self._check("B", b_limits)
        ref = self._checked_reference(reference)
        if self.is_identity:
            return dict(b_limits)
        result: dict[str, int] = {}
        for group_a, group_b in self._groups():
            present = [b for b in group_b if b in b_limits]
            if not present:
                continue
            if reference is not None and self._in_sync(ref, b_limits, present):
                result.update({a: ref[a] for a in group_a if a in ref and any(b in b_limits for b in self.factors[a])})
                continue
            estimates: dict[str, list[Fraction]] = {}
            for b in present:
                for a, share in self._shares(b, ref).items():
                    estimates.setdefault(a, []).append(Fraction(b_limits[b]) * share / Fraction(self.factors[a][b]))
            result.update({a: math.floor(min(values)) for a, values in estimates.items()})
        return dict(sorted(result.items()))

    def split_usage(
        self, b_usage: Mapping[str, Decimal], reference: Mapping[str, int] | None = None
    ) -> dict[str, dict[str, Decimal]]:
        """Each B amount split among its A components: B component -> {A component -> part of the B amount}.

        Weights are ``reference[a] x factor`` (equal shares when there is no reference or it is all
        zero); the parts add up to the B amount exactly (the largest part absorbs any rounding).
        """
        self._check("B", b_usage)
        ref = self._checked_reference(reference)
        if self.is_identity:
            return {b: {b: amount} for b, amount in b_usage.items()}
        return {b: _split(_exact(b, amount), self._shares(b, ref)) for b, amount in b_usage.items()}

    def usage_to_source(
        self, b_usage: Mapping[str, Decimal], reference: Mapping[str, int] | None = None
    ) -> dict[str, Decimal]:
        """B usage as A usage: split shared B amounts (:meth:`split_usage`), then divide by the factors.

        With fan-out each target gives an estimate and the largest wins, so the result is the smallest
        A usage that explains every B amount. Totals and per-user amounts both go through here.
        """
        if self.is_identity:
            self._checked_reference(reference)
            return {b: _to_decimal(_exact(b, amount)) for b, amount in b_usage.items()}
        estimates: dict[str, list[Fraction]] = {}
        for b, parts in self.split_usage(b_usage, reference).items():
            for a, part in parts.items():
                estimates.setdefault(a, []).append(Fraction(part) / Fraction(self.factors[a][b]))
        return {a: _to_decimal(max(values)) for a, values in sorted(estimates.items())}

    def _check(self, side: str, values: Mapping[str, object]) -> None:
        known = self.knows_source if side == "A" else self.knows_target
        for name in values:
            if not known(name):
                raise UnmappedComponent(side, name, self.factors if side == "A" else self.target_components)

    def _checked_reference(self, reference: Mapping[str, int] | None) -> Mapping[str, int]:
        if reference is None:
            return {}
        self._check("A", reference)
        return reference

    def _forward(self, a_values: Mapping[str, Decimal | int]) -> dict[str, Fraction]:
        self._check("A", a_values)
        if self.is_identity:
            return {a: _exact(a, value) for a, value in a_values.items()}
        result: dict[str, Fraction] = {}
        for a, value in a_values.items():
            exact = _exact(a, value)
            for b, factor in self.factors[a].items():
                result[b] = result.get(b, Fraction(0)) + exact * Fraction(factor)
        return result

    def _shares(self, b: str, reference: Mapping[str, int]) -> dict[str, Fraction]:
        """What fraction of B component ``b`` each of its A components accounts for (they sum to 1)."""
        weights = {
            a: max(Fraction(reference.get(a, 0)), Fraction(0)) * Fraction(targets[b])
            for a, targets in self.factors.items()
            if b in targets
        }
        total = sum(weights.values(), Fraction(0))
        if total == 0:
            return {a: Fraction(1, len(weights)) for a in weights}
        return {a: weight / total for a, weight in weights.items()}

    def _in_sync(self, reference: Mapping[str, int], b_limits: Mapping[str, int], present: Iterable[str]) -> bool:
        """True when A's reference limits feed every present B component and convert to exactly its limit."""
        forward = self._forward(reference)
        return all(b in forward and math.ceil(forward[b]) == b_limits[b] for b in present)

    def _groups(self) -> list[tuple[list[str], list[str]]]:
        """The connected groups of the mapping graph, as (A components, B components)."""
        groups: list[tuple[list[str], list[str]]] = []
        seen: set[str] = set()
        for start in sorted(self.factors):
            if start in seen:
                continue
            group_a, group_b, pending = [start], set(self.factors[start]), list(self.factors[start])
            seen.add(start)
            while pending:
                b = pending.pop()
                for a, targets in sorted(self.factors.items()):
                    if b in targets and a not in seen:
                        seen.add(a)
                        group_a.append(a)
                        pending.extend(t for t in targets if t not in group_b)
                        group_b.update(targets)
            groups.append((group_a, sorted(group_b)))
        return groups


def _split(amount: Fraction, shares: Mapping[str, Fraction]) -> dict[str, Decimal]:
    absorber = min(shares, key=lambda a: (-shares[a], a))
    parts = {a: _to_decimal(amount * share) for a, share in shares.items() if a != absorber}
    parts[absorber] = _to_decimal(amount - sum((Fraction(p) for p in parts.values()), Fraction(0)))
    return parts
