"""Many offerings: one daemon serving ``--offerings`` offerings (500 by default), from registration to an idle hour.

Method. Waldur A and B are emulated (``waldur_emulator``) in a **child process** (forked before anything else
starts), so this process's CPU time and memory are fedcore's alone: A gets ``--offerings`` offerings managed by
fedcore's agent user (``_kit.seed_offerings``), no orders, resources or offering users anywhere, and both are
served over real HTTP with ``--latency-ms`` added to every request (a latency ``FaultRule``). The configuration
lists one entry per A offering, STOMP on (as ``registration.py``'s), with **fedcore's default periods**
(``runners.schedule.DEFAULT_MINUTES``: orders every minute, memberships every 2, usage every 10, usernames every 5;
the agent's environment variables are ignored).

1. **Registration**: the ``Registrar`` of that configuration over the ``RestPorts`` the daemon uses (built as
   ``registrar_for`` builds it, ``--registration-workers`` threads), ticked until every offering is registered.
   A's event bus is off (no RabbitMQ queues are provisioned): these are the REST calls alone; ``registration.py``
   phase 2 measures ``fedcore run`` until every offering is on events with a real broker.
2. **First passes**: the library ``Daemon`` (``runners.daemon``, every mode the offerings take part in,
   ``--workers`` order workers as ``fedcore run``, a fake monotonic clock) ticked once: the first pass of every mode
   of every offering, at once. "All ready" is from the start of registration until the last of those passes ended.
3. **An idle hour** simulated as passes: the fake clock moves ``--minutes`` times one minute, with a ``tick()``
   after each, so every mode runs as often as its period gives in that time (60 + 30 + 6 + 12 passes per offering
   in an hour). Per tick: the passes run (by mode), the calls made (the RestPorts observer), the wall and CPU time
   of this process (``time.process_time``: fedcore's threads; the emulators are in the child) and ``VmRSS`` after a
   ``gc.collect()``. Calls are attributed to the mode of the pass that made them in the same thread (the daemon's
   telemetry hears of each pass's end in the thread that ran it); any call outside a pass is reported.

Afterwards the registrar is closed (its queues deleted, as a clean stop does). Targets from issue 11 (reported,
never asserted): one call per offering per idle pass (two for ``username_sync``: one listing per side), memory
under 100 MB and no growth.

Chart (``--chart PATH``, ``_charts``): offerings registered and ready over time; calls per tick by mode; CPU and
passes per tick; VmRSS and threads per tick.

Run from the repository root: ``.venv/bin/python benchmarks/many_offerings.py [--offerings N] [--minutes M]
[--chart PATH]``.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import statistics
import sys
import threading
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import _charts
import yaml
from _kit import UUID_IN_PATH, TimedEmulator, seed_offerings, table
from registration import config as registration_config
from registration import registrar_over, until_registered

from adapters.config import FedcoreConfig, parse_config
from runners.daemon import Daemon
from runners.registration import State
from runners.wiring import RestPorts
from waldur_emulator.faults import FaultRule

TARGET_MIB = 100.0
BUDGET = {"order_process": 1, "membership_sync": 1, "report": 1, "username_sync": 2}
"""Calls an idle pass of each mode should cost (docs/passes.md, docs/usernames.md)."""


def serve_waldurs(conn: Connection, count: int, latency_ms: float) -> None:
    """In the child process: seed and serve both Waldurs, send what the parent needs, serve until told to stop,
    then send the requests handled and the CPU seconds used."""
    import secrets

    started = time.perf_counter()
    tokens = f"staff-a-{secrets.token_hex(16)}", f"staff-b-{secrets.token_hex(16)}"
    a, b = TimedEmulator(staff_token=tokens[0]), TimedEmulator(staff_token=tokens[1])
    fed, uuids = seed_offerings(a, b, tokens, count)
    seeding = time.perf_counter() - started
    if latency_ms > 0:
        for emulator in (a, b):
            emulator.add_fault(FaultRule(latency=latency_ms / 1000.0))
    handles = a.serve(), b.serve()
    a.requests = b.requests = 0
    conn.send((fed, uuids, handles[0].base_url, handles[1].base_url, seeding))
    conn.recv()
    for handle in handles:
        handle.stop()
    conn.send({"requests": (a.requests, b.requests), "cpu": time.process_time()})


class Meter:
    """The RestPorts observer and the daemon's telemetry: calls by server and endpoint, and each pass's calls
    attributed to its mode (counted per thread, handed over when the pass ends in that thread)."""

    def __init__(self, servers: dict[str, str]) -> None:
        self.servers = servers
        self.calls: Counter[str] = Counter()
        self.by_mode: Counter[str] = Counter()
        self.passes: Counter[str] = Counter()
        self.ready: dict[str, float] = {}
        self.retries = 0
        self._local = threading.local()
        self._lock = threading.Lock()

    def api_call(self, server: str, method: str, endpoint: str, status: str, seconds: float) -> None:  # noqa: ARG002
        key = f"{self.servers.get(server, server)} {method} {UUID_IN_PATH.sub('{uuid}', endpoint)} {status}"
        with self._lock:
            self.calls[key] += 1
        self._local.calls = getattr(self._local, "calls", 0) + 1

    def retry(self, server: str, endpoint: str) -> None:  # noqa: ARG002
        with self._lock:
            self.retries += 1

    def pass_finished(self, offering: str, mode: str, seconds: float, ok: bool, finished_at: float) -> None:  # noqa: ARG002
        made, self._local.calls = getattr(self._local, "calls", 0), 0
        with self._lock:
            self.by_mode[mode] += made
            self.passes[mode] += 1
            self.ready[offering] = time.perf_counter()

    def order_finished(self, offering: str, order_type: str, outcome: str) -> None:
        """Not measured here (no orders)."""

    def orders_waiting(self, offering: str, count: int, oldest_age_seconds: float) -> None:
        """Not measured here (no orders)."""

    def server_reachable(self, server: str, reachable: bool) -> None:
        """Not measured here."""

    def take(self) -> dict[str, Any]:
        """Since the last take: ``calls`` by endpoint, and ``by_mode`` (calls) and ``passes`` by mode."""
        with self._lock:
            taken = {"calls": self.calls, "by_mode": self.by_mode, "passes": self.passes}
            self.calls, self.by_mode, self.passes = Counter(), Counter(), Counter()
        return taken


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def settle(daemon: Daemon) -> None:
    """Wait until the daemon's scheduler knows that every pass of the last tick ended. ``Daemon.tick()`` returns
    when the passes' results are in, and a job is marked finished by a callback that may run a moment later in the
    job's thread: without this wait the next tick skips it as still running (2% of the passes were)."""
    while daemon._scheduler.running:  # private: there is no public way to ask (reported)
        time.sleep(0.001)


