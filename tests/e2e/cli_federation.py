"""Two emulated Waldurs served over real HTTP as a federation, and the ``fedcore`` command line as a subprocess.

For the end-to-end tests of ``fedcore validate`` and ``fedcore status``: the emulators run in the test process
(``Emulator.serve()`` on 127.0.0.1:0), are set up through their REST APIs (``build_federation``), and the
configuration is the sandbox's (``runners.sandbox.federation_config``) written to a YAML file. Orders travel
through fedcore's own order service over HTTP, so the resources status compares are linked exactly as the
daemon links them.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml

from adapters.config import parse_config
from adapters.waldur import RetryPolicy
from runners.sandbox import federation_config
from runners.wiring import Mode, RestPorts, build_mode
from waldur_emulator import Emulator
from waldur_emulator.federation import Federation, build_federation, place_order
from waldur_emulator.seeding import Created, Seeder

CLI_TIMEOUT = 60.0


def fedcore(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m runners.cli ARGS`` as a real process; its exit code, stdout and stderr."""
    return subprocess.run([sys.executable, "-m", "runners.cli", *args], capture_output=True, text=True,
                          timeout=CLI_TIMEOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, check=False)


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (a port bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/"


class ServedFederation:
    """Waldur A and Waldur B over HTTP, set up as a federation, with staff clients and helpers to act on them."""

    def __init__(self) -> None:
        tokens = f"staff-a-{secrets.token_hex(16)}", f"staff-b-{secrets.token_hex(16)}"
        self.a, self.b = Emulator(staff_token=tokens[0]), Emulator(staff_token=tokens[1])
        self.servers = self.a.serve(), self.b.serve()
        self.a_api, self.b_api = (f"{s.base_url}/api/" for s in self.servers)
        self.staff_a, self.staff_b = (
            httpx.Client(base_url=s.base_url, headers={"Authorization": f"Token {t}"}, timeout=10)
            for s, t in zip(self.servers, tokens, strict=True))
        self.fed: Federation = build_federation(self.staff_a, self.staff_b)
        self.seed_a, self.seed_b = Seeder(self.staff_a), Seeder(self.staff_b)

    def config(self, name: str = "HPC via Waldur B") -> dict[str, Any]:
        """The sandbox configuration of this federation (one offering), TLS verification left on."""
        data = federation_config(self.fed, self.a_api, self.b_api, name=name)
        data["offerings"][0].update(verify_ssl=True)
        data["offerings"][0]["backend_settings"].update(target_verify_ssl=True)
        return data

    def secrets(self) -> list[str]:
        """Every token a test's output must not show."""
        return [self.fed.a.agent_token, self.fed.b.agent_token, self.fed.consumer_token]

    def order(self, limits: dict[str, int], name: str) -> str:
        """A Create order on A placed by the consumer; its UUID."""
        return str(place_order(self.staff_a, self.fed, limits, name)["uuid"])

    def order_pass(self) -> None:
        """One pass of fedcore's order service over HTTP, as the daemon runs it."""
        config = parse_config(self.config())
        ports = RestPorts(config, retry=RetryPolicy.instant())
        try:
            for services in build_mode(config, Mode.ORDER_PROCESS, ports=ports):
                services.orders.run_pass()
        finally:
            ports.close()

    def b_order_of(self, a_order: str) -> dict[str, Any]:
        """The B order fedcore linked to an A order."""
        link = self.staff_a.get(f"/api/marketplace-orders/{a_order}/").json()["backend_id"]
        answer: dict[str, Any] = self.staff_b.get(f"/api/marketplace-orders/{link}/").json()
        return answer

    def b_action(self, path: str, body: dict[str, Any] | None = None, expect: int = 200) -> None:
        """A staff action on B (``marketplace-orders/{uuid}/set_state_done/``, ...)."""
        answer = self.staff_b.post(f"/api/{path}", json=body)
        assert answer.status_code == expect, answer.text

    def extra_a_offering(self, name: str, *, manager: str | None) -> str:
        """Another offering of A's provider (node_hours and storage), ``manager`` (a user UUID) its OFFERING.MANAGER."""
        data = self.staff_a.get(f"/api/customers/{self.fed.a.provider_customer_uuid}/").json()
        provider = Created(data["uuid"], data["url"], data)
        offering, _ = self.seed_a.offering(provider, self.seed_a.category(name), name,
                                           components=("node_hours", "storage"))
        if manager is not None:
            self.seed_a.role("marketplace-provider-offerings", offering.uuid, manager, "OFFERING.MANAGER")
        return offering.uuid

    def admin_resource(self, side: str, offering_uuid: str, project_uuid: str, name: str, **fields: Any) -> str:
        """A resource made directly through the emulator's admin API (``side`` "A" or "B"); its UUID."""
        client = self.staff_a if side == "A" else self.staff_b
        body = {"offering": offering_uuid, "project": project_uuid, "name": name, **fields}
        made = client.post("/api/emulator/resources/", json=body)
        assert made.status_code == 201, made.text
        return str(made.json()["uuid"])

    def write(self, directory: Path, data: dict[str, Any], name: str = "config.yaml") -> Path:
        """``data`` as a YAML file in ``directory``."""
        path = directory / name
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    def close(self) -> None:
        """Stop both servers and close the clients."""
        for client in (self.staff_a, self.staff_b):
            client.close()
        for server in self.servers:
            server.stop()
