"""Memory: fedcore's footprint after 10,000 orders, and whether it grows across 1,000 idle passes.

Phase 1, orders (in-process, **over the in-memory fakes** ``adapters.memory``, not REST: 10,000 orders through
``fedcore run`` over two emulators would take several minutes at the order burst's rate). The library daemon
(``runners.daemon.Daemon``, mode ``order_process``, ``workers=1``, a fake clock under which every ``tick()`` runs a
pass) is wired with ``runners.wiring.memory_world`` ports. ``--orders`` Create orders are placed on A in batches of
``--batch`` over ``--projects`` projects; each batch takes one tick (approve, B project and order), B's provider
finishing every B order, and a second tick (A orders done). The process's resident memory (``VmRSS``, ``VmHWM`` of
``/proc/self/status``) is read before and after. It **includes the fakes' own store** (10,000 A orders and
resources, 10,000 B orders and resources): an upper bound on what fedcore keeps. With ``--trace``, tracemalloc
then shows where the memory still held was allocated, by source file, so fedcore's share can be told apart.

Phase 2, idle passes (REST): Waldur A and B are emulated and served over HTTP from this process, the daemon is
built over ``runners.wiring.RestPorts`` and ticked ``--idle`` times (one idle order pass each: one GET). VmRSS and
tracemalloc's current size (``--trace``) are sampled every tenth of the run: growth after the first tenth would be
a leak. Target from issue 11: under 100 MB, no growth; reported, never asserted.

Chart (``--chart PATH``, ``_charts``): VmRSS after every batch of orders (with the 100 MiB target), and VmRSS
across the idle passes.

Run from the repository root: ``.venv/bin/python benchmarks/memory.py [--orders N] [--idle N] [--trace]
[--chart PATH]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import secrets
import time
import tracemalloc
from pathlib import Path
from typing import Any

import _charts
import httpx
import yaml
from _kit import HOUR, ROOT, HourlyClock, table

from adapters.config import FedcoreConfig, parse_config
from fedcore.enums import OrderState
from runners.daemon import Daemon
from runners.sandbox import federation_config
from runners.wiring import RestPorts
from runners.wiring.memory import MemoryWorld, memory_world
from waldur_emulator import Emulator
from waldur_emulator.federation import Federation, Side, build_federation

TARGET_MIB = 100.0


def status_kib(field: str) -> int:
    """A ``/proc/self/status`` figure (``VmRSS``, ``VmHWM``) in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def short(filename: str) -> str:
    """A source file's path relative to ``src``, site-packages or the standard library."""
    return filename.removeprefix(str(ROOT / "src") + "/").split("site-packages/")[-1].split("/lib/")[-1]


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def fake_federation() -> Federation:
    """A federation's identifiers for a configuration whose ports are fakes (no server behind them)."""
    def side() -> Side:
        return Side(secrets.token_hex(16), secrets.token_hex(16), secrets.token_hex(20), secrets.token_hex(16),
                    secrets.token_hex(16))
    return Federation(side(), side(), secrets.token_hex(16), secrets.token_hex(16), secrets.token_hex(16),
                      secrets.token_hex(20), "isd:federation")


def parse(data: dict[str, Any]) -> FedcoreConfig:
    return parse_config(yaml.safe_dump({**data, "periods": HOUR}, sort_keys=False))


def by_file(snapshot: tracemalloc.Snapshot, top: int = 8) -> list[list[object]]:
    """The memory still held, by source file (paths relative to the repository or site-packages)."""
    rows = []
    for stat in snapshot.statistics("filename")[:top]:
        name = stat.traceback[0].filename
        for prefix in (str(ROOT / "src") + "/", str(ROOT) + "/"):
            name = name.removeprefix(prefix)
        name = name.split("site-packages/")[-1]
        rows.append([f"`{name}`", f"{stat.size / 1024 / 1024:.2f} MiB", stat.count])
    return rows