def status_kib(field: str) -> int:
    """A ``/proc/self/status`` figure (``VmRSS``, ``VmHWM``) in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--offerings", type=int, default=500, help="A offerings served (default 500)")
    parser.add_argument("--minutes", type=int, default=60, help="idle minutes simulated, one tick each (default 60)")
    parser.add_argument("--latency-ms", type=float, default=5.0, help="added to every request (default 5)")
    parser.add_argument("--workers", type=int, default=8, help="the daemon's order workers (default 8, fedcore's)")
    parser.add_argument("--registration-workers", type=int, default=8, help="the Registrar's pool (default 8)")
    _charts.add_option(parser, "many_offerings")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    load_before = _charts.load()
    context = multiprocessing.get_context("fork")
    conn, child_conn = context.Pipe()
    child = context.Process(target=serve_waldurs, args=(child_conn, args.offerings, args.latency_ms), daemon=True)
    child.start()
    fed, uuids, a_url, b_url, seeding = conn.recv()
    data = registration_config(fed, f"{a_url}/api/", f"{b_url}/api/", uuids)
    data.pop("periods")
    parsed = parse_config(yaml.safe_dump(data, sort_keys=False))
    meter = Meter({urlsplit(a_url).netloc: "A", urlsplit(b_url).netloc: "B"})
    rest = RestPorts(parsed, observer=meter)
    m: dict[str, Any] = {"load_before": load_before, "seeding": seeding}
    rss: dict[str, int] = {}
    registered: list[tuple[float, int]] = []
    ticks: list[dict[str, Any]] = []
    try:
        run(args, parsed, rest, meter, m=m, rss=rss, registered=registered, ticks=ticks)
    finally:
        rest.close()
        conn.send("stop")
        m["emulators"] = conn.recv()
        child.join(30)
    m["load_after"] = _charts.load()
    m["retries"] = meter.retries
    report_tables(args, m, rss, ticks, registered)
    chart(args, m, ticks, registered)
    return 0


def run(args: argparse.Namespace, parsed: FedcoreConfig, rest: RestPorts, meter: Meter, *, m: dict[str, Any],
        rss: dict[str, int], registered: list[tuple[float, int]], ticks: list[dict[str, Any]]) -> None:
    """Registration, the first passes and the idle minutes; figures into ``m``, VmRSS into ``rss``, the
    registration's progress into ``registered`` and each idle tick into ``ticks``."""
    gc.collect()
    rss["start"] = status_kib("VmRSS")
    daemon: Daemon | None = None
    start, cpu = time.perf_counter(), time.process_time()
    registrar = registrar_over(parsed, rest, args.registration_workers)
    try:
        states = until_registered(registrar, registered)
        m["registration"], m["registration_cpu"] = time.perf_counter() - start, time.process_time() - cpu
        m["registration_calls"] = meter.take()["calls"]
        m["registered"] = states[State.REGISTERED]
        gc.collect()
        rss["registered"] = status_kib("VmRSS")

        clock = Clock()
        daemon = Daemon(parsed, ports=rest, telemetry=meter, workers=args.workers, monotonic=clock, environ={})
        m["periods"] = {str(mode): period.minutes for mode, period in daemon.periods.items()}
        began, cpu = time.perf_counter(), time.process_time()
        first = daemon.tick()
        settle(daemon)
        m["first"], m["first_cpu"] = time.perf_counter() - began, time.process_time() - cpu
        m["ready"] = time.perf_counter() - start
        m["ready_at"] = sorted(at - start for at in meter.ready.values())
        taken = meter.take()
        m["first_calls"], m["first_passes"] = taken["calls"], taken["passes"]
        m["first_failed"] = sum(1 for r in first.results if not r.ok)
        m["threads_first"] = threading.active_count()
        gc.collect()
        rss["first passes"] = status_kib("VmRSS")
        for minute in range(1, args.minutes + 1):
            clock.now += 60.0
            began, cpu = time.perf_counter(), time.process_time()
            report = daemon.tick()
            settle(daemon)
            wall, cpu = time.perf_counter() - began, time.process_time() - cpu
            taken = meter.take()
            gc.collect()
            ticks.append({**taken, "minute": minute, "wall": wall, "cpu": cpu,
                          "failed": sum(1 for r in report.results if not r.ok),
                          "rss": status_kib("VmRSS"), "threads": threading.active_count()})
        rss["idle hour"] = status_kib("VmRSS")
        m["hwm"] = status_kib("VmHWM")
    finally:
        if daemon is not None:
            daemon.close()
        began = time.perf_counter()
        registrar.close()
        m["closing"] = time.perf_counter() - began
        m["closing_calls"] = sum(meter.take()["calls"].values())


