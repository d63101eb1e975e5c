"""Seed 001's federation, as a *site*: two emulated Waldurs served here, or the real ones the seed's environment names.

A :class:`Site` is everything seed 001's tests do to a federation, through public interfaces only: the ``fedcore``
command line as a subprocess, and the Waldurs' REST APIs (orders placed on A as a user would; B's service provider
played through ``approve_by_provider`` / ``set_state_done``). Two kinds:

- :class:`EmulatedSite`: Waldur A and Waldur B emulated over real HTTP (``run_world.World``), staff powers on both,
  so B's provider is played at once and faults can be injected through the emulators' admin API.
- :class:`LiveSite`: the Waldurs of ``WALDUR_E2E_CONFIG``, orders placed in ``WALDUR_E2E_PROJECT_A_UUID``, with
  the tokens of the configuration only. B's orders are finished by B's own provider (the seed's auto-approval is
  tried with fedcore's B token, as its ``AutoApproveWaldurBackend`` does); there are no staff powers, so whatever
  needs them is skipped with :data:`NEEDS_STAFF` as the reason.

:func:`site_from_environment` picks one: live when ``WALDUR_E2E_TESTS`` is set (``1``, ``true``, ``yes``).
``python tests/e2e/seed001_kit.py`` rehearses the live path against two emulators standing in for real Waldurs
(:func:`rehearse_live`).
"""

from __future__ import annotations

import abc
import os
import subprocess
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import yaml
from run_world import Fedcore, World, until

TERMINAL = ("done", "erred", "canceled", "rejected")
NEEDS_STAFF = ("a live run has no staff powers on the Waldurs (fault injection, the emulators' admin API, "
               "the broker's management API); emulated only")
MANAGEMENT = os.environ.get("FEDCORE_BROKER_MANAGEMENT_URL", "http://127.0.0.1:15672")


def live_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the seed's gate asks for real Waldurs."""
    return environ.get("WALDUR_E2E_TESTS", "").strip().lower() in ("1", "true", "yes")


def expected_b_limits(components: Mapping[str, Any], limits: Mapping[str, int]) -> dict[str, float]:
    """What B's limits must be for A's ``limits`` under the configuration's ``backend_components``: each target
    component gets ``value * factor`` (summed when several A components feed it); an A component without
    ``target_components`` passes through under its own name."""
    out: dict[str, float] = {}
    for name, value in limits.items():
        targets = (components.get(name) or {}).get("target_components") or {name: {"factor": 1}}
        for target, spec in targets.items():
            out[target] = out.get(target, 0) + value * float((spec or {}).get("factor", 1))
    return out


def same_limits(actual: Mapping[str, Any], expected: Mapping[str, float]) -> bool:
    """Limits equal up to Waldur's integer or float rendering."""
    return set(actual) == set(expected) and all(abs(float(actual[k]) - v) < 1e-6 for k, v in expected.items())


def bare(uuid: str) -> str:
    """A UUID as 32 lower-case hex digits (fedcore writes bare ones; Waldur's UI hyphenated ones)."""
    return uuid.strip().replace("-", "").lower()


