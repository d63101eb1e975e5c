"""The composition root: configuration in, ready services out, for each mode. No work happens at import time.

- :class:`Ports` bundles what one offering's services talk to on A and B; a *ports factory* builds them from
  an :class:`~adapters.config.OfferingConfig` (:func:`memory_ports` for the in-memory fakes, :class:`RestPorts`
  for Waldur's REST API).
- :func:`build_offering` wires one offering's services (:class:`OfferingServices`); :func:`build_mode` wires every
  offering of a configuration that takes part in a mode (``order_process``, ``membership_sync``, ``report``,
  ``username_sync``).

Everything is a plain function with keyword overrides: tests pass fakes, runners pass real adapters.
"""

from runners.wiring.memory import MemoryWorld, memory_ports, memory_world
from runners.wiring.rest import RestPorts, server_label
from runners.wiring.root import (
    MODES,
    Mode,
    OfferingServices,
    Ports,
    PortsFactory,
    build_mode,
    build_offering,
    local_today,
)

__all__ = [
    "MODES",
    "MemoryWorld",
    "Mode",
    "OfferingServices",
    "Ports",
    "PortsFactory",
    "RestPorts",
    "build_mode",
    "build_offering",
    "local_today",
    "memory_ports",
    "memory_world",
    "server_label",
]
