"""What a federation operator does around ``fedcore run --once``, over the emulators' REST APIs only.

Builds on :mod:`run_world` (two emulated Waldurs over HTTP, fedcore as a subprocess). The operator writes the
configuration; A's users are added to and removed from the consumer project by its owner (the user that places
orders); B's service provider is a user who owns B's provider organisation and acts with their own token
(approves, rejects and completes orders, names accounts, reports usage, changes limits and end dates). Nothing here
reaches into fedcore or the emulators' internals; waits poll with a deadline.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from attrs import define
from run_world import Fedcore, World, until

from waldur_emulator.federation import place_order

Json = dict[str, Any]

MEMBERSHIP = "membership_sync"
ORDERS = "order_process"
REPORT = "report"
USERNAMES = "username_sync"


def ok(answer: httpx.Response, *expected: int) -> Any:
    """The JSON of an answer whose status is one of ``expected`` (default: any 2xx); fails loudly otherwise."""
    good = answer.status_code in expected if expected else 200 <= answer.status_code < 300
    assert good, f"{answer.request.method} {answer.request.url} -> {answer.status_code}: {answer.text[:400]}"
    return answer.json() if answer.content else None


@define
class Operator:
    """One federation (A and B over HTTP), B's service provider, and fedcore run as its operator runs it."""

    world: World
    provider_b: httpx.Client
    fedcore: Fedcore

    # --- configuration and runs -------------------------------------------------------------------------------

    def config(self, **backend_settings: Any) -> Json:
        """The sandbox configuration with ``backend_settings`` keys overridden (``None`` removes a key)."""
        data = self.world.config()
        settings = data["offerings"][0]["backend_settings"]
        for key, value in backend_settings.items():
            if value is None:
                settings.pop(key, None)
            else:
                settings[key] = value
        return data

    def write(self, data: Json, name: str = "config.yaml") -> str:
        """Write a configuration file; its path."""
        return self.world.write_config(data, name)

    def run(self, config: str, *modes: str) -> subprocess.CompletedProcess[str]:
        """``fedcore run -c CONFIG --once -m MODE ...``: one pass of each mode, to the end."""
        args = ["run", "-c", config, "--once"]
        for mode in modes:
            args += ["-m", mode]
        return self.fedcore.run(*args)

    # --- people on A ------------------------------------------------------------------------------------------

    def a_user(self, username: str, *, email: str = "") -> str:
        """A user on A (staff creates it, as A's identity provider would); its UUID."""
        body = {"username": username, "email": email or f"{username.split('@', maxsplit=1)[0]}@example.org",
                "first_name": username[:1].upper() + username[1:4], "last_name": "Tester",
                "organization": "Consumer university"}
        return str(ok(self.world.staff_a.post("/api/users/", json=body), 201)["uuid"])

    def join(self, user_uuid: str, role: str) -> None:
        """The consumer project's owner adds a user to the project with ``role``."""
        self.world.consumer("POST", f"/api/projects/{self.world.fed.consumer_project_uuid}/add_user/",
                            json={"user": user_uuid, "role": role})

    def a_members(self) -> dict[str, str]:
        """The consumer project's team on A: username -> role."""
        rows = ok(self.world.staff_a.get(f"/api/projects/{self.world.fed.consumer_project_uuid}/list_users/",
                                         params={"page_size": 300}))
        return {row["user_username"]: row["role_name"] for row in rows}

    def drop_orderer_role(self) -> None:
        """The consumer organisation's owner leaves the project's team (as owner they still order and manage it):
        the team is then only the people a test adds."""
        [me] = ok(self.world.staff_a.get("/api/users/", params={"username": "orderer"}))
        self.leave(me["uuid"], "PROJECT.ADMIN")

    def a_offering_users(self) -> list[Json]:
        """A's offering users of the federated offering."""
        return list(ok(self.world.staff_a.get("/api/marketplace-offering-users/", params={
            "offering_uuid": self.world.fed.a.offering_uuid, "page_size": 300})))

    def leave(self, user_uuid: str, role: str) -> None:
        """The consumer project's owner removes a user's ``role`` from the project."""
        self.world.consumer("POST", f"/api/projects/{self.world.fed.consumer_project_uuid}/delete_user/",
                            json={"user": user_uuid, "role": role})

    # --- B's side ---------------------------------------------------------------------------------------------

    def b_user(self, username: str, *, email: str = "") -> str:
        """A user B already has (made by B's staff); its UUID."""
        body = {"username": username, "email": email or f"{username}@b.example.org"}
        return str(ok(self.world.staff_b.post("/api/users/", json=body), 201)["uuid"])

    def b_user_known(self, username: str, *, email: str = "") -> str:
        """A person B already has, in a project of the organisation fedcore orders under (B's onboarding project),
        so that fedcore's B user may see them (Waldur lists only users connected to the caller); their UUID."""
        user = self.b_user(username, email=email)
        staff_b, customer = self.world.staff_b, self.world.fed.b_customer_uuid
        found = ok(staff_b.get("/api/projects/", params={"customer": customer, "name": "Onboarding"}))
        if found:
            project = found[0]["uuid"]
        else:
            url = ok(staff_b.get(f"/api/customers/{customer}/"))["url"]
            project = ok(staff_b.post("/api/projects/", json={"name": "Onboarding", "customer": url}), 201)["uuid"]
        ok(staff_b.post(f"/api/projects/{project}/add_user/", json={"user": user, "role": "PROJECT.MEMBER"}), 201)
        return user

    def until_b_offering_user(self, cuid: str) -> Json:
        """B's offering user of a person in B's offering, once B has made it (polled with a deadline)."""
        def find() -> Json | None:
            rows = ok(self.provider_b.get("/api/marketplace-offering-users/", params={
                "offering_uuid": self.world.fed.b.offering_uuid, "user_username": cuid}))
            return dict(rows[0]) if rows else None
        return until(find, f"B's offering user of {cuid}")

    def b_members(self, b_project: str) -> dict[str, str]:
        """The B project's team: username -> role."""
        rows = ok(self.world.staff_b.get(f"/api/projects/{b_project}/list_users/", params={"page_size": 300}))
        return {row["user_username"]: row["role_name"] for row in rows}

    def b_order_of(self, a_order: str) -> Json:
        """The B order fedcore made for an A order (the A order's ``backend_id``)."""
        link = self.world.a_order(a_order)["backend_id"]
        assert link, f"A order {a_order} has no B order"
        return dict(ok(self.world.staff_b.get(f"/api/marketplace-orders/{link}/")))

    def provider(self, method: str, path: str, body: Json | None = None) -> Any:
        """A call to B as B's service provider (owner of B's provider organisation)."""
        return ok(self.provider_b.request(method, path, json=body))

    def resource(self, side: str, uuid: str) -> Json:
        """A resource as staff of ``side`` (``"A"`` or ``"B"``) sees it."""
        client = self.world.staff_a if side == "A" else self.world.staff_b
        return dict(ok(client.get(f"/api/marketplace-resources/{uuid}/")))

    # --- a federated resource ---------------------------------------------------------------------------------

    def order(self, limits: dict[str, int], name: str = "sim", **attributes: Any) -> str:
        """A Create order placed on A by the consumer (with extra order ``attributes``); its UUID."""
        return str(place_order(self.world.staff_a, self.world.fed, limits, name, **attributes)["uuid"])

    def pair_of(self, a_order: str) -> Pair:
        """The A resource of an A order fedcore carried to B, its B resource and B project."""
        a_resource = self.world.a_resource_of(a_order)
        b_resource = str(self.resource("A", a_resource)["backend_id"])
        assert b_resource, f"A resource {a_resource} is not linked to B"
        b_project = str(self.resource("B", b_resource)["project_uuid"])
        return Pair(a_order, a_resource, b_resource, b_project)

    def submit(self, config: str, limits: dict[str, int]) -> Pair:
        """A Create order on A carried to B by one ``order_process`` pass: the A project is federated (its resource
        links to a B resource in the B project fedcore made), the B order waits for B's provider."""
        [pair] = Operator.submit_all([(self, config, limits)])
        return pair

    @staticmethod
    def submit_all(jobs: Sequence[tuple[Operator, str, dict[str, int]]]) -> list[Pair]:
        """:meth:`submit` for several federations, their ``order_process`` passes run at the same time."""
        orders = [each.order(limits) for each, _, limits in jobs]
        for done in Operator.run_all([(each, config, ORDERS) for each, config, _ in jobs]):
            assert done.returncode == 0, done.stderr
        return [each.pair_of(a_order) for (each, _, _), a_order in zip(jobs, orders, strict=True)]

    @staticmethod
    def run_all(jobs: Sequence[tuple[Operator, str, str]]) -> list[subprocess.CompletedProcess[str]]:
        """``fedcore run --once -m MODE`` for several configurations at the same time (one process each)."""
        return Fedcore().run_all(*(["run", "-c", config, "--once", "-m", mode] for _, config, mode in jobs))

    def federate(self, config: str, limits: dict[str, int], *, with_modes: Sequence[str] = ()) -> Pair:
        """:meth:`submit`, then B's provider approves and completes the B order, and a second ``order_process``
        pass (with ``with_modes`` in the same process) completes the A order: the pair is OK on both sides."""
        pair = self.submit(config, limits)
        b_order = self.b_order_of(pair.a_order)
        for action in ("approve_by_provider", "set_state_done"):
            self.provider("POST", f"/api/marketplace-orders/{b_order['uuid']}/{action}/")
        second = self.run(config, ORDERS, *with_modes)
        assert second.returncode == 0, second.stderr
        assert self.world.a_order(pair.a_order)["state"] == "done", second.stderr
        assert self.resource("A", pair.a_resource)["state"] == self.resource("B", pair.b_resource)["state"] == "OK"
        return pair

    # --- usage ------------------------------------------------------------------------------------------------

    def usage(self, side: str, resource: str, period: dt.date) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
        """A resource's usage in ``period``'s month: totals by component, and ``"component username"`` amounts."""
        client = self.world.staff_a if side == "A" else self.world.staff_b
        month = period.replace(day=1).isoformat()
        rows = ok(client.get("/api/marketplace-component-usages/",
                             params={"resource_uuid": resource, "billing_period": month, "page_size": 300}))
        totals = {row["type"]: Decimal(str(row["usage"])) for row in rows}
        users = ok(client.get("/api/marketplace-component-user-usages/",
                              params={"resource_uuid": resource, "component_usage__billing_period": month,
                                      "page_size": 300}))
        return totals, {f"{r['component_type']} {r['username']}": Decimal(str(r["usage"])) for r in users}


@define(frozen=True)
class Pair:
    """A federated resource: the A order that made it, the A resource, its B resource and B project."""

    a_order: str
    a_resource: str
    b_resource: str
    b_project: str


@contextmanager
def operator(directory: Path) -> Iterator[Operator]:
    """A fresh federation with B's service provider (a user owning B's provider organisation, own token)."""
    world = World(directory)
    try:
        staff_b = world.staff_b
        made = ok(staff_b.post("/api/users/", json={"username": "b-provider", "email": "provider@b.example.org"}),
                  201)
        ok(staff_b.post(f"/api/customers/{world.fed.b.provider_customer_uuid}/add_user/",
                        json={"user": made["uuid"], "role": "CUSTOMER.OWNER"}), 201)
        provider_b = httpx.Client(base_url=str(staff_b.base_url), headers={"Authorization": f"Token {made['token']}"},
                                  timeout=10)
        try:
            yield Operator(world, provider_b, Fedcore())
        finally:
            provider_b.close()
    finally:
        world.close()
