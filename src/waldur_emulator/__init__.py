"""An in-memory emulator of Waldur 8.0.5's marketplace REST API (and, through ``events``, its STOMP events).

Independent of fedcore: it serves unmodified Waldur clients in-process (``Emulator.transport()``) or over a real
socket (``Emulator.serve()``), with fault injection and an optional simulated service provider.

The names below are imported on first use (PEP 562), so that importing a submodule, such as the command line's
argument definitions, does not load the whole emulator.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import Emulator
    from .faults import FaultRule
    from .server import ServerHandle
    from .simulation import Condition, SimulationRule

__all__ = ["Condition", "Emulator", "FaultRule", "ServerHandle", "SimulationRule"]

_HOMES = {"Emulator": ".app", "FaultRule": ".faults", "ServerHandle": ".server", "Condition": ".simulation",
          "SimulationRule": ".simulation"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home, __name__), name)
