"""The ``fedcore`` console script. Each subcommand lives in its own module (:mod:`runners.commands`)."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

from runners.commands import COMMANDS


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="fedcore", description="Waldur-to-Waldur federation agent.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name, summary in COMMANDS:
        module = importlib.import_module(module_name)
        sub = commands.add_parser(name, help=summary, description=(module.__doc__ or summary).strip().splitlines()[0])
        module.add_arguments(sub)
        sub.set_defaults(handler=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; returns the exit code."""
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
