"""Usage B -> A: convert B's usage back to A's components and B usernames to A usernames.

Totals are converted and rounded to Waldur's quantum. Per-user usage is converted user by user and then
apportioned with the largest-remainder method, so the users' rounded shares of a component add up
exactly to the rounded sum of their converted usage (rounding each share alone could lose or invent a
cent). B usernames reach A through the person: B offering user (username -> CUID or email), A offering
user (CUID or email -> username), compared as :func:`fedcore.matching.match_key` says. The plan writes
only what A does not already show, so applying it twice changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from attrs import field, frozen

from fedcore.enums import UserMatchField
from fedcore.matching import match_key, offering_user_value
from fedcore.model import OfferingUser, ResourceUsage

UsageConverter = Callable[[Mapping[str, Decimal]], Mapping[str, Decimal]]
"""B component -> amount into A component -> amount (e.g. ``Conversion.usage_to_source``)."""

DEFAULT_QUANTUM = Decimal("0.01")
"""The smallest usage step written to A (Waldur stores usage with two decimal places)."""


def _user_usages(value: Mapping[str, Mapping[str, Decimal]]) -> Mapping[str, Mapping[str, Decimal]]:
    return {component: dict(users) for component, users in value.items()}


@frozen
class UsagePlan:
    """What to write on A for one resource and period.

    ``totals`` is None when A already shows them. ``per_user`` is component -> A username -> amount, for
    the components whose split differs on A. ``unmapped`` lists B usernames with no A counterpart
    (their usage still counts in the totals but has no A user to be attributed to).
    """

    totals: Mapping[str, Decimal] | None = None
    per_user: Mapping[str, Mapping[str, Decimal]] = field(factory=dict, converter=_user_usages)
    unmapped: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when A already shows this usage."""
        return self.totals is None and not self.per_user


def username_map(
    b_users: Iterable[OfferingUser], a_users: Iterable[OfferingUser], match_field: UserMatchField = UserMatchField.CUID
) -> dict[str, str]:
    """B offering username -> A offering username, people joined on ``match_field`` (the CUID by default).

    Keys compare by :func:`fedcore.matching.match_key` (a CUID whatever its case). Users without a
    username drop out, and so does a person for whom A shows more than one username: usage is never
    attributed to a guess.
    """
    a_names: defaultdict[str, set[str]] = defaultdict(set)
    for user in a_users:
        key = match_key(offering_user_value(user, match_field), match_field)
        if user.username and key:
            a_names[key].add(user.username)
    result: dict[str, str] = {}
    for user in b_users:
        names = a_names.get(match_key(offering_user_value(user, match_field), match_field), set())
        if user.username and len(names) == 1:
            result[user.username] = next(iter(names))
    return result


def quantize(amount: Decimal, quantum: Decimal = DEFAULT_QUANTUM) -> Decimal:
    """``amount`` rounded half-even to ``quantum``."""
    return amount.quantize(quantum, rounding=ROUND_HALF_EVEN)


def apportion(total: Decimal, weights: Mapping[str, Decimal], quantum: Decimal = DEFAULT_QUANTUM) -> dict[str, Decimal]:
    """Split ``total`` (a multiple of ``quantum``) in proportion to ``weights``; the shares add up to it.

    Largest remainder: every share is floored to the quantum, and the quanta left over go to the largest
    remainders (ties by key, so the result is deterministic). Each share is within one quantum of its
    exact proportional value. Zero weights everywhere give zero shares.
    """
    if total < 0 or any(w < 0 for w in weights.values()):
        raise ValueError("usage amounts cannot be negative")
    units = Fraction(total) / Fraction(quantum)
    if units.denominator != 1:
        raise ValueError(f"total {total} is not a multiple of {quantum}")
    weight_sum = sum((Fraction(w) for w in weights.values()), Fraction(0))
    if weight_sum == 0:
        return {key: Decimal(0) * quantum for key in weights}
    exact = {key: Fraction(w) / weight_sum * units for key, w in weights.items()}
    floors = {key: share.numerator // share.denominator for key, share in exact.items()}
    left = int(units) - sum(floors.values())
    for key in sorted(exact, key=lambda k: (floors[k] - exact[k], k))[:left]:
        floors[key] += 1
    return {key: units_ * quantum for key, units_ in floors.items()}


def plan_usage(
    b_usage: ResourceUsage,
    a_usage: ResourceUsage,
    convert: UsageConverter,
    usernames: Mapping[str, str],
    quantum: Decimal = DEFAULT_QUANTUM,
) -> UsagePlan:
    """Plan A's writes from B's usage and A's current usage of the linked resource in the same period.

    Per-user usage is kept only for components that have a total (Waldur attaches user usage to a
    component usage record).
    """
    totals = {c: quantize(v, quantum) for c, v in convert(b_usage.totals).items()}
    by_user: defaultdict[str, defaultdict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    unmapped: set[str] = set()
    for row in b_usage.per_user:
        if row.username in usernames:
            by_user[usernames[row.username]][row.component] += row.amount
        else:
            unmapped.add(row.username)
    converted = {user: convert(amounts) for user, amounts in by_user.items()}
    current: defaultdict[str, dict[str, Decimal]] = defaultdict(dict)
    for row in a_usage.per_user:
        current[row.component][row.username] = row.amount
    per_user: dict[str, dict[str, Decimal]] = {}
    for component in totals:
        weights = {user: amounts[component] for user, amounts in converted.items() if component in amounts}
        if not weights:
            continue
        shares = apportion(quantize(sum(weights.values(), Decimal(0)), quantum), weights, quantum)
        if any(current[component].get(user) != amount for user, amount in shares.items()):
            per_user[component] = shares
    unchanged = all(a_usage.totals.get(c) == v for c, v in totals.items())
    return UsagePlan(None if unchanged else totals, per_user, tuple(sorted(unmapped)))
