"""Idle passes: what a polling pass costs when there is nothing to do, per offering, in calls and CPU time.

Method. Waldur A is emulated with ``--offerings`` offerings managed by fedcore's agent user (seeded in-process
through A's REST API with ``waldur_emulator.seeding.Seeder``), no orders anywhere; A and B are served over real
HTTP from this process (no added latency). The library daemon (``runners.daemon.Daemon``) is built over
``runners.wiring.RestPorts`` for a configuration with one entry per A offering, mode ``order_process`` only,
``workers=1`` (every pass runs inline in the calling thread) and a fake monotonic clock that moves an hour per
reading, so every ``tick()`` runs one order pass of every offering. After one warm-up tick, ``--ticks`` ticks are
timed. Per tick: wall time, the calling thread's CPU time (``time.thread_time``: fedcore's own work, client side,
since the emulators answer on their own threads) and the whole process's (``time.process_time``: the emulators'
handling included). Calls are counted by the RestPorts observer and, as a check, at the emulators.

Chart (``--chart PATH``, ``_charts``): per tick, the calls per offering per pass (target 1), and the wall time and
CPU time per pass.

Run from the repository root: ``.venv/bin/python benchmarks/idle_pass.py [--offerings K] [--ticks N] [--chart PATH]``.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import time
from collections import Counter
from typing import Any

import _charts
import yaml
from _kit import HOUR, Calls, HourlyClock, TimedEmulator, seed_offerings, table

from adapters.config import parse_config
from runners.daemon import Daemon
from runners.sandbox import federation_config
from runners.wiring import RestPorts
from waldur_emulator.federation import Federation

HEX = re.compile(r"[0-9a-f]{32}|[0-9a-f-]{36}")
TARGET_CALLS = 1.0


def seed(count: int) -> tuple[TimedEmulator, TimedEmulator, Federation, list[str]]:
    """Both Waldurs and ``count`` A offerings managed by fedcore's A user; their UUIDs."""
    tokens = f"staff-a-{secrets.token_hex(16)}", f"staff-b-{secrets.token_hex(16)}"
    a, b = TimedEmulator(staff_token=tokens[0]), TimedEmulator(staff_token=tokens[1])
    fed, uuids = seed_offerings(a, b, tokens, count)
    return a, b, fed, uuids


