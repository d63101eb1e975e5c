"""Ports over Waldur's REST API, built from the configuration: the factory the daemon and the CLI use.

One :class:`httpx.Client` per Waldur server and token is shared by every offering and every port that talks to
it (:class:`RestPorts` keeps them and closes them). Tests and the demo pass in-process transports by API URL.
An optional observer (the daemon's telemetry) hears of every call, the server named by :func:`server_label`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx

from adapters.clock import SystemClock
from adapters.config import FedcoreConfig, OfferingConfig
from adapters.waldur import (
    CallObserver,
    RetryPolicy,
    SourceMarketplace,
    SourceUsage,
    SourceUsers,
    TargetMarketplace,
    TargetUsage,
    TargetUsers,
    Timeouts,
    WaldurHttp,
    make_client,
)
from fedcore.errors import PortError
from runners.wiring.root import Ports


def server_label(api_url: str) -> str:
    """How metrics and readiness name a Waldur server: its host (and port), plus any path before ``api/``.

    ``https://waldur.example.org/api/`` is ``waldur.example.org``; no user information (a secret) is kept.
    """
    parts = urlsplit(api_url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    path = parts.path.strip("/")
    path = path.removesuffix("api").strip("/")
    return f"{host}/{path}" if path else host


class RestPorts:
    """A ports factory over Waldur's REST API for the offerings of one configuration; close it when done.

    ``transports`` maps an API URL (as the configuration normalises it, ``http://host/api/``) to an httpx
    transport that replaces the network for that server (in-process emulators in tests and the demo).
    ``observer`` hears of every call and retry (:class:`~adapters.waldur.CallObserver`).
    """

    def __init__(
        self,
        config: FedcoreConfig,
        *,
        retry: RetryPolicy | None = None,
        transports: Mapping[str, httpx.BaseTransport] | None = None,
        observer: CallObserver | None = None,
    ) -> None:
        timeouts = config.http_timeouts
        self._timeouts = Timeouts(timeouts.connect, timeouts.read, timeouts.write, timeouts.pool)
        self._retry = retry
        self._transports = dict(transports or {})
        self._clients: dict[tuple[str, str], httpx.Client] = {}
        self._lock = threading.Lock()
        self._clock = SystemClock()
        self._observer = observer

    def http(self, side: str, api_url: str, token: str, *, verify: bool, ca_bundle: str | None) -> WaldurHttp:
        """The shared client for one server and token, wrapped for one side."""
        key = (api_url, token)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = make_client(api_url, token, verify=verify, ca_bundle=ca_bundle, timeouts=self._timeouts,
                                     transport=self._transports.get(api_url), name=f"Waldur {side}")
                self._clients[key] = client
        return WaldurHttp(client, side=side, retry=self._retry, observer=self._observer,
                          server=server_label(api_url))

    def __call__(self, offering: OfferingConfig) -> Ports:
        """The ports of one offering."""
        target = offering.backend_settings
        a = self.http("A", offering.waldur_api_url, offering.waldur_api_token.reveal(),
                      verify=offering.verify_ssl, ca_bundle=offering.ca_bundle)
        b = self.http("B", target.target_api_url, target.target_api_token.reveal(),
                      verify=target.target_verify_ssl, ca_bundle=target.target_ca_bundle)
        a_market = SourceMarketplace(a, offering.waldur_offering_uuid)
        b_market = TargetMarketplace(b, target.target_offering_uuid, target.target_customer_uuid)
        return Ports(
            a_orders=a_market,
            a_resources=a_market,
            a_users=SourceUsers(a, offering.waldur_offering_uuid),
            a_usage=SourceUsage(a),
            b_orders=b_market,
            b_resources=b_market,
            b_projects=b_market,
            b_users=TargetUsers(b, target.target_offering_uuid),
            b_usage=TargetUsage(b),
            clock=self._clock,
        )

    def probe(self) -> dict[str, str | None]:
        """Ask every server this factory talks to who its token is (``GET users/me/?field=username``).

        Server label -> None when it answered, else the error (no token in it). The daemon calls this at start so
        that readiness and ``fedcore_server_up`` know both sides at once, not only after the first order.
        """
        with self._lock:
            targets = dict(self._clients)
        results: dict[str, str | None] = {}
        for (api_url, _token), client in targets.items():
            http = WaldurHttp(client, side=server_label(api_url), retry=RetryPolicy.never(), observer=self._observer,
                              server=server_label(api_url))
            try:
                http.get("users/me/", fields=("username",))
            except PortError as exc:
                results[server_label(api_url)] = str(exc)
            else:
                results[server_label(api_url)] = None
        return results

    def close(self) -> None:
        """Close every client (their pooled connections)."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()
