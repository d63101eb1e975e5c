"""A small client of RabbitMQ's HTTP management API: the calls Waldur makes to provision events.

Every failure (transport error or unexpected status) becomes :class:`EventBusError` at this one boundary,
with the method, path and status, never the request body (it carries passwords).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

import httpx

from ._bus import EventBusError

_ALL = ".*"


def _seg(name: str) -> str:
    # Vhost and user names are path segments; "/" (the default vhost) must be encoded too.
    return quote(name, safe="")


class ManagementClient:
    """Vhosts, users, permissions and queues through ``/api/...`` with basic auth."""

    def __init__(
        self,
        base_url: str,
        *,
        user: str,
        password: str,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, auth=(user, password), timeout=timeout, transport=transport)

    def __repr__(self) -> str:
        return f"ManagementClient({self.base_url!r})"

    def _call(
        self, method: str, path: str, *, ok: tuple[int, ...], body: Mapping[str, object] | None = None
    ) -> httpx.Response:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise EventBusError(f"RabbitMQ management {method} {path} failed: {type(exc).__name__}") from exc
        if response.status_code not in ok:
            raise EventBusError(
                f"RabbitMQ management {method} {path} answered {response.status_code}: {response.text[:200]}"
            )
        return response

    def put_vhost(self, vhost: str) -> None:
        """Create a vhost (201), or accept that it exists (204)."""
        self._call("PUT", f"/api/vhosts/{_seg(vhost)}", ok=(201, 204))

    def vhost_exists(self, vhost: str) -> bool:
        """True when the vhost exists."""
        return self._call("GET", f"/api/vhosts/{_seg(vhost)}", ok=(200, 404)).status_code == 200

    def delete_vhost(self, vhost: str) -> None:
        """Delete a vhost with its queues; an absent vhost is fine."""
        self._call("DELETE", f"/api/vhosts/{_seg(vhost)}", ok=(204, 404))

    def put_user(self, user: str, password: str) -> None:
        """Create a broker user or change its password; no tags (no management access)."""
        self._call("PUT", f"/api/users/{_seg(user)}", ok=(201, 204), body={"password": password, "tags": ""})

    def user_exists(self, user: str) -> bool:
        """True when the broker user exists."""
        return self._call("GET", f"/api/users/{_seg(user)}", ok=(200, 404)).status_code == 200

    def delete_user(self, user: str) -> None:
        """Delete a broker user; an absent user is fine."""
        self._call("DELETE", f"/api/users/{_seg(user)}", ok=(204, 404))

    def put_permissions(self, vhost: str, user: str) -> None:
        """Grant ``user`` configure, write and read on everything in ``vhost``."""
        self._call(
            "PUT",
            f"/api/permissions/{_seg(vhost)}/{_seg(user)}",
            ok=(201, 204),
            body={"configure": _ALL, "write": _ALL, "read": _ALL},
        )

    def get_permissions(self, vhost: str, user: str) -> Mapping[str, object] | None:
        """The user's permission patterns on the vhost, or None when it has none."""
        response = self._call("GET", f"/api/permissions/{_seg(vhost)}/{_seg(user)}", ok=(200, 404))
        if response.status_code == 404:
            return None
        data = response.json()
        if not isinstance(data, dict):
            raise EventBusError(f"RabbitMQ management returned a non-object for permissions of {user!r}")
        return data

    def put_queue(self, vhost: str, queue: str, arguments: Mapping[str, object]) -> None:
        """Declare a durable, non-auto-delete queue with ``arguments`` (idempotent for equal arguments)."""
        self._call(
            "PUT",
            f"/api/queues/{_seg(vhost)}/{_seg(queue)}",
            ok=(201, 204),
            body={"durable": True, "auto_delete": False, "arguments": dict(arguments)},
        )

    def get_queue(self, vhost: str, queue: str) -> Mapping[str, object] | None:
        """The queue's description (``durable``, ``arguments``, ``messages``, ...), or None when absent."""
        response = self._call("GET", f"/api/queues/{_seg(vhost)}/{_seg(queue)}", ok=(200, 404))
        if response.status_code == 404:
            return None
        data = response.json()
        if not isinstance(data, dict):
            raise EventBusError(f"RabbitMQ management returned a non-object for queue {queue!r}")
        return data

    def delete_queue(self, vhost: str, queue: str) -> None:
        """Delete a queue; an absent queue (or vhost) is fine."""
        self._call("DELETE", f"/api/queues/{_seg(vhost)}/{_seg(queue)}", ok=(204, 404))

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()
