"""Event-mode latency: how soon an order placed on Waldur A exists on Waldur B, and how soon B's completion
reaches A, with only events acting.

Method. Two emulated Waldurs (``waldur_emulator``) are served over real HTTP from this process and federated
through their REST APIs (``build_federation``), both publishing events through RabbitMQ (``scripts/broker``);
B lets its consumers receive their own orders' events. ``fedcore run -m event_process --event-watch-seconds 1``
runs as a subprocess on the sandbox configuration (``runners.sandbox.federation_config``) with STOMP enabled on
both sides and every pass period at 60 minutes, so after its first passes only events move orders. Once its log
says both sides are "on events", a few threads place ``--orders`` Create orders on A as the consumer, at a steady
``--rate`` per second.

Every timestamp is taken in this process, by the emulators themselves (``_kit.TimedEmulator``): the moment a
request's transaction committed on the server, before the answer went back. No polling is involved, so the
figures carry no sampling error:

- (a) **A to B**: A's ``POST marketplace-orders/`` committed, until the B order carrying that A order's
  idempotency key (``attributes.fedcore_order_key``) was committed on B;
- (b) **B to A**: as soon as a B order exists, a pool of "B provider" threads approves it and sets it done
  (``approve_by_provider`` then ``set_state_done``, as B's staff, over HTTP); from B's ``set_state_done``
  committed until the A order was first seen ``done`` on A.

Both legs overlap during the run (orders are created while others complete), as they would in production.
Printed: p50, p95, p99 and max of each leg, throughput, and the correctness checks (exactly one B order per A
order; every A order done). The target from the issue (p95 under 100 ms on loopback) is reported, not asserted.

Chart (``--chart PATH``, ``_charts``): the distribution (CDF) of each leg with the 100 ms target, and each order's
latency against the moment it was placed (queueing shows as a rise).

Run from the repository root: ``.venv/bin/python benchmarks/event_latency.py [--orders N] [--rate R] [--chart PATH]``.
"""

from __future__ import annotations

import argparse
import queue
import re
import secrets
import sys
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
from _kit import BROKER_WS, HOUR, FedcoreProcess, TimedEmulator, hexid, percentile, table

from runners.sandbox import federation_config
from waldur_emulator.events import RabbitEventBus
from waldur_emulator.federation import Federation, build_federation

KEY = "fedcore_order_key"
LOG_NOISE = re.compile(r"[0-9a-f]{32}|[0-9a-f-]{36}|\d+(\.\d+)?")
"""What varies between log lines of one kind: identifiers and numbers."""
TARGET_P95_MS = 100.0