def config_text(fed: Federation, a_api: str, b_api: str, offerings: list[str]) -> str:
    """One configuration entry per A offering (all towards B's one offering), every period an hour."""
    [template] = federation_config(fed, a_api, b_api)["offerings"]
    entries = [{**template, "name": f"Offering {n}", "waldur_offering_uuid": uuid} for n, uuid in enumerate(offerings)]
    data: dict[str, Any] = {"offerings": entries, "periods": HOUR}
    return yaml.safe_dump(data, sort_keys=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--offerings", type=int, default=100, help="A offerings, one pass each per tick (default 100)")
    parser.add_argument("--ticks", type=int, default=50, help="timed ticks after one warm-up tick (default 50)")
    _charts.add_option(parser, "idle_pass")
    args = parser.parse_args(argv)
    load_before = ", ".join(f"{x:.2f}" for x in os.getloadavg())

    start = time.perf_counter()
    a, b, fed, uuids = seed(args.offerings)
    seeding = time.perf_counter() - start
    handles = a.serve(), b.serve()
    calls = Calls()
    config = parse_config(config_text(fed, f"{handles[0].base_url}/api/", f"{handles[1].base_url}/api/", uuids))
    rest = RestPorts(config, observer=calls)
    daemon = Daemon(config, ports=rest, modes=["order_process"], workers=1, monotonic=HourlyClock())
    walls: list[float] = []
    threads: list[float] = []
    processes: list[float] = []
    per_tick: list[int] = []
    counted: Counter[str] = Counter()
    failed = 0
    try:
        warm = daemon.tick()
        calls.take()
        a.requests = b.requests = 0
        for _ in range(args.ticks):
            wall, thread, process = time.perf_counter(), time.thread_time(), time.process_time()
            report = daemon.tick()
            walls.append(time.perf_counter() - wall)
            threads.append(time.thread_time() - thread)
            processes.append(time.process_time() - process)
            failed += sum(1 for r in report.results if not r.ok)
            taken = calls.take()
            per_tick.append(sum(taken.values()))
            counted += taken
    finally:
        daemon.close()
        rest.close()
        for handle in handles:
            handle.stop()
    load_after = ", ".join(f"{x:.2f}" for x in os.getloadavg())

    passes = args.ticks * args.offerings
    total = sum(counted.values())
    per_offering = total / passes
    jobs_per_tick = len(warm.results)
    print(f"## Idle passes: {args.offerings} offerings, {args.ticks} ticks (one order pass per offering each)\n")
    print(table(["Figure", "Value"], [
        ["load average before / after (1, 5, 15 min)", f"{load_before} / {load_after}"],
        ["seeding (federation + offerings, in-process REST)", f"{seeding:.1f} s"],
        ["passes per tick", jobs_per_tick],
        ["calls per offering per idle pass (target 1)",
         f"{per_offering:.2f} ({'met' if per_offering <= TARGET_CALLS else 'NOT met'})"],
        ["calls counted at the emulators, A / B", f"{a.requests} / {b.requests}"],
        ["retries", calls.retries],
        ["wall time per tick, median / max", f"{statistics.median(walls) * 1000:.1f} / {max(walls) * 1000:.1f} ms"],
        ["fedcore CPU per tick (thread_time), median / mean",
         f"{statistics.median(threads) * 1000:.1f} / {statistics.fmean(threads) * 1000:.1f} ms"],
        ["fedcore CPU per idle pass (one offering), mean", f"{sum(threads) / passes * 1000:.2f} ms"],
        ["whole process CPU per tick (emulators included), median",
         f"{statistics.median(processes) * 1000:.1f} ms"],
        ["failed passes", failed],
    ]))
    print()
    print(table(["Call (RestPorts observer)", "Count", "per pass"],
                [[f"`{k}`", v, f"{v / passes:.2f}"] for k, v in counted.most_common()]))
    chart(args, per_tick, walls, threads, processes)
    return 0


def chart(args: argparse.Namespace, per_tick: list[int], walls: list[float], threads: list[float],
          processes: list[float]) -> None:
    """Calls per offering per pass, and wall and CPU time per pass, tick by tick."""
    ticks = range(1, len(per_tick) + 1)

    def calls(axis: Any) -> None:
        axis.plot(ticks, [c / args.offerings for c in per_tick], "o-", markersize=3, label="measured")
        axis.axhline(TARGET_CALLS, label=f"target: {TARGET_CALLS:g}", **_charts.TARGET)
        axis.set_ylim(0, max(2.0, max(per_tick, default=0) / args.offerings * 1.2))
        axis.set_xlabel("tick (one idle order pass of every offering)")
        axis.set_ylabel("calls per offering per pass")
        axis.set_title("calls per idle pass", fontsize="medium")

    def cpu(axis: Any) -> None:
        for values, label in ((walls, "wall time"), (processes, "CPU, whole process (emulators included)"),
                              (threads, "CPU, fedcore (ticking thread)")):
            axis.plot(ticks, [v / args.offerings * 1000 for v in values], "o-", markersize=3, label=label)
        axis.set_ylim(bottom=0)
        axis.set_xlabel("tick")
        axis.set_ylabel("ms per idle pass (one offering)")
        axis.set_title("time per idle pass", fontsize="medium")

    _charts.draw(args.chart, f"Idle order passes over {args.offerings} offerings", [calls, cpu],
                 note=f"{args.offerings} offerings, {args.ticks} ticks, no added latency, workers=1")


if __name__ == "__main__":
    raise SystemExit(main())
