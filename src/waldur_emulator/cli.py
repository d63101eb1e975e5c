"""The emulator's command line: ``fedcore emulator`` and ``python -m waldur_emulator`` share these functions.

Signals only set a flag; the main thread then stops the server and closes the event bus in order.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .events import EventBus

EXIT_OK = 0
EXIT_USAGE = 2


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the emulator's options on ``parser``."""
    parser.add_argument("--listen", type=_listen, default=("127.0.0.1", 8000), metavar="HOST:PORT",
                        help="address to serve on (port 0 picks a free port; default 127.0.0.1:8000)")
    parser.add_argument("--staff-token", default=os.environ.get("WALDUR_EMULATOR_STAFF_TOKEN"),
                        help="API token of the built-in staff user (or $WALDUR_EMULATOR_STAFF_TOKEN)")
    parser.add_argument("--no-events", action="store_true", help="run without a broker (no STOMP events)")
    parser.add_argument("--broker-management-url", default="http://127.0.0.1:15672",
                        help="RabbitMQ management API (default http://127.0.0.1:15672)")
    parser.add_argument("--broker-user", default="guest", help="RabbitMQ admin user (default guest)")
    parser.add_argument("--broker-password", default=os.environ.get("WALDUR_EMULATOR_BROKER_PASSWORD", "guest"),
                        help="RabbitMQ admin password (default guest, or $WALDUR_EMULATOR_BROKER_PASSWORD)")
    parser.add_argument("--stomp-host", default="127.0.0.1", help="STOMP host Waldur publishes to")
    parser.add_argument("--stomp-port", type=int, default=61613, help="STOMP port (default 61613)")
    parser.add_argument("--random-seed", type=int, default=None, help="make UUIDs and injected faults repeatable")
    parser.add_argument("--known-cuid", action="append", default=[], metavar="CUID",
                        help="a CUID remote-eduteams knows (repeatable)")
    parser.add_argument("--consumer-event-access", action="store_true",
                        help="also deliver events through the consumer-access rule (newer Waldur; off in 8.0.5)")
    parser.add_argument("--threads", type=int, default=8, help="waitress worker threads (default 8)")


def build_bus(args: argparse.Namespace) -> EventBus:
    """The event bus the options ask for."""
    from .events import NullEventBus, RabbitEventBus

    if args.no_events:
        return NullEventBus("--no-events given")
    return RabbitEventBus(management_url=args.broker_management_url, admin_user=args.broker_user,
                          admin_password=args.broker_password, stomp_host=args.stomp_host,
                          stomp_port=args.stomp_port)


def run(args: argparse.Namespace) -> int:
    """Serve one emulator until SIGTERM or SIGINT."""
    if not args.staff_token:
        print("error: --staff-token (or $WALDUR_EMULATOR_STAFF_TOKEN) is required", file=sys.stderr)
        return EXIT_USAGE
    from .app import Emulator

    bus = build_bus(args)
    emulator = Emulator(staff_token=args.staff_token, event_bus=bus, seed=args.random_seed,
                        known_cuids={c: {} for c in args.known_cuid},
                        consumer_event_access=args.consumer_event_access)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: Any) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    host, port = args.listen
    handle = emulator.serve(host, port, threads=args.threads)
    print(bus.describe(), flush=True)
    print(f"Waldur 8.0.5 emulator ready at {handle.base_url}/api/", flush=True)
    print(handle.base_url, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        handle.stop()
        emulator.simulation.stop()
        bus.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    print("emulator stopped", flush=True)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m waldur_emulator``."""
    parser = argparse.ArgumentParser(prog="python -m waldur_emulator", description="Serve a Waldur 8.0.5 emulator.")
    add_arguments(parser)
    return run(parser.parse_args(argv))
