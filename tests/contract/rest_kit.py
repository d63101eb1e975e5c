"""Two Waldur emulators federated through their REST APIs, with fedcore's REST adapter between them.

Shared by the order contract worlds (``emulator``, ``socket``), the call-budget, fault and agreement tests. Every
request the adapter sends, and every answer it gets, is checked against Waldur 8.0.5's schema and counted per
operation: through a :class:`~contract.openapi_check.ValidatingTransport` in-process, or through the same checks in
httpx event hooks when the adapter talks TCP to a served emulator (its client is then :func:`make_client`'s own).
Set-up, A's users and B's service provider act through separate in-process staff clients (checked, never counted);
faults and the provider simulation go through the emulators' ``/api/emulator/`` admin API.
"""

from __future__ import annotations

import functools
import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

import attrs
import httpx

from adapters.waldur import RetryPolicy, SourceMarketplace, TargetMarketplace, Timeouts, WaldurHttp, make_client
from adapters.waldur.wire import WireOrder, order_to_domain, structure
from contract.openapi_check import SchemaChecker, SchemaViolation, ValidatingTransport, load_spec
from fedcore.conversion import build_conversion
from fedcore.enums import OrderState, OrderType
from fedcore.ids import Uuid, normalize_uuid
from fedcore.lifecycle import LimitConverter
from fedcore.model import Order
from fedcore.services.orders import OrderPorts, OrderProcessor
from waldur_emulator import Emulator, ServerHandle
from waldur_emulator.federation import Federation, build_federation

STAFF_TOKENS = {"A": "kit-staff-token-a-0123456789abcdef0123", "B": "kit-staff-token-b-0123456789abcdef0123"}
OK_STATUSES = (200, 201, 202, 204)


@functools.cache
def checker() -> SchemaChecker:
    """The schema checker every kit shares (the schema is parsed once per process)."""
    return SchemaChecker(load_spec())


class HookTraffic:
    """The checks of a :class:`ValidatingTransport`, as event hooks on a client that keeps its own transport.

    A request problem raises at once; an answer's problem too unless ``strict_responses`` is off (a live server).
    """

    def __init__(self, schema: SchemaChecker, *, strict_responses: bool = True) -> None:
        self.checker = schema
        self.strict_responses = strict_responses
        self.calls: Counter[str] = Counter()
        self.problems: list[str] = []
        self.requests: list[str] = []
        self._lock = threading.Lock()

    def install(self, client: httpx.Client) -> None:
        """Check and count every exchange of ``client`` from now on (a problem raises at once)."""
        client.event_hooks = {"request": [self._request], "response": [self._response]}

    def _request(self, request: httpx.Request) -> None:
        routed = self.checker.operation_for(request)
        with self._lock:
            self.calls[routed[0].operation_id if routed else f"<no operation: {request.method}>"] += 1
            self.requests.append(described(request))
        self._record(self.checker.check_request(request), strict=True)

    def _response(self, response: httpx.Response) -> None:
        response.read()
        self._record(self.checker.check_response(response, response.request), strict=self.strict_responses)

    def _record(self, found: list[str], *, strict: bool) -> None:
        if found:
            with self._lock:
                self.problems.extend(found)
            if strict:
                raise SchemaViolation("\n".join(found))


def described(request: httpx.Request) -> str:
    """``GET /api/marketplace-orders/?offering_uuid=…``: one request as the logs of the kit keep it."""
    return f"{request.method} {request.url.raw_path.decode()}"


class _Logged(httpx.BaseTransport):
    """Keeps every request it forwards (what the adapter sent, retries included)."""

    def __init__(self, inner: httpx.BaseTransport, log: list[str]) -> None:
        self.inner = inner
        self.log = log

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.log.append(described(request))
        return self.inner.handle_request(request)


Traffic = ValidatingTransport | HookTraffic


@attrs.define
class Side:
    """One emulated Waldur: the adapter's client and its traffic, a staff client, the admin API."""

    name: str
    emulator: Emulator
    base: str
    staff: httpx.Client
    admin_client: httpx.Client
    client: httpx.Client
    traffic: Traffic
    requests: list[str]
    http: WaldurHttp
    server: ServerHandle | None = None

    def call(self, method: str, path: str, body: object = None, *, token: str | None = None,
             params: Mapping[str, str] | None = None) -> Any:
        """One request as staff (or ``token``'s user), which must succeed; its JSON body."""
        headers = {"Authorization": f"Token {token}"} if token else {}
        response = self.staff.request(method, path, json=body, params=params, headers=headers)
        assert response.status_code in OK_STATUSES, f"{self.name} {method} {path}: {response.status_code} " \
                                                    f"{response.text[:300]}"
        return response.json() if response.content else None

    def admin(self, method: str, path: str, body: object = None) -> Any:
        """A call to the emulator's own admin API (``/api/emulator/...``), never checked against the schema."""
        response = self.admin_client.request(method, f"emulator/{path}", json=body)
        assert response.status_code in OK_STATUSES, f"{self.name} admin {method} {path}: {response.text[:300]}"
        return response.json() if response.content else None

    def fault(self, path: str, *, method: str = "*", kind: str | None = "error", status: int = 503,
              timeout_seconds: float = 0.0, times: int | None = None) -> None:
        """Inject a fault on requests whose path matches the regular expression ``path``."""
        rule = {"path": path, "method": method, "kind": kind, "status": status, "timeout_seconds": timeout_seconds,
                "times": times}
        self.admin("POST", "faults/", rule)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self.admin("DELETE", "faults/")

    def faults_fired(self) -> int:
        """How many requests an injected fault has hit so far."""
        return int(self.admin("GET", "faults/")["injected"])

    @property
    def calls(self) -> int:
        """How many requests the adapter sent to this side (retries included)."""
        return sum(self.traffic.calls.values())

    def close(self) -> None:
        """Close the clients and stop the server, if any."""
        for client in (self.client, self.staff, self.admin_client):
            client.close()
        if self.server is not None:
            self.server.stop()


