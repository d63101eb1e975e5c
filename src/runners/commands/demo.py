"""``fedcore demo``: watch a federation work, on two emulated Waldurs served on this machine.

It serves two Waldur 8.0.5 emulators on free local ports, federates them through their REST APIs, and runs
fedcore against them over HTTP as a production run would. Then Alice orders on A (Create, Update, Terminate), B's
provider names accounts and reports usage, Bob joins the project, and every change on A, in fedcore and on B is
printed as it happens, followed by a side-by-side table of both Waldurs. It ends by itself (exit 0) in seconds.

``--serve`` keeps both Waldurs running afterwards (``--no-story``: instead of the story) and prints their URLs,
tokens and a configuration file for ``fedcore run``, until SIGINT or SIGTERM. With a local RabbitMQ
(``scripts/broker``) fedcore runs as ``fedcore run -m event_process`` does, on the emulators' STOMP events; without
one (or with ``--no-events``) it polls, and says so. Signal handlers only set a flag; the main thread stops in order.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's options."""
    parser.add_argument("--serve", action="store_true",
                        help="keep both Waldurs running after the story; print URLs, tokens and a config file")
    parser.add_argument("--no-story", action="store_true", help="with --serve: set up the federation, skip the story")
    parser.add_argument("--no-agent", action="store_true",
                        help="with --serve: do not poll with the demo's fedcore while serving (run your own)")
    parser.add_argument("--config-out", type=Path, default=None, metavar="FILE",
                        help="with --serve: write the configuration here (default: a temporary file, removed at exit)")
    parser.add_argument("--poll", type=float, default=0.2, metavar="SECONDS",
                        help="seconds between two polls of fedcore's passes (default 0.2)")
    parser.add_argument("--step-timeout", type=float, default=20.0, metavar="SECONDS",
                        help="how long a step may take to reach its expected state (default 20)")
    parser.add_argument("--no-events", action="store_true",
                        help="poll even when a local RabbitMQ could carry the emulators' events")
    parser.add_argument("--provider-delay", type=float, default=0.6, metavar="SECONDS",
                        help="how long B's simulated provider takes to finish an order (default 0.6)")


def run(args: argparse.Namespace) -> int:
    """Set up, tell the story, show the tables, and with ``--serve`` keep serving until a signal."""
    from runners.demo_cli import run as run_demo

    return run_demo(args)
