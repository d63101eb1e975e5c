"""The ``fedcore`` console script. Subcommands register themselves here; each stays a thin wrapper."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="fedcore", description="Waldur-to-Waldur federation agent.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    emulator = commands.add_parser("emulator", help="serve a Waldur 8.0.5 emulator (for tests, demos, sandboxes)",
                                   description="Serve one in-memory Waldur 8.0.5 instance until SIGTERM.")
    from waldur_emulator.cli import add_arguments, run

    add_arguments(emulator)
    emulator.set_defaults(handler=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; returns the exit code."""
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
