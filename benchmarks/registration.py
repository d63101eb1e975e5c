"""Event registration at scale: how long the Registrar takes to register many offerings, how many calls it makes,
and how much memory it needs; then, optionally, how long ``fedcore run -m event_process`` takes to put them all on
events.

Method. Waldur A and B are emulated (``waldur_emulator``) and federated (``build_federation``); A gets
``--offerings`` offerings in all (one from the federation, the rest seeded in-process through A's REST API with
``waldur_emulator.seeding.Seeder``), each with fedcore's agent user as OFFERING.MANAGER. Seeding is timed
separately. A is then served over real HTTP with a latency fault on every request (``FaultRule(latency=…)``, 5 ms
by default), and the configuration lists one offering entry per A offering with ``stomp_enabled`` (B's events
off, so only A targets exist: ``1 + 12 * N`` calls expected, docs/events.md).

Phase 1 (in this process, A's event bus off: the REST calls alone): the
:class:`~runners.registration.Registrar` of that configuration (built as ``runners.events.service.registrar_for``
builds it, one ``runners.wiring.RestPorts`` client per token, ``--workers`` threads, 8 by default) is ticked every
10 ms until every offering is ``registered``. Measured: the wall time, the calls (the RestPorts observer's count
and mean duration, by method and endpoint shape), A's summed handling time, and memory: tracemalloc's peak over the
phase (in a second, separate run on freshly seeded Waldurs: tracemalloc slows every thread several times) and the
process's ``ru_maxrss``. The emulator runs in this process too, so both memory figures include its share (the
records it creates); ``ru_maxrss`` before the phase is printed for comparison. ``close()`` then deletes the
queues, as a clean stop does.

Phase 2 (``--events``, the default when ``scripts/broker`` answers): freshly seeded Waldurs, A provisioning
subscriptions and declaring queues in RabbitMQ (``RabbitEventBus``, through the management API, as Waldur does),
and ``fedcore run -c <cfg> -m event_process`` as a subprocess (every period an hour). Measured: from the process
start until its log says every A offering is "on events" (registration, then one STOMP login per object type with
every queue subscribed, and a catch-up pass per offering).

Chart (``--chart PATH``, ``_charts``): offerings registered over time (phase 1), and A offerings on events over
time since ``fedcore run`` started (phase 2).

Run from the repository root: ``.venv/bin/python benchmarks/registration.py [--offerings N] [--latency-ms L]
[--chart PATH]``.
"""

from __future__ import annotations

import argparse
import re
import resource
import secrets
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import _charts
import _kit
import yaml
from _kit import BROKER_WS, HOUR, FedcoreProcess, TimedEmulator, seed_offerings, table

from adapters.config import FedcoreConfig, OfferingConfig, parse_config
from adapters.waldur.http import WaldurHttp
from runners.registration import Registrar, State, targets_from_config
from runners.sandbox import federation_config
from runners.wiring import RestPorts
from waldur_emulator.events import EventBus, NullEventBus, RabbitEventBus
from waldur_emulator.faults import FaultRule
from waldur_emulator.federation import Federation

HEX = re.compile(r"[0-9a-f]{32}|[0-9a-f-]{36}")


class Calls:
    """The RestPorts observer: every attempt, counted by method and endpoint (UUIDs masked), and the retries."""

    def __init__(self) -> None:
        self.by_endpoint: Counter[str] = Counter()
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.statuses: Counter[str] = Counter()
        self.retries = 0
        self.registration: Counter[str] = Counter()
        self._lock = threading.Lock()

    def api_call(self, server: str, method: str, endpoint: str, status: str, seconds: float) -> None:  # noqa: ARG002
        """Count one attempt (and its seconds) under its method and endpoint."""
        with self._lock:
            key = f"{method} {HEX.sub('{uuid}', endpoint)}"
            self.by_endpoint[key] += 1
            self.seconds[key] += seconds
            self.statuses[status] += 1

    def retry(self, server: str, endpoint: str) -> None:  # noqa: ARG002
        """Count one retry."""
        with self._lock:
            self.retries += 1

    def freeze(self) -> None:
        """Keep what was counted so far in ``registration`` (the calls of ``close()`` come after)."""
        with self._lock:
            self.registration = Counter(self.by_endpoint)


