"""The ``Emulator``: one in-memory Waldur 8.0.5, as a WSGI application, a real HTTP server or an httpx transport."""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

from . import (
    api_admin,
    api_agents,
    api_bridge,
    api_events,
    api_identity,
    api_offering_users,
    api_offerings,
    api_orders,
    api_provider,
    api_roles,
    api_usage,
    api_users,
)
from .core import Clock, Core, system_clock
from .events import EventBus, NullEventBus
from .faults import FaultInjector, FaultRule
from .records import User
from .server import ServerHandle
from .simulation import ProviderSimulation, SimulationRule
from .store import State
from .web import ApiError, Query, Request, Response, Router

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
DROP_HEADER = "X-Emulator-Dropped"
_SERVER_ERROR = b"<h1>Server Error (500)</h1>"


class Emulator:
    """An independent emulated Waldur: its own state, staff user, faults and provider simulation.

    ``Emulator(staff_token="...")`` creates a staff user ``staff`` with that token. Several instances in one
    process share nothing.

    ``consumer_event_access`` turns on EVENTS.md's rule 2 (events for the subscriber's own projects without
    provider access). It is off by default: seed 000 showed an 8.0.5 server without it (an identity manager who
    owned the consumer organisation stopped receiving offering-user events once its managed_isds was cleared).
    """

    def __init__(
        self,
        *,
        staff_token: str,
        event_bus: EventBus | None = None,
        clock: Clock = system_clock,
        seed: int | None = None,
        known_cuids: Mapping[str, Mapping[str, Any]] | None = None,
        staff_username: str = "staff",
        consumer_event_access: bool = False,
    ) -> None:
        self.core = Core(bus=event_bus if event_bus is not None else NullEventBus(), clock=clock, seed=seed)
        self.core.consumer_event_access = consumer_event_access
        self.faults = FaultInjector(seed)
        self.router = Router()
        api_roles.install_builtin_roles(self.core)
        self._users = api_users.UsersApi(self.core)
        self._users.register(self.router)
        api_identity.IdentityApi(self.core).register(self.router)
        api_roles.RolesApi(self.core).register(self.router)
        self._orders = api_orders.OrdersApi(self.core)
        self.simulation = ProviderSimulation(self.core)
        api_offerings.OfferingsApi(self.core).register(self.router)
        self._orders.register(self.router)
        api_offering_users.OfferingUsersApi(self.core).register(self.router)
        api_usage.UsageApi(self.core).register(self.router)
        api_provider.ProviderApi(self.core).register(self.router)
        api_bridge.BridgeApi(self.core).register(self.router)
        events = api_events.EventsApi(self.core)
        events.register(self.router)
        api_agents.AgentsApi(self.core, events).register(self.router)
        api_admin.AdminApi(self.core, self.faults, self.simulation).register(self.router)
        self.staff = self._users.create_user(
            Request("POST", "/", Query(""), {}, json.dumps({"username": staff_username}).encode(), ""),
            is_staff=True,
            token=staff_token,
        )
        self.staff.first_name, self.staff.last_name = "Staff", "User"
        for cuid, attributes in (known_cuids or {}).items():
            self.core.state.learn_cuid(cuid, dict(attributes))

    @property
    def state(self) -> State:
        """The live state (for assertions in tests; mutate only through the API or ``locked``)."""
        return self.core.state

    @property
    def bus(self) -> EventBus:
        """The event bus this instance publishes to."""
        return self.core.bus

    def locked(self) -> threading.RLock:
        """The state lock, for tests that inspect or prepare state directly."""
        return self.core.lock

    def add_fault(self, rule: FaultRule) -> FaultRule:
        """Inject a fault from the next request on."""
        return self.faults.add(rule)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self.faults.clear()

    def simulate_provider(self, offering_uuid: str, rule: SimulationRule | None) -> None:
        """Play (or with None stop playing) the service provider of an offering."""
        self.simulation.configure(offering_uuid, rule)

    def add_known_cuid(self, cuid: str, attributes: Mapping[str, Any] | None = None) -> None:
        """Make ``POST /api/remote-eduteams/`` know a CUID."""
        with self.core.lock:
            self.core.state.learn_cuid(cuid, dict(attributes or {}))

    def user_by_token(self, token: str) -> User | None:
        """The user owning a token, if any."""
        return self.core.state.users.get(self.core.state.tokens.get(token, ""))

    # --- HTTP ------------------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Authenticate and dispatch one request under the state lock; publish its events afterwards."""
        core = self.core
        with core.lock:
            pending: list[Callable[[], None]] = []
            core.after_commit = pending
            try:
                handler, params = self.router.resolve(request.method, request.path)
                request.params = params
                request.user = core.authenticate(request.headers.get("authorization"))
                response = handler(request)
            except ApiError as exc:
                response = Response(exc.status, exc.body)
            finally:
                core.after_commit = []
        for action in pending:
            action()
        return response

    def wsgi_app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI entry point."""
        method = environ["REQUEST_METHOD"].upper()
        path = environ.get("PATH_INFO", "") or "/"
        decision = self.faults.decide(method, path)
        if decision.latency:
            time.sleep(decision.latency)
        if decision.kind == "timeout":
            time.sleep(decision.timeout_seconds)
            return self._drop(start_response)
        if decision.kind == "drop":
            return self._drop(start_response)
        if decision.kind == "error":
            return self._send(start_response, Response(decision.status, {"detail": "Injected fault."}), method)
        length = environ.get("CONTENT_LENGTH") or "0"
        body = environ["wsgi.input"].read(int(length)) if length.isdigit() and int(length) > 0 else b""
        host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        request = Request(
            method,
            path,
            Query(environ.get("QUERY_STRING", "")),
            headers,
            body,
            f"{environ.get('wsgi.url_scheme', 'http')}://{host}",
        )
        request.headers = {**headers, "x-remote-addr": environ.get("REMOTE_ADDR", "127.0.0.1")}
        try:
            response = self.handle(request)
        except Exception:  # a bug in a handler: answer like Django does and keep serving
            traceback.print_exc(file=sys.stderr)
            return self._raw(start_response, 500, _SERVER_ERROR, "text/html")
        if decision.kind == "apply_then_fail" and response.status < 400:
            return self._raw(start_response, 500, _SERVER_ERROR, "text/html")
        return self._send(start_response, response, method)

    def _send(self, start_response: StartResponse, response: Response, method: str) -> Iterable[bytes]:
        payload = b"" if response.body is None else json.dumps(response.body).encode()
        headers = [("Content-Type", "application/json"), ("Allow", "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS")]
        headers += response.headers
        if method == "HEAD":
            headers.append(("Content-Length", "0"))
            payload = b""
        else:
            headers.append(("Content-Length", str(len(payload))))
        start_response(f"{response.status} {_REASONS.get(response.status, 'Unknown')}", headers)
        return [payload]

    def _raw(self, start_response: StartResponse, status: int, payload: bytes, content_type: str) -> Iterable[bytes]:
        start_response(
            f"{status} {_REASONS.get(status, 'Unknown')}",
            [("Content-Type", content_type), ("Content-Length", str(len(payload)))],
        )
        return [payload]

    def _drop(self, start_response: StartResponse) -> Iterable[bytes]:
        # Promise a body and send none: the server closes the connection mid-response, which clients see as a
        # dropped connection. The marker header lets the in-process transport raise the same error.
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "64"), (DROP_HEADER, "1")])
        return [b""]

    def transport(self) -> httpx.BaseTransport:
        """An httpx transport calling this emulator in-process (base URL ``http://emulator``)."""
        return _InProcessTransport(httpx.WSGITransport(app=self.wsgi_app))

    def serve(self, host: str = "127.0.0.1", port: int = 0, *, threads: int = 8) -> ServerHandle:
        """Serve over a real socket with waitress in a background thread; returns a running handle."""
        return ServerHandle.start(self.wsgi_app, host, port, threads=threads)


class _InProcessTransport(httpx.BaseTransport):
    def __init__(self, inner: httpx.WSGITransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if response.headers.get(DROP_HEADER):
            raise httpx.RemoteProtocolError("Server disconnected without sending a complete response.", request=request)
        return response
