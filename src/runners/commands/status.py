"""Show each A resource beside its B resource, drift between them, and A's orders in flight; reads only.

Limits are shown converted through each offering's component mapping; drift is flagged by the rules of
:mod:`runners.drift`; ``--json`` prints one stable document (keys in docs/commands.md). Nothing is written to
either Waldur. Attempts and the daemon's own last error live in the running daemon (its log and metrics): this
separate process shows what A and B show (the orders' states, their links, B's error message).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``-c CONFIG``, ``--json``, ``--all``, ``--offering NAME``, ``--fail-on-drift``."""
    from runners.console import add_config_argument

    add_config_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON document (keys: docs/commands.md)")
    parser.add_argument("--all", action="store_true",
                        help="also show resources that are Terminated on both sides and do not drift")
    parser.add_argument("--offering", action="append", metavar="NAME", default=[],
                        help="only this offering (by its name; may be repeated)")
    parser.add_argument("--fail-on-drift", action="store_true",
                        help="exit 4 when any drift is found (for monitoring)")


def run(args: argparse.Namespace) -> int:
    """Exit 0 (read), 2 (invalid configuration or unknown --offering), 3 (an offering could not be read),
    4 (--fail-on-drift and drift found)."""
    from runners.status_report import status

    return status(args.config, names=args.offering, as_json=args.json, include_all=args.all,
                  fail_on_drift=args.fail_on_drift)