def seed(count: int, bus: EventBus) -> tuple[TimedEmulator, TimedEmulator, Federation, list[str]]:
    """Both Waldurs in-process and ``count`` A offerings managed by fedcore's A user; their UUIDs."""
    tokens = f"staff-a-{secrets.token_hex(16)}", f"staff-b-{secrets.token_hex(16)}"
    a = TimedEmulator(staff_token=tokens[0], event_bus=bus)
    b = TimedEmulator(staff_token=tokens[1])
    fed, uuids = seed_offerings(a, b, tokens, count)
    return a, b, fed, uuids


class World:
    """Seeded Waldurs served over HTTP, A with the latency fault; ``text`` is the configuration (YAML)."""

    def __init__(self, count: int, bus: EventBus, latency_ms: float) -> None:
        start = time.perf_counter()
        self.bus = bus
        self.a, self.b, fed, self.uuids = seed(count, bus)
        self.setup = time.perf_counter() - start
        self.a.add_fault(FaultRule(latency=latency_ms / 1000.0))
        self.handles = self.a.serve(), self.b.serve()
        self.text = yaml.safe_dump(config(fed, f"{self.handles[0].base_url}/api/",
                                          f"{self.handles[1].base_url}/api/", self.uuids), sort_keys=False)
        self.a.requests, self.a.busy = 0, 0.0

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self.handles:
            handle.stop()
        self.bus.close()


def config(fed: Federation, a_api: str, b_api: str, offerings: list[str]) -> dict[str, Any]:
    """One configuration entry per A offering, STOMP on A only, every period an hour."""
    [template] = federation_config(fed, a_api, b_api)["offerings"]
    entries = [{**template, "name": f"Offering {n}", "waldur_offering_uuid": uuid, "stomp_enabled": True,
                **BROKER_WS} for n, uuid in enumerate(offerings)]
    return {"offerings": entries, "periods": HOUR}


def registrar_over(parsed: FedcoreConfig, rest: RestPorts, workers: int) -> Registrar:
    """The Registrar of ``parsed``'s offerings (A only) over ``rest``'s clients, one client per token, as
    ``runners.events.service.registrar_for`` shares them (``users/me/`` is read once per client)."""
    shared: dict[tuple[str, str], WaldurHttp] = {}

    def http_for(offering: OfferingConfig, side: str) -> WaldurHttp:
        assert side == "A", "B's events are off in this benchmark"
        key = (offering.waldur_api_url, offering.waldur_api_token.reveal())
        if key not in shared:
            shared[key] = rest.http("A", key[0], key[1], verify=offering.verify_ssl, ca_bundle=offering.ca_bundle)
        return shared[key]

    return Registrar(targets_from_config(parsed.offerings, http_for), clock=time.monotonic, version="benchmark",
                     max_workers=workers)


def until_registered(registrar: Registrar, samples: list[tuple[float, int]] | None = None) -> Counter[State]:
    """Tick ``registrar`` every 10 ms until every offering is registered (or one fell back to polling); the
    states. ``samples`` gets (seconds since the call, offerings registered) at every tick."""
    start = time.perf_counter()
    while True:
        registrar.tick()
        states = Counter(s.state for s in registrar.status().values())
        if samples is not None:
            samples.append((time.perf_counter() - start, states[State.REGISTERED]))
        if states[State.REGISTERED] == len(registrar.status()) or states[State.POLLING]:
            return states
        time.sleep(0.01)


def register(text: str, calls: Calls, workers: int, *, trace: bool,
             samples: list[tuple[float, int]] | None = None) -> dict[str, float]:
    """Phase 1: register every offering of the configuration ``text``; timings and memory (tracemalloc's peak
    when ``trace``: it slows every thread of the process, the emulator's too, so it is a separate run).
    ``samples`` gets (seconds since the start, offerings registered) at every tick."""
    parsed = parse_config(text)
    rest = RestPorts(parsed, observer=calls)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    registrar = registrar_over(parsed, rest, workers)
    try:
        states = until_registered(registrar, samples)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory() if trace else (0, 0)
        calls.freeze()
    finally:
        tracemalloc.stop()
        close_start = time.perf_counter()
        registrar.close()
        closing = time.perf_counter() - close_start
        rest.close()
    failed = [f"{k}: {s.reason}" for k, s in registrar.status().items() if s.state is not State.REGISTERED]
    for reason in failed[:5]:
        print(f"- not registered: {reason}", file=sys.stderr)
    return {"seconds": elapsed, "peak": peak, "rss_before": rss_before,
            "rss_after": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "registered": states[State.REGISTERED], "failed": len(failed), "closing": closing}


