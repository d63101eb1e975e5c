"""Run fedcore: every offering of the configuration, in the chosen modes, until SIGTERM or SIGINT.

``-m`` takes the existing agent's mode names (``order_process``, ``membership_sync``, ``report``,
``event_process``) and fedcore's ``username_sync``, repeated for several; without it every polling mode an offering
of the file takes part in runs. ``event_process`` adds Waldur's STOMP events to the polling modes given with it
(all of them when it is alone): events act at once, the passes still run on their schedule.
``--once`` runs one pass of each and exits 0 only if all of them fully succeeded; ``--dry-run`` does the same
reading everything and printing the writes it would make, making none. Exit codes: :mod:`runners.exitcodes`.
See docs/running.md.
"""

from __future__ import annotations

import argparse
from typing import Any

WORKERS = 8
"""``--workers``' default: :data:`runners.daemon.DEFAULT_WORKERS` (not imported: the CLI starts without the daemon)."""

MODE_NAMES = ("order_process", "membership_sync", "report", "username_sync", "event_process")
EVENT_MODE = "event_process"


def _positive(kind: type[int] | type[float]) -> Any:
    def parse(value: str) -> int | float:
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}") from None
        if number <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}")
        return number

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The daemon's options (and the metrics server's, from :mod:`runners.metrics`)."""
    from runners.logs import FORMATS
    from runners.metrics_args import add_metrics_arguments

    parser.add_argument("-c", "--config-file", dest="config", required=True, metavar="CONFIG",
                        help="the configuration file (waldur-site-agent's format)")
    parser.add_argument("-m", "--mode", dest="modes", action="append", choices=MODE_NAMES, metavar="MODE",
                        help=f"a mode to run ({', '.join(MODE_NAMES)}); repeat for several; "
                             "default: every mode an offering of the file takes part in")
    parser.add_argument("--once", action="store_true",
                        help="run one pass of each mode and offering, then exit (0 only if everything succeeded)")
    parser.add_argument("--dry-run", action="store_true",
                        help="one pass that reads everything and prints the writes it would make, making none")
    parser.add_argument("--log-format", choices=FORMATS, default="text", help="text (default) or json lines")
    parser.add_argument("--log-level", type=str.upper, choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
                        default=None, help="overrides the configuration's log_level")
    parser.add_argument("--workers", type=_positive(int), default=WORKERS, metavar="N",
                        help="order batches (one A project each) processed at once, all offerings together "
                             f"(default {WORKERS}; 1 runs everything in one thread)")
    parser.add_argument("--shutdown-timeout", type=_positive(float), default=30.0, metavar="SECONDS",
                        help="after SIGTERM/SIGINT, how long passes in flight may take to finish (default 30)")
    parser.add_argument("--stomp-transport", choices=("websocket", "tcp"), default="websocket",
                        help="event_process: STOMP over WebSocket (default, the endpoint of the configuration) or "
                             "plain STOMP over TCP to the same host and port")
    parser.add_argument("--event-workers", type=_positive(int), default=8, metavar="N",
                        help="event_process: events handled at once (default 8)")
    parser.add_argument("--event-watch-seconds", type=_positive(float), default=10.0, metavar="SECONDS",
                        help="event_process: how often B's orders that A orders wait on are read (Waldur sends no "
                             "event when a B order errs, is rejected or canceled; default 10)")
    parser.add_argument("--backoff-initial", type=_positive(float), default=30.0, metavar="SECONDS",
                        help="wait before retrying an order after its first failing call (default 30; doubles)")
    parser.add_argument("--backoff-max", type=_positive(float), default=600.0, metavar="SECONDS",
                        help="longest wait between retries of a failing order (default 600)")
    add_metrics_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Load the configuration, start the daemon, and run it (or one pass of it)."""
    from runners.daemon_cli import run_daemon

    return run_daemon(args)
