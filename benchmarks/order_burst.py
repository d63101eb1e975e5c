"""Order burst in polling mode: how fast ``fedcore run`` carries a burst of Create orders from A to B and back,
and how many HTTP calls each order costs on each server.

Method. Two emulated Waldurs (``waldur_emulator``, no events) are federated through their REST APIs and served
over real HTTP from this process, each with ``--latency-ms`` added to every request (a latency ``FaultRule``).
B's provider is the emulator's provider simulation (``SimulationRule()``: every pending-provider order approved
at once and set done on its next 20 ms tick). ``fedcore run -m order_process --workers W`` runs as a subprocess on
the sandbox configuration (``runners.sandbox.federation_config``) with ``periods.order_process`` of
``--period-seconds``. Once its first (idle) pass has reached A, ``--orders`` Create orders are placed on A by the
consumer (in-process, 8 threads, through the same latency) over ``--projects`` consumer projects in turn.

Measured: wall time from the first A order committed to the last A order first seen ``done`` (timestamps taken by
the emulators themselves, ``_kit.TimedEmulator``), orders per second, the requests fedcore made to each emulator
(counted at the emulators, recognised by fedcore's agent tokens: staff, consumer and simulation calls are not
counted; see "Calls" below), and the fedcore process's peak resident memory (``VmHWM`` of
``/proc/<pid>/status``, read just before SIGTERM). Targets from issue 11: at most 8 calls per order, at least 100
orders per second; reported, never asserted.

Calls: every request carrying fedcore's A or B token from the moment the first order is placed until the last A
order is done is counted, so a few idle passes (1 call each) at the start are included; the calls of passes
before the burst are reported separately.

Chart (``--chart PATH``, ``_charts``): A orders created, B orders created and A orders done over time, and the
calls per order of each endpoint on each server.

Run from the repository root: ``.venv/bin/python benchmarks/order_burst.py [--orders N] [--projects P]
[--latency-ms L] [--workers W] [--chart PATH]``.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import _charts
import _kit
import httpx
import yaml
from _kit import FedcoreProcess, TimedEmulator, hexid, percentile, table

from runners.sandbox import federation_config
from waldur_emulator.faults import FaultRule
from waldur_emulator.federation import Federation, build_federation
from waldur_emulator.simulation import SimulationRule
from waldur_emulator.web import Request, Response

HEX = re.compile(r"[0-9a-f]{32}|[0-9a-f-]{36}")
LOG_NOISE = re.compile(r"[0-9a-f]{32}|[0-9a-f-]{36}|\d+(\.\d+)?")
"""What varies between log lines of one kind: identifiers and numbers."""
TARGET_CALLS = 8.0
TARGET_RATE = 100.0


class CountingEmulator(TimedEmulator):
    """A :class:`TimedEmulator` that also counts the requests made with one token (fedcore's), by endpoint."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.watched = ""
        self.calls: Counter[str] = Counter()
        self.calls_lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        response = super().handle(request)
        if self.watched and request.headers.get("authorization") == f"Token {self.watched}":
            key = f"{request.method} {HEX.sub('{uuid}', request.path.removeprefix('/api/'))}"
            with self.calls_lock:
                self.calls[key] += 1
        return response

    def take_calls(self) -> Counter[str]:
        """The calls counted so far, and start again from zero."""
        with self.calls_lock:
            taken, self.calls = self.calls, Counter()
        return taken


def vm_hwm_kib(pid: int) -> int:
    """``VmHWM`` (peak resident set) of process ``pid`` in KiB; 0 when unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (``/proc/<pid>/stat``); 0 when unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load() -> str:
    """The load averages (1, 5, 15 minutes), as ``uptime`` prints them."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


class World:
    """Both Waldurs served over HTTP, federated, B's provider simulated, the latency fault on both."""

    def __init__(self, latency_ms: float, a_emulator: type[CountingEmulator] | None = None) -> None:
        """``a_emulator``: the class of Waldur A's emulator (existing_agent.py gives one the agent can read)."""
        tokens = f"staff-a-{secrets.token_hex(16)}", f"staff-b-{secrets.token_hex(16)}"
        self.a = (a_emulator or CountingEmulator)(staff_token=tokens[0])
        self.b = CountingEmulator(staff_token=tokens[1])
        staff = [httpx.Client(transport=e.transport(), base_url="http://emulator",
                              headers={"Authorization": f"Token {t}"}) for e, t in zip((self.a, self.b), tokens,
                                                                                         strict=True)]
        self.fed: Federation = build_federation(staff[0], staff[1])
        self.staff_a = staff[0]
        staff[1].close()
        self.a.watched, self.b.watched = self.fed.a.agent_token, self.fed.b.agent_token
        self.b.simulate_provider(self.fed.b.offering_uuid, SimulationRule())
        if latency_ms > 0:
            for emulator in (self.a, self.b):
                emulator.add_fault(FaultRule(latency=latency_ms / 1000.0))
        self.handles = self.a.serve(), self.b.serve()

    def config(self, period_seconds: float) -> dict[str, Any]:
        data = federation_config(self.fed, f"{self.handles[0].base_url}/api/", f"{self.handles[1].base_url}/api/")
        return {**data, "periods": {**_kit.HOUR, "order_process": period_seconds / 60.0}}

    def order_bodies(self, projects: int) -> list[dict[str, Any]]:
        """One Create order body per consumer project (the federation's project and ``projects - 1`` more)."""
        client = self.staff_a
        offering = client.get(f"/api/marketplace-public-offerings/{self.fed.a.offering_uuid}/").json()
        plan = client.get(f"/api/marketplace-public-offerings/{self.fed.a.offering_uuid}/plans/").json()[0]
        customer = client.get(f"/api/customers/{self.fed.consumer_customer_uuid}/").json()
        urls = [client.get(f"/api/projects/{self.fed.consumer_project_uuid}/").json()["url"]]
        for n in range(1, projects):
            made = client.post("/api/projects/", json={"name": f"Burst {n}", "customer": customer["url"]})
            made.raise_for_status()
            urls.append(made.json()["url"])
        return [{"offering": offering["url"], "project": url, "plan": plan["url"], "limits": {"node_hours": 1},
                 "accepting_terms_of_service": True} for url in urls]

    def place(self, bodies: list[dict[str, Any]], count: int, threads: int = 8) -> tuple[list[str], list[str]]:
        """``count`` Create orders on A as the consumer (in-process), projects in turn; UUIDs and failures."""
        placed: list[str] = []
        failures: list[str] = []
        lock = threading.Lock()

        def worker(first: int) -> None:
            with httpx.Client(transport=self.a.transport(), base_url="http://emulator",
                              headers={"Authorization": f"Token {self.fed.consumer_token}"}) as client:
                for i in range(first, count, threads):
                    answer = client.post("/api/marketplace-orders/",
                                         json={**bodies[i % len(bodies)], "attributes": {"name": f"burst-{i}"}})
                    with lock:
                        if answer.status_code == 201:
                            placed.append(hexid(answer.json()["uuid"]))
                        else:
                            failures.append(f"A order {i}: {answer.status_code} {answer.text[:200]}")

        workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        return placed, failures

    def b_keys(self) -> Counter[str]:
        """How many B orders carry each A order's idempotency key."""
        with self.b.core.lock:
            keys = [str(o.attributes.get("fedcore_order_key", "")) for o in self.b.state.orders.values()]
        return Counter(hexid(k.rsplit(":", 1)[-1]) for k in keys if k)

    def close(self) -> None:
        self.staff_a.close()
        for handle in self.handles:
            handle.stop()
        self.b.simulate_provider(self.fed.b.offering_uuid, None)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=1000, help="Create orders placed on A (default 1000)")
    parser.add_argument("--projects", type=int, default=50, help="consumer projects on A (default 50)")
    parser.add_argument("--latency-ms", type=float, default=5.0,
                        help="added to every request on both emulators (default 5)")
    parser.add_argument("--workers", type=int, default=8, help="fedcore run --workers (default 8, fedcore's own)")
    parser.add_argument("--period-seconds", type=float, default=0.5,
                        help="periods.order_process, in seconds (default 0.5)")
    parser.add_argument("--deadline", type=float, default=600.0,
                        help="seconds to wait for every A order to be done (default 600)")
    _charts.add_option(parser, "order_burst")
    return parser.parse_args(argv)


