"""What a port may raise, and what configuration loading reports.

Adapters translate their library's exceptions into this tree at one boundary (chaining ``from exc``);
services decide on the class alone:

- :class:`TransientError`: try again later; never marks an order erred, never means "absent".
- :class:`PermanentError`: the request itself was refused; carries Waldur's own detail.
  - :class:`NotFound`: the object does not exist *or is not visible* to the caller.
  - :class:`Conflict`: the object is in the wrong state for the action (Waldur's 409).
"""

from __future__ import annotations

from collections.abc import Sequence


class FedcoreError(Exception):
    """Base of every error fedcore raises on purpose."""


class PortError(FedcoreError):
    """A port call failed. ``where`` names the call (``"B POST marketplace-orders"``), never a secret."""

    def __init__(self, message: str, *, where: str = "", status: int | None = None) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.detail = message
        self.where = where
        self.status = status


class TransientError(PortError):
    """A passing fault: timeout, connection error, 429, 502-504, a broker drop. Retry later."""


class PermanentError(PortError):
    """The peer refused the request for a reason that repeating it will not fix."""


class NotFound(PermanentError):
    """The object does not exist, or is not visible to this token (Waldur answers 404 for both)."""


class Conflict(PermanentError):
    """The object is in the wrong state for the action (Waldur's 409)."""


class ConfigError(FedcoreError):
    """Configuration is invalid. ``problems`` lists every problem at once, each naming its path."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid configuration ({len(self.problems)} problem(s)):\n{lines}")
