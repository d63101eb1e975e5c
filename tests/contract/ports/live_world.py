"""The order-port world over the REST adapter and two real Waldurs, when the environment names them.

``WALDUR_E2E_TESTS=1`` turns it on; ``WALDUR_E2E_CONFIG`` is a fedcore configuration file whose first offering
names A's offering, B's offering and customer, and both tokens; ``WALDUR_E2E_PROJECT_A_UUID`` is a project on A
where A's token may order. Both offerings need a limit component ``cpu`` (what the suites order). Optionally,
``WALDUR_E2E_B_PROVIDER_TOKEN`` is a token of B's service provider (or B's staff) for what B's provider does.

The helpers act with fedcore's own tokens: A's (OFFERING.MANAGER of A's offering) places orders and, where it may,
creates the empty projects the suites ask for; B's (or the provider token) plays B's service provider where B lets
it. A helper that a token may not perform skips its test, naming what is missing. Orders the world placed on A and
left open are rejected or failed when the test ends. Requests the adapter sends are checked against Waldur 8.0.5's
schema; answers are only recorded (a newer server may add fields), and reported as a warning.
"""

from __future__ import annotations

import os
import uuid as uuid_lib
import warnings
from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from adapters.config import OfferingConfig, load_config
from adapters.waldur import RetryPolicy, SourceMarketplace, TargetMarketplace, WaldurHttp, make_client
from contract.ports.orders_world import live_requested
from contract.rest_kit import HookTraffic, checker, order_of
from fedcore.enums import OrderState, OrderType
from fedcore.errors import ConfigError, PortError
from fedcore.ids import Uuid, normalize_uuid
from fedcore.model import Order
from fedcore.ports.orders import SourceOrders, SourceResources, TargetOrders, TargetProjects, TargetResources

ENVIRONMENT = ("WALDUR_E2E_TESTS", "WALDUR_E2E_CONFIG", "WALDUR_E2E_PROJECT_A_UUID")
COMPONENT = "cpu"


def live_problem() -> str:
    """Why the live world cannot run here ("" when it can)."""
    if not live_requested():
        return ("no live Waldur configured: set WALDUR_E2E_TESTS=1, WALDUR_E2E_CONFIG=<fedcore config file> and "
                "WALDUR_E2E_PROJECT_A_UUID=<project on A> to run the order contract suites against real Waldurs")
    missing = [name for name in ENVIRONMENT[1:] if not os.environ.get(name, "").strip()]
    if missing:
        return f"WALDUR_E2E_TESTS is set but {', '.join(missing)} is not"
    try:
        load_config(os.environ["WALDUR_E2E_CONFIG"])
        normalize_uuid(os.environ["WALDUR_E2E_PROJECT_A_UUID"])
    except (ConfigError, ValueError) as exc:
        return f"live Waldur configuration unusable: {exc}"
    return ""


class _LiveSide:
    """One real Waldur through fedcore's token: the adapter's HTTP, and direct calls for arrangement (made with
    ``helper_token`` when given)."""

    def __init__(self, name: str, url: str, token: str, *, verify: bool, ca_bundle: str | None,
                 helper_token: str = "") -> None:
        self.name = name
        self.client = make_client(url, token, verify=verify, ca_bundle=ca_bundle, name=f"Waldur {name}")
        self.traffic = HookTraffic(checker(), strict_responses=False)
        self.traffic.install(self.client)
        self.http = WaldurHttp(self.client, side=name, retry=RetryPolicy(attempts=3, timeout=60.0))
        self.direct = make_client(url, helper_token or token, verify=verify, ca_bundle=ca_bundle,
                                  name=f"Waldur {name}")

    def call(self, method: str, path: str, body: object = None, *, what: str) -> Any:
        """One arrangement request; skips the test when the token may not do ``what``."""
        response = self.direct.request(method, path, json=body)
        if response.status_code in (401, 403, 405):
            pytest.skip(f"live Waldur {self.name}: fedcore's token may not {what} ({response.status_code})")
        response.raise_for_status()
        return response.json() if response.content else None

    def close(self) -> None:
        self.client.close()
        self.direct.close()


