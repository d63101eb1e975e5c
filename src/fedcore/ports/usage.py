"""Ports for component usage: read on B, read and write on A, one resource and billing period per call."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Protocol

from fedcore.ids import Uuid
from fedcore.model import ResourceUsage


class TargetUsage(Protocol):
    """Waldur B: what a resource used."""

    def read_usage(self, resource_uuid: Uuid, billing_period: dt.date) -> ResourceUsage:
        """Totals per component and the per-user split of the B resource in the period (empty when none)."""
        ...


class SourceUsage(Protocol):
    """Waldur A: the usage reported on the A resource."""

    def read_usage(self, resource_uuid: Uuid, billing_period: dt.date) -> ResourceUsage:
        """What A currently shows for the resource in the period (empty when nothing was reported)."""
        ...

    def set_usage(self, resource_uuid: Uuid, billing_period: dt.date, totals: Mapping[str, Decimal]) -> None:
        """``set_usage``: create or replace the component usages of the resource in the period."""
        ...

    def set_user_usages(
        self, resource_uuid: Uuid, billing_period: dt.date, component: str, usages: Mapping[str, Decimal]
    ) -> None:
        """Per-user usage (A username -> amount) of one component; NotFound when it has no total yet."""
        ...
