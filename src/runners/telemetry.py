"""What the daemon reports about itself, as a small port: the metrics adapter implements it, tests record it.

The daemon calls these hooks; it never imports a metrics library. :class:`NullTelemetry` does nothing (the
default); the Prometheus implementation lives in :mod:`runners.metrics`.
"""

from __future__ import annotations

from typing import Protocol


class Telemetry(Protocol):
    """Events of the daemon's life that operators watch."""

    def order_finished(self, offering: str, order_type: str, outcome: str) -> None:
        """An order's turn in a pass ended with ``outcome`` (completed, failed, rejected, waiting, retrying)."""
        ...

    def api_call(self, server: str, method: str, endpoint: str, status: str, seconds: float) -> None:
        """One HTTP call to ``server`` (the host and port of a configured API URL): its endpoint template and status
        (or the error class)."""
        ...

    def retry(self, server: str, endpoint: str) -> None:
        """A call was repeated after a passing fault."""
        ...

    def pass_finished(self, offering: str, mode: str, seconds: float, ok: bool, finished_at: float) -> None:
        """A pass of ``mode`` for ``offering`` ended (``finished_at`` is a Unix time; ``ok`` when nothing failed)."""
        ...

    def orders_waiting(self, offering: str, count: int, oldest_age_seconds: float) -> None:
        """How many A orders are in flight for ``offering`` and how old the oldest is."""
        ...

    def server_reachable(self, server: str, reachable: bool) -> None:
        """Whether the last call to ``server`` got an answer (for ``/readyz``)."""
        ...

    def duplicate_repaired(self, offering: str, kind: str) -> None:
        """A duplicate on B was repaired: ``kind`` is ``order_deleted``, ``resource_terminated`` or
        ``project_deleted`` (by an order's turn or by the duplicate sweep)."""
        ...


class NullTelemetry:
    """Telemetry that goes nowhere."""

    def order_finished(self, offering: str, order_type: str, outcome: str) -> None:
        """Ignored."""

    def api_call(self, server: str, method: str, endpoint: str, status: str, seconds: float) -> None:
        """Ignored."""

    def retry(self, server: str, endpoint: str) -> None:
        """Ignored."""

    def pass_finished(self, offering: str, mode: str, seconds: float, ok: bool, finished_at: float) -> None:
        """Ignored."""

    def orders_waiting(self, offering: str, count: int, oldest_age_seconds: float) -> None:
        """Ignored."""

    def server_reachable(self, server: str, reachable: bool) -> None:
        """Ignored."""

    def duplicate_repaired(self, offering: str, kind: str) -> None:
        """Ignored."""
