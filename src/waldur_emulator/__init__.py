"""An in-memory emulator of Waldur 8.0.5's marketplace REST API (and, through ``events``, its STOMP events).

Independent of fedcore: it serves unmodified Waldur clients in-process (``Emulator.transport()``) or over a real
socket (``Emulator.serve()``), with fault injection and an optional simulated service provider.
"""

from .app import Emulator
from .faults import FaultRule
from .server import ServerHandle
from .simulation import Condition, SimulationRule

__all__ = ["Condition", "Emulator", "FaultRule", "ServerHandle", "SimulationRule"]
