"""The whole of ``fedcore demo`` (see :mod:`runners.commands.demo`): imported only when the command runs, so that
no other command pays for the demo and the emulator."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import yaml

from adapters.clock import SystemClock
from fedcore.conversion import Conversion
from runners.demo_agent import Agent, DemoAgent
from runners.demo_events import EventDemoAgent
from runners.demo_story import Console, DemoInterrupted, Story
from runners.demo_view import Reader, final_tables
from runners.demo_world import DemoError, DemoWorld, broker_problem, start_world
from runners.exitcodes import ExitCode
from runners.signals import stop_on_signals
from runners.wiring import Mode, local_today
from waldur_emulator.seeding import SeedError

EVENTS_TIMEOUT = 30.0
"""How long registration and the STOMP connections may take before the demo gives up (on events)."""





def run(args: argparse.Namespace) -> int:
    """Set up, tell the story, show the tables, and with ``--serve`` keep serving until a signal."""
    if (args.no_story or args.no_agent or args.config_out) and not args.serve:
        print("fedcore demo: --no-story, --no-agent and --config-out go with --serve", file=sys.stderr)
        return ExitCode.CONFIG
    console = Console(sys.stdout, time.monotonic())
    stop = threading.Event()
    with stop_on_signals(stop.set), _logs_shown(console):
        console.plain("fedcore demo: two emulated Waldur 8.0.5 servers on this machine, with fedcore between them")
        problem = "--no-events" if args.no_events else broker_problem()
        if problem is not None:
            console.plain(f"  events: off ({problem}); fedcore polls instead. "
                          + ("" if args.no_events else "Start a broker with scripts/broker to see event mode."))
        try:
            world = start_world(provider_delay=args.provider_delay, events=problem is None)
        except (DemoError, SeedError, httpx.HTTPError, OSError) as exc:
            print(f"fedcore demo: setting up the two Waldurs failed: {exc}", file=sys.stderr)
            return ExitCode.PARTIAL
        try:
            return _main(args, world, console, stop)
        finally:
            world.close()


def _main(args: argparse.Namespace, world: DemoWorld, console: Console, stop: threading.Event) -> int:
    _intro(world, console, args)
    services = world.services()
    clock, config = SystemClock(), world.config
    conversion = services[Mode.ORDER_PROCESS].conversion
    if not world.events or (args.no_story and args.no_agent):
        agent: Agent = DemoAgent(services, lambda: local_today(clock, config.timezone), config.reporting_periods)
        return _with(args, world, console, stop=stop, agent=agent, conversion=conversion, clock=clock)
    events = EventDemoAgent(world, report_seconds=1.0, watch_seconds=1.0)
    try:
        if not events.on_events(EVENTS_TIMEOUT):
            reasons = "; ".join(events.service.ready()[1])
            print(f"fedcore demo: events did not come up within {EVENTS_TIMEOUT:g} s: {reasons}", file=sys.stderr)
            return ExitCode.PARTIAL
        for line in events.tick():
            console.say("fedcore", line)
        return _with(args, world, console, stop=stop, agent=events, conversion=conversion, clock=clock)
    finally:
        events.close()


def _with(args: argparse.Namespace, world: DemoWorld, console: Console, *, stop: threading.Event, agent: Agent,
          conversion: Conversion, clock: SystemClock) -> int:
    config = world.config
    if not args.no_story:
        story = Story(world, agent, conversion, console, stop, poll=args.poll, step_timeout=args.step_timeout,
                      today=local_today(clock, config.timezone))
        try:
            followed = story.run()
            console.plain()
            console.plain("== Side by side: Waldur A and Waldur B now")
            for line in final_tables(world, Reader(world.staff_a, world.staff_b), followed, conversion):
                console.plain(line)
        except DemoInterrupted as exc:
            print(f"fedcore demo: interrupted during step {exc}", file=sys.stderr)
            return ExitCode.INTERRUPTED
        except (DemoError, httpx.HTTPError) as exc:
            print(f"fedcore demo: FAILED: {exc}", file=sys.stderr)
            return ExitCode.PARTIAL
        console.plain()
        how = (f"on events; {agent.passes} passes ran, most of them the usage report every second"
               if world.events else f"{agent.passes} polls of fedcore's four passes")
        console.plain(f"Demo finished in {console.elapsed():.1f} s: every step reached its expected state ({how}).")
    if args.serve:
        if args.no_agent and isinstance(agent, EventDemoAgent):
            agent.close()  # the operator runs their own fedcore from here on
        return _serve(args, world, console, agent, stop)
    return ExitCode.OK


def _intro(world: DemoWorld, console: Console, args: argparse.Namespace) -> None:
    fed = world.fed
    conversion = ", ".join(f"{m.source} x{f} -> {b}" for m in world.config.offerings[0].component_mappings
                           for b, f in sorted((m.targets or {m.source: Decimal(1)}).items()))
    for line in (
        f"  Waldur A  {world.a_api}  sells offering {fed.a.offering_uuid[:8]} (node_hours, storage)",
        "            to the project 'Physics' of 'Consumer university'",
        f"  Waldur B  {world.b_api}  provides offering {fed.b.offering_uuid[:8]} (cpu_k_hours, mem_gb_hours, storage);",
        "            fedcore orders there as owner of the organisation 'Federated from A'",
        f"  conversion: {conversion}",
        "              (fan-out: 1 node-hour on A = 128 core-hours and 512 GB-hours of memory on B)",
        "  people, named on A by their CUIDs: "
        + ", ".join(f"{p.cuid} ({p.role})" for p in world.people.values()),
        "  Alice places the orders" + ("" if args.no_story else "; Bob joins the project later"),
        "  B's service provider: the emulator's provider simulation (approves at once, finishes "
        f"{args.provider_delay:g} s later)",
        *(_fedcore_lines(world, args)),
    ):
        console.plain(line)


def _fedcore_lines(world: DemoWorld, args: argparse.Namespace) -> list[str]:
    if world.events:
        return [
            "  fedcore: event mode, as `fedcore run -m event_process` runs: Waldur's STOMP events through the local",
            "           RabbitMQ (ws://127.0.0.1:15674/ws) act at once; order, membership and username passes are due",
            "           hourly; usage (no event for it) is polled every second, and so are B's orders in flight",
        ]
    return [
        f"  fedcore: polling mode, one pass of each mode every {args.poll:g} s:",
        f"           {', '.join(DemoAgent.POLLS)}; over HTTP with RestPorts, as in production",
    ]


def _serve(args: argparse.Namespace, world: DemoWorld, console: Console, agent: Agent,
           stop: threading.Event) -> int:
    chosen: Path | None = args.config_out
    folder = None if chosen else Path(tempfile.mkdtemp(prefix="fedcore-demo-"))
    path = chosen or Path(folder or ".") / "config.yaml"
    try:
        _write_config(path, world)
        for line in _serve_lines(world, path, args):
            console.plain(line)
        while not stop.wait(args.poll):
            if not args.no_agent:
                for line in agent.tick():
                    console.say("fedcore", line)
        console.plain("fedcore demo: stopping (signal received)")
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    return ExitCode.OK


def _serve_lines(world: DemoWorld, path: Path, args: argparse.Namespace) -> list[str]:
    fed, alice = world.fed, world.people["alice"]
    keeps = "keeps serving on events" if world.events else "keeps polling"
    agent = (f"the demo's fedcore {keeps}; start it with --no-agent to run your own" if not args.no_agent
             else "nothing serves the offering: run fedcore yourself")
    mode = "event_process" if world.events else "order_process"
    return [
        "",
        "== Serving until Ctrl-C (SIGINT) or SIGTERM",
        f"  Waldur A         {world.a_api}",
        f"  A staff token    {world.a_staff_token}",
        f"  A fedcore token  {fed.a.agent_token}   (OFFERING.MANAGER of offering {fed.a.offering_uuid})",
        f"  A alice token    {alice.token}   (PROJECT.MANAGER of project {fed.consumer_project_uuid})",
        f"  Waldur B         {world.b_api}",
        f"  B staff token    {world.b_staff_token}",
        f"  B fedcore token  {fed.b.agent_token}   (owner of customer {fed.b_customer_uuid}, offering "
        f"{fed.b.offering_uuid})",
        f"  config file      {path}",
        "",
        f"  fedcore run -c {path} -m {mode}",
        f"  curl -s -H 'Authorization: Token {alice.token}' {world.a_api}marketplace-orders/",
        f"  curl -s -H 'Authorization: Token {world.b_staff_token}' {world.b_api}marketplace-resources/",
        f"  fedcore: {agent}",
    ]


def _write_config(path: Path, world: DemoWorld) -> None:
    """The federation's configuration, tokens included (the emulators' own, gone when they stop), mode 0600."""
    text = yaml.safe_dump(_plain(world.config_data), sort_keys=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class _ConsoleLog(logging.Handler):
    """Log records as timed lines of the demo, so they read in order with the rest even through a pipe."""

    def __init__(self, console: Console) -> None:
        super().__init__(logging.WARNING)
        self._console = console

    def emit(self, record: logging.LogRecord) -> None:
        self._console.say("log", f"{record.levelname} {record.name}: {record.getMessage()}")


@contextmanager
def _logs_shown(console: Console) -> Iterator[None]:
    """fedcore's own warnings among the demo's lines, for the demo's duration."""
    handler = _ConsoleLog(console)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
