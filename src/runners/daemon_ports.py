"""The daemon's ports factory: the configured one (REST, or fakes in tests), with the configuration's policies on top.

- ``expose_backend_error_details: false``: an A order marked erred gets :data:`PRIVATE_FAILURE` as its message
  (:class:`PrivateFailures`); the full reason (B's answer, fedcore's reason) goes to fedcore's log only.
- ``--dry-run``: every write is recorded instead of made (:mod:`runners.dryrun`).

:class:`CallReporter` is the REST adapter's call observer for the daemon: every call and retry goes to the
telemetry, and so does whether the server answered.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from attrs import evolve

from adapters.config import FedcoreConfig, OfferingConfig
from fedcore.ids import Uuid
from fedcore.model import Order
from fedcore.ports import SourceOrders
from runners.dryrun import WriteJournal, dry_ports
from runners.logs import order_context
from runners.telemetry import Telemetry
from runners.wiring import Ports, PortsFactory

log = logging.getLogger("fedcore.orders")

PRIVATE_FAILURE = "The order could not be completed by the federated provider. Its operators have the details."
"""What A shows on a failed order when ``expose_backend_error_details`` is false."""


class PrivateFailures:
    """A's orders, with the message of every ``fail`` replaced by :data:`PRIVATE_FAILURE` (logged in full)."""

    def __init__(self, real: SourceOrders, offering: str) -> None:
        self._real = real
        self._offering = offering

    def list_open_orders(self) -> Sequence[Order]:
        """Unchanged."""
        return self._real.list_open_orders()

    def get_order(self, order_uuid: Uuid) -> Order:
        """Unchanged."""
        return self._real.get_order(order_uuid)

    def approve(self, order_uuid: Uuid) -> None:
        """Unchanged."""
        self._real.approve(order_uuid)

    def reject(self, order_uuid: Uuid, reason: str) -> None:
        """Unchanged: a rejection states fedcore's own reason for refusing the request, never B's answer."""
        self._real.reject(order_uuid, reason)

    def set_order_backend_id(self, order_uuid: Uuid, backend_id: str) -> None:
        """Unchanged."""
        self._real.set_order_backend_id(order_uuid, backend_id)

    def complete(self, order_uuid: Uuid) -> None:
        """Unchanged."""
        self._real.complete(order_uuid)

    def fail(self, order_uuid: Uuid, message: str) -> None:
        """Mark the order erred with the fixed message; the real one is logged."""
        log.warning("A order marked erred without details (expose_backend_error_details: false); the reason: %s",
                    message, extra=order_context(self._offering, order_uuid))
        self._real.fail(order_uuid, PRIVATE_FAILURE)


class CallReporter:
    """Tells ``telemetry`` of every API call and retry, and whether the server answered (any status below 500)."""

    def __init__(self, telemetry: Telemetry) -> None:
        self._telemetry = telemetry

    def api_call(self, server: str, method: str, endpoint: str, status: str, seconds: float) -> None:
        """One attempt ended with ``status`` (an HTTP status or a transport error's class name)."""
        self._telemetry.api_call(server, method, endpoint, status, seconds)
        self._telemetry.server_reachable(server, status.isdigit() and int(status) < 500)

    def retry(self, server: str, endpoint: str) -> None:
        """A call is repeated after a passing fault."""
        self._telemetry.retry(server, endpoint)


def daemon_ports(config: FedcoreConfig, ports: PortsFactory, *, journal: WriteJournal | None = None) -> PortsFactory:
    """``ports`` with the configuration's error-detail policy and, given a ``journal``, dry-run writes."""

    def build(offering: OfferingConfig) -> Ports:
        built = ports(offering)
        if not config.expose_backend_error_details:
            built = evolve(built, a_orders=PrivateFailures(built.a_orders, offering.name))
        if journal is not None:
            target = offering.backend_settings
            built = dry_ports(built, journal, offering=offering.name, b_offering=target.target_offering_uuid,
                              b_customer=target.target_customer_uuid)
        return built

    return build
