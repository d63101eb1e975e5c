"""The demo's world: two emulated Waldurs over real HTTP, federated through their REST APIs, and fedcore wired to
them exactly as a production run is (``RestPorts`` over the two base URLs).

Everything is set up through HTTP with each emulator's staff token: the federation itself
(:func:`waldur_emulator.federation.build_federation`), the people of the consumer project (users named by their
CUIDs, as eduTEAMS names them), and B's service provider, played by the emulator's provider simulation.
:func:`start_world` does the I/O; :class:`DemoWorld` only holds what it made.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import httpx
from attrs import frozen

from adapters.config import FedcoreConfig, parse_config
from runners.sandbox import federation_config, with_events
from runners.wiring import Mode, OfferingServices, RestPorts, build_mode
from waldur_emulator import Emulator
from waldur_emulator.events import RabbitEventBus
from waldur_emulator.federation import Federation, build_federation
from waldur_emulator.server import ServerHandle

OFFERING_NAME = "HPC via Waldur B"
TIMEOUT = httpx.Timeout(10.0)


class DemoError(RuntimeError):
    """A step of the demo did not go as expected (a call refused, a state not reached in time)."""


@frozen
class Person:
    """Someone in the consumer project on A: named on A by their CUID, given an account name by B's provider."""

    name: str
    cuid: str
    role: str
    b_username: str
    uuid: str
    token: str


@frozen
class DemoWorld:
    """The running emulators, their staff clients, the federation, its people, and fedcore's configuration."""

    a: Emulator
    b: Emulator
    a_server: ServerHandle
    b_server: ServerHandle
    a_staff_token: str
    b_staff_token: str
    staff_a: httpx.Client
    staff_b: httpx.Client
    fed: Federation
    people: Mapping[str, Person]
    config_data: Mapping[str, Any]
    config: FedcoreConfig
    ports: RestPorts
    buses: tuple[RabbitEventBus, ...] = ()
    """The emulators' event buses when the demo runs on events (empty: polling)."""

    @property
    def events(self) -> bool:
        """Whether the emulators publish events (and the configuration enables them)."""
        return bool(self.buses)

    @property
    def a_api(self) -> str:
        """Waldur A's API root (``http://127.0.0.1:PORT/api/``)."""
        return f"{self.a_server.base_url}/api/"

    @property
    def b_api(self) -> str:
        """Waldur B's API root."""
        return f"{self.b_server.base_url}/api/"

    def services(self) -> dict[Mode, OfferingServices]:
        """fedcore's services for the demo offering, one wiring per mode (all sharing the two HTTP clients)."""
        return {mode: build_mode(self.config, mode, ports=self.ports)[0] for mode in Mode}

    def client_as(self, person: Person) -> httpx.Client:
        """A client of Waldur A with ``person``'s own token: what their browser or script would use."""
        return httpx.Client(base_url=self.a_server.base_url, headers={"Authorization": f"Token {person.token}"},
                            timeout=TIMEOUT)

    def close(self) -> None:
        """Close fedcore's clients, the staff clients, the provider simulations and both servers."""
        self.ports.close()
        self.staff_a.close()
        self.staff_b.close()
        for emulator, server in ((self.a, self.a_server), (self.b, self.b_server)):
            emulator.simulation.stop()
            server.stop()
        for bus in self.buses:
            bus.close()


def broker_problem(timeout: float = 1.0) -> str | None:
    """Why the local broker (``scripts/broker``: management on 15672, Web-STOMP on 15674) cannot carry the demo's
    events, or None when it can."""
    try:
        with httpx.Client(timeout=timeout) as client:
            overview = client.get("http://127.0.0.1:15672/api/overview", auth=("guest", "guest"))
            if overview.status_code != 200:
                return f"RabbitMQ's management API answered {overview.status_code}"
            upgrade = client.get("http://127.0.0.1:15674/ws")
            if upgrade.status_code != 426:
                return f"no Web-STOMP endpoint at ws://127.0.0.1:15674/ws (HTTP {upgrade.status_code})"
    except httpx.HTTPError as exc:
        return f"no RabbitMQ on 127.0.0.1 ({type(exc).__name__})"
    return None


