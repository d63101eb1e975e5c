"""Check a configuration file; with --check-connectivity also the tokens and rights on both Waldurs.

Without ``--check-connectivity`` nothing leaves the machine: the file is loaded exactly as the daemon loads it and
every problem is listed at once with its path (exit 2), or a summary of what each offering will do is printed
with the notices the daemon would log (exit 0). With it, both sides of every offering are checked concurrently
and a checklist is printed (exit 0, 3 when a server did not answer, 4 when a check failed). No token is printed.
See docs/commands.md.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``-c CONFIG`` and ``--check-connectivity``."""
    from runners.console import add_config_argument

    add_config_argument(parser)
    parser.add_argument("--check-connectivity", action="store_true",
                        help="also call both Waldurs of every offering (users/me, the offerings, the organisation "
                             "on B, identity-manager rights) and print a checklist")


def run(args: argparse.Namespace) -> int:
    """Exit 0 (valid), 2 (invalid), 3 (a server did not answer), 4 (a check failed)."""
    from runners.validation import validate

    return validate(args.config, check_connectivity=args.check_connectivity)
