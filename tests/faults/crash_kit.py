"""The kit of "crash at every write": fedcore as a real daemon process, SIGKILLed right after its N-th write.

Each emulator of the e2e world (``tests/e2e/run_world.py``) gets a *front*: a second HTTP server on the same
in-process emulator whose WSGI app counts fedcore's writes (POST, PUT, PATCH, DELETE under ``/api/``, except the
emulators' admin API ``/api/emulator/``) across A and B together. When the armed N-th write has been applied, the
front SIGKILLs the fedcore process and waits for its end before the answer leaves, so fedcore never acts on that
answer and no later write of that process reaches either Waldur (a write arriving after the kill is refused unapplied).
fedcore is configured with the fronts' URLs; the tests' own calls (B's provider completing B orders, the checks) go
to the emulators' own servers or read their state, so they are never counted. fedcore itself is never patched.

``tests/faults`` has no package marker, like ``tests/e2e``: this module puts ``tests/e2e`` on ``sys.path`` so that
``run_world`` imports the same way it does there.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

_E2E = str(Path(__file__).resolve().parents[1] / "e2e")
if _E2E not in sys.path:
    sys.path.insert(0, _E2E)

import attrs  # noqa: E402
from run_world import WRITES, Fedcore, Running, World, until  # noqa: E402

from waldur_emulator import Emulator  # noqa: E402
from waldur_emulator.server import ServerHandle  # noqa: E402

KEY = "fedcore_order_key"
"""The attribute of a B order that carries fedcore's idempotency key (``fedcore-order:<A order uuid>``)."""

PERIOD_MINUTES = 0.004
"""The daemon's order_process period: a pass every 0.24 s."""

StartResponse = Callable[..., Any]


@attrs.frozen
class Write:
    """One write that reached a Waldur through a front, in the order they were applied."""

    side: str
    method: str
    path: str
    status: int

    def __str__(self) -> str:
        return f"{self.side} {self.method} {self.path} -> {self.status}"


