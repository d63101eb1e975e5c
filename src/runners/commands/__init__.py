"""The ``fedcore`` subcommands: each module has ``add_arguments(parser)`` and ``run(args) -> int``.

:data:`COMMANDS` lists them in the order ``fedcore --help`` shows them; :mod:`runners.cli` registers each.
Command modules do no work at import time: heavy imports (httpx clients, the emulator, stomp.py) happen inside
``run``.
"""

from __future__ import annotations

COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("run", "runners.commands.run", "run the federation: orders, memberships, usage, usernames (--once: one pass)"),
    ("emulator", "waldur_emulator.cli", "serve a Waldur 8.0.5 emulator (for tests, demos, sandboxes)"),
    ("validate", "runners.commands.validate", "check a configuration file (--check-connectivity: tokens and rights)"),
    ("status", "runners.commands.status", "each A resource beside its B resource, drift, orders in flight"),
    ("demo", "runners.commands.demo", "watch a federation work: two emulated Waldurs, fedcore, orders, users, usage"),
)
"""(command, module, one-line help) for every subcommand."""
