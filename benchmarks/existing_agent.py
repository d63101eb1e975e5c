"""The order burst of ``order_burst.py`` run against the existing agent (waldur-site-agent 1.0.7 with its Waldur
plugin, ``backend_type: waldur``), then against fedcore on the same sizes, side by side.

Method. The world is ``order_burst.World``'s: two emulated Waldurs (no events) federated through their REST APIs
and served over real HTTP from this process, each with ``--latency-ms`` added to every request; B's provider is the
emulator's provider simulation (approves and completes every B order at once). The agent, installed in its own
virtualenv by ``scripts/existing-agent`` (``.venv-agent``; a no-op once installed), runs as a subprocess,
``waldur_site_agent -m order_process -c config.yaml``, on the sandbox configuration (the one fedcore reads). A adds
``created_by`` to its agent-identity answers (:class:`IdentityCompatEmulator`, what ``migration_kit.CompatProxy``
does for the migration suite, without the proxy's hop). ``WALDUR_SITE_AGENT_ORDER_PROCESS_PERIOD_MINUTES`` is 0.05
(``migration_kit.Agent``): the agent's loop wakes only once a minute whatever the period (``TICK_INTERVAL = 60`` in
its ``polling_processing/agent_order_process.py``), so this is the fastest it can be made to poll without patching
it. Its first cycle runs at start; once its log says that cycle found no orders, ``--orders`` Create orders are
placed on A over ``--projects`` consumer projects (in-process, 8 threads), as ``order_burst.py`` places them after
fedcore's first idle pass. Then the same burst, on a fresh pair of emulators, against ``fedcore run -m
order_process --workers 8`` with ``periods.order_process`` of 0.5 s (``order_burst.py``'s defaults).

Measured, for each agent: wall time from the first A order committed to the last A order first seen ``done`` (the
emulators' own commit timestamps, ``_kit.TimedEmulator``), or how many are done by ``--deadline``; the agent's
cycles (a listing of A's orders after 5 s without one, seen at A) and what each did; HTTP calls per order on each
server, counted at the emulators by the agent's tokens (both agents use the configuration's tokens; staff, consumer
and simulation calls are not counted); peak resident memory (``VmHWM`` of the process, read before it is stopped)
and its CPU during the burst; B orders per A order (by fedcore's key; the agent puts none on its B orders, so for
those by the A order's link, ``backend_id``, plus any unlinked B order of the same name as a duplicate); A orders
erred; warnings and errors in each log, by kind. With matplotlib importable, a PNG of A orders done and B orders
created over time, both agents (``--chart``).

Run from the repository root: ``.venv/bin/python benchmarks/existing_agent.py [--orders N] [--projects P]
[--latency-ms L] [--deadline S] [--chart PATH]``. About 5 to 7 minutes with the defaults, most of it the agent's.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _kit
import yaml
from _kit import FedcoreProcess, hexid, percentile, table
from order_burst import LOG_NOISE, CountingEmulator, World, cpu_seconds, load, vm_hwm_kib

from runners.sandbox import federation_config
from waldur_emulator.web import Request, Response

sys.path.insert(0, str(_kit.ROOT / "tests" / "e2e"))
from migration_kit import Agent, install_agent

LIST = "GET marketplace-orders/"
"""The agent's listing of A's open orders: the first call of each of its cycles."""
IDENTITY_PATH = "/api/marketplace-site-agent-identities/"


class IdentityCompatEmulator(CountingEmulator):
    """A :class:`order_burst.CountingEmulator` whose agent-identity answers carry ``created_by`` (null when absent),
    as Waldur 8.0.5's do: the agent's API client requires the key and the emulator leaves it out. This is what
    ``migration_kit.CompatProxy`` does, done in-process so that the agent's calls to A take no extra hop (a proxy in
    this process would add a parse and a forward to each of them, and its threads would compete with the
    emulators')."""

    def handle(self, request: Request) -> Response:
        response = super().handle(request)
        if request.path.startswith(IDENTITY_PATH) and response.status < 300:
            body = response.body
            for item in body if isinstance(body, list) else [body]:
                if isinstance(item, dict) and "uuid" in item and "services" in item:
                    item.setdefault("created_by", None)
        return response