class LiveOrdersWorld:
    """The REST adapter between the real Waldurs of ``WALDUR_E2E_CONFIG``'s first offering."""

    def __init__(self) -> None:
        offering: OfferingConfig = load_config(os.environ["WALDUR_E2E_CONFIG"]).offerings[0]
        target = offering.backend_settings
        self.project = normalize_uuid(os.environ["WALDUR_E2E_PROJECT_A_UUID"])
        self.a = _LiveSide("A", offering.waldur_api_url, offering.waldur_api_token.reveal(),
                           verify=offering.verify_ssl, ca_bundle=offering.ca_bundle)
        self.b = _LiveSide("B", target.target_api_url, target.target_api_token.reveal(),
                           verify=target.target_verify_ssl, ca_bundle=target.target_ca_bundle,
                           helper_token=os.environ.get("WALDUR_E2E_B_PROVIDER_TOKEN", "").strip())
        self.offering = offering.waldur_offering_uuid
        source = SourceMarketplace(self.a.http, offering.waldur_offering_uuid)
        target_port = TargetMarketplace(self.b.http, target.target_offering_uuid, target.target_customer_uuid)
        self.a_orders: SourceOrders = source
        self.a_resources: SourceResources = source
        self.b_orders: TargetOrders = target_port
        self.b_resources: TargetResources = target_port
        self.b_projects: TargetProjects = target_port
        self.b_customer = target.target_customer_uuid
        self.placed: list[Uuid] = []
        self._public = self.a.call("GET", f"marketplace-public-offerings/{self.offering}/", what="read A's offering")
        for side, uuid in ((self.a, self.offering), (self.b, target.target_offering_uuid)):
            public = side.call("GET", f"marketplace-public-offerings/{uuid}/", what="read the offering")
            if COMPONENT not in {c.get("type") for c in public.get("components", [])}:
                pytest.skip(f"live Waldur {side.name}: offering {uuid} has no component {COMPONENT!r} to order")

    def a_project(self) -> Uuid:
        """A new project in the configured project's organisation (A's token must be allowed to create it)."""
        home = self.a.call("GET", f"projects/{self.project}/", what="read the configured A project")
        made = self.a.call("POST", "projects/", {"name": f"fedcore contract {uuid_lib.uuid4().hex[:8]}",
                                                  "customer": home["customer"]}, what="create A projects")
        return normalize_uuid(made["uuid"])

    def a_order_create(self, project: Uuid, limits: Mapping[str, int], name: str = "res") -> Order:
        """A Create order placed with A's token."""
        plans = self._public.get("plans") or []
        body = {"offering": self._public["url"], "project": self.a.http.url(f"projects/{project}/"),
                "limits": dict(limits), "attributes": {"name": name}, "accepting_terms_of_service": True}
        if plans:
            body["plan"] = plans[0]["url"]
        order = order_of(self.a.call("POST", "marketplace-orders/", body, what="order on A"))
        self.placed.append(order.uuid)
        if order.state == OrderState.PENDING_CONSUMER:
            self.a.call("POST", f"marketplace-orders/{order.uuid}/approve_by_consumer/", {}, what="approve as consumer")
        return self.a_order(order.uuid)

    def a_order_change(self, resource: Uuid, type_: OrderType, limits: Mapping[str, int] | None = None) -> Order:
        """``update_limits`` or ``terminate`` with A's token."""
        action = "update_limits" if type_ == OrderType.UPDATE else "terminate"
        body = {"limits": dict(limits or {})} if type_ == OrderType.UPDATE else {}
        made = self.a.call("POST", f"marketplace-resources/{resource}/{action}/", body, what=f"{action} on A")
        uuid = normalize_uuid(made["order_uuid"])
        self.placed.append(uuid)
        return self.a_order(uuid)

    def a_order(self, order: Uuid) -> Order:
        """The A order as A's token reads it."""
        return order_of(self.a.call("GET", f"marketplace-orders/{order}/", what="read A orders"))

    def b_user(self, username: str) -> Uuid:
        """A user created on B (B's token must be staff)."""
        made = self.b.call("POST", "users/", {"username": f"{username}-{uuid_lib.uuid4().hex[:8]}",
                                              "email": f"{uuid_lib.uuid4().hex}@fedcore.invalid"}, what="create users")
        return normalize_uuid(made["uuid"])

    def b_provider_approve(self, order: Uuid) -> None:
        """``approve_by_provider`` with B's token."""
        self.b.call("POST", f"marketplace-orders/{order}/approve_by_provider/", {}, what="approve B orders")

    def b_provider_finish(self, order: Uuid, state: OrderState, message: str = "") -> None:
        """B's provider's end of an order, with B's token."""
        path = f"marketplace-orders/{order}/"
        if state == OrderState.REJECTED:
            self.b.call("POST", f"{path}reject_by_provider/", {"provider_rejection_comment": message},
                        what="reject B orders")
        elif state == OrderState.ERRED:
            self.b.call("POST", f"{path}set_state_erred/", {"error_message": message, "error_traceback": ""},
                        what="fail B orders")
        else:
            if order_of(self.b.call("GET", path, what="read B orders")).state == OrderState.PENDING_PROVIDER:
                self.b_provider_approve(order)
            self.b.call("POST", f"{path}set_state_done/", what="complete B orders")

    def hide_from_batched_reads(self, order: Uuid) -> None:
        """The adapter's batched read lists in-flight orders only: B's provider finishes the order."""
        self.b_provider_finish(order, OrderState.DONE)

    def unknown_uuid(self) -> Uuid:
        """A fresh random UUID."""
        return Uuid(uuid_lib.uuid4().hex)

    def a_next_order_read_fails(self, order: Uuid) -> None:
        """A real Waldur takes no injected faults: the test is skipped."""
        pytest.skip(f"live Waldur A: no fault can be injected on order {order}")

    def close(self) -> None:
        """Reject or fail the A orders this world left open; warn about answers that broke the 8.0.5 schema."""
        for uuid in self.placed:
            try:
                state = self.a_order(uuid).state
                if state == OrderState.PENDING_PROVIDER:
                    self.a_orders.reject(uuid, "fedcore contract test clean-up")
                elif not state.is_terminal:
                    self.a_orders.fail(uuid, "fedcore contract test clean-up")
            except (httpx.HTTPError, PortError, pytest.skip.Exception) as exc:
                warnings.warn(f"live clean-up of A order {uuid}: {exc}", stacklevel=1)
        problems = [*self.a.traffic.problems, *self.b.traffic.problems]
        self.a.close()
        self.b.close()
        if problems:
            warnings.warn("live answers outside Waldur 8.0.5's schema:\n" + "\n".join(problems[:50]), stacklevel=1)
