"""Building the one :class:`httpx.Client` per Waldur that every port of that side shares.

Timeouts for connect, read, write and pool are explicit (the existing agent sets none towards B); TLS
verification is on unless the configuration turns it off (then :func:`make_client` warns, loudly, once per
``https://`` client; plain ``http://``, as in a sandbox, has nothing to verify); a CA bundle may replace the
system's; connections are pooled and kept alive; every request names fedcore and its version in ``User-Agent``
and carries the token in ``Authorization`` only.
"""

from __future__ import annotations

import logging
import ssl
from importlib import metadata

import attrs
import httpx

log = logging.getLogger(__name__)


def user_agent() -> str:
    """``fedcore/<version>`` (``fedcore/dev`` when the package metadata is not installed)."""
    try:
        return f"fedcore/{metadata.version('fedcore')}"
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "fedcore/dev"


@attrs.frozen
class Timeouts:
    """Seconds to wait for a connection, each read and write, and a pooled connection."""

    connect: float = 5.0
    read: float = 30.0
    write: float = 30.0
    pool: float = 10.0

    def as_httpx(self) -> httpx.Timeout:
        """The same as an :class:`httpx.Timeout`."""
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


def make_client(
    api_url: str,
    token: str,
    *,
    verify: bool = True,
    ca_bundle: str | None = None,
    timeouts: Timeouts | None = None,
    max_connections: int = 20,
    transport: httpx.BaseTransport | None = None,
    name: str = "Waldur",
) -> httpx.Client:
    """A pooled client for one Waldur API (``https://host/api/``) acting with ``token``.

    ``transport`` replaces the network (tests, the in-process emulator); ``name`` only labels the warning.
    """
    if not verify and api_url.startswith("https://"):
        log.warning("TLS certificate verification is OFF for %s (%s): anyone on the path can read and change "
                    "fedcore's traffic and its token. Set verify_ssl: true, or give a CA bundle.", name, api_url)
    tls: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_bundle) if ca_bundle and verify else verify
    return httpx.Client(
        base_url=api_url if api_url.endswith("/") else api_url + "/",
        headers={"Authorization": f"Token {token}", "User-Agent": user_agent(), "Accept": "application/json"},
        timeout=(timeouts or Timeouts()).as_httpx(),
        verify=tls,
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        transport=transport,
        follow_redirects=False,
    )
