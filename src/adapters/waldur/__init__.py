"""fedcore's ports over Waldur 8.0.5's REST API (httpx).

- :func:`~adapters.waldur.client.make_client`: the one pooled :class:`httpx.Client` per Waldur;
- :class:`~adapters.waldur.http.WaldurHttp`: Waldur's conventions (pagination, ``field=``, retries) over it,
  reporting each call to an optional :class:`~adapters.waldur.http.CallObserver`;
- :class:`~adapters.waldur.orders.SourceMarketplace` (A) and :class:`~adapters.waldur.orders.TargetMarketplace`
  (B): orders, resources, projects and members;
- :class:`~adapters.waldur.users.SourceUsers` (A) and :class:`~adapters.waldur.users.TargetUsers` (B): offering
  users, teams, the identity bridge and user lookups;
- :class:`~adapters.waldur.usage.SourceUsage` (A) and :class:`~adapters.waldur.usage.TargetUsage` (B): component
  usages and their per-user split;
- :mod:`adapters.waldur.errors`: the one place HTTP outcomes become :mod:`fedcore.errors`.
"""

from adapters.waldur.client import Timeouts, make_client
from adapters.waldur.errors import InvalidResponse, RateLimited
from adapters.waldur.http import CallObserver, RetryPolicy, WaldurHttp, endpoint_template
from adapters.waldur.orders import SourceMarketplace, TargetMarketplace
from adapters.waldur.usage import SourceUsage, TargetUsage
from adapters.waldur.users import SourceUsers, TargetUsers

__all__ = [
    "CallObserver",
    "InvalidResponse",
    "RateLimited",
    "RetryPolicy",
    "SourceMarketplace",
    "SourceUsage",
    "SourceUsers",
    "TargetMarketplace",
    "TargetUsage",
    "TargetUsers",
    "Timeouts",
    "WaldurHttp",
    "endpoint_template",
    "make_client",
]
