"""fedcore's named exit codes: what a script or systemd sees when a command ends.

| Code | Name | Meaning |
| --- | --- | --- |
| 0 | ``OK`` | everything asked for was done (``--once``: every item of the pass succeeded) |
| 1 | ``PARTIAL`` | the pass ran, but some items failed or must be retried (details in the log and report) |
| 2 | ``CONFIG`` | the configuration (or the command line) is invalid; nothing was done |
| 3 | ``UNREACHABLE`` | a Waldur could not be reached or refused fedcore's token; nothing could be decided |
| 4 | ``CHECK_FAILED`` | ``validate --check-connectivity`` found a missing right; ``status --fail-on-drift``: drift |
| 130 | ``INTERRUPTED`` | stopped by a second SIGINT/SIGTERM before in-flight work finished |
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Exit codes of every ``fedcore`` command."""

    OK = 0
    PARTIAL = 1
    CONFIG = 2
    UNREACHABLE = 3
    CHECK_FAILED = 4
    INTERRUPTED = 130
