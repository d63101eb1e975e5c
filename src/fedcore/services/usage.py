"""Report B's usage of a linked resource on A: read both sides, plan, write what A lacks.

Totals are written first because Waldur attaches user usage to a component usage; when they cannot be
written, the per-user writes of that pass are reported as blocked rather than attempted. Each write is
reported on its own. Reads raise.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from decimal import Decimal

from attrs import frozen

from fedcore.enums import OfferingUserState, UserMatchField
from fedcore.ids import Uuid
from fedcore.ports.usage import SourceUsage, TargetUsage
from fedcore.ports.users import SourceUsers, TargetUsers
from fedcore.services._outcomes import Outcomes
from fedcore.usage import DEFAULT_QUANTUM, UsageConverter, UsagePlan, plan_usage, username_map


@frozen
class WriteFailure:
    """A write that did not go through: ``step`` is ``totals`` or ``users:<component>``."""

    step: str
    detail: str


@frozen
class UsageReport:
    """One resource and period: the plan, the steps written, to retry later, or refused."""

    plan: UsagePlan
    written: tuple[str, ...] = ()
    retry: tuple[WriteFailure, ...] = ()
    failed: tuple[WriteFailure, ...] = ()


def read_username_map(
    source: SourceUsers, target: TargetUsers, match_field: UserMatchField = UserMatchField.CUID
) -> dict[str, str]:
    """B username -> A username, people joined on ``match_field`` (one listing per side; reuse it)."""
    b_users = target.list_offering_users({OfferingUserState.OK})
    a_users = source.list_offering_users(set(OfferingUserState))
    return username_map(b_users, a_users, match_field)


def sync_usage(
    *,
    a_resource: Uuid,
    b_resource: Uuid,
    billing_period: dt.date,
    source: SourceUsage,
    target: TargetUsage,
    convert: UsageConverter,
    usernames: Mapping[str, str],
    quantum: Decimal = DEFAULT_QUANTUM,
) -> UsageReport:
    """Copy the B resource's usage in ``billing_period`` to the A resource, converted to A's components."""
    b_usage = target.read_usage(b_resource, billing_period)
    a_usage = source.read_usage(a_resource, billing_period)
    plan = plan_usage(b_usage, a_usage, convert, usernames, quantum)
    outcomes: Outcomes[str, WriteFailure] = Outcomes(WriteFailure)
    totals = plan.totals
    totals_ok = totals is None or outcomes.attempt(
        "totals", functools.partial(source.set_usage, a_resource, billing_period, totals)
    )
    for component, shares in plan.per_user.items():
        step = f"users:{component}"
        if not totals_ok:
            outcomes.skip(step, "blocked: the totals were not written", transient=bool(outcomes.retry))
            continue
        outcomes.attempt(step, functools.partial(source.set_user_usages, a_resource, billing_period, component, shares))
    return UsageReport(plan, tuple(outcomes.applied), tuple(outcomes.retry), tuple(outcomes.failed))
