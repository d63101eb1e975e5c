"""The demo's story: people act on A and B through the REST API, fedcore polls, and every change is shown.

Each step acts (Alice on A with her own token, B's provider with B's staff token), then *settles*: it polls
until both Waldurs show the expected state, or fails with what it last saw when the step's deadline passes.
Each poll asks fedcore what it did (without a broker that runs one pass of every mode:
:class:`~runners.demo_agent.DemoAgent`; on events fedcore works by itself: :mod:`runners.demo_events`) and
reads the objects the step follows (:class:`Probe`), printing only what changed. Nothing sleeps to synchronise:
the only wait is the poll interval, on the stop flag a signal sets.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, TextIO

from attrs import define, field

from fedcore.conversion import Conversion
from runners.demo_agent import Agent, amount, short, values
from runners.demo_view import Followed, Json, Reader, limits_of
from runners.demo_world import DemoError, DemoWorld, call

CREATE_LIMITS = {"node_hours": 4, "storage": 10}
UPDATE_LIMITS = {"node_hours": 6, "storage": 20}
B_USAGE = {"cpu_k_hours": 640, "mem_gb_hours": 3072, "storage": 7}
B_USER_USAGE = {  # usage of each person on B, by component (both targets of node_hours)
    "alice": {"cpu_k_hours": 384, "mem_gb_hours": 1536},
    "bob": {"cpu_k_hours": 256, "mem_gb_hours": 1536},
}
RESOURCE_NAME = "climate-sim"


class DemoInterrupted(Exception):
    """SIGINT or SIGTERM arrived while the story was running."""


class Console:
    """Lines with the time since the demo started and who speaks: ``[  1.2s] fedcore  ...``."""

    def __init__(self, stream: TextIO, started: float) -> None:
        self.stream = stream
        self.started = started

    def elapsed(self) -> float:
        """Seconds since the demo started."""
        return time.monotonic() - self.started

    def say(self, who: str, text: str) -> None:
        """One timed line."""
        self.plain(f"[{self.elapsed():5.1f}s] {who:<8} {text}")

    def plain(self, text: str = "") -> None:
        """One line as it is, flushed (the output is followed live, often through a pipe)."""
        print(text, file=self.stream, flush=True)


@define
class Probe:
    """One thing a step follows on A or B: ``read`` answers ``(text, data)``, or None while it does not exist."""

    side: str
    read: Callable[[], tuple[str, Json] | None]
    text: str = ""
    data: Json = field(factory=dict)

    def observe(self) -> str | None:
        """Read again; the new text when it changed, else None."""
        seen = self.read()
        if seen is None:
            return None
        text, self.data = seen
        if text == self.text:
            return None
        self.text = text
        return text


class Story:
    """The six steps, in order: Create, a team change, usernames, usage, Update, Terminate."""

    def __init__(
        self, world: DemoWorld, agent: Agent, conversion: Conversion, console: Console, stop: threading.Event,
        *, poll: float, step_timeout: float, today: dt.date,
    ) -> None:
        self.world = world
        self.agent = agent
        self.conversion = conversion
        self.console = console
        self.stop = stop
        self.poll = poll
        self.step_timeout = step_timeout
        self.today = today
        self.read = Reader(world.staff_a, world.staff_b)
        self.alice = world.people["alice"]
        self.bob = world.people["bob"]
        self.a_resource = ""
        self.b_resource = ""
        self.b_project = ""

    def run(self) -> Followed:
        """Every step; DemoError when one does not reach its state in time, DemoInterrupted on a signal."""
        steps = (self.create, self.team, self.usernames, self.usage, self.update, self.terminate)
        for number, step in enumerate(steps, 1):
            self.console.plain()
            self.console.plain(f"== {number}/{len(steps)} {step.__doc__}")
            step()
        return Followed(self.a_resource, self.b_resource, self.b_project, self.today)

    # --- the steps --------------------------------------------------------------------------------------------

    def create(self) -> None:
        """Create: Alice orders a resource on A; fedcore orders it on B with converted limits"""
        fed = self.world.fed
        with self.world.client_as(self.alice) as alice:
            offering = call(alice, "GET", f"/api/marketplace-public-offerings/{fed.a.offering_uuid}/")
            plan = call(alice, "GET", f"/api/marketplace-public-offerings/{fed.a.offering_uuid}/plans/")[0]
            project = call(alice, "GET", f"/api/projects/{fed.consumer_project_uuid}/")
            order = call(alice, "POST", "/api/marketplace-orders/", {
                "offering": offering["url"], "project": project["url"], "plan": plan["url"], "limits": CREATE_LIMITS,
                "attributes": {"name": RESOURCE_NAME}, "accepting_terms_of_service": True}, expect=201)
        self.a_resource = order["marketplace_resource_uuid"]
        expected = self.conversion.limits_to_target(CREATE_LIMITS)
        self.console.say("alice", f"orders {RESOURCE_NAME!r} in project {project['name']!r} on A: "
                                  f"{values(CREATE_LIMITS)} (B should get {values(expected)})")
        probes = self._order_probes(order["uuid"])
        team = Probe("B", self._b_team)
        self.settle("Create", [*probes, team], lambda: (
            _state(probes[0]) == "done" and _state(probes[2]) == "OK" and _state(probes[3]) == "OK"
            and probes[3].data.get("limits") == expected and self.alice.cuid in team.data))
        self.console.say("ok", f"B runs {short(self.b_resource)} with {values(expected)}: "
                               f"{self._explain(CREATE_LIMITS)}; Alice is in the B project's team")

    def team(self) -> None:
        """Membership: Bob joins the project on A; fedcore mirrors the team on B"""
        fed = self.world.fed
        with self.world.client_as(self.alice) as alice:
            call(alice, "POST", f"/api/projects/{fed.consumer_project_uuid}/add_user/",
                 {"role": self.bob.role, "user": self.bob.uuid}, expect=201)
        self.console.say("alice", f"adds {self.bob.cuid} to the project on A as {self.bob.role}")
        team = Probe("B", self._b_team)
        self.settle("Membership", [team], lambda: team.data.get(self.bob.cuid) == self.bob.role)
        self.console.say("ok", "the B project's team mirrors the A project's team")

    def usernames(self) -> None:
        """Usernames: B's provider names the accounts on B; fedcore copies the names to A's offering users"""
        people = (self.alice, self.bob)
        b_users = [Probe("B", self._offering_user("B", p.cuid)) for p in people]
        self.settle("B's offering users exist", b_users, lambda: all(p.data for p in b_users))
        for person, probe in zip(people, b_users, strict=True):
            call(self.world.staff_b, "PATCH", f"/api/marketplace-offering-users/{probe.data['uuid']}/",
                 {"username": person.b_username})
            self.console.say("B prov.", f"sets the username of {person.cuid} on B to {person.b_username!r}")
        a_users = [Probe("A", self._offering_user("A", p.cuid)) for p in people]
        self.settle("Usernames", [*b_users, *a_users], lambda: all(
            p.data.get("username") == person.b_username and p.data.get("state") == "OK"
            for p, person in zip(a_users, people, strict=True)))
        self.console.say("ok", "A's offering users carry the usernames B's provider chose")

    def usage(self) -> None:
        """Usage: B's provider reports usage on B; fedcore reports it on A, converted, in total and per user"""
        staff_b = self.world.staff_b
        call(staff_b, "POST", "/api/marketplace-component-usages/set_usage/", {
            "resource": self.b_resource,
            "usages": [{"type": name, "amount": str(value)} for name, value in B_USAGE.items()]}, expect=201)
        per_user: dict[str, dict[str, int]] = {}
        for name, usages in B_USER_USAGE.items():
            for component, value in usages.items():
                per_user.setdefault(component, {})[self.world.people[name].b_username] = value
        for component, amounts in per_user.items():
            [parent] = call(staff_b, "GET", f"/api/marketplace-component-usages/?resource_uuid={self.b_resource}"
                                            f"&type={component}")
            call(staff_b, "POST", f"/api/marketplace-component-usages/{parent['uuid']}/set_user_usages/",
                 {"usages": [{"username": u, "usage": str(v)} for u, v in amounts.items()]}, expect=201)
        self.console.say("B prov.", f"reports usage of {short(self.b_resource)} for {self.today:%Y-%m} on B: "
                                    f"{values(B_USAGE)}; per user "
                                    + "; ".join(f"{c} {values(u)}" for c, u in per_user.items()))
        totals = self.conversion.usage_to_source({k: Decimal(v) for k, v in B_USAGE.items()})
        users = {f"{a_name} {self.world.people[name].b_username}": value
                 for name, usages in B_USER_USAGE.items()
                 for a_name, value in self.conversion.usage_to_source(
                     {k: Decimal(v) for k, v in usages.items()}).items()}
        a_usage = Probe("A", self._a_usage)
        self.settle("Usage", [a_usage], lambda: a_usage.data.get("totals") == totals
                    and a_usage.data.get("users") == users)
        rule = ", ".join(f"{a_name} = the larger of " + " and ".join(f"{b} / {amount(f)}" for b, f in sorted(t.items()))
                         for a_name, t in sorted(self.conversion.factors.items()) if len(t) > 1)
        self.console.say("ok", f"A shows {values(totals)}{f' ({rule})' if rule else ''}, per user {values(users)}")

    def update(self) -> None:
        """Update: Alice changes the limits on A; fedcore updates the B resource"""
        with self.world.client_as(self.alice) as alice:
            made = call(alice, "POST", f"/api/marketplace-resources/{self.a_resource}/update_limits/",
                        {"limits": UPDATE_LIMITS})
        expected = self.conversion.limits_to_target(UPDATE_LIMITS)
        self.console.say("alice", f"asks for {values(UPDATE_LIMITS)} on A (B should get {values(expected)})")
        probes = self._order_probes(made["order_uuid"])
        self.settle("Update", probes, lambda: _state(probes[0]) == "done" and _state(probes[3]) == "OK"
                    and probes[3].data.get("limits") == expected and probes[2].data.get("limits") == UPDATE_LIMITS)
        self.console.say("ok", f"B's limits are {values(expected)}: {self._explain(UPDATE_LIMITS)}")

    def terminate(self) -> None:
        """Terminate: Alice terminates the resource on A; fedcore terminates it on B"""
        with self.world.client_as(self.alice) as alice:
            made = call(alice, "POST", f"/api/marketplace-resources/{self.a_resource}/terminate/", {})
        self.console.say("alice", f"terminates {RESOURCE_NAME!r} on A")
        probes = self._order_probes(made["order_uuid"])
        self.settle("Terminate", probes, lambda: _state(probes[0]) == "done"
                    and _state(probes[2]) == _state(probes[3]) == "Terminated")
        self.console.say("ok", "the resource is Terminated on both sides")

    # --- waiting ----------------------------------------------------------------------------------------------

    def settle(self, what: str, probes: Sequence[Probe], goal: Callable[[], bool]) -> None:
        """Poll (a pass of every mode, then the probes) until ``goal`` holds; DemoError after the step deadline."""
        deadline = time.monotonic() + self.step_timeout
        while True:
            self._observe(probes)  # what changed since the last pass (the people's action, B's provider)
            for line in self.agent.tick():
                self.console.say("fedcore", line)
            self._observe(probes)  # what this pass changed
            if goal():
                return
            if self.stop.is_set():
                raise DemoInterrupted(what)
            if time.monotonic() >= deadline:
                seen = "; ".join(f"{p.side} {p.text}" for p in probes if p.text) or "nothing yet"
                raise DemoError(f"step {what!r} did not reach its expected state within {self.step_timeout:g} s "
                                f"(last seen: {seen})")
            self.stop.wait(self.poll)

    def _observe(self, probes: Sequence[Probe]) -> None:
        for probe in probes:
            text = probe.observe()
            if text is not None:
                self.console.say(probe.side, text)

    # --- what the probes read ---------------------------------------------------------------------------------

    def _order_probes(self, a_order: str) -> list[Probe]:
        """A order, B order, A resource, B resource of one order, in that order."""
        a_probe = Probe("A", lambda: _order_text(self.read.a_order(a_order)))

        def b_order() -> tuple[str, Json] | None:
            link = a_probe.data.get("backend_id")
            return _order_text(self.read.b_order(link)) if link else None

        def a_resource() -> tuple[str, Json]:
            data = self.read.a_resource(self.a_resource)
            link = f", backend_id {short(data['backend_id'])}" if data.get("backend_id") else ""
            return f"resource {data['name']} {short(data['uuid'])}: {data['state']}, {limits_of(data)}{link}", data

        def b_resource() -> tuple[str, Json] | None:
            if not self.b_resource:
                self.b_resource = a_resource_probe.data.get("backend_id") or ""
            if not self.b_resource:
                return None
            data = self.read.b_resource(self.b_resource)
            self.b_project = data["project_uuid"]
            return f"resource {short(data['uuid'])}: {data['state']}, {limits_of(data)}", data

        a_resource_probe = Probe("A", a_resource)
        return [a_probe, Probe("B", b_order), a_resource_probe, Probe("B", b_resource)]

    def _b_team(self) -> tuple[str, Json] | None:
        if not self.b_project:
            return None
        members = self.read.members("B", self.b_project)
        people = ", ".join(f"{u} {r}" for u, r in sorted(members.items()))
        return f"project {short(self.b_project)} team: {people or 'nobody'}", dict(members)

    def _offering_user(self, side: str, cuid: str) -> Callable[[], tuple[str, Json] | None]:
        offering = self.world.fed.a.offering_uuid if side == "A" else self.world.fed.b.offering_uuid

        def read() -> tuple[str, Json] | None:
            record = self.read.offering_users(side, offering).get(cuid)
            if record is None:
                return None
            name = repr(record["username"]) if record.get("username") else "no username"
            return f"offering user of {cuid}: {record['state']}, {name}", record

        return read

    def _a_usage(self) -> tuple[str, Json]:
        totals, users = self.read.usage("A", self.a_resource, self.today)
        text = f"usage of {short(self.a_resource)} in {self.today:%Y-%m}: {values(totals)}"
        if users:
            text += f"; per user {values(users)}"
        return text, {"totals": totals, "users": users}

    def _explain(self, limits: dict[str, int]) -> str:
        """``node_hours 4 x 128 = cpu_k_hours 512, ...``: how each A limit became its B limits."""
        parts = []
        for a_name, targets in sorted(self.conversion.factors.items()):
            for b_name, factor in sorted(targets.items()):
                value = limits.get(a_name, 0)
                parts.append(f"{a_name} {value} x {amount(factor)} = {b_name} {amount(value * factor)}")
        return ", ".join(parts)


def _state(probe: Probe) -> Any:
    return probe.data.get("state")


def _order_text(order: Json) -> tuple[str, Json]:
    limits = f", {limits_of(order)}" if order.get("limits") else ""
    return f"order {short(order['uuid'])} ({order['type']}): {order['state']}{limits}", order
