"""Ports: what fedcore's services need from the outside world, as small ``typing.Protocol`` classes.

Adapters satisfy them structurally (REST over httpx, in-memory fakes). Every method may raise the
:mod:`fedcore.errors` tree: :class:`~fedcore.errors.TransientError` for passing faults,
:class:`~fedcore.errors.PermanentError` (with :class:`~fedcore.errors.NotFound` and
:class:`~fedcore.errors.Conflict`) for refusals. A method never answers "absent" because a read failed.
"""

from fedcore.ports.clock import Clock
from fedcore.ports.orders import NewOrder, SourceOrders, TargetOrders, TargetProjects

__all__ = ["Clock", "NewOrder", "SourceOrders", "TargetOrders", "TargetProjects"]
