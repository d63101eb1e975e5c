"""Seed 000's username scenarios on a federation of two emulated Waldurs: the kit of ``test_seed000_usernames``.

Builds on :class:`run_world.World` (A and B over real HTTP, set up through their REST APIs, fedcore's agent users
and tokens) and adds what seed 000 sets up around it: each side's service provider acting through its own token
(an owner of the provider organisation), a subject user on A whose CUID is its username, and helpers to read and
write offering users through REST and to run ``fedcore run --once -m MODE`` as a subprocess.

Seed 000 ran both offerings on one Waldur; here offering A lives on Waldur A and offering B on Waldur B, and the
subject reaches B the way a federation brings people there: fedcore's ``membership_sync`` pushes it through B's
identity bridge and grants it the project role on B, which makes B create its offering user.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from run_world import Fedcore, World, until

from waldur_emulator.seeding import Created, Seeder

HOUR = {"order_process": 60, "membership_sync": 60, "report": 60, "username_sync": 60}
"""Every pass period an hour: within a test's deadlines only the first passes and events act."""


class UsernameWorld:
    """A :class:`World` plus seed 000's actors: both service providers and the subject user."""

    def __init__(self, directory: Path, *, events: bool = False) -> None:
        self.world = World(directory, events=events)
        self.seed_a, self.seed_b = Seeder(self.world.staff_a), Seeder(self.world.staff_b)
        self.clients: list[httpx.Client] = []
        self.fedcore = Fedcore()
        tag = secrets.token_hex(4)
        self.cuid = f"subject-{tag}@myaccessid.org"
        """The subject's CUID: its username on A, and the username fedcore gives it on B."""
        self.subject, _ = self.seed_a.user(self.cuid, first_name="Subject", last_name="User")
        self.sp_a = self._provider_owner(self.seed_a, self.world.staff_a, self.world.fed.a.provider_customer_uuid,
                                         f"sp-a-{tag}")
        self.sp_b = self._provider_owner(self.seed_b, self.world.staff_b, self.world.fed.b.provider_customer_uuid,
                                         f"sp-b-{tag}")
        self.steps: dict[str, Any] = {}
        """What one step of a suite hands on to the next (records, usernames)."""
        self.agent_a = self.client("A", self.world.fed.a.agent_token)
        self.agent_b = self.client("B", self.world.fed.b.agent_token)

    def _provider_owner(self, seed: Seeder, staff: httpx.Client, customer: str, name: str) -> httpx.Client:
        user, token = seed.user(name)
        seed.role("customers", customer, user.uuid, "CUSTOMER.OWNER")
        return self.client("A" if staff is self.world.staff_a else "B", token)

    def client(self, side: str, token: str) -> httpx.Client:
        """A client of ``side`` ("A" or "B") with ``token``."""
        base = (self.world.staff_a if side == "A" else self.world.staff_b).base_url
        made = httpx.Client(base_url=base, headers={"Authorization": f"Token {token}"}, timeout=10)
        self.clients.append(made)
        return made

    # fedcore

    def config(self, **top: Any) -> dict[str, Any]:
        """The sandbox configuration of the federation (one offering, usernames reconciled)."""
        return self.world.config(**top)

    def run(self, *modes: str, config: dict[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
        """``fedcore run -c FILE -m MODE [-m MODE ...] --once``; the finished process."""
        path = self.world.write_config(config if config is not None else self.config(), "config.yaml")
        return self.fedcore.run("run", "-c", path, *(a for m in modes for a in ("-m", m)), "--once")

    def ok(self, *modes: str, config: dict[str, Any] | None = None) -> str:
        """:meth:`run` that must exit 0 and show no token; its stderr (fedcore's log)."""
        done = self.run(*modes, config=config)
        assert done.returncode == 0, f"{modes}: exit {done.returncode}\n{done.stderr[-3000:]}"
        for token in self.world.tokens:
            assert token not in done.stderr
            assert token not in done.stdout
        return done.stderr

    # The federation's resource, through fedcore's order_process and B's provider

    def federated_resource(self, *, then: Callable[[], object] = lambda: None,
                           also: tuple[str, ...] = ()) -> tuple[str, str]:
        """A Create order placed on A by the consumer, carried to B by fedcore, completed by B's provider and
        brought back; (A resource, B resource). ``then`` runs once B's provider has completed the order, and
        the modes ``also`` run in the same ``fedcore run --once`` that brings the completion back."""
        order = self.world.order({"node_hours": 1}, name="inttest")
        self.ok("order_process")
        [b_order] = [o for o in self.world.b_orders() if o["state"] != "done"]
        for action in ("approve_by_provider", "set_state_done"):
            answer = self.sp_b.post(f"/api/marketplace-orders/{b_order['uuid']}/{action}/")
            assert answer.status_code == 200, answer.text
        then()
        self.ok("order_process", *also)
        assert self.world.a_order(order)["state"] == "done"
        a_resource = self.world.a_resource_of(order)
        b_resource = str(self.world.staff_b.get(f"/api/marketplace-orders/{b_order['uuid']}/").json()
                         ["marketplace_resource_uuid"])
        return a_resource, b_resource

    # Offering users

    def offering_users(self, side: str, offering: str | None = None,
                       client: httpx.Client | None = None) -> list[dict[str, Any]]:
        """The subject's offering users on ``side``'s offering (default: the federation's), as ``client`` (default:
        staff) lists them."""
        who = client or (self.world.staff_a if side == "A" else self.world.staff_b)
        if offering is None:
            offering = self.world.fed.a.offering_uuid if side == "A" else self.world.fed.b.offering_uuid
        answer = who.get("/api/marketplace-offering-users/",
                         params={"offering_uuid": offering, "user_username": self.cuid, "page_size": 300})
        assert answer.status_code == 200, answer.text
        found: list[dict[str, Any]] = answer.json()
        return found

    def offering_user(self, side: str, offering: str | None = None) -> dict[str, Any] | None:
        """The subject's one offering user on ``side`` (None while there is none)."""
        found = self.offering_users(side, offering)
        assert len(found) <= 1, found
        return found[0] if found else None

    def wait_offering_user(self, side: str, offering: str | None = None) -> dict[str, Any]:
        """Poll until the subject's offering user exists on ``side``."""
        return until(lambda: self.offering_user(side, offering), f"the subject's offering user on {side}")

    def record(self, side: str, uuid: str) -> dict[str, Any]:
        """One offering user, as staff reads it."""
        staff = self.world.staff_a if side == "A" else self.world.staff_b
        answer = staff.get(f"/api/marketplace-offering-users/{uuid}/")
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def set_username(self, side: str, uuid: str, username: str) -> dict[str, Any]:
        """The side's service provider sets an offering user's username (which moves it to OK)."""
        provider = self.sp_a if side == "A" else self.sp_b
        answer = provider.patch(f"/api/marketplace-offering-users/{uuid}/", json={"username": username})
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def create_offering_user(self, side: str, user_uuid: str, offering: str) -> dict[str, Any]:
        """The side's service provider creates an offering user by hand (``POST marketplace-offering-users``)."""
        provider = self.sp_a if side == "A" else self.sp_b
        answer = provider.post("/api/marketplace-offering-users/",
                               json={"user_uuid": user_uuid, "offering_uuid": offering})
        assert answer.status_code == 201, answer.text
        found: dict[str, Any] = answer.json()
        return found

    # Evidence that nothing is written

    def tripwire(self) -> None:
        """From now on every write to either Waldur is refused (503) and counted (:attr:`writes_refused`)."""
        self.world.tripwire()

    @property
    def writes_refused(self) -> int:
        """Writes that reached either Waldur since :meth:`tripwire`."""
        return self.world.writes_refused

    def clear_tripwire(self) -> None:
        """Accept writes again."""
        self.world.a.clear_faults()
        self.world.b.clear_faults()

    def extra_offerings(self, name: str) -> tuple[Created, Created]:
        """A second offering on A (its provider) and on B (B's provider), Slurm with offering users: (A, B)."""
        fed = self.world.fed
        a_provider = self._customer(self.world.staff_a, fed.a.provider_customer_uuid)
        b_provider = self._customer(self.world.staff_b, fed.b.provider_customer_uuid)
        a_offering, _ = self.seed_a.offering(a_provider, self.seed_a.category(name), f"{name} on A",
                                             components=("node_hours", "storage"))
        b_offering, _ = self.seed_b.offering(b_provider, self.seed_b.category(name), f"{name} on B",
                                             components=("cpu_k_hours", "mem_gb_hours", "storage"))
        self.seed_a.role("marketplace-provider-offerings", a_offering.uuid, fed.a.agent_uuid, "OFFERING.MANAGER")
        return a_offering, b_offering

    @staticmethod
    def _customer(staff: httpx.Client, uuid: str) -> Created:
        data = staff.get(f"/api/customers/{uuid}/").json()
        return Created(data["uuid"], data["url"], data)

    def close(self) -> None:
        """Close every client and both servers."""
        for made in self.clients:
            made.close()
        self.world.close()