class Bench:
    """Both Waldurs, the federation, and what the emulators noted about orders."""

    def __init__(self, completers: int) -> None:
        self.buses = RabbitEventBus(), RabbitEventBus()
        tokens = f"staff-a-{secrets.token_hex(16)}", f"staff-b-{secrets.token_hex(16)}"
        self.b_of_a: dict[str, list[str]] = {}
        self.b_created_for: dict[str, float] = {}
        self._todo: queue.Queue[str | None] = queue.Queue()
        self.a = TimedEmulator(staff_token=tokens[0], event_bus=self.buses[0])
        self.b = TimedEmulator(staff_token=tokens[1], event_bus=self.buses[1], consumer_event_access=True,
                               on_created=self._b_created)
        self.handles = self.a.serve(), self.b.serve()
        self.staff_a, self.staff_b = (
            httpx.Client(base_url=h.base_url, headers={"Authorization": f"Token {t}"}, timeout=30)
            for h, t in zip(self.handles, tokens, strict=True))
        self.fed: Federation = build_federation(self.staff_a, self.staff_b)
        self.failures: list[str] = []
        self._completers = [threading.Thread(target=self._complete, args=(tokens[1],), daemon=True)
                            for _ in range(completers)]
        for thread in self._completers:
            thread.start()

    def config(self) -> dict[str, Any]:
        """The sandbox configuration with STOMP on both sides and hour-long periods."""
        data = federation_config(self.fed, f"{self.handles[0].base_url}/api/", f"{self.handles[1].base_url}/api/")
        for offering in data["offerings"]:
            offering.update(stomp_enabled=True, **BROKER_WS)
            offering["backend_settings"].update(target_stomp_enabled=True,
                                                **{f"target_{k}": v for k, v in BROKER_WS.items()})
        return {**data, "periods": HOUR}

    def _b_created(self, uuid: str, attributes: dict[str, Any], at: float) -> None:
        key = str(attributes.get(KEY, ""))
        a_order = hexid(key.rsplit(":", 1)[-1]) if key else ""
        self.b_of_a.setdefault(a_order, []).append(uuid)
        self.b_created_for.setdefault(a_order, at)
        self._todo.put(uuid)

    def _complete(self, token: str) -> None:
        """B's provider: approve and complete every B order as it appears."""
        with httpx.Client(base_url=self.handles[1].base_url, headers={"Authorization": f"Token {token}"},
                          timeout=30) as client:
            while (uuid := self._todo.get()) is not None:
                for action in ("approve_by_provider", "set_state_done"):
                    answer = client.post(f"/api/marketplace-orders/{uuid}/{action}/")
                    if answer.status_code != 200:
                        self.failures.append(f"B {action} {uuid}: {answer.status_code} {answer.text[:200]}")
                        break

    def order_bodies(self, projects: int) -> list[dict[str, Any]]:
        """Bodies of a Create order on A's offering, one per consumer project: the federation's project and
        ``projects - 1`` more in the same organisation (fedcore processes one A project's orders one at a time)."""
        offering = self.staff_a.get(f"/api/marketplace-public-offerings/{self.fed.a.offering_uuid}/").json()
        plan = self.staff_a.get(f"/api/marketplace-public-offerings/{self.fed.a.offering_uuid}/plans/").json()[0]
        customer = self.staff_a.get(f"/api/customers/{self.fed.consumer_customer_uuid}/").json()
        urls = [self.staff_a.get(f"/api/projects/{self.fed.consumer_project_uuid}/").json()["url"]]
        for n in range(1, projects):
            made = self.staff_a.post("/api/projects/", json={"name": f"Bench {n}", "customer": customer["url"]})
            made.raise_for_status()
            urls.append(made.json()["url"])
        return [{"offering": offering["url"], "project": url, "plan": plan["url"], "limits": {"node_hours": 1},
                 "accepting_terms_of_service": True} for url in urls]

    def close(self) -> None:
        for _ in self._completers:
            self._todo.put(None)
        for thread in self._completers:
            thread.join(10)
        for client in (self.staff_a, self.staff_b):
            client.close()
        for handle in self.handles:
            handle.stop()
        for bus in self.buses:
            bus.close()


def place(bench: Bench, count: int, rate: float, threads: int, projects: int) -> tuple[list[str], float]:
    """``count`` Create orders on A, order ``i`` due at ``i / rate`` seconds, in the ``projects`` consumer
    projects in turn; their UUIDs and the seconds taken."""
    bodies = bench.order_bodies(projects)
    placed: list[str] = []
    lock = threading.Lock()
    start = time.perf_counter()

    def worker(first: int) -> None:
        with httpx.Client(base_url=bench.handles[0].base_url, timeout=30,
                          headers={"Authorization": f"Token {bench.fed.consumer_token}"}) as client:
            for i in range(first, count, threads):
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                answer = client.post("/api/marketplace-orders/",
                                     json={**bodies[i % len(bodies)], "attributes": {"name": f"bench-{i}"}})
                if answer.status_code != 201:
                    bench.failures.append(f"A order {i}: {answer.status_code} {answer.text[:200]}")
                    continue
                with lock:
                    placed.append(hexid(answer.json()["uuid"]))

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return placed, time.perf_counter() - start