def orders_phase(
    args: argparse.Namespace, samples: list[tuple[int, int]]
) -> tuple[list[list[object]], list[list[object]]]:
    """Phase 1; ``samples`` gets (orders placed, VmRSS KiB) before the first batch and after each."""
    config = parse(federation_config(fake_federation(), "http://a.example/api/", "http://b.example/api/"))
    worlds: dict[str, MemoryWorld] = {}

    def ports(offering: Any) -> Any:
        worlds[offering.name] = world = memory_world(offering)
        return world.ports

    gc.collect()
    rss_start = status_kib("VmRSS")
    daemon = Daemon(config, ports=ports, modes=["order_process"], workers=1, monotonic=HourlyClock())
    [world] = worlds.values()
    projects = [world.a.add_project(f"project {n}") for n in range(args.projects)]
    daemon.tick()
    if args.trace:
        tracemalloc.start()
    rss_wired = status_kib("VmRSS")
    began = time.perf_counter()
    placed = 0
    failed = 0
    samples.append((0, rss_wired))
    while placed < args.orders:
        batch = [world.a.order_create(projects[(placed + n) % len(projects)], {"node_hours": 1}, name=f"r{placed + n}")
                 for n in range(min(args.batch, args.orders - placed))]
        placed += len(batch)
        failed += sum(1 for r in daemon.tick().results if not r.ok)
        for order in world.b.open_orders():
            world.b.provider_finish(order.uuid, OrderState.DONE)
        failed += sum(1 for r in daemon.tick().results if not r.ok)
        samples.append((placed, status_kib("VmRSS")))
    seconds = time.perf_counter() - began
    done = sum(1 for o in world.a.orders.values() if o.state == OrderState.DONE)
    gc.collect()
    rss_end, hwm = status_kib("VmRSS"), status_kib("VmHWM")
    rows: list[list[object]] = [
        ["orders placed / done on A", f"{placed} / {done} ({failed} passes not ok)"],
        ["time (ticks + fakes)", f"{seconds:.1f} s ({placed / seconds:.0f} orders/s)" +
         (" under tracemalloc" if args.trace else "")],
        ["fakes' store afterwards: A orders, A resources, B orders, B resources",
         f"{len(world.a.orders)}, {len(world.a.resources)}, {len(world.b.orders)}, {len(world.b.resources)}"],
        ["VmRSS: process start of phase / daemon wired / after the orders", f"{mib(rss_start)} / {mib(rss_wired)} / "
         f"{mib(rss_end)}"],
        [f"VmHWM (peak) after the orders (target < {TARGET_MIB:g} MiB, fakes' store included)",
         f"{mib(hwm)} ({'met' if hwm / 1024 < TARGET_MIB else 'NOT met'})"],
    ]
    held: list[list[object]] = []
    if args.trace:
        snapshot = tracemalloc.take_snapshot()
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows.append(["tracemalloc: held after the orders / peak (allocated since the daemon was wired)",
                     f"{current / 1024 / 1024:.1f} / {peak / 1024 / 1024:.1f} MiB"])
        held = by_file(snapshot)
    daemon.close()
    return rows, held