class AgentWorld(World):
    """``order_burst.World`` with A an :class:`IdentityCompatEmulator`."""

    def __init__(self, latency_ms: float) -> None:
        super().__init__(latency_ms, a_emulator=IdentityCompatEmulator)

    def agent_config(self) -> dict[str, Any]:
        """The sandbox configuration (fedcore's), without fedcore's ``periods``: the agent reads the environment."""
        return federation_config(self.fed, f"{self.handles[0].base_url}/api/", f"{self.handles[1].base_url}/api/")


class Run:
    """What one agent did with one burst: the figures the side-by-side table needs."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.placed: list[str] = []
        self.failures: list[str] = []
        self.created: dict[str, float] = {}
        self.done: dict[str, float] = {}
        self.a_calls: Counter[str] = Counter()
        self.b_calls: Counter[str] = Counter()
        self.cycles: list[float] = []
        self.hwm_idle = 0
        self.hwm = 0
        self.cpu = 0.0
        self.b_per_a: Counter[int] = Counter()
        self.erred = 0
        self.finished = False
        self.waited = 0.0
        self.setup = 0.0
        self.load_before = ""
        self.load_after = ""
        self.code: int | None = None
        self.notes: list[str] = []
        self.log: list[str] = []
        self.b_created: list[float] = []

    @property
    def first(self) -> float:
        """When the first A order of the burst was committed (``time.perf_counter()`` of this process)."""
        return min(self.created[u] for u in self.placed)

    def done_after(self) -> list[float]:
        """Seconds from the first A order created to each A order done."""
        return sorted(self.done[u] - self.first for u in self.placed if u in self.done)


def a_links(world: World, placed: list[str]) -> dict[str, str]:
    """Each placed A order's ``backend_id`` (its link to a B order), as bare hex."""
    with world.a.core.lock:
        return {u: hexid(world.a.state.orders[u].backend_id) for u in placed}


def b_orders_per_a(world: World, placed: list[str], links: dict[str, str]) -> Counter[int]:
    """How many B orders each A order has (a histogram): by fedcore's key, else (the agent's orders) one when its
    link names a B order, plus every B order that neither a key nor a link accounts for, counted as duplicates of
    the A order of the same name."""
    keys = world.b_keys()
    with world.b.core.lock:
        b_orders = {u: dict(o.attributes) for u, o in world.b.state.orders.items()}
    linked = {link for link in links.values() if link in b_orders}
    by_name: Counter[str] = Counter(str(attrs.get("name", "")) for u, attrs in b_orders.items()
                                    if u not in linked and not attrs.get("fedcore_order_key"))
    with world.a.core.lock:
        names = {u: str(world.a.state.orders[u].attributes.get("name", "")) for u in placed}
    histogram: Counter[int] = Counter()
    for u in placed:
        count = keys.get(u, 0) or (1 if links.get(u) in b_orders else 0)
        histogram[count + by_name.get(names[u], 0)] += 1
    return histogram


def wait(check: Callable[[], bool], deadline: float, alive: Callable[[], bool], tick: Callable[[], None]) -> bool:
    """Poll ``check`` every 50 ms (calling ``tick`` each time) until true, ``deadline`` seconds or the process
    dies; whether it came true."""
    end = time.perf_counter() + deadline
    while not check():
        tick()
        if not alive() or time.perf_counter() > end:
            return False
        time.sleep(0.05)
    return True


class Cycles:
    """The agent's cycles, seen at A: a listing of A's orders after at least ``GAP`` seconds without one starts a
    cycle (one cycle may list several pages)."""

    GAP = 5.0

    def __init__(self, world: World) -> None:
        self.world = world
        self.starts: list[float] = []
        self._seen = 0
        self._last = -1e9

    def restart(self) -> None:
        """A's call counter was taken (set to zero): count from there."""
        self._seen = 0

    def tick(self) -> None:
        """Note a new cycle if A has seen a listing since the last tick and none for ``GAP`` seconds before it."""
        seen = self.world.a.calls.get(LIST, 0)
        if seen != self._seen:
            now = time.perf_counter()
            if now - self._last >= self.GAP:
                self.starts.append(now)
            self._seen, self._last = seen, now


def erred(world: World, placed: list[str]) -> int:
    """How many of the placed A orders are ``erred``."""
    with world.a.core.lock:
        return sum(1 for u in placed if world.a.state.orders[u].state == "erred")