def _staff_clients(base: str, name: str, emulator: Emulator) -> tuple[httpx.Client, httpx.Client]:
    # In-process even when the emulator is also served: arrangement is not what is under test, and the base URL
    # (hence the Host header the emulator builds its URLs from) is the served one.
    headers = {"Authorization": f"Token {STAFF_TOKENS[name]}"}
    checked = ValidatingTransport(emulator.transport(), checker(), strict=True)
    return (httpx.Client(base_url=base, headers=headers, transport=checked),
            httpx.Client(base_url=base, headers=headers, transport=emulator.transport()))


def _side(name: str, emulator: Emulator, token: str, *, over_tcp: bool, retry: RetryPolicy,
          timeouts: Timeouts | None) -> Side:
    server = emulator.serve("127.0.0.1", 0) if over_tcp else None
    base = f"{server.base_url}/api/" if server is not None else f"http://waldur-{name.lower()}/api/"
    traffic: Traffic
    if server is not None:
        client = make_client(base, token, timeouts=timeouts, name=f"emulator {name}")
        traffic = HookTraffic(checker())
        traffic.install(client)
        log = traffic.requests
    else:
        log = []
        traffic = ValidatingTransport(_Logged(emulator.transport(), log), checker(), strict=True)
        client = make_client(base, token, timeouts=timeouts, transport=traffic, name=f"emulator {name}")
    staff, admin = _staff_clients(base, name, emulator)
    http = WaldurHttp(client, side=name, retry=retry)
    return Side(name, emulator, base, staff, admin, client, traffic, log, http, server)


def order_of(data: object) -> Order:
    """A domain order from an ``OrderDetails`` answer (through the adapter's own wire model)."""
    return order_to_domain(structure(data, WireOrder, "kit"))


