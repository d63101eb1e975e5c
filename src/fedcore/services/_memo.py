"""A read made at most once per key within one pass (the order service's memory of what it read)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from fedcore.errors import PortError

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(Generic[K, V]):
    """One kind of read, made at most once per key in a pass; a failure is remembered and raised again."""

    def __init__(self, read: Callable[[K], V]) -> None:
        self._read = read
        self._values: dict[K, V | PortError] = {}

    def get(self, key: K) -> V:
        """The value for ``key``, read on first use; the remembered failure raised again."""
        if key not in self._values:
            try:
                self._values[key] = self._read(key)
            except PortError as exc:
                self._values[key] = exc
        value = self._values[key]
        if isinstance(value, PortError):
            raise value
        return value

    def put(self, key: K, value: V) -> None:
        """Remember ``value`` for ``key`` (a write made it known)."""
        self._values[key] = value

    def forget(self, key: K) -> None:
        """Read ``key`` again on its next use."""
        self._values.pop(key, None)
