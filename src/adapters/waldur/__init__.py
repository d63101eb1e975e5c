"""fedcore's ports over Waldur 8.0.5's REST API (httpx).

- :func:`~adapters.waldur.client.make_client`: the one pooled :class:`httpx.Client` per Waldur;
- :class:`~adapters.waldur.http.WaldurHttp`: Waldur's conventions (pagination, ``field=``, retries) over it;
- :class:`~adapters.waldur.orders.SourceMarketplace` (A) and :class:`~adapters.waldur.orders.TargetMarketplace`
  (B): orders, resources, projects and members;
- :mod:`adapters.waldur.errors`: the one place HTTP outcomes become :mod:`fedcore.errors`.
"""

from adapters.waldur.client import Timeouts, make_client
from adapters.waldur.errors import InvalidResponse, RateLimited
from adapters.waldur.http import RetryPolicy, WaldurHttp
from adapters.waldur.orders import SourceMarketplace, TargetMarketplace

__all__ = [
    "InvalidResponse",
    "RateLimited",
    "RetryPolicy",
    "SourceMarketplace",
    "TargetMarketplace",
    "Timeouts",
    "WaldurHttp",
    "make_client",
]