def idle_phase(
    args: argparse.Namespace, samples: list[tuple[int, int, int]]
) -> tuple[list[list[object]], list[list[object]]]:
    """Phase 2; ``samples`` gets (passes, VmRSS KiB, tracemalloc's current bytes) every tenth of the run."""
    tokens = f"staff-a-{secrets.token_hex(16)}", f"staff-b-{secrets.token_hex(16)}"
    a, b = Emulator(staff_token=tokens[0]), Emulator(staff_token=tokens[1])
    clients = [httpx.Client(transport=e.transport(), base_url="http://emulator",
                            headers={"Authorization": f"Token {t}"}) for e, t in zip((a, b), tokens, strict=True)]
    fed = build_federation(clients[0], clients[1])
    for client in clients:
        client.close()
    handles = a.serve(), b.serve()
    config = parse(federation_config(fed, f"{handles[0].base_url}/api/", f"{handles[1].base_url}/api/"))
    rest = RestPorts(config)
    daemon = Daemon(config, ports=rest, modes=["order_process"], workers=1, monotonic=HourlyClock())
    snapshots: list[tracemalloc.Snapshot] = []
    failed = 0
    step = max(1, args.idle // 10)
    try:
        daemon.tick()
        if args.trace:
            tracemalloc.start(10)
        began = time.perf_counter()
        for n in range(1, args.idle + 1):
            failed += sum(1 for r in daemon.tick().results if not r.ok)
            if n % step == 0:
                gc.collect()
                samples.append((n, status_kib("VmRSS"), tracemalloc.get_traced_memory()[0] if args.trace else 0))
                if args.trace and n in (step, step * 10):
                    snapshots.append(tracemalloc.take_snapshot())
        seconds = time.perf_counter() - began
    finally:
        tracemalloc.stop()
        daemon.close()
        rest.close()
        for handle in handles:
            handle.stop()
    first, last = samples[0], samples[-1]
    rows: list[list[object]] = [[f"after pass {n}", mib(rss), f"{traced / 1024:.0f} KiB" if args.trace else "-"]
                                for n, rss, traced in samples]
    rows.append([f"growth, pass {first[0]} → {last[0]}", f"{(last[1] - first[1]):+d} KiB",
                 f"{(last[2] - first[2]) / 1024:+.0f} KiB" if args.trace else "-"])
    rows.append([f"{args.idle} idle passes", f"{seconds:.1f} s", f"{failed} not ok"])
    grown: list[list[object]] = []
    if len(snapshots) == 2:
        for stat in snapshots[1].compare_to(snapshots[0], "traceback")[:4]:
            frames = [f"{short(f.filename)}:{f.lineno}" for f in stat.traceback]
            grown.append([f"`{' < '.join(frames[:6])}`", f"{stat.size_diff / 1024:+.1f} KiB", f"{stat.count_diff:+d}"])
    return rows, grown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=10_000, help="Create orders processed (default 10000)")
    parser.add_argument("--batch", type=int, default=500, help="orders placed per batch (default 500)")
    parser.add_argument("--projects", type=int, default=50, help="A projects (default 50)")
    parser.add_argument("--idle", type=int, default=1000, help="idle passes over REST (default 1000)")
    parser.add_argument("--trace", action="store_true", help="also tracemalloc (slower): where memory is held")
    _charts.add_option(parser, "memory")
    args = parser.parse_args(argv)
    load_before = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    by_orders: list[tuple[int, int]] = []
    by_passes: list[tuple[int, int, int]] = []
    rows, held = orders_phase(args, by_orders)
    idle, grown = idle_phase(args, by_passes)
    load_after = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"## Memory: {args.orders} orders (in-memory fakes), then {args.idle} idle passes (REST)\n")
    print(table(["Figure", "Value"], [["load average before / after (1, 5, 15 min)",
                                       f"{load_before} / {load_after}"], *rows]))
    if held:
        print()
        print(table(["Held after the orders, allocated in (tracemalloc)", "Size", "Blocks"], held))
    print()
    print(table(["Idle passes (REST, one offering)", "VmRSS", "tracemalloc current"], idle))
    if grown:
        print()
        print(table(["Grown between the first and the last sample (tracemalloc, whole process)", "Size", "Blocks"],
                    grown))
    chart(args, by_orders, by_passes)
    return 0


def chart(args: argparse.Namespace, by_orders: list[tuple[int, int]], by_passes: list[tuple[int, int, int]]) -> None:
    """VmRSS over the orders (target line) and over the idle passes."""

    def orders(axis: Any) -> None:
        axis.plot([n for n, _ in by_orders], [kib / 1024 for _, kib in by_orders], "o-", markersize=3,
                  label="VmRSS (fedcore and the fakes' store)")
        axis.axhline(TARGET_MIB, label=f"target: < {TARGET_MIB:g} MiB", **_charts.TARGET)
        axis.set_ylim(0, max([TARGET_MIB, *(kib / 1024 for _, kib in by_orders)]) * 1.15)
        axis.set_xlabel("Create orders processed (in-memory fakes)")
        axis.set_ylabel("MiB")
        axis.set_title(f"over {args.orders} orders, batches of {args.batch}", fontsize="medium")

    def idle(axis: Any) -> None:
        axis.plot([n for n, _, _ in by_passes], [kib / 1024 for _, kib, _ in by_passes], "o-", markersize=3,
                  label="VmRSS (fedcore and both emulators)")
        if args.trace:
            axis.plot([n for n, _, _ in by_passes], [traced / 2**20 for _, _, traced in by_passes], "s-",
                      markersize=3, label="tracemalloc current")
        low = min((kib / 1024 for _, kib, _ in by_passes), default=0.0)
        axis.set_ylim(max(0.0, low - 10), low + 10)
        axis.set_xlabel("idle order passes (REST, one offering)")
        axis.set_ylabel("MiB")
        axis.set_title(f"over {args.idle} idle passes (a flat line: no growth)", fontsize="medium")

    _charts.draw(args.chart, "Memory", [orders, idle],
                 note=f"{args.orders} orders over {args.projects} projects, then {args.idle} idle passes"
                      + (", under tracemalloc" if args.trace else ""))


if __name__ == "__main__":
    raise SystemExit(main())