def report(args: argparse.Namespace, world: World, fedcore: FedcoreProcess, *, placed: list[str], failures: list[str],
           a_calls: Counter[str], b_calls: Counter[str], before: Counter[str], f: dict[str, Any]) -> None:
    """Print the burst's tables."""
    load_before, load_after, setup, placing, waited = (f[k] for k in ("load_before", "load_after", "setup",
                                                                      "placing", "waited"))
    hwm_idle, hwm, cpu_fedcore, cpu_here, busy, code = (f[k] for k in ("hwm_idle", "hwm", "cpu_fedcore", "cpu_here",
                                                                       "busy", "code"))
    first = min(world.a.created[u] for u in placed)
    last = max(world.a.done[u] for u in placed)
    wall = last - first
    done_at = [world.a.done[u] - first for u in placed]
    b_at = [at - first for at in world.b.created.values()]
    n = len(placed)
    a_total, b_total = sum(a_calls.values()), sum(b_calls.values())
    keys = world.b_keys()
    one_each = sum(1 for u in placed if keys.get(u) == 1)
    per_order = (a_total + b_total) / n
    rate = n / wall
    warnings = sum(1 for line in fedcore.lines if " WARNING " in line or " ERROR " in line)

    print(f"## Order burst: {args.orders} Create orders over {args.projects} A projects, "
          f"{args.latency_ms:g} ms added per request, fedcore run --workers {args.workers}, "
          f"order_process every {args.period_seconds:g} s\n")
    rows = [
        ["load average before / after (1, 5, 15 min)", f"{load_before} / {load_after}"],
        ["set-up (emulators, federation, fedcore's first pass)", f"{setup:.1f} s"],
        ["orders placed (in-process, 8 threads)", f"{n} in {placing:.1f} s"],
        ["wall time, first A order created → last A order done", f"{wall:.1f} s"],
        ["A orders done after 50% / 90% / 99% / 100% of them (from the first created)",
         " / ".join(f"{percentile(done_at, q):.1f}" for q in (50, 90, 99, 100)) + " s"],
        ["B orders created after 10% / 50% / 100% of them (from the first A order created)",
         " / ".join(f"{percentile(b_at, q):.1f}" for q in (10, 50, 100)) + " s"],
        ["orders per second (target ≥ 100)",
         f"{rate:.1f} ({'met' if rate >= TARGET_RATE else 'NOT met'})"],
        ["HTTP calls per order, A + B (target ≤ 8)",
         f"{per_order:.2f} ({'met' if per_order <= TARGET_CALLS else 'NOT met'})"],
        ["HTTP calls per order, A / B", f"{a_total / n:.2f} / {b_total / n:.2f}"],
        ["HTTP calls in all, A / B", f"{a_total} / {b_total}"],
        ["fedcore calls before the burst (start-up and idle passes)", sum(before.values())],
        ["fedcore peak RSS (VmHWM) idle / after the burst", f"{hwm_idle / 1024:.1f} / {hwm / 1024:.1f} MiB"],
        ["CPU during the burst: fedcore process / benchmark process (emulators, placing)",
         f"{cpu_fedcore:.1f} s / {cpu_here:.1f} s"],
        ["emulators' summed handling time A / B (incl. state-lock waits, not the added latency)",
         f"{busy[0]:.1f} s / {busy[1]:.1f} s"],
        ["A orders done", f"{sum(1 for u in placed if u in world.a.done)} / {n}"],
        ["A orders with exactly one B order", f"{one_each} / {n}"],
        ["errors placing orders", len(failures)],
        ["fedcore warnings or errors in its log", warnings],
        ["fedcore exit code after SIGTERM", code],
        ["waited after placing", f"{waited:.1f} s"],
    ]
    print(table(["Figure", "Value"], rows))
    print()
    endpoints = [[f"A {k}", v, f"{v / n:.2f}"] for k, v in a_calls.most_common()]
    endpoints += [[f"B {k}", v, f"{v / n:.2f}"] for k, v in b_calls.most_common()]
    print(table(["fedcore call (counted at the emulator)", "Count", "per order"], endpoints))
    kinds = Counter(LOG_NOISE.sub("…", line.split(" ", 2)[-1])[:140].strip()
                    for line in fedcore.lines if " WARNING " in line or " ERROR " in line)
    if kinds:
        print()
        print(table(["fedcore warning or error (identifiers and numbers masked)", "Count"],
                    [[f"`{kind}`", count] for kind, count in kinds.most_common(10)]))
    for failure in failures[:5]:
        print(f"- {failure}")
    chart(args, world, placed, a_calls, b_calls, rate=rate, per_order=per_order)


