"""The event bus backed by a real RabbitMQ, provisioned and fed the way Waldur 8.0.5 does it.

Provisioning goes through the management API (vhost per user, broker user per subscription whose password is
the owner's API token, full permissions on the vhost). The admin user is granted permissions on every vhost
it creates, as Waldur's admin has, so it can declare queues and publish there. Publishing is plain STOMP from a
background thread (see ``_publisher``), so REST requests never wait for the broker.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import httpx

from ._bus import QUEUE_ARGUMENTS, EventBusError, broker_user_name, vhost_name
from ._management import ManagementClient
from ._publisher import PublisherStats, StompPublisher


class RabbitEventBus:
    """An :class:`EventBus` on a real RabbitMQ with the management and STOMP plugins.

    ``destination_prefix``: Waldur sends to ``/queue/<name>``, which makes RabbitMQ's STOMP adapter declare the
    queue again from the message's ``x-`` headers. RabbitMQ 3.10 ignores an ``x-overflow`` header, so that
    declaration never matches the queue's arguments and every SEND fails with PRECONDITION_FAILED. The default,
    ``/amq/queue/<name>``, delivers to the same existing queue through the default exchange without declaring
    it; pass ``"/queue/"`` on a broker whose STOMP adapter accepts ``x-overflow`` to copy Waldur exactly.
    ``management_transport`` replaces the HTTP transport of the management client (tests inject failures).
    """

    enabled = True

    def __init__(
        self,
        *,
        management_url: str = "http://127.0.0.1:15672",
        admin_user: str = "guest",
        admin_password: str = "guest",
        stomp_host: str = "127.0.0.1",
        stomp_port: int = 61613,
        publish_attempts: int = 5,
        timeout: float = 5.0,
        destination_prefix: str = "/amq/queue/",
        management_transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.management_url = management_url.rstrip("/")
        self.admin_user = admin_user
        self.stomp_host = stomp_host
        self.stomp_port = stomp_port
        self.destination_prefix = destination_prefix
        self.management = ManagementClient(
            self.management_url,
            user=admin_user,
            password=admin_password,
            timeout=timeout,
            transport=management_transport,
        )
        self._publisher = StompPublisher(
            host=stomp_host,
            port=stomp_port,
            login=admin_user,
            passcode=admin_password,
            max_attempts=publish_attempts,
            timeout=timeout,
        )

    def __repr__(self) -> str:
        return f"RabbitEventBus({self.management_url!r}, stomp={self.stomp_host}:{self.stomp_port})"

    def describe(self) -> str:
        """Where the broker is (no credentials)."""
        return (
            f"events: RabbitMQ at {self.management_url} (management), "
            f"stomp://{self.stomp_host}:{self.stomp_port} (publishing as {self.admin_user})"
        )

    def provision_subscription(self, *, user_uuid: str, subscription_uuid: str, password: str) -> None:
        """Vhost, broker user and permissions; if permissions fail, the broker user is removed again."""
        vhost = vhost_name(user_uuid)
        user = broker_user_name(subscription_uuid)
        self.management.put_vhost(vhost)
        self.management.put_permissions(vhost, self.admin_user)
        self.management.put_user(user, password)
        try:
            self.management.put_permissions(vhost, user)
        except EventBusError:
            self.management.delete_user(user)
            raise

    def subscription_provisioned(self, *, user_uuid: str, subscription_uuid: str) -> bool:
        """True when the broker user exists and has permissions on the vhost (the password is not checked)."""
        user = broker_user_name(subscription_uuid)
        if not self.management.user_exists(user):
            return False
        return self.management.get_permissions(vhost_name(user_uuid), user) is not None

    def remove_subscription(self, *, user_uuid: str, subscription_uuid: str, delete_vhost: bool) -> None:
        """Delete the broker user (its connections close), and the vhost with all its queues when asked."""
        vhost = vhost_name(user_uuid)
        self.management.delete_user(broker_user_name(subscription_uuid))
        if delete_vhost:
            self._publisher.forget_vhost(vhost)
            self.management.delete_vhost(vhost)

    def declare_queue(self, *, vhost: str, queue_name: str) -> None:
        """Durable queue with Waldur's arguments, declared through the management API."""
        self.management.put_queue(vhost, queue_name, QUEUE_ARGUMENTS)

    def delete_queue(self, *, vhost: str, queue_name: str) -> None:
        """Delete the queue; absent is fine."""
        self.management.delete_queue(vhost, queue_name)

    def publish(self, *, vhost: str, queue_name: str, payload: Mapping[str, object]) -> None:
        """Serialise now (so later changes by the caller do not leak in) and queue for background delivery."""
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True)
        self._publisher.submit(vhost=vhost, destination=f"{self.destination_prefix}{queue_name}", body=body)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every publish so far is confirmed by the broker or given up; False on timeout."""
        return self._publisher.flush(timeout)

    def stats(self) -> PublisherStats:
        """Publisher counters: published, failed, retries, pending."""
        return self._publisher.stats()

    def close(self) -> None:
        """Deliver what is queued (bounded), disconnect, close the HTTP pool."""
        self._publisher.close()
        self.management.close()