def on_events(path: Path, count: int, deadline: float, samples: list[tuple[float, int]]) -> tuple[float, int]:
    """Phase 2: ``fedcore run -m event_process`` until every A offering is on events; (seconds, exit code).
    ``samples`` gets (seconds since the process started, A offerings on events) whenever that count changes."""
    start = time.perf_counter()
    fedcore = FedcoreProcess("-c", str(path), "-m", "event_process")

    def all_on_events() -> bool:
        on = fedcore.count(" A offering ", ": on events")
        if not samples or samples[-1][1] != on:
            samples.append((time.perf_counter() - start, on))
        return on >= count

    try:
        seconds = fedcore.wait_for(all_on_events, f"{count} A offerings on events", deadline)
    finally:
        code = fedcore.stop(60)
    return seconds, code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--offerings", type=int, default=500, help="A offerings to register (default 500)")
    parser.add_argument("--latency-ms", type=float, default=5.0, help="latency added to every request (default 5)")
    parser.add_argument("--workers", type=int, default=8, help="the Registrar's pool size (default 8, its default)")
    parser.add_argument("--events", action=argparse.BooleanOptionalAction, default=None,
                        help="phase 2, fedcore on events (default: when scripts/broker answers)")
    parser.add_argument("--events-deadline", type=float, default=240.0, help="seconds phase 2 may take (default 240)")
    _charts.add_option(parser, "registration")
    args = parser.parse_args(argv)
    events = _kit.broker_up() if args.events is None else args.events
    if events and not _kit.broker_up():
        print("RabbitMQ's Web-STOMP endpoint does not answer on 127.0.0.1:15674: run scripts/broker", file=sys.stderr)
        return 2

    calls = Calls()
    registered: list[tuple[float, int]] = []
    on: list[tuple[float, int]] = []
    with World(args.offerings, NullEventBus(), args.latency_ms) as world:
        figures = register(world.text, calls, args.workers, trace=False, samples=registered)
        busy = (world.a.busy, world.a.requests)
        setup, uuids = world.setup, world.uuids
    with World(args.offerings, NullEventBus(), args.latency_ms) as world:
        traced = register(world.text, Calls(), args.workers, trace=True)
    phase2: dict[str, float] | None = None
    phase2_failed = ""
    if events:
        with World(args.offerings, RabbitEventBus(), args.latency_ms) as world, \
                tempfile.TemporaryDirectory(prefix="fedcore-bench-") as directory:
            path = Path(directory) / "config.yaml"
            path.write_text(world.text, "utf-8")
            try:
                seconds, code = on_events(path, len(world.uuids), args.events_deadline, on)
            except RuntimeError as exc:  # phase 1's figures are still worth printing
                phase2_failed = str(exc)
            else:
                phase2 = {"seconds": seconds, "code": code, "setup": world.setup, "busy": world.a.busy,
                          "requests": world.a.requests}

    total = sum(calls.registration.values())
    print(f"## Event registration: {len(uuids)} A offerings, {args.latency_ms:g} ms added per request, "
          f"{args.workers} workers\n")
    rows: list[list[object]] = [
        ["seeding (federation + offerings, in-process REST)", f"{setup:.1f} s"],
        ["registration, start to every offering registered", f"{figures['seconds']:.2f} s"],
        ["offerings registered / failed", f"{int(figures['registered'])} / {int(figures['failed'])}"],
        ["calls made (RestPorts observer)", f"{total} (expected 1 + 12 * {len(uuids)} = {1 + 12 * len(uuids)})"],
        ["calls made by close() (queue deletions)", sum(calls.by_endpoint.values()) - total],
        ["retries", calls.retries],
        ["calls per second", f"{total / figures['seconds']:.0f}"],
        ["ru_maxrss before / after registration (whole process)", f"{figures['rss_before'] / 1024:.0f} / "
                                                                  f"{figures['rss_after'] / 1024:.0f} MiB"],
        ["tracemalloc peak during a second registration (whole process; that run took)",
         f"{traced['peak'] / 2**20:.1f} MiB ({traced['seconds']:.1f} s under tracemalloc)"],
        ["close() (queues deleted)", f"{figures['closing']:.2f} s"],
        ["A's summed handling time, registration and close (incl. waits for its state lock)",
         f"{busy[0]:.1f} s for {busy[1]} requests ({busy[0] / busy[1] * 1000:.1f} ms each)"],
    ]
    if phase2 is not None:
        rows += [
            ["phase 2: seeding again (emulators publishing through RabbitMQ)", f"{phase2['setup']:.1f} s"],
            ["phase 2: fedcore run -m event_process, start to every A offering on events",
             f"{phase2['seconds']:.1f} s"],
            ["phase 2: A's summed handling time (incl. lock waits and RabbitMQ management calls)",
             f"{phase2['busy']:.1f} s for {int(phase2['requests'])} requests "
                                          f"({phase2['busy'] / max(phase2['requests'], 1) * 1000:.1f} ms each)"],
            ["phase 2: fedcore exit code after SIGTERM", int(phase2["code"])],
        ]
    if phase2_failed:
        on_at = f" ({on[-1][1]} on events after {on[-1][0]:.0f} s)" if on else ""
        rows.append(["phase 2: fedcore run -m event_process", f"FAILED{on_at}: {phase2_failed.splitlines()[0]}"])
    print(table(["Figure", "Value"], rows))
    if phase2_failed:
        print("\nphase 2's log tail:\n\n```text\n" + "\n".join(phase2_failed.splitlines()[1:6]) + "\n```")
    print()
    print(table(["Call (registration)", "Count", "mean ms (client side)"],
                [[k, n, f"{calls.seconds[k] / n * 1000:.1f}"]
                 for k, n in sorted(calls.registration.items(), key=lambda kv: -kv[1])]))
    print()
    print(table(["HTTP status (registration and close)", "Count"], sorted(calls.statuses.items())))
    chart(args, len(uuids), registered, on)
    return 1 if phase2_failed else 0