def stats_row(name: str, seconds: list[float]) -> list[object]:
    ms = [s * 1000.0 for s in seconds]
    return [name, len(ms), *(f"{percentile(ms, q):.1f}" for q in (50, 95, 99)), f"{max(ms, default=float('nan')):.1f}"]


def report(args: argparse.Namespace, bench: Bench, fedcore: FedcoreProcess | None, placed: list[str],
           times: dict[str, float]) -> None:
    """Print the latency table, the run's figures and its correctness checks."""
    a_to_b = [bench.b_created_for[a] - bench.a.created[a] for a in placed if a in bench.b_created_for]
    b_to_a = []
    for a in placed:
        bs = bench.b_of_a.get(a, [])
        if a in bench.a.done and len(bs) == 1 and bs[0] in bench.b.done:
            b_to_a.append(bench.a.done[a] - bench.b.done[bs[0]])
    one_each = sum(1 for a in placed if len(bench.b_of_a.get(a, [])) == 1)
    twice = sum(1 for a in placed if len(bench.b_of_a.get(a, [])) > 1)
    strays = sum(len(v) for k, v in bench.b_of_a.items() if k not in set(placed))
    done = sum(1 for a in placed if a in bench.a.done)
    first = min((bench.a.created[a] for a in placed), default=0.0)
    last_done = max((bench.a.done[a] for a in placed if a in bench.a.done), default=first)
    p95s = [percentile(a_to_b, 95) * 1000, percentile(b_to_a, 95) * 1000]

    print(f"## Event-mode latency: {args.orders} Create orders at {args.rate:g}/s "
          f"in {args.projects} A project(s) ({args.threads} placing threads, {args.completers} completing threads)\n")
    print(table(["Leg", "Orders", "p50 ms", "p95 ms", "p99 ms", "max ms"],
                [stats_row("(a) A order created → B order exists", a_to_b),
                 stats_row("(b) B order done → A order done", b_to_a)]))
    print()
    print(table(["Figure", "Value"], [
        ["set-up (emulators, federation, fedcore on events)",
         f"{times['setup']:.1f} s (on events after {times['on_events']:.1f} s)"],
        ["orders placed", f"{len(placed)} in {times['placing']:.1f} s ({len(placed) / times['placing']:.1f}/s)"],
        ["end to end throughput (first A order to last A order done)",
         f"{done / max(last_done - first, 1e-9):.1f} orders/s"],
        ["drain after the last order placed", f"{times['drained']:.1f} s"],
        ["A orders done", f"{done} / {len(placed)}"],
        ["A orders with exactly one B order", f"{one_each} / {len(placed)}"],
        ["A orders with more than one B order", twice],
        ["B orders for no placed A order", strays],
        ["requests served (A / B)", f"{bench.a.requests} / {bench.b.requests}"],
        ["fedcore exit code after SIGTERM", times['code']],
        ["errors seen by the benchmark", len(bench.failures)],
        [f"p95 under {TARGET_P95_MS:g} ms (a) / (b)",
         " / ".join("met" if p < TARGET_P95_MS else "NOT met" for p in p95s)],
    ]))
    for failure in bench.failures[:10]:
        print(f"- {failure}")
    chart(args, bench, placed, first)
    lines = fedcore.lines if fedcore else []
    kinds = Counter(LOG_NOISE.sub("…", line.split(" ", 2)[-1])[:110].strip()
                    for line in lines if " WARNING " in line or " ERROR " in line)
    print(f"\nfedcore log: {len(lines)} lines, {sum(kinds.values())} warnings or errors")
    if kinds:
        print()
        print(table(["fedcore warning or error (identifiers and numbers masked)", "Count"],
                    [[f"`{kind}`", n] for kind, n in kinds.most_common(12)]))