def chart(args: argparse.Namespace, world: World, placed: list[str], a_calls: Counter[str], b_calls: Counter[str],
          *, rate: float, per_order: float) -> None:
    """Orders over time (A created, B created, A done), and calls per order by endpoint."""
    first = min(world.a.created[u] for u in placed)
    wanted = set(placed)
    n = len(placed)

    def progress(axis: Any) -> None:
        _charts.cumulative(axis, [world.a.created[u] - first for u in placed], "A orders created (consumer)")
        _charts.cumulative(axis, [at - first for at in world.b.created.values()], "B orders created (fedcore)")
        _charts.cumulative(axis, [at - first for u, at in world.a.done.items() if u in wanted],
                           "A orders done (fedcore)", linewidth=2)
        axis.set_xlabel("seconds since the first A order was created")
        axis.set_ylabel("orders")
        axis.set_title(f"{n} orders, {rate:.1f} orders/s end to end", fontsize="medium")

    def calls(axis: Any) -> None:
        rows = [(f"A {k}", v / n) for k, v in a_calls.most_common()] + [(f"B {k}", v / n)
                                                                          for k, v in b_calls.most_common()]
        _charts.bars(axis, [k for k, _ in rows], [v for _, v in rows],
                     color=["tab:blue" if k.startswith("A") else "tab:orange" for k, _ in rows])
        axis.set_xlabel("calls per order (A blue, B orange)")
        axis.set_title(f"{per_order:.2f} calls per order in all (target ≤ {TARGET_CALLS:g})", fontsize="medium")

    _charts.draw(args.chart, "Order burst, polling mode", [progress, calls], width=6.5,
                 note=f"{args.orders} orders, {args.projects} projects, {args.latency_ms:g} ms latency, "
                      f"--workers {args.workers}, order_process every {args.period_seconds:g} s")


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    load_before = load()
    setup_start = time.perf_counter()
    world = World(args.latency_ms)
    fedcore: FedcoreProcess | None = None
    try:
        bodies = world.order_bodies(args.projects)
        with tempfile.TemporaryDirectory(prefix="fedcore-burst-") as directory:
            path = Path(directory) / "config.yaml"
            path.write_text(yaml.safe_dump(world.config(args.period_seconds), sort_keys=False), "utf-8")
            fedcore = FedcoreProcess("-c", str(path), "-m", "order_process", "--workers", str(args.workers))
            fedcore.wait_for(lambda: world.a.calls["GET marketplace-orders/"] > 0, "fedcore's first pass", 60)
            setup = time.perf_counter() - setup_start
            time.sleep(0.2)
            before = world.a.take_calls() + world.b.take_calls()
            hwm_idle = vm_hwm_kib(fedcore.process.pid)
            cpu_fedcore, cpu_here = cpu_seconds(fedcore.process.pid), time.process_time()
            busy = world.a.busy, world.b.busy
            placing_start = time.perf_counter()
            placed, failures = world.place(bodies, args.orders)
            placing = time.perf_counter() - placing_start
            wanted = set(placed)
            waited = fedcore.wait_for(lambda: wanted <= world.a.done.keys(), "every A order done", args.deadline)
            a_calls, b_calls = world.a.take_calls(), world.b.take_calls()
            hwm = vm_hwm_kib(fedcore.process.pid)
            cpu_fedcore, cpu_here = cpu_seconds(fedcore.process.pid) - cpu_fedcore, time.process_time() - cpu_here
            busy = world.a.busy - busy[0], world.b.busy - busy[1]
            load_after = load()
            code = fedcore.stop()
    finally:
        if fedcore is not None:
            fedcore.stop()
        world.close()

    report(args, world, fedcore, placed=placed, failures=failures, a_calls=a_calls, b_calls=b_calls, before=before, f={
        "load_before": load_before, "load_after": load_after, "setup": setup, "placing": placing, "waited": waited,
        "hwm_idle": hwm_idle, "hwm": hwm, "cpu_fedcore": cpu_fedcore, "cpu_here": cpu_here, "busy": busy, "code": code})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
