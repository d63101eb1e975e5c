"""Ports: what fedcore's services need from the outside world, as small ``typing.Protocol`` classes.

Adapters satisfy them structurally (REST over httpx, in-memory fakes). Every method may raise the
:mod:`fedcore.errors` tree: :class:`~fedcore.errors.TransientError` for passing faults,
:class:`~fedcore.errors.PermanentError` (with :class:`~fedcore.errors.NotFound` and
:class:`~fedcore.errors.Conflict`) for refusals. A method never answers "absent" because a read failed.

| Port | Side | Used by |
| --- | --- | --- |
| :class:`SourceOrders` | A | the order lifecycle |
| :class:`TargetOrders`, :class:`TargetProjects` | B | the order lifecycle (projects also for memberships) |
| :class:`SourceUsers`, :class:`TargetUsers`, :class:`TargetMembers` | A, B, B | user matching, memberships, usernames |
| :class:`SourceUsage`, :class:`TargetUsage` | A, B | usage reporting |
| :class:`Clock` | - | anything that needs the time |
"""

from fedcore.ports.clock import Clock
from fedcore.ports.orders import NewOrder, SourceOrders, TargetOrders, TargetProjects
from fedcore.ports.usage import SourceUsage, TargetUsage
from fedcore.ports.users import SourceUsers, TargetMembers, TargetUsers

__all__ = [
    "Clock",
    "NewOrder",
    "SourceOrders",
    "SourceUsage",
    "SourceUsers",
    "TargetMembers",
    "TargetOrders",
    "TargetProjects",
    "TargetUsage",
    "TargetUsers",
]