def report_tables(args: argparse.Namespace, m: dict[str, Any], rss: dict[str, int], ticks: list[dict[str, Any]],
                  registered: list[tuple[float, int]]) -> None:
    """Print the run's tables."""
    n = args.offerings
    passes = sum((t["passes"] for t in ticks), Counter())
    by_mode = sum((t["by_mode"] for t in ticks), Counter())
    calls = sum((t["calls"] for t in ticks), Counter())
    total_passes, total_calls = sum(passes.values()), sum(calls.values())
    cpu = sum(t["cpu"] for t in ticks)
    growth = ticks[-1]["rss"] - ticks[0]["rss"] if ticks else 0
    budget = sum(BUDGET.get(mode, 1) * count for mode, count in passes.items())
    print(f"## Many offerings: one daemon, {n} offerings, registration then {args.minutes} idle minutes as passes "
          f"({args.latency_ms:g} ms added per request)\n")
    rows: list[list[object]] = [
        ["load average before / after (1, 5, 15 min)", f"{m['load_before']} / {m['load_after']}"],
        ["seeding (child process, in-process REST)", f"{m['seeding']:.1f} s"],
        ["registration: every offering registered", f"{m['registration']:.1f} s ({m['registered']} / {n}), "
                                                     f"{m['registration_cpu']:.1f} s CPU"],
        ["registration calls (expected 1 + 12 x N)",
         f"{sum(m['registration_calls'].values())} (expected {1 + 12 * n})"],
        ["first passes: every mode of every offering (one tick)",
         f"{m['first']:.1f} s, {sum(m['first_passes'].values())} passes, {sum(m['first_calls'].values())} calls, "
         f"{m['first_cpu']:.1f} s CPU, {m['first_failed']} not ok"],
        ["all ready: registration start → last first pass ended", f"{m['ready']:.1f} s"],
        [f"idle {args.minutes} minutes: passes (by mode)",
         f"{total_passes} ({', '.join(f'{k} {v}' for k, v in sorted(passes.items()))})"],
        ["idle: calls in all / per pass (budget: 1 per pass, 2 per username_sync pass)",
         f"{total_calls} / {total_calls / max(total_passes, 1):.2f} (budget {budget}: "
         f"{'met' if total_calls <= budget else 'NOT met'})"],
        ["idle: calls per offering per simulated hour", f"{total_calls / n * 60 / max(args.minutes, 1):.1f}"],
        ["idle: calls made outside any pass", total_calls - sum(by_mode.values())],
        ["idle: wall time per tick, median / max", f"{statistics.median(t['wall'] for t in ticks):.2f} / "
                                                    f"{max(t['wall'] for t in ticks):.2f} s" if ticks else "-"],
        ["idle: fedcore CPU in all / per pass", f"{cpu:.1f} s / {cpu / max(total_passes, 1) * 1000:.2f} ms"],
        ["idle: fedcore CPU per simulated hour, as a share of one core", f"{cpu / (args.minutes * 60) * 100:.2f} %"],
        ["idle: passes not ok", sum(t["failed"] for t in ticks)],
        ["VmRSS: start / registered / first passes / after the idle minutes",
         " / ".join(f"{kib / 1024:.1f}" for kib in rss.values()) + " MiB"],
        ["VmRSS growth across the idle minutes (first tick → last)", f"{growth:+d} KiB"],
        [f"VmHWM (peak; target < {TARGET_MIB:g} MiB)",
         f"{m['hwm'] / 1024:.1f} MiB ({'met' if m['hwm'] / 1024 < TARGET_MIB else 'NOT met'})"],
        ["threads after the first passes / at the end", f"{m['threads_first']} / "
                                                         f"{ticks[-1]['threads'] if ticks else '-'}"],
        ["retries", m["retries"]],
        ["close(): queues deleted", f"{m['closing_calls']} calls in {m['closing']:.1f} s"],
        ["emulators (child process): requests A / B, CPU",
         f"{m['emulators']['requests'][0]} / {m['emulators']['requests'][1]}, {m['emulators']['cpu']:.1f} s"],
    ]
    print(table(["Figure", "Value"], rows))
    print()
    print(table(["Mode", "Period (min)", "Idle passes", "Calls", "Calls per pass (budget)"],
                [[mode, f"{m['periods'].get(mode, 0):g}", count, by_mode[mode],
                  f"{by_mode[mode] / count:.2f} ({BUDGET.get(mode, 1)})"] for mode, count in sorted(passes.items())]))
    print()
    print(table(["Call in the idle minutes (RestPorts observer)", "Count", "per offering per hour"],
                [[f"`{k}`", v, f"{v / n * 60 / max(args.minutes, 1):.1f}"] for k, v in calls.most_common()]))
    if registered and registered[-1][1] < args.offerings:
        print(f"\n- only {registered[-1][1]} of {args.offerings} offerings registered", file=sys.stderr)


