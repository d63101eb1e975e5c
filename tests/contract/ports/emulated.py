"""Two emulated Waldurs federated through their REST APIs, seen through fedcore's REST adapter.

:func:`federate` builds A and B with :func:`waldur_emulator.federation.build_federation` (staff clients, the
emulators' own rules) and gives the adapter one :class:`WaldurHttp` per side with the agent's token, as a
configuration would. In-process, every request and response of the adapter passes a :class:`ValidatingTransport`
against Waldur 8.0.5's schema, and :meth:`Federated.close` fails on any problem; ``socket=True`` serves both
emulators on ``127.0.0.1:0`` and reaches them with :func:`make_client`'s own client over TCP instead, whose event
hooks run the same checks (:class:`SchemaHooks`).

Set-up traffic (staff, and the emulator's ``/api/emulator/`` admin API) goes through :class:`Staff`, not through
the adapter, and is not schema-checked: it stands in for what operators and users do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import httpx

from adapters.waldur import RetryPolicy, WaldurHttp, make_client
from contract.openapi_check import SchemaChecker, ValidatingTransport, load_spec
from contract.rest_kit import HookTraffic
from fedcore.ids import Uuid, normalize_uuid
from waldur_emulator import Emulator, ServerHandle
from waldur_emulator.federation import Federation, build_federation

STAFF_TOKENS = {"A": "staff-a-" + "0" * 32, "B": "staff-b-" + "1" * 32}
HOSTS = {"A": "http://waldur-a", "B": "http://waldur-b"}


class Staff:
    """One emulator's staff user over REST (paths from ``/api/``), failing loudly on an unexpected status."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def call(self, method: str, path: str, body: object = None, *, expect: int = 200, params: Any = None) -> Any:
        """One request; its JSON answer (None when empty)."""
        response = self.client.request(method, path, json=body, params=params)
        assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text[:300]}"
        return response.json() if response.content else None

    def url(self, path: str) -> str:
        """The absolute URL of an API object (``customers/{uuid}/``)."""
        return f"{self.client.base_url}api/{path}"


@attrs.define
class Federated:
    """The federation, each side's staff, and the adapter's HTTP per side (agent tokens)."""

    federation: Federation
    staff: dict[str, Staff]
    http: dict[str, WaldurHttp]
    transports: list[ValidatingTransport | HookTraffic] = attrs.Factory(list)
    servers: list[ServerHandle] = attrs.Factory(list)
    clients: list[httpx.Client] = attrs.Factory(list)

    def offering(self, side: str) -> Uuid:
        """The federated offering of one side."""
        return normalize_uuid((self.federation.a if side == "A" else self.federation.b).offering_uuid)

    def close(self) -> None:
        """Release clients and servers; fail listing every schema problem the adapter's traffic showed."""
        for client in self.clients:
            client.close()
        for server in self.servers:
            server.stop()
        problems = [problem for transport in self.transports for problem in transport.problems]
        assert not problems, "the adapter's traffic broke Waldur's schema:\n" + "\n".join(problems)


def federate(*, components: Sequence[str], socket: bool = False, isd_source: str = "isd:federation") -> Federated:
    """Two fresh emulators set up for a federation, both offerings with ``components``."""
    emulators = {side: Emulator(staff_token=token) for side, token in STAFF_TOKENS.items()}
    clients = [
        httpx.Client(transport=emulators[side].transport(), base_url=HOSTS[side],
                     headers={"Authorization": f"Token {STAFF_TOKENS[side]}"})
        for side in ("A", "B")
    ]
    staff = {"A": Staff(clients[0]), "B": Staff(clients[1])}
    federation = build_federation(clients[0], clients[1], a_components=tuple(components),
                                  b_components=tuple(components), isd_source=isd_source)
    tokens = {"A": federation.a.agent_token, "B": federation.b.agent_token}
    made = Federated(federation, staff, {}, clients=clients)
    checker = SchemaChecker(load_spec())
    for side, emulator in emulators.items():
        if socket:
            server = emulator.serve("127.0.0.1", 0)
            made.servers.append(server)
            client = make_client(f"{server.base_url}/api/", tokens[side], name=f"emulated {side}")
            hooks = HookTraffic(checker)
            hooks.install(client)
            made.transports.append(hooks)
        else:
            transport = ValidatingTransport(emulator.transport(), checker)
            made.transports.append(transport)
            client = make_client(f"{HOSTS[side]}/api/", tokens[side], transport=transport)
        made.clients.append(client)
        made.http[side] = WaldurHttp(client, side=side, retry=RetryPolicy.instant())
    return made
