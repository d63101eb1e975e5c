"""Ports: what fedcore's services need from the outside world, as small ``typing.Protocol`` classes.

Adapters satisfy them structurally (REST over httpx, in-memory fakes). Every method may raise the
:mod:`fedcore.errors` tree: :class:`~fedcore.errors.TransientError` for passing faults,
:class:`~fedcore.errors.PermanentError` (with :class:`~fedcore.errors.NotFound` and
:class:`~fedcore.errors.Conflict`) for refusals. A method never answers "absent" because a read failed.

| Port | Side | Used by |
| --- | --- | --- |
| :class:`SourceOrders`, :class:`SourceResources` | A | the order lifecycle; resource end-date and limit sync |
| :class:`TargetOrders`, :class:`TargetResources` | B | the order lifecycle; resource end-date sync |
| :class:`TargetProjects` (a :class:`TargetMembers`) | B | the order lifecycle and memberships |
| :class:`SourceUsers`, :class:`TargetUsers`, :class:`TargetMembers` | A, B, B | user matching, memberships, usernames |
| :class:`SourceUsage`, :class:`TargetUsage` | A, B | usage reporting |
| :class:`EventStream` | A, B | event mode: deliveries from Waldur's STOMP queues |
| :class:`Clock` | - | anything that needs the time |
"""

from fedcore.ports.clock import Clock
from fedcore.ports.events import EventStream
from fedcore.ports.orders import (
    NewOrder,
    SourceOrders,
    SourceResources,
    TargetOrders,
    TargetProjects,
    TargetResources,
)
from fedcore.ports.usage import SourceUsage, TargetUsage
from fedcore.ports.users import SourceUsers, TargetMembers, TargetUsers

__all__ = [
    "Clock",
    "EventStream",
    "NewOrder",
    "SourceOrders",
    "SourceResources",
    "SourceUsage",
    "SourceUsers",
    "TargetMembers",
    "TargetOrders",
    "TargetProjects",
    "TargetResources",
    "TargetUsage",
    "TargetUsers",
]