def chart(args: argparse.Namespace, m: dict[str, Any], ticks: list[dict[str, Any]],
          registered: list[tuple[float, int]]) -> None:
    """Offerings registered and ready over time; calls, CPU and memory per tick of the idle minutes."""
    minutes = [t["minute"] for t in ticks]
    modes = sorted({mode for t in ticks for mode in t["passes"]})

    def ready(axis: Any) -> None:
        axis.step([0.0, *(t for t, _ in registered)], [0, *(n for _, n in registered)], where="post",
                  label="registered (events)")
        _charts.cumulative(axis, m["ready_at"], "first pass of every mode ended", linewidth=2)
        axis.axhline(args.offerings, color="gray", linewidth=0.8, linestyle=":")
        axis.set_xlabel("seconds since registration started")
        axis.set_ylabel("offerings")
        axis.set_title(f"all {args.offerings} ready after {m['ready']:.1f} s", fontsize="medium")

    def calls(axis: Any) -> None:
        bottom = [0.0] * len(ticks)
        for mode in modes:
            values = [t["by_mode"][mode] / args.offerings for t in ticks]
            axis.bar(minutes, values, bottom=bottom, label=mode, width=0.8)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        budget = [sum(BUDGET.get(k, 1) * v for k, v in t["passes"].items()) / args.offerings for t in ticks]
        axis.plot(minutes, budget, "_", markersize=14, markeredgewidth=2, color="black", linestyle="none",
                  label="budget")
        axis.set_xlabel("simulated minute (one tick)")
        axis.set_ylabel("calls per offering in that tick")
        axis.set_title("idle calls per tick, by mode", fontsize="medium")

    def cpu(axis: Any) -> None:
        axis.plot(minutes, [t["cpu"] * 1000 / max(sum(t["passes"].values()), 1) for t in ticks], "o-",
                  markersize=3, label="fedcore CPU per pass")
        axis.plot(minutes, [t["wall"] * 1000 / max(sum(t["passes"].values()), 1) for t in ticks], "s-",
                  markersize=3, label="wall time per pass (tick / passes)")
        axis.set_ylim(bottom=0)
        axis.set_xlabel("simulated minute (one tick)")
        axis.set_ylabel("ms per pass")
        axis.set_title(f"time per idle pass ({args.workers} order workers)", fontsize="medium")

    def memory(axis: Any) -> None:
        axis.plot(minutes, [t["rss"] / 1024 for t in ticks], "o-", markersize=3, label="VmRSS (fedcore alone)")
        axis.axhline(TARGET_MIB, label=f"target: < {TARGET_MIB:g} MiB", **_charts.TARGET)
        axis.set_ylim(0, max([TARGET_MIB, *(t["rss"] / 1024 for t in ticks)]) * 1.15)
        axis.set_xlabel("simulated minute (one tick)")
        axis.set_ylabel("MiB")
        axis.set_title(f"memory; {ticks[-1]['threads'] if ticks else 0} threads at the end", fontsize="medium")

    _charts.draw(args.chart, f"One daemon, {args.offerings} offerings: registration, then {args.minutes} idle minutes",
                 [ready, calls, cpu, memory], columns=2,
                 note=f"{args.offerings} offerings, {args.minutes} simulated minutes, fedcore's default periods, "
                      f"{args.latency_ms:g} ms added per request")


if __name__ == "__main__":
    raise SystemExit(main())