def chart(args: argparse.Namespace, bench: Bench, placed: list[str], first: float) -> None:
    """Each leg's CDF with the target, and each order's latency against when it was placed."""
    legs: dict[str, list[tuple[float, float]]] = {"(a) A created → B exists": [], "(b) B done → A done": []}
    for a in placed:
        created = bench.a.created[a] - first
        if a in bench.b_created_for:
            legs["(a) A created → B exists"].append((created, (bench.b_created_for[a] - bench.a.created[a]) * 1000))
        bs = bench.b_of_a.get(a, [])
        if a in bench.a.done and len(bs) == 1 and bs[0] in bench.b.done:
            legs["(b) B done → A done"].append((created, (bench.a.done[a] - bench.b.done[bs[0]]) * 1000))

    def distribution(axis: Any) -> None:
        for name, points in legs.items():
            ms = [m for _, m in points]
            _charts.cdf(axis, ms, f"{name}: p95 {percentile(ms, 95):.0f} ms")
        axis.axvline(TARGET_P95_MS, label=f"target: p95 < {TARGET_P95_MS:g} ms", **_charts.TARGET)
        axis.axhline(0.95, color="gray", linewidth=0.8, linestyle=":")
        axis.set_xscale("log")
        axis.set_xlabel("latency, ms (log scale)")
        axis.set_ylabel("share of orders at or under")
        axis.set_title("latency distribution per leg", fontsize="medium")

    def over_time(axis: Any) -> None:
        for name, points in legs.items():
            axis.plot([t for t, _ in points], [m for _, m in points], ".", markersize=3, alpha=0.6, label=name)
        axis.axhline(TARGET_P95_MS, label=f"{TARGET_P95_MS:g} ms", **_charts.TARGET)
        axis.set_yscale("log")
        axis.set_xlabel("A order created, seconds since the first")
        axis.set_ylabel("latency, ms (log scale)")
        axis.set_title("each order's latency over the run", fontsize="medium")

    _charts.draw(args.chart, "Event mode: A → B and B → A latency", [distribution, over_time],
                 note=f"{args.orders} orders at {args.rate:g}/s in {args.projects} projects")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=1000, help="Create orders placed on A (default 1000)")
    parser.add_argument("--rate", type=float, default=10.0, help="orders placed per second (default 10)")
    parser.add_argument("--threads", type=int, default=4, help="threads placing orders (default 4)")
    parser.add_argument("--projects", type=int, default=10,
                        help="consumer projects on A the orders are spread over (default 10)")
    parser.add_argument("--completers", type=int, default=4, help="threads completing B orders (default 4)")
    parser.add_argument("--drain-seconds", type=float, default=240.0,
                        help="how long to wait, after the last order, for every A order to be done (default 240)")
    _charts.add_option(parser, "event_latency")
    args = parser.parse_args(argv)
    if not _kit.broker_up():
        print("RabbitMQ's Web-STOMP endpoint does not answer on 127.0.0.1:15674: run scripts/broker", file=sys.stderr)
        return 2

    setup_start = time.perf_counter()
    bench = Bench(args.completers)
    fedcore: FedcoreProcess | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="fedcore-bench-") as directory:
            path = Path(directory) / "config.yaml"
            path.write_text(yaml.safe_dump(bench.config(), sort_keys=False), "utf-8")
            fedcore = FedcoreProcess("-c", str(path), "-m", "event_process", "--event-watch-seconds", "1")
            on_events = fedcore.wait_for(
                lambda: all(fedcore.count(f" {s} offering", ": on events") for s in "AB"), "both sides on events", 60)
            setup = time.perf_counter() - setup_start
            placed, placing = place(bench, args.orders, args.rate, args.threads, args.projects)
            drain_start = time.perf_counter()
            deadline = drain_start + args.drain_seconds
            while time.perf_counter() < deadline and not all(a in bench.a.done for a in placed):
                time.sleep(0.05)
            drained = time.perf_counter() - drain_start
            code = fedcore.stop()
    finally:
        if fedcore is not None:
            fedcore.stop()
        bench.close()

    report(args, bench, fedcore, placed, {"setup": setup, "on_events": on_events, "placing": placing,
                                          "drained": drained, "code": code})
    return 0


if __name__ == "__main__":
    sys.exit(main())