def call(client: httpx.Client, method: str, path: str, body: Any = None, *, expect: int = 200) -> Any:
    """One API call that must answer ``expect``; its JSON (None for an empty body). DemoError otherwise."""
    response = client.request(method, path, json=body)
    if response.status_code != expect:
        raise DemoError(f"{method} {client.base_url}{path} answered {response.status_code}, expected {expect}: "
                        f"{response.text[:300]}")
    return response.json() if response.content else None


def _staff_client(server: ServerHandle, token: str) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Token {token}"}, timeout=TIMEOUT)


_PEOPLE = (
    # name, CUID (A's username), A project role, the account name B's provider gives them
    ("Alice Archer", "alice-7f3a9c@eduteams.org", "PROJECT.MANAGER", "hpc_alice"),
    ("Bob Baker", "bob-21c94e@eduteams.org", "PROJECT.MEMBER", "hpc_bob"),
)


def _person(staff_a: httpx.Client, name: str, cuid: str, role: str, b_username: str) -> Person:
    first, last = name.split(" ", 1)
    email = f"{first.lower()}@example.org"
    made = call(staff_a, "POST", "/api/users/", {"username": cuid, "email": email, "first_name": first,
                                                 "last_name": last, "organization": "Consumer university"},
                expect=201)
    return Person(first.lower(), cuid, role, b_username, made["uuid"], made["token"])


def start_world(*, provider_delay: float = 0.6, host: str = "127.0.0.1", events: bool = False) -> DemoWorld:
    """Serve two emulators on free ports, federate them, add the consumer project's people, play B's provider.

    Alice (project manager) is in the project's team from the start; Bob exists on A and joins during the story.
    The user ``build_federation`` made to place orders is only the consumer organisation's owner here, so the
    team is made of people with CUIDs. B's provider approves each order at once and finishes it
    ``provider_delay`` seconds later. ``events``: both emulators publish through the local RabbitMQ, B lets its
    consumers receive their orders' events, and the configuration enables STOMP on both sides.
    """
    a_token, b_token = secrets.token_hex(20), secrets.token_hex(20)
    buses = (RabbitEventBus(), RabbitEventBus()) if events else ()
    a = Emulator(staff_token=a_token, event_bus=buses[0] if buses else None)
    b = Emulator(staff_token=b_token, event_bus=buses[1] if buses else None, consumer_event_access=events)
    a_server = a.serve(host, 0)
    b_server = b.serve(host, 0)
    staff_a, staff_b = _staff_client(a_server, a_token), _staff_client(b_server, b_token)
    try:
        fed = build_federation(staff_a, staff_b)
        project = fed.consumer_project_uuid
        orderer = call(staff_a, "GET", "/api/users/?username=orderer")[0]
        call(staff_a, "POST", f"/api/projects/{project}/delete_user/", {"role": "PROJECT.ADMIN",
                                                                         "user": orderer["uuid"]})
        people = {p.name: p for p in (_person(staff_a, *row) for row in _PEOPLE)}
        alice = people["alice"]
        call(staff_a, "POST", f"/api/projects/{project}/add_user/", {"role": alice.role, "user": alice.uuid},
             expect=201)
        call(staff_b, "PUT", f"/api/emulator/offerings/{fed.b.offering_uuid}/provider-simulation/",
             {"delay": provider_delay, "outcome": "done"})
        data = federation_config(fed, f"{a_server.base_url}/api/", f"{b_server.base_url}/api/", name=OFFERING_NAME)
        if events:
            with_events(data)
        config = parse_config(data)
    except BaseException:
        for client in (staff_a, staff_b):
            client.close()
        for emulator, server in ((a, a_server), (b, b_server)):
            emulator.simulation.stop()
            server.stop()
        for bus in buses:
            bus.close()
        raise
    return DemoWorld(a, b, a_server, b_server, a_token, b_token, staff_a, staff_b, fed, people, data, config,
                     RestPorts(config), buses)