@attrs.define
class Kit:
    """A federation of two emulators (A: source, B: target) and the REST adapter's ports over it."""

    a: Side
    b: Side
    federation: Federation
    source: SourceMarketplace
    target: TargetMarketplace

    @property
    def b_customer(self) -> Uuid:
        """The organisation on B that fedcore orders under."""
        return self.target.customer_uuid

    def ports(self) -> OrderPorts:
        """The five order ports."""
        return OrderPorts(self.source, self.source, self.target, self.target, self.target)

    def processor(self, converter: LimitConverter | None = None) -> OrderProcessor:
        """An order processor over the adapter (components forwarded unchanged unless ``converter`` says else)."""
        return OrderProcessor(self.ports(), converter or build_conversion([]))

    # A's users ----------------------------------------------------------------------------------------------

    def new_project(self, name: str = "Physics") -> Uuid:
        """A new, empty A project in an organisation of its own."""
        customer = self.a.call("POST", "customers/", {"name": f"{name} university"})
        project = self.a.call("POST", "projects/", {"name": name, "customer": customer["url"]})
        return normalize_uuid(project["uuid"])

    def order_create(self, project: Uuid, limits: Mapping[str, int], name: str = "res", **attributes: Any) -> Order:
        """A user of A orders a new resource: a pending-provider Create order (staff orders skip consumer review)."""
        offering = f"{self.a.base}marketplace-public-offerings/{self.federation.a.offering_uuid}/"
        body = {"offering": offering, "project": f"{self.a.base}projects/{project}/",
                "plan": f"{offering}plans/{self.federation.a.plan_uuid}/", "limits": dict(limits),
                "attributes": {"name": name, **attributes}, "accepting_terms_of_service": True}
        return order_of(self.a.call("POST", "marketplace-orders/", body))

    def order_change(self, resource: Uuid, type_: OrderType, limits: Mapping[str, int] | None = None) -> Order:
        """A user of A orders an Update (``limits``) or a Terminate of an A resource."""
        if type_ == OrderType.UPDATE:
            body = {"limits": dict(limits or {})}
            made = self.a.call("POST", f"marketplace-resources/{resource}/update_limits/", body)
        else:
            made = self.a.call("POST", f"marketplace-resources/{resource}/terminate/", {})
        return self.a_order(normalize_uuid(made["order_uuid"]))

    def a_order(self, uuid: Uuid) -> Order:
        """An A order in any state."""
        return order_of(self.a.call("GET", f"marketplace-orders/{uuid}/"))

    def a_orders(self) -> list[Order]:
        """Every order of A's offering, in any state."""
        return self._orders(self.a, self.federation.a.offering_uuid)

    # B's service provider -----------------------------------------------------------------------------------

    def b_orders(self) -> list[Order]:
        """Every order of B's offering, in any state."""
        return self._orders(self.b, self.federation.b.offering_uuid)

    def _orders(self, side: Side, offering: str) -> list[Order]:
        found: list[Order] = []
        page = 1
        while True:
            batch = side.call("GET", "marketplace-orders/", params={"offering_uuid": offering, "page": str(page),
                                                                     "page_size": "300"})
            found += [order_of(o) for o in batch]
            if len(batch) < 300:
                return found
            page += 1

    def b_approve(self, order: Uuid) -> None:
        """B's provider approves a pending-provider order."""
        self.b.call("POST", f"marketplace-orders/{order}/approve_by_provider/", {})

    def b_finish(self, order: Uuid, state: OrderState, message: str = "") -> None:
        """B's provider takes an order to done (approving it first if need be), erred or rejected."""
        current = order_of(self.b.call("GET", f"marketplace-orders/{order}/")).state
        if state == OrderState.REJECTED:
            self.b.call("POST", f"marketplace-orders/{order}/reject_by_provider/",
                        {"provider_rejection_comment": message})
        elif state == OrderState.ERRED:
            self.b.call("POST", f"marketplace-orders/{order}/set_state_erred/",
                        {"error_message": message, "error_traceback": ""})
        elif state == OrderState.DONE:
            if current == OrderState.PENDING_PROVIDER:
                self.b_approve(order)
            self.b.call("POST", f"marketplace-orders/{order}/set_state_done/")
        else:
            raise ValueError(f"B's provider cannot take an order to {state}")

    def simulate_b_provider(self, *, outcome: str = "done", err_when: tuple[Mapping[str, Any], ...] = ()) -> None:
        """Let the emulator play B's provider: approve at once, finish with ``outcome`` (or erred by rule)."""
        rule = {"delay": 0, "outcome": outcome, "err_when": list(err_when),
                "error_message": "Simulated provider failure."}
        self.b.admin("PUT", f"offerings/{self.federation.b.offering_uuid}/provider-simulation/", rule)

    def b_provider_acts(self) -> None:
        """Apply every due step of the simulated provider now: pending orders end in one call of this."""
        self.b.admin("POST", "provider-simulation/tick/")
        self.b.admin("POST", "provider-simulation/tick/")

    # traffic ------------------------------------------------------------------------------------------------

    def forget_traffic(self) -> None:
        """Start counting the adapter's calls afresh."""
        for side in (self.a, self.b):
            side.traffic.calls.clear()
            side.requests.clear()

    def problems(self) -> list[str]:
        """Every schema problem of the adapter's traffic so far."""
        return [*self.a.traffic.problems, *self.b.traffic.problems]

    def close(self) -> None:
        """Release clients and servers."""
        self.a.close()
        self.b.close()


def federate(
    *,
    over_tcp: bool | str = False,
    retry: RetryPolicy | None = None,
    timeouts: Timeouts | None = None,
    a_components: tuple[str, ...] = ("cpu",),
    b_components: tuple[str, ...] = ("cpu",),
) -> Kit:
    """Two fresh emulators set up as a federation through REST (:func:`build_federation`), and the adapter over them.

    Both offerings are ``Marketplace.Slurm`` with limit components; fedcore's token on A is OFFERING.MANAGER of
    A's offering, on B the owner of the organisation it orders under.

    ``over_tcp`` serves both emulators (True) or one ("A" or "B") on 127.0.0.1, and the adapter's client for that
    side is then :func:`make_client`'s own, over TCP.
    """
    emulators = {name: Emulator(staff_token=token) for name, token in STAFF_TOKENS.items()}
    plain = {name: httpx.Client(base_url=f"http://waldur-{name.lower()}", transport=e.transport(),
                                headers={"Authorization": f"Token {STAFF_TOKENS[name]}"})
             for name, e in emulators.items()}
    with plain["A"], plain["B"]:
        federation = build_federation(plain["A"], plain["B"], a_components=a_components, b_components=b_components)
    policy = retry or RetryPolicy.instant()
    served = {"A", "B"} if over_tcp is True else {over_tcp} if over_tcp else set()
    a = _side("A", emulators["A"], federation.a.agent_token, over_tcp="A" in served, retry=policy, timeouts=timeouts)
    b = _side("B", emulators["B"], federation.b.agent_token, over_tcp="B" in served, retry=policy, timeouts=timeouts)
    source = SourceMarketplace(a.http, normalize_uuid(federation.a.offering_uuid))
    target = TargetMarketplace(b.http, normalize_uuid(federation.b.offering_uuid),
                               normalize_uuid(federation.b_customer_uuid))
    return Kit(a, b, federation, source, target)
