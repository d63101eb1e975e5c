"""The per-item write loop every service shares: apply one write, file the item by how it ended.

A transient failure means "retry later", a permanent one means "refused"; either way the next item is
still attempted. Reports keep their own failure types, so the collector builds them with a factory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from fedcore.errors import PermanentError, TransientError

Item = TypeVar("Item")
Failure = TypeVar("Failure")


class Outcomes(Generic[Item, Failure]):
    """Items applied, to retry (:class:`TransientError`) and refused (:class:`PermanentError`), in order.

    ``failure`` turns an item and the port's message into the report's failure value.
    """

    def __init__(self, failure: Callable[[Item, str], Failure]) -> None:
        self._failure = failure
        self.applied: list[Item] = []
        self.retry: list[Failure] = []
        self.failed: list[Failure] = []

    def attempt(self, item: Item, write: Callable[[], object]) -> bool:
        """Run ``write`` for ``item`` and file the item; True when it was applied.

        Other exceptions propagate: they are bugs or crashes, not outcomes.
        """
        try:
            write()
        except TransientError as exc:
            self.retry.append(self._failure(item, str(exc)))
        except PermanentError as exc:
            self.failed.append(self._failure(item, str(exc)))
        else:
            self.applied.append(item)
            return True
        return False

    def skip(self, item: Item, detail: str, *, transient: bool) -> None:
        """File ``item`` as not attempted (e.g. blocked by an earlier write), to retry or as refused."""
        (self.retry if transient else self.failed).append(self._failure(item, detail))
