"""The metrics and health HTTP server of a running fedcore (the standard library's threading HTTP server).

- ``/metrics``: the Prometheus registry, in the text format (or OpenMetrics when the scraper asks for it);
- ``/healthz``: 200 ``{"status": "alive"}`` while the process serves requests;
- ``/readyz``: 200 when the configuration is loaded and both servers of every offering answered their latest
  call; otherwise 503 with ``{"status": "not ready", "reasons": [...]}``, one reason per problem.

The server runs in one daemon thread plus a thread per request; it only reads what the telemetry recorded and
never calls Waldur itself.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

log = logging.getLogger(__name__)

ServerStates = Callable[[], Mapping[str, tuple[bool, float]]]
"""Per server: whether its latest call got an answer, and when (Unix time)."""

SIDES = ("A", "B")

POLL_SECONDS = 0.1
"""How often the serving thread looks for :meth:`HealthServer.close` (the standard library's default is 0.5 s)."""


class Readiness:
    """Whether fedcore is ready: its configuration is loaded and every offering's servers answered their latest
    call. ``states`` reads what the telemetry recorded; ``clock`` (Unix time) only dates the reasons."""

    def __init__(self, states: ServerStates, *, clock: Callable[[], float] | None = None) -> None:
        self._states = states
        self._clock = clock
        self._lock = threading.Lock()
        self._servers: dict[str, tuple[str, ...]] | None = None
        self._checks: list[Callable[[], tuple[bool, list[str]]]] = []

    def add_check(self, check: Callable[[], tuple[bool, list[str]]]) -> None:
        """Another condition of readiness (event mode: every offering on events), with its reasons."""
        with self._lock:
            self._checks.append(check)

    def config_loaded(self, servers: Mapping[str, tuple[str, ...]]) -> None:
        """The configuration is loaded; ``servers`` maps each served offering to its A and B servers."""
        with self._lock:
            self._servers = {offering: tuple(pair) for offering, pair in servers.items()}

    def check(self) -> tuple[bool, list[str]]:
        """(ready, reasons it is not): one reason per offering server that has not answered."""
        with self._lock:
            servers = self._servers
        if servers is None:
            return False, ["the configuration is not loaded yet"]
        states = self._states()
        reasons = []
        for offering, pair in servers.items():
            for side, server in zip(SIDES, pair, strict=True):
                state = states.get(server)
                if state is None:
                    reasons.append(f"{offering}: Waldur {side} ({server}) has not been called yet")
                elif not state[0]:
                    reasons.append(f"{offering}: Waldur {side} ({server}) did not answer its latest call"
                                   f"{self._ago(state[1])}")
        with self._lock:
            checks = list(self._checks)
        for check in checks:
            reasons += check()[1]
        return not reasons, reasons

    def _ago(self, at: float) -> str:
        return f" ({max(0.0, self._clock() - at):.0f} s ago)" if self._clock is not None else ""


class HealthServer:
    """Serves ``registry`` and ``readiness`` over HTTP on ``host``:``port`` (0: a free port, see :attr:`port`)
    from a daemon thread, from construction until :meth:`close`."""

    def __init__(self, registry: CollectorRegistry, readiness: Readiness, *, host: str = "0.0.0.0",
                 port: int = 0) -> None:
        self._http = ThreadingHTTPServer((host, port), _handler(registry, readiness))
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, args=(POLL_SECONDS,),
                                        name="fedcore-metrics", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._http.server_address[1])

    @property
    def url(self) -> str:
        """``http://host:port`` (loopback when listening on every interface)."""
        host = str(self._http.server_address[0])
        return f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{self.port}"

    def close(self) -> None:
        """Stop serving and release the port."""
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()


def _handler(registry: CollectorRegistry, readiness: Readiness) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """Answers the three paths; anything else is a 404."""

        server_version = "fedcore"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                self._send(HTTPStatus.OK, content_type, encoder(registry))
            elif path == "/healthz":
                self._json(HTTPStatus.OK, {"status": "alive"})
            elif path == "/readyz":
                ready, reasons = readiness.check()
                if ready:
                    self._json(HTTPStatus.OK, {"status": "ready"})
                else:
                    self._json(HTTPStatus.SERVICE_UNAVAILABLE, {"status": "not ready", "reasons": reasons})
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": "not found; try /metrics, /healthz or /readyz"})

        def _json(self, status: HTTPStatus, body: dict[str, Any]) -> None:
            self._send(status, "application/json", json.dumps(body).encode())

        def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("metrics server: " + format, *args)

    return Handler
