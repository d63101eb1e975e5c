"""The other replica, for the unit tests of two replicas on one offering (test_replicas, test_replica_machine)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adapters.memory.orders import MemoryTarget
from fedcore.ids import Uuid
from fedcore.model import NewOrder, Order, Project, ProjectKey


class RivalB:
    """B as fedcore's processor sees it while another replica works on it: ``before_order``/``after_order``,
    ``before_project`` and ``before_delete`` run around fedcore's own ``create_order``, ``create_project`` and
    ``delete_order`` (once each, then disarmed). Everything else goes straight to ``b``."""

    def __init__(self, b: MemoryTarget) -> None:
        self._b = b
        self.before_order: Callable[[NewOrder], object] | None = None
        self.after_order: Callable[[Order], object] | None = None
        self.before_project: Callable[[ProjectKey], object] | None = None
        self.before_delete: Callable[[Uuid], object] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._b, name)

    def disarm(self) -> None:
        """The other replica stops."""
        self.before_order = self.after_order = None
        self.before_project = self.before_delete = None

    def create_order(self, order: NewOrder) -> Order:
        before, self.before_order = self.before_order, None
        if before is not None:
            before(order)
        made = self._b.create_order(order)
        after, self.after_order = self.after_order, None
        if after is not None:
            after(made)
        return made

    def delete_order(self, order_uuid: Uuid) -> None:
        before, self.before_delete = self.before_delete, None
        if before is not None:
            before(order_uuid)
        self._b.delete_order(order_uuid)

    def create_project(self, key: ProjectKey, name: str, description: str) -> Project:
        before, self.before_project = self.before_project, None
        if before is not None:
            before(key)
        return self._b.create_project(key, name, description)
