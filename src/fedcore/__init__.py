"""fedcore: the pure heart of a Waldur-to-Waldur federation agent.

The domain decides, adapters act: this package holds frozen values (:mod:`fedcore.model`), Waldur's
enums (:mod:`fedcore.enums`), pure decision functions, the ports services need
(:mod:`fedcore.ports`) and small services that read through ports, decide, and apply. It imports
only the standard library and attrs.
"""

from fedcore.errors import (
    ConfigError,
    Conflict,
    FedcoreError,
    NotFound,
    PermanentError,
    PortError,
    TransientError,
)
from fedcore.ids import Uuid, normalize_uuid

__all__ = [
    "ConfigError",
    "Conflict",
    "FedcoreError",
    "NotFound",
    "PermanentError",
    "PortError",
    "TransientError",
    "Uuid",
    "normalize_uuid",
]