class Site(abc.ABC):
    """A federation seed 001 runs against. ``a``/``b`` read (and ``orderer`` orders) over REST."""

    live: bool
    deadline: float
    """Seconds an order may take from A to B and back."""
    max_passes: int
    """Processor cycles :meth:`drive` runs at most (the seed's ``_run_processor_until_order_terminal``: 15)."""

    def __init__(self, config: dict[str, Any], config_path: str, *, a: httpx.Client, b: httpx.Client,
                 orderer: httpx.Client, project_uuid: str, fedcore: Fedcore) -> None:
        self.config, self.config_path = config, config_path
        self.a, self.b, self.orderer = a, b, orderer
        self.project_uuid = project_uuid
        self.fedcore = fedcore

    # --- the configuration ---------------------------------------------------------------------------------

    @property
    def offering(self) -> dict[str, Any]:
        """The first offering of the configuration (the seed's template has one)."""
        first: dict[str, Any] = self.config["offerings"][0]
        return first

    @property
    def components(self) -> dict[str, Any]:
        """``backend_components`` of the offering."""
        found: dict[str, Any] = self.offering.get("backend_components") or {}
        return found

    def small_limits(self, value: int = 2) -> dict[str, int]:
        """Small test values for every configured component (seed 001, Test 2 step 3)."""
        return dict.fromkeys(self.components, value)

    # --- fedcore, as a process -----------------------------------------------------------------------------

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``fedcore ARGS -c CONFIG``."""
        return self.fedcore.run(*args, "-c", self.config_path, timeout=120)

    def order_pass(self) -> subprocess.CompletedProcess[str]:
        """One ``order_process`` pass (``fedcore run -m order_process --once``)."""
        return self.run("run", "-m", "order_process", "--once")

    # --- Waldur A, as a user -------------------------------------------------------------------------------

    def create(self, limits: Mapping[str, int], name: str, project_uuid: str | None = None) -> str:
        """A Create order for the configured offering on A, placed as the seed places it; its UUID."""
        offering_uuid = self.offering["waldur_offering_uuid"]
        who = self.orderer  # the orderer sees the project; the agent may not
        offering = self._json(who.get(f"/api/marketplace-public-offerings/{offering_uuid}/"))
        plans = who.get(f"/api/marketplace-public-offerings/{offering_uuid}/plans/").json()
        project = self._json(who.get(f"/api/projects/{project_uuid or self.project_uuid}/"))
        body = {"offering": offering["url"], "project": project["url"], "plan": plans[0]["url"],
                "limits": dict(limits), "attributes": {"name": name}, "accepting_terms_of_service": True}
        made = self.orderer.post("/api/marketplace-orders/", json=body)
        assert made.status_code == 201, f"placing a Create order on A: {made.status_code} {made.text[:300]}"
        return str(made.json()["uuid"])

    def update_limits(self, a_resource: str, limits: Mapping[str, int]) -> str:
        """An Update order on A (``update_limits``); its UUID."""
        made = self.orderer.post(f"/api/marketplace-resources/{a_resource}/update_limits/",
                                 json={"limits": dict(limits)})
        assert made.status_code == 200, made.text[:300]
        return str(made.json()["order_uuid"])

    def terminate(self, a_resource: str) -> str:
        """A Terminate order on A; its UUID."""
        made = self.orderer.post(f"/api/marketplace-resources/{a_resource}/terminate/", json={})
        assert made.status_code == 200, made.text[:300]
        return str(made.json()["order_uuid"])

    # --- reads -----------------------------------------------------------------------------------------------

    @staticmethod
    def _json(answer: httpx.Response) -> dict[str, Any]:
        assert answer.status_code == 200, f"{answer.request.url}: {answer.status_code} {answer.text[:300]}"
        body: dict[str, Any] = answer.json()
        return body

    def a_order(self, uuid: str) -> dict[str, Any]:
        """An order as A shows it."""
        return self._json(self.a.get(f"/api/marketplace-orders/{uuid}/"))

    def a_resource(self, uuid: str) -> dict[str, Any]:
        """A resource as A shows it."""
        return self._json(self.a.get(f"/api/marketplace-resources/{uuid}/"))

    def b_order(self, uuid: str) -> dict[str, Any]:
        """An order as B shows it."""
        return self._json(self.b.get(f"/api/marketplace-orders/{bare(uuid)}/"))

    def b_resource(self, uuid: str) -> dict[str, Any] | None:
        """A resource as B shows it at ``uuid`` (None when B answers 404)."""
        answer = self.b.get(f"/api/marketplace-resources/{bare(uuid)}/")
        return None if answer.status_code == 404 else self._json(answer)

    def b_order_of(self, a_order: str) -> str | None:
        """The B order fedcore linked to an A order (the A order's ``backend_id``), if any yet."""
        link = str(self.a_order(a_order).get("backend_id") or "")
        return bare(link) or None

    # --- B's provider ----------------------------------------------------------------------------------------

    @abc.abstractmethod
    def provider_step(self, b_order: str) -> None:
        """Move a B order on as B's service provider would (no-op once it is terminal)."""

    # --- the seed's loop -------------------------------------------------------------------------------------

    def drive(self, *a_orders: str) -> list[subprocess.CompletedProcess[str]]:
        """Seed 001's ``_run_processor_until_order_terminal``: an ``order_process`` pass, then B's provider moves
        every linked B order on, until each A order is terminal. The passes run, in order."""
        passes: list[subprocess.CompletedProcess[str]] = []
        end_states: dict[str, str] = {}

        def step() -> bool:
            passes.append(self.order_pass())
            assert passes[-1].returncode in (0, 1), passes[-1].stderr[-3000:]
            for order in a_orders:
                state = str(self.a_order(order)["state"])
                if state in TERMINAL:
                    end_states[order] = state
                    continue
                linked = self.b_order_of(order)
                if linked is not None:
                    self.provider_step(linked)
            return len(end_states) == len(a_orders) or len(passes) >= self.max_passes

        until(step, "every A order terminal", deadline=self.deadline)
        unfinished = [o for o in a_orders if o not in end_states]
        assert not unfinished, f"not terminal after {len(passes)} passes: {unfinished}"
        return passes

    def close(self) -> None:
        """Release what the site holds."""
        for client in {id(c): c for c in (self.a, self.b, self.orderer)}.values():
            client.close()


class EmulatedSite(Site):
    """Seed 001's federation emulated: ``run_world.World`` (A and B over HTTP, the sandbox configuration)."""

    live = False
    deadline = 60.0
    max_passes = 6  # two suffice: the emulated provider answers at once

    def __init__(self, world: World, config: dict[str, Any] | None = None) -> None:
        self.world = world
        data = config if config is not None else world.config()
        path = world.write_config(data, "seed001.yaml")
        orderer = httpx.Client(base_url=world.handles[0].base_url, timeout=10,
                               headers={"Authorization": f"Token {world.fed.consumer_token}"})
        super().__init__(data, path, a=world.staff_a, b=world.staff_b, orderer=orderer,
                         project_uuid=world.fed.consumer_project_uuid, fedcore=Fedcore())

    def provider_step(self, b_order: str) -> None:
        state = self.b_order(b_order)["state"]
        action = {"pending-provider": "approve_by_provider", "executing": "set_state_done"}.get(state)
        if action is not None:
            answer = self.b.post(f"/api/marketplace-orders/{b_order}/{action}/")
            assert answer.status_code == 200, answer.text
            if action == "approve_by_provider":
                self.provider_step(b_order)

    # --- staff powers: the emulators' admin API ----------------------------------------------------------------

    def client(self, side: str) -> httpx.Client:
        """The staff client of ``side`` ("A" or "B")."""
        return self.a if side == "A" else self.b

    def add_fault(self, side: str, **rule: Any) -> None:
        """A fault rule on ``side`` through ``POST /api/emulator/faults/`` (docs/emulator.md)."""
        answer = self.client(side).post("/api/emulator/faults/", json=rule)
        assert answer.status_code in (200, 201), answer.text

    def faults_injected(self, side: str) -> int:
        """How many faults ``side`` injected so far."""
        return int(self.client(side).get("/api/emulator/faults/").json()["injected"])

    def clear_faults(self, side: str) -> None:
        """Remove every fault rule of ``side``."""
        assert self.client(side).delete("/api/emulator/faults/").status_code in (200, 204)

    def guard_b_backend_ids(self) -> None:
        """From now on, any attempt to set a B resource's ``backend_id`` (the ``set_backend_id`` action, or a
        PUT/PATCH of the resource) is refused with 503 and counted in ``faults_injected("B")``."""
        resources = "^/api/marketplace-(provider-)?resources/[^/]+/"
        self.add_fault("B", path=resources + "set_backend_id/$", method="POST", kind="error", status=503)
        for method in ("PUT", "PATCH"):
            self.add_fault("B", path=resources + "$", method=method, kind="error", status=503)

    def admin_resource(self, side: str, **fields: Any) -> dict[str, Any]:
        """A resource made directly (``POST /api/emulator/resources/``, what Waldur's tests do with the ORM)."""
        made = self.client(side).post("/api/emulator/resources/", json=fields)
        assert made.status_code == 201, made.text
        body: dict[str, Any] = made.json()
        return body

    def shadow_of(self, a_resource: str, limits: Mapping[str, int]) -> str:
        """Waldur's *shadow* (seed 001, known issue 2): a resource of the same offering, plan and project as
        ``a_resource``, in OK, with an empty name and an empty ``backend_id``; its UUID."""
        real = self.a_resource(a_resource)
        shadow = self.admin_resource("A", offering=real["offering_uuid"], project=real["project_uuid"],
                                     plan=real["plan_uuid"], name="", backend_id="", state="OK",
                                     limits=dict(limits))
        return str(shadow["uuid"])

    def federated_pair(self, project_uuid: str, limits: Mapping[str, int], name: str, *,
                       hyphenated: bool = False) -> tuple[str, str]:
        """A resource of the offering in an A project already federated to a B resource (made directly on both
        sides: B's project named by fedcore's ``<A customer>_<A project>`` backend_id, the B resource with the
        converted limits, the A resource's backend_id its UUID); the A and B resource UUIDs."""
        fed = self.world.fed
        customer = self._json(self.b.get(f"/api/customers/{fed.b_customer_uuid}/"))
        project = self.b.post("/api/projects/", json={"name": name, "customer": customer["url"],
                                                      "backend_id": f"{fed.consumer_customer_uuid}_{project_uuid}"})
        assert project.status_code == 201, project.text
        b_limits = {k: int(v) for k, v in expected_b_limits(self.components, limits).items()}
        b = self.admin_resource("B", offering=fed.b.offering_uuid, project=project.json()["uuid"],
                                plan=fed.b.plan_uuid, name=name, state="OK", limits=b_limits)
        link = str(uuid.UUID(b["uuid"])) if hyphenated else b["uuid"]
        a = self.admin_resource("A", offering=fed.a.offering_uuid, project=project_uuid, plan=fed.a.plan_uuid,
                                name=name, state="OK", limits=dict(limits), backend_id=link)
        return str(a["uuid"]), str(b["uuid"])

    def project(self, name: str) -> str:
        """Another project of the consumer organisation on A (the consumer may order in it); its UUID."""
        customer = self._json(self.a.get(f"/api/customers/{self.world.fed.consumer_customer_uuid}/"))
        made = self.a.post("/api/projects/", json={"name": name, "customer": customer["url"]})
        assert made.status_code == 201, made.text
        return str(made.json()["uuid"])

    def close(self) -> None:
        self.orderer.close()  # the staff clients are the world's


class LiveSite(Site):
    """The real Waldurs of the seed's environment (``WALDUR_E2E_CONFIG``, ``WALDUR_E2E_PROJECT_A_UUID``).

    Reads and orders on A use the configuration's A token (the seed's ``waldur_client_a``; an operator may give
    another orderer's token in ``WALDUR_E2E_ORDER_TOKEN_A``), reads on B the target token.
    """

    live = True
    max_passes = 1000  # B's own provider sets the pace: the deadline (order_poll_timeout + 60 s) decides

    def __init__(self, config_path: str, project_uuid: str, environ: Mapping[str, str] = os.environ) -> None:
        data = yaml.safe_load(Path(config_path).read_text("utf-8"))
        offering = data["offerings"][0]
        settings = offering.get("backend_settings") or {}
        a_token = str(offering["waldur_api_token"])
        b_token = str(settings["target_api_token"])
        a_root = _server_root(str(offering["waldur_api_url"]))
        b_root = _server_root(str(settings["target_api_url"]))
        verify_a = bool(offering.get("verify_ssl", True))
        verify_b = bool(settings.get("target_verify_ssl", True))
        a = httpx.Client(base_url=a_root, headers=_token(a_token), timeout=30, verify=verify_a)
        b = httpx.Client(base_url=b_root, headers=_token(b_token), timeout=30, verify=verify_b)
        order_token = environ.get("WALDUR_E2E_ORDER_TOKEN_A")
        orderer = (httpx.Client(base_url=a_root, headers=_token(order_token), timeout=30, verify=verify_a)
                   if order_token else a)
        self.deadline = float(settings.get("order_poll_timeout", 300)) + 60
        super().__init__(data, config_path, a=a, b=b, orderer=orderer, project_uuid=project_uuid, fedcore=Fedcore())

    def provider_step(self, b_order: str) -> None:
        # The seed's AutoApproveWaldurBackend: approve a pending-provider order on B with the target token; B's
        # own provider (its site agent) does the rest. A refusal (403: no provider rights) leaves it to B.
        if self.b_order(b_order)["state"] == "pending-provider":
            self.b.post(f"/api/marketplace-orders/{b_order}/approve_by_provider/")


def _server_root(api_url: str) -> str:
    """``https://host/api/`` (or ``https://host/``) as ``https://host``: the clients here name ``/api/...``."""
    root = api_url.rstrip("/")
    return root[: -len("/api")] if root.endswith("/api") else root


def _token(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


def site_from_environment(make_world: Callable[[], World], environ: Mapping[str, str] = os.environ) -> Site:
    """A :class:`LiveSite` when the seed's gate is set (its two variables are then required), else an
    :class:`EmulatedSite` on ``make_world()``."""
    if not live_requested(environ):
        return EmulatedSite(make_world())
    missing = [v for v in ("WALDUR_E2E_CONFIG", "WALDUR_E2E_PROJECT_A_UUID") if not environ.get(v)]
    if missing:
        raise RuntimeError(f"WALDUR_E2E_TESTS is set but {', '.join(missing)} is not")
    return LiveSite(environ["WALDUR_E2E_CONFIG"], environ["WALDUR_E2E_PROJECT_A_UUID"], environ)


# --- the broker (event tests) -------------------------------------------------------------------------------


def fedcore_connections(admin: httpx.Client, world: World, admin_user: str = "guest") -> list[str]:
    """The names of fedcore's STOMP connections to the broker (in the vhosts of its agent users on A and B)."""
    names: list[str] = []
    for side in (world.fed.a, world.fed.b):
        answer = admin.get(f"/api/vhosts/{quote(bare(side.agent_uuid), safe='')}/connections")
        if answer.status_code == 200:
            # fedcore logs in as its subscriptions; the emulators publish as the broker's admin user (not killed)
            names.extend(str(c["name"]) for c in answer.json() if c.get("user") != admin_user)
    return names


def kill_connections(admin: httpx.Client, names: list[str]) -> None:
    """Close connections through RabbitMQ's management API (as tests/contract/test_stomp_adapter.py does)."""
    for name in names:
        assert admin.delete(f"/api/connections/{quote(name, safe='')}").status_code in (204, 404)


# --- a rehearsal of the live path ----------------------------------------------------------------------------


def rehearse_live(pytest_args: list[str]) -> int:
    """Run test_seed001.py in live mode against two emulators standing in for real Waldurs: B's provider is the
    emulator's simulation (as B's own site agent would be), the tests get only the configuration's tokens and the
    consumer's token to order with. ``python tests/e2e/seed001_kit.py [PYTEST ARGS]``; pytest's exit code."""
    import secrets
    import sys
    import tempfile

    from runners.sandbox import federation_config
    from waldur_emulator import Emulator
    from waldur_emulator.federation import build_federation
    from waldur_emulator.simulation import SimulationRule

    tokens = secrets.token_hex(16), secrets.token_hex(16)
    a, b = Emulator(staff_token=tokens[0]), Emulator(staff_token=tokens[1])
    handles = a.serve(), b.serve()
    staff = [httpx.Client(base_url=h.base_url, headers=_token(t)) for h, t in zip(handles, tokens, strict=True)]
    try:
        fed = build_federation(staff[0], staff[1])
        b.simulate_provider(fed.b.offering_uuid, SimulationRule(delay=0.5))
        data = federation_config(fed, f"{handles[0].base_url}/api/", f"{handles[1].base_url}/api/")
        data["offerings"][0]["backend_settings"]["order_poll_timeout"] = 60
        path = Path(tempfile.mkdtemp()) / "live.yaml"
        path.write_text(yaml.safe_dump(data), "utf-8")
        env = {**os.environ, "WALDUR_E2E_TESTS": "true", "WALDUR_E2E_CONFIG": str(path),
               "WALDUR_E2E_PROJECT_A_UUID": fed.consumer_project_uuid, "WALDUR_E2E_ORDER_TOKEN_A": fed.consumer_token}
        here = Path(__file__).parent
        return subprocess.run([sys.executable, "-m", "pytest", "-rs", str(here / "test_seed001.py"), *pytest_args],
                              env=env, check=False).returncode
    finally:
        for client in staff:
            client.close()
        for handle in handles:
            handle.stop()


if __name__ == "__main__":
    import sys

    raise SystemExit(rehearse_live(sys.argv[1:]))