def burst(run: Run, world: World, bodies: list[dict[str, Any]], args: argparse.Namespace, *,
          process: subprocess.Popen[Any], tick: Callable[[], None]) -> None:
    """Place the burst on A, wait until every A order is done or erred (or ``--deadline``), and note in ``run`` what
    the agent running as ``process`` did."""
    pid = process.pid
    run.hwm_idle = vm_hwm_kib(pid)
    cpu = cpu_seconds(pid)
    run.placed, run.failures = world.place(bodies, args.orders)
    wanted = set(run.placed)
    started = time.perf_counter()
    run.finished = wait(lambda: len(wanted & world.a.done.keys()) + erred(world, run.placed) >= len(wanted),
                        args.deadline, lambda: process.poll() is None, tick)
    run.waited = time.perf_counter() - started
    run.a_calls, run.b_calls = world.a.take_calls(), world.b.take_calls()
    run.hwm = vm_hwm_kib(pid)
    run.cpu = cpu_seconds(pid) - cpu
    run.load_after = load()
    run.created = {u: world.a.created[u] for u in run.placed}
    run.done = {u: world.a.done[u] for u in run.placed if u in world.a.done}
    run.b_created = sorted(world.b.created.values())
    run.erred = erred(world, run.placed)
    run.b_per_a = b_orders_per_a(world, run.placed, a_links(world, run.placed))


def run_agent(args: argparse.Namespace, executable: str, directory: Path) -> Run:
    """The burst against ``waldur_site_agent -m order_process``; what it did."""
    run = Run("waldur-site-agent 1.0.7")
    run.load_before = load()
    setup_start = time.perf_counter()
    world = AgentWorld(args.latency_ms)
    agent: Agent | None = None
    try:
        bodies = world.order_bodies(args.projects)
        path = directory / "agent.yaml"
        path.write_text(yaml.safe_dump(world.agent_config(), sort_keys=False), "utf-8")
        agent = started = Agent(executable, str(path), directory / "agent.log")
        process = agent.process

        def alive() -> bool:
            return process.poll() is None

        cycles = Cycles(world)
        idle = "There are no pending or executing orders"
        if not wait(lambda: idle in started.events(), 120.0, alive, cycles.tick):
            raise RuntimeError(f"the agent's first cycle did not end (exit {process.poll()}); log tail:\n"
                               + "\n".join(started.events()[-20:]))
        run.setup = time.perf_counter() - setup_start
        before = world.a.take_calls() + world.b.take_calls()
        cycles.restart()
        run.notes.append(f"agent calls before the burst (start-up and its first, idle cycle): {sum(before.values())}")
        burst(run, world, bodies, args, process=process, tick=cycles.tick)
        run.cycles = cycles.starts
        run.log = agent.log_path.read_text("utf-8", errors="replace").splitlines()
        run.code = agent.stop(signal.SIGTERM)
        agent = None
    finally:
        if agent is not None:
            agent.stop()
        world.close()
    return run


def run_fedcore(args: argparse.Namespace, directory: Path) -> Run:
    """The same burst against ``fedcore run -m order_process`` (``order_burst.py``'s set-up: ``--workers 8``,
    ``periods.order_process`` of 0.5 s, the burst placed after its first idle pass); what it did."""
    run = Run("fedcore")
    run.load_before = load()
    setup_start = time.perf_counter()
    world = World(args.latency_ms)
    fedcore: FedcoreProcess | None = None
    try:
        bodies = world.order_bodies(args.projects)
        path = directory / "fedcore.yaml"
        path.write_text(yaml.safe_dump(world.config(0.5), sort_keys=False), "utf-8")
        fedcore = FedcoreProcess("-c", str(path), "-m", "order_process", "--workers", "8")
        fedcore.wait_for(lambda: world.a.calls[LIST] > 0, "fedcore's first pass", 60)
        time.sleep(0.2)
        run.setup = time.perf_counter() - setup_start
        before = world.a.take_calls() + world.b.take_calls()
        run.notes.append(f"fedcore calls before the burst (start-up and idle passes): {sum(before.values())}")
        burst(run, world, bodies, args, process=fedcore.process, tick=lambda: None)
        run.code = fedcore.stop()
        run.log = list(fedcore.lines)
        fedcore = None
    finally:
        if fedcore is not None:
            fedcore.stop()
        world.close()
    return run


