"""Waldur's component usages and per-user usages as wire models, read through :mod:`adapters.waldur.wire`'s converter.

8.0.5's schema types ``usage`` as an integer, while Waldur stores amounts with two decimals; any JSON number or
decimal string is read, and only a finite amount is accepted. Written amounts are decimal strings rounded to
0.01, the precision Waldur keeps and the schema's pattern allows.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Final

import attrs

from fedcore.ids import Uuid, normalize_uuid
from fedcore.model import UserUsage

CENT: Final = Decimal("0.01")


@attrs.frozen
class WireComponentUsage:
    """A ``ComponentUsage`` as fedcore reads it: one component's total of a resource in one billing period."""

    uuid: str
    type: str
    usage: Decimal
    date: str | None = None


COMPONENT_USAGE_FIELDS: Final = tuple(a.name for a in attrs.fields(WireComponentUsage))


@attrs.frozen
class WireUserUsage:
    """A ``ComponentUserUsage`` as fedcore reads it: one user's share of a component usage."""

    username: str
    usage: Decimal
    component_type: str


USER_USAGE_FIELDS: Final = tuple(a.name for a in attrs.fields(WireUserUsage))


def _finite(value: Decimal, field: str) -> Decimal:
    if not value.is_finite():
        raise ValueError(f"{field}: not a finite amount: {value}")
    return value


def component_usage_uuid(wire: WireComponentUsage) -> Uuid:
    """The ComponentUsage's UUID (what ``set_user_usages`` hangs off)."""
    try:
        return normalize_uuid(wire.uuid)
    except ValueError as exc:
        raise ValueError(f"uuid: {exc}") from None


def component_total(wire: WireComponentUsage) -> tuple[str, Decimal]:
    """(component type, amount)."""
    return wire.type, _finite(wire.usage, "usage")


def user_usage_to_domain(wire: WireUserUsage) -> UserUsage:
    """The domain :class:`UserUsage`."""
    return UserUsage(wire.component_type, wire.username, _finite(wire.usage, "usage"))


def amount(value: Decimal) -> str:
    """An amount as Waldur reads it in a body: a plain decimal string rounded to 0.01 (``"7.25"``, never ``7E+1``)."""
    return format(value.quantize(CENT, rounding=ROUND_HALF_UP), "f")