def chart(args: argparse.Namespace, count: int, registered: list[tuple[float, int]],
          on: list[tuple[float, int]]) -> None:
    """Offerings registered over time (phase 1), and on events over time (phase 2, when it ran)."""

    def phase1(axis: Any) -> None:
        axis.step([0.0, *(t for t, _ in registered)], [0, *(n for _, n in registered)], where="post",
                  label=f"registered ({args.workers} workers)")
        axis.axhline(count, color="gray", linewidth=0.8, linestyle=":")
        axis.set_xlabel("seconds since the Registrar started")
        axis.set_ylabel("A offerings")
        axis.set_title(f"phase 1: {count} offerings registered in {registered[-1][0]:.1f} s" if registered
                       else "phase 1", fontsize="medium")

    def phase2(axis: Any) -> None:
        if on:
            axis.step([0.0, *(t for t, _ in on)], [0, *(n for _, n in on)], where="post",
                      label="on events (log says so)", color="tab:green")
            axis.set_title(f"phase 2: fedcore run -m event_process, all on events after {on[-1][0]:.0f} s"
                           if on[-1][1] >= count else f"phase 2 FAILED: {on[-1][1]} of {count} on events",
                           fontsize="medium")
        else:
            axis.set_title("phase 2 not run (no broker, or --no-events)", fontsize="medium")
        axis.axhline(count, color="gray", linewidth=0.8, linestyle=":")
        axis.set_xlabel("seconds since fedcore run started")
        axis.set_ylabel("A offerings")

    _charts.draw(args.chart, "Event registration of many offerings", [phase1, phase2],
                 note=f"{count} offerings, {args.latency_ms:g} ms added per request on A")


if __name__ == "__main__":
    sys.exit(main())