def log_kinds(run: Run) -> Counter[str]:
    """The warnings and errors in an agent's log, identifiers and numbers masked, by kind."""
    kinds: Counter[str] = Counter()
    for line in run.log:
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("level") not in ("warning", "error", "critical"):
                continue
            text = str(record.get("event", "")).split("\n", 1)[0]
        elif " WARNING " in line or " ERROR " in line:
            text = line.split(" ", 2)[-1]
        else:
            continue
        kinds[LOG_NOISE.sub("…", text)[:120].strip()] += 1
    return kinds


def cycle_rows(run: Run, b_created: list[float]) -> list[str]:
    """One line per agent cycle that wrote anything for the burst: when it started (from the first A order
    created), how many B orders it created and A orders it completed, and when its last such write was."""
    first = run.first
    done = sorted(run.done.values())
    starts = [s for s in run.cycles if s >= first - 1.0]
    lines = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else float("inf")
        made = [t for t in b_created if start <= t < end]
        completed = [t for t in done if start <= t < end]
        if not made and not completed:
            lines.append(f"cycle at +{start - first:.1f} s: nothing for the burst")
            continue
        last = max(made + completed)
        work = len(made) or len(completed)
        lines.append(f"cycle at +{start - first:.1f} s: {len(made)} B orders created, {len(completed)} A orders "
                     f"done, last at +{last - first:.1f} s ({last - start:.1f} s, {1000 * (last - start) / work:.0f}"
                     f" ms per order)")
    return lines


def figures(run: Run, deadline: float) -> dict[str, str]:
    """One agent's column of the side-by-side table."""
    n = len(run.placed)
    after = run.done_after()
    a_total, b_total = sum(run.a_calls.values()), sum(run.b_calls.values())
    if run.finished and len(after) == n:
        wall = after[-1]
        wall_text, rate = f"{wall:.1f} s", f"{n / wall:.1f}"
    else:
        wall_text = f"not all done: {len(after)} of {n} after {run.waited:.0f} s (--deadline {deadline:g})"
        rate = f"{len(after) / run.waited:.2f} (done by the deadline)" if run.waited else "-"
    b_b = [t - run.first for t in run.b_created]
    more = sum(count for k, count in run.b_per_a.items() if k > 1)
    return {
        "load average before / after (1, 5, 15 min)": f"{run.load_before} / {run.load_after}",
        "set-up (emulators, federation, start, first idle pass)": f"{run.setup:.1f} s",
        "A orders done / erred": f"{len(after)} / {run.erred} of {n}",
        "wall time, first A order created → last A order done": wall_text,
        "A orders done after 50% / 90% / 99% / 100% of them": " / ".join(
            f"{percentile(after, q):.1f}" for q in (50, 90, 99, 100)) + " s" if after else "-",
        "B orders created after 10% / 50% / 100% of them": " / ".join(
            f"{percentile(b_b, q):.1f}" for q in (10, 50, 100)) + " s" if b_b else "-",
        "orders per second": rate,
        "HTTP calls per order, A + B": f"{(a_total + b_total) / n:.2f}",
        "HTTP calls per order, A / B": f"{a_total / n:.2f} / {b_total / n:.2f}",
        "HTTP calls in all, A / B": f"{a_total} / {b_total}",
        "peak RSS (VmHWM) idle / after the burst": f"{run.hwm_idle / 1024:.1f} / {run.hwm / 1024:.1f} MiB",
        "CPU of the process during the burst": f"{run.cpu:.1f} s",
        "A orders with exactly one / no / more than one B order":
            f"{run.b_per_a.get(1, 0)} / {run.b_per_a.get(0, 0)} / {more}",
        "errors placing orders": str(len(run.failures)),
        "warnings or errors in its log": str(sum(log_kinds(run).values())),
        "exit code after SIGTERM": str(run.code),
    }