class WriteCounter:
    """Counts the writes through both fronts (serialised, so the count is the order of application) and kills the
    armed process right after the armed write."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.writes: list[Write] = []
        self.refused: list[Write] = []
        self._kill_at: int | None = None
        self._victim: subprocess.Popen[str] | None = None
        self.killed = threading.Event()
        self.check: Callable[[str, str, str], None] | None = None
        """Called with side, method and path before each counted write is applied."""

    def arm(self, victim: subprocess.Popen[str], kill_at: int | None) -> None:
        """From now on, writes count from 0 and ``victim`` dies right after write number ``kill_at`` (None:
        never)."""
        with self._lock:
            self.writes = []
            self.refused = []
            self._kill_at = kill_at
            self._victim = victim
            self.killed.clear()

    def front(self, side: str, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        """``app`` (an emulator's WSGI app) with fedcore's writes counted."""

        def counted(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            method = str(environ["REQUEST_METHOD"]).upper()
            path = str(environ.get("PATH_INFO", "") or "/")
            if method not in WRITES or not path.startswith("/api/") or path.startswith("/api/emulator/"):
                return app(environ, start_response)
            with self._lock:
                if self.killed.is_set():  # a write the killed process had in flight: it never happens
                    self.refused.append(Write(side, method, path, 503))
                    start_response("503 Service Unavailable", [("Content-Type", "application/json"),
                                                               ("Content-Length", "2")])
                    return [b"{}"]
                if self.check is not None:
                    self.check(side, method, path)
                answer: list[Any] = []

                def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
                    answer[:] = [status, headers, exc_info]

                body = b"".join(app(environ, keep))
                self.writes.append(Write(side, method, path, int(str(answer[0]).split()[0])))
                if self._victim is not None and len(self.writes) == self._kill_at:
                    self._victim.kill()
                    self._victim.wait()
                    self.killed.set()
            start_response(answer[0], answer[1])
            return [body]

        return counted


class CrashWorld:
    """The e2e world with counting fronts before A and B, and fedcore's daemon configured to go through them."""

    def __init__(self, directory: Path) -> None:
        self.world = World(directory)
        self.counter = WriteCounter()
        self.counter.check = self._check_write
        self.violations: list[str] = []
        self.fronts = tuple(ServerHandle.start(self.counter.front(side, emulator.wsgi_app), "127.0.0.1", 0, threads=4)
                            for side, emulator in (("A", self.world.a), ("B", self.world.b)))
        a_api, b_api = (f"{front.base_url}/api/" for front in self.fronts)
        config = self.world.config(periods={"order_process": PERIOD_MINUTES})
        config["offerings"][0]["waldur_api_url"] = a_api
        config["offerings"][0]["backend_settings"]["target_api_url"] = b_api
        self.config_path = self.world.write_config(config)
        self.logs: list[str] = []
        self._running: Running | None = None

    @property
    def a(self) -> Emulator:
        """Waldur A's emulator."""
        return self.world.a

    @property
    def b(self) -> Emulator:
        """Waldur B's emulator."""
        return self.world.b

    # --- fedcore --------------------------------------------------------------------------------------------

    def start(self, kill_at: int | None = None) -> Running:
        """Start ``fedcore run -m order_process`` (a daemon with short periods, one worker), armed to die right after
        write number ``kill_at`` (None: never)."""
        process = Fedcore().start("run", "-c", self.config_path, "-m", "order_process", "--workers", "1",
                                  "--backoff-initial", "0.2", "--backoff-max", "0.5")
        self.counter.arm(process, kill_at)
        self._running = Running(process)
        return self._running

    def finish(self, running: Running) -> None:
        """Wait for a killed daemon's end, or stop a live one with SIGTERM; keep its log."""
        if running.process.poll() is None:
            running.signal(signal.SIGTERM)
        _, log = running.wait()
        self.logs.append(log)
        self._running = None

    def _check_write(self, side: str, method: str, path: str) -> None:
        """Before a write is applied: an A order is marked done only when the B order it links is done."""
        match = DONE_ON_A.match(path)
        if side != "A" or method != "POST" or match is None:
            return
        a_order = match["uuid"]
        with self.a.locked():
            link = bare(self.a.state.orders[a_order].backend_id)
        with self.b.locked():
            b_order = self.b.state.orders.get(link)
            b_state = b_order.state if b_order is not None else "missing"
        if b_state != "done":
            self.violations.append(f"A order {a_order} marked done while its B order {link or '(none)'} is {b_state}")

    # --- B's provider, and what both Waldurs hold -----------------------------------------------------------

    def complete_b_orders(self, *, linked_only: bool) -> int:
        """B's provider approves and completes, through B's REST API, every open B order, or (``linked_only``) those
        fedcore has recorded on their A order, so that a flow's write sequence does not depend on when B answers;
        how many."""
        with self.a.locked():
            linked = {bare(o.backend_id) for o in self.a.state.orders.values() if o.backend_id}
        with self.b.locked():
            open_orders = [(o.uuid, o.state) for o in self.b.state.orders.values()
                           if o.state in ("pending-provider", "executing") and (o.uuid in linked or not linked_only)]
        for uuid, state in open_orders:
            actions = ("approve_by_provider", "set_state_done") if state == "pending-provider" else ("set_state_done",)
            for action in actions:
                answer = self.world.staff_b.post(f"/api/marketplace-orders/{uuid}/{action}/")
                assert answer.status_code == 200, answer.text
        return len(open_orders)

    def a_order_states(self, uuids: Iterable[str]) -> dict[str, str]:
        """A's orders' states."""
        with self.a.locked():
            return {u: self.a.state.orders[u].state for u in uuids}

    def settle(self, a_orders: list[str], what: str, *, linked_only: bool) -> None:
        """Play B's provider until every one of ``a_orders`` is done on A (or fail after the deadline)."""

        def all_done() -> bool:
            self.complete_b_orders(linked_only=linked_only)
            return set(self.a_order_states(a_orders).values()) == {"done"}

        until(all_done, what)

    def close(self) -> None:
        """Kill a daemon still running, stop the fronts and the world."""
        if self._running is not None:
            self._running.kill()
        for front in self.fronts:
            front.stop()
        self.world.close()


def bare(uuid: str) -> str:
    """A UUID as the emulators key it (fedcore writes bare ones; hyphenated ones are followed too)."""
    return uuid.replace("-", "").strip().lower()


# --- the three flows ------------------------------------------------------------------------------------------

U = "[0-9a-f]{32}"
DONE_ON_A = re.compile(f"^/api/marketplace-orders/(?P<uuid>{U})/set_state_done/$")


@attrs.frozen
class Step:
    """One write a flow makes: where, and what it is."""

    side: str
    method: str
    path: str
    """A regular expression on the path."""
    name: str
    submits: bool = False
    """Whether this write creates the flow's B order."""

    def matches(self, write: Write) -> bool:
        """Whether ``write`` is this step."""
        return (write.side, write.method) == (self.side, self.method) and re.match(self.path, write.path) is not None


_APPROVE = Step("A", "POST", f"^/api/marketplace-orders/{U}/approve_by_provider/$", "A approve_by_provider")
_LINK_ORDER = Step("A", "POST", f"^/api/marketplace-orders/{U}/set_backend_id/$", "A order set_backend_id")
_DONE = Step("A", "POST", DONE_ON_A.pattern, "A set_state_done")

FLOWS: dict[str, tuple[Step, ...]] = {
    "Create": (
        _APPROVE,
        Step("B", "POST", "^/api/projects/$", "B create project"),
        Step("B", "POST", "^/api/marketplace-orders/$", "B create order", submits=True),
        Step("A", "POST", f"^/api/marketplace-provider-resources/{U}/set_backend_id/$", "A resource set_backend_id"),
        _LINK_ORDER,
        _DONE,
    ),
    "Update": (
        _APPROVE,
        Step("B", "POST", f"^/api/marketplace-resources/{U}/update_limits/$", "B update_limits", submits=True),
        Step("B", "PATCH", f"^/api/marketplace-orders/{U}/$", "B order key PATCH"),
        _LINK_ORDER,
        _DONE,
    ),
    "Terminate": (
        _APPROVE,
        Step("B", "POST", f"^/api/marketplace-resources/{U}/terminate/$", "B terminate", submits=True),
        _LINK_ORDER,
        _DONE,
    ),
}
"""The writes of each flow without a crash, in order (``test_an_uncrashed_flow_makes_exactly_these_writes`` counts
them); a crash point N is "right after write N"."""

CREATE_LIMITS = {"node_hours": 2, "storage": 1}
UPDATE_LIMITS = {"node_hours": 3, "storage": 1}
B_UPDATE_LIMITS = {"cpu_k_hours": 384, "mem_gb_hours": 1536, "storage": 1}
"""``UPDATE_LIMITS`` as B's components (node_hours fans out x128 and x512)."""


@attrs.define
class Outcome:
    """What one run of a flow did: the A orders, and the writes before and after the crash."""

    a_orders: list[str]
    a_resource: str
    crashed: list[Write] = attrs.Factory(list)
    """The writes of the killed process (of the flow under test), the last one being the crash point."""
    refused: list[Write] = attrs.Factory(list)
    """Writes the killed process still had in flight: refused unapplied."""
    after: list[Write] = attrs.Factory(list)
    """The writes of the restarted process."""


def run_flow(crash: CrashWorld, flow: str, kill_at: int | None, *, b_while_down: bool = False) -> Outcome:
    """Carry one order of ``flow`` through fedcore, killing it right after its write number ``kill_at`` and then
    restarting it until the order is done (``kill_at`` None: no crash). Update and Terminate first create their
    resource with an unarmed daemon, which is then armed for the flow under test.

    B's provider completes the flow's B order through REST: before the crash only when the crash point is the
    flow's last write (which needs it); then, with ``b_while_down``, while fedcore is down, else only once the
    restarted fedcore has made its first pass (so that it finds its B order still open)."""
    create = crash.world.order(CREATE_LIMITS, "crash")
    if flow == "Create":
        running = crash.start(kill_at)
        orders = [create]
    else:
        running = crash.start(None)
        crash.settle([create], "the Create order set up for the flow", linked_only=True)
        crash.counter.arm(running.process, kill_at)
        resource = crash.world.a_resource_of(create)
        if flow == "Update":
            body: dict[str, Any] = {"limits": UPDATE_LIMITS}
            changed = crash.world.consumer("POST", f"/api/marketplace-resources/{resource}/update_limits/", json=body)
        else:
            changed = crash.world.consumer("POST", f"/api/marketplace-resources/{resource}/terminate/", json={})
        orders = [create, str(changed["order_uuid"])]
    outcome = Outcome(orders, crash.world.a_resource_of(create))
    if kill_at is None:
        crash.settle(orders, f"the {flow} order without a crash", linked_only=True)
        outcome.crashed = list(crash.counter.writes)
        crash.finish(running)
        return outcome
    b_before_crash = kill_at == len(FLOWS[flow])

    def killed() -> bool:
        if b_before_crash:
            crash.complete_b_orders(linked_only=True)
        return crash.counter.killed.is_set()

    until(killed, f"fedcore's write number {kill_at} of the {flow} flow")
    crash.finish(running)
    outcome.crashed = list(crash.counter.writes)
    outcome.refused = list(crash.counter.refused)
    if b_while_down:
        crash.complete_b_orders(linked_only=False)
    restarted = crash.start(None)
    until(lambda: restarted.saw("order_process pass "), "the restarted fedcore's first pass")
    crash.settle(orders, f"the {flow} order after a crash at write {kill_at}", linked_only=False)
    outcome.after = list(crash.counter.writes)
    crash.finish(restarted)
    return outcome


def b_in_flight(flow: str, kill_at: int) -> bool:
    """Whether a crash right after write ``kill_at`` of ``flow`` leaves a B order open (submitted, not yet
    completed on A): only then can B's provider finish it while fedcore is down."""
    submitted = next(i for i, step in enumerate(FLOWS[flow], start=1) if step.submits)
    return submitted <= kill_at < len(FLOWS[flow])


def problems(crash: CrashWorld, flow: str, outcome: Outcome) -> list[str]:
    """Everything wrong once the flow has converged: duplicates on B, an A order done before its B order, an
    order or a resource not in its terminal state."""
    found = list(crash.violations)
    fed = crash.world.fed
    a_orders = outcome.a_orders
    with crash.a.locked():
        a_state = crash.a.state
        for uuid in a_orders:
            if a_state.orders[uuid].state != "done":
                found.append(f"A order {uuid} ({a_state.orders[uuid].type}) is {a_state.orders[uuid].state}")
        a_links = {uuid: bare(a_state.orders[uuid].backend_id) for uuid in a_orders}
        a_resource = a_state.resources[outcome.a_resource]
        a_resource_state, a_resource_link = a_resource.state, bare(a_resource.backend_id)
    with crash.b.locked():
        b_state = crash.b.state
        projects = [p.uuid for p in b_state.projects.values() if p.customer_uuid == fed.b_customer_uuid]
        resources = [r for r in b_state.resources.values() if r.offering_uuid == fed.b.offering_uuid]
        b_orders = list(b_state.orders.values())
        not_done = [f"B order {o.uuid} ({o.type}) is {o.state}" for o in b_orders if o.state != "done"]
        by_type = {t: [o.uuid for o in b_orders if o.type == t] for t in ("Create", "Update", "Terminate")}
        keys = {o.uuid: o.attributes.get(KEY) for o in b_orders}
        resource = resources[0] if len(resources) == 1 else None
        b_resource = (resource.uuid, resource.state, dict(resource.limits)) if resource else None
    found += not_done
    if len(projects) != 1:
        found.append(f"{len(projects)} B projects for one A project: {projects}")
    if b_resource is None:
        found.append(f"{len(resources)} B resources for one A resource: {[r.uuid for r in resources]}")
    elif a_resource_link != b_resource[0]:
        found.append(f"A resource links {a_resource_link or '(nothing)'}, B's resource is {b_resource[0]}")
    expected = {"Create": 1, "Update": 1 if flow == "Update" else 0, "Terminate": 1 if flow == "Terminate" else 0}
    for order_type, count in expected.items():
        if len(by_type[order_type]) != count:
            found.append(f"{len(by_type[order_type])} B {order_type} orders, expected {count}: {by_type[order_type]}")
    for uuid, order_type in zip(a_orders, ("Create", flow), strict=False):
        if by_type[order_type] and a_links[uuid] not in by_type[order_type]:
            found.append(f"A {order_type} order {uuid} links {a_links[uuid] or '(nothing)'}, "
                         f"not B's {order_type} order {by_type[order_type]}")
        elif by_type[order_type] and order_type != "Update" and keys[a_links[uuid]] != f"fedcore-order:{uuid}":
            found.append(f"B {order_type} order {a_links[uuid]} carries the key {keys[a_links[uuid]]!r}, "
                         f"not A order {uuid}'s")
    if b_resource is not None:
        if flow == "Update" and b_resource[2] != B_UPDATE_LIMITS:
            found.append(f"B resource limits {b_resource[2]}, expected {B_UPDATE_LIMITS}")
        wanted = "Terminated" if flow == "Terminate" else "OK"
        if b_resource[1] != wanted or a_resource_state != wanted:
            found.append(f"resources: A {a_resource_state}, B {b_resource[1]}, expected {wanted}")
    return found


def explain(crash: CrashWorld, outcome: Outcome, found: list[str]) -> str:
    """A failure message: the problems, the writes before and after the crash, and fedcore's order log lines."""
    lines = [*found, "writes of the killed process:", *(f"  {w}" for w in outcome.crashed)]
    lines += ["refused in flight:", *(f"  {w}" for w in outcome.refused)]
    lines += ["writes after the restart:", *(f"  {w}" for w in outcome.after), "fedcore's logs:"]
    lines += [f"  {line}" for log in crash.logs for line in log.splitlines() if "fedcore.orders" in line or
              "WARNING" in line or "ERROR" in line]
    return "\n".join(lines)