def report(args: argparse.Namespace, agent: Run | None, why: str, fedcore: Run) -> None:
    """Print the side-by-side tables."""
    print(f"## Order burst, existing agent and fedcore: {args.orders} Create orders over {args.projects} A projects, "
          f"{args.latency_ms:g} ms added per request\n")
    columns = [r for r in (agent, fedcore) if r is not None]
    values = [figures(r, args.deadline) for r in columns]
    rows = [[key, *(v[key] for v in values)] for key in values[-1]]
    print(table(["Figure", *(r.name for r in columns)], rows))
    if agent is None:
        print(f"\nThe existing agent could not be run: {why}")
        return
    print("\nThe agent's cycles (A's order listings, from the first A order created):\n")
    for line in cycle_rows(agent, agent.b_created):
        print(f"- {line}")
    for note in agent.notes + fedcore.notes:
        print(f"- {note}")
    n = len(agent.placed)
    keys = sorted({f"A {k}" for k in agent.a_calls | fedcore.a_calls} | {f"B {k}" for k in agent.b_calls |
                                                                        fedcore.b_calls})
    count = {"agent": {**{f"A {k}": v for k, v in agent.a_calls.items()},
                       **{f"B {k}": v for k, v in agent.b_calls.items()}},
             "fedcore": {**{f"A {k}": v for k, v in fedcore.a_calls.items()},
                         **{f"B {k}": v for k, v in fedcore.b_calls.items()}}}
    keys.sort(key=lambda k: (-count["agent"].get(k, 0) - count["fedcore"].get(k, 0), k))
    print()
    print(table(["Call (counted at the emulator)", f"{agent.name}: count", "per order", "fedcore: count", "per order"],
                [[k, count["agent"].get(k, 0), f"{count['agent'].get(k, 0) / n:.3f}", count["fedcore"].get(k, 0),
                  f"{count['fedcore'].get(k, 0) / len(fedcore.placed):.3f}"] for k in keys]))
    for run in columns:
        kinds = log_kinds(run)
        if kinds:
            print()
            print(table([f"{run.name}: warning or error in its log (identifiers and numbers masked)", "Count"],
                        [[f"`{kind}`", count] for kind, count in kinds.most_common(10)]))


def chart(path: Path, runs: list[Run], orders: int) -> str:
    """A PNG of A orders done (and B orders created) over time for each run, when matplotlib is importable;
    where it went, or why not."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "no chart: matplotlib is not importable (pip install '.[bench]')"
    figure, axes = plt.subplots(figsize=(9, 5))
    for run, colour in zip(runs, ("tab:red", "tab:blue"), strict=False):
        done = run.done_after()
        axes.step([0.0, *done], range(len(done) + 1), where="post", color=colour, label=f"{run.name}: A orders done")
        made = [t - run.first for t in run.b_created]
        axes.step([0.0, *made], range(len(made) + 1), where="post", color=colour, linestyle="--", linewidth=0.8,
                  label=f"{run.name}: B orders created")
        for start in run.cycles:
            if start >= run.first - 1.0:
                axes.axvline(start - run.first, color=colour, linestyle=":", linewidth=0.8)
    axes.set_xlabel("seconds from the first A order created")
    axes.set_ylabel("orders")
    axes.set_title(f"Order burst: {orders} Create orders (dotted: the existing agent's cycles)")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize="small")
    axes.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return f"chart: {path}"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=1000, help="Create orders placed on A (default 1000)")
    parser.add_argument("--projects", type=int, default=50, help="consumer projects on A (default 50)")
    parser.add_argument("--latency-ms", type=float, default=5.0,
                        help="added to every request on both emulators (default 5)")
    parser.add_argument("--deadline", type=float, default=480.0,
                        help="seconds each agent may take, from the burst placed to every A order done (default 480)")
    parser.add_argument("--chart", type=Path,
                        default=Path(tempfile.gettempdir()) / "fedcore-existing-agent.png",
                        help="where the PNG goes when matplotlib is importable (default $TMPDIR/…)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    installed = install_agent()
    agent: Run | None = None
    why = ""
    with tempfile.TemporaryDirectory(prefix="fedcore-existing-agent-") as name:
        directory = Path(name)
        if installed.unreachable:
            why = "scripts/existing-agent could not reach the package registry (exit 3)"
        elif installed.code != 0:
            why = f"scripts/existing-agent failed (exit {installed.code}): {installed.stderr[-500:]}"
        else:
            agent = run_agent(args, installed.executable, directory)
        fedcore = run_fedcore(args, directory)
    report(args, agent, why, fedcore)
    print()
    print(chart(args.chart, [r for r in (agent, fedcore) if r is not None], args.orders))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
