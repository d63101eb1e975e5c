"""The event-bus port of the emulator, Waldur's queue naming, and the bus used when events are off.

The REST side of the emulator decides who receives an event and what it says; the bus only provisions
RabbitMQ for subscriptions and delivers payloads. Keeping that behind a small Protocol lets the emulator run
with no broker at all (``NullEventBus``) and lets tests observe what would have been published.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from typing import Final, Protocol

import attrs

QUEUE_ARGUMENTS: Final[Mapping[str, object]] = {
    "x-message-ttl": 3_600_000,
    "x-max-length": 10_000,
    "x-overflow": "reject-publish-dlx",
    "x-dead-letter-exchange": "",
    "x-dead-letter-routing-key": "waldur.dlq.messages",
}
"""Arguments Waldur declares every subscription queue with (its ``SUBSCRIPTION_QUEUE_ARGUMENTS``)."""

MESSAGE_TTL_MS: Final = 3_600_000
"""Per-message ``expiration`` header Waldur puts on every published event (1 hour)."""


class EventBusError(Exception):
    """The broker refused or could not be reached while provisioning, declaring or deleting.

    Messages never contain passwords or tokens.
    """


class EventBus(Protocol):
    """What the emulator's REST layer needs from the event side of Waldur.

    Implementations: :class:`NullEventBus` (events off, records publishes) and ``RabbitEventBus`` (a real
    RabbitMQ, provisioned and fed the way Waldur 8.0.5 does it).
    """

    enabled: bool

    def describe(self) -> str:
        """One line for the start-up banner, without secrets."""
        ...

    def provision_subscription(self, *, user_uuid: str, subscription_uuid: str, password: str) -> None:
        """Create the user's vhost, the subscription's broker user and its permissions on the vhost."""
        ...

    def subscription_provisioned(self, *, user_uuid: str, subscription_uuid: str) -> bool:
        """True when the subscription's broker user exists and has permissions on the user's vhost."""
        ...

    def remove_subscription(self, *, user_uuid: str, subscription_uuid: str, delete_vhost: bool) -> None:
        """Delete the subscription's broker user, and the user's vhost when asked (its last subscription)."""
        ...

    def declare_queue(self, *, vhost: str, queue_name: str) -> None:
        """Declare a durable subscription queue with :data:`QUEUE_ARGUMENTS` (idempotent)."""
        ...

    def delete_queue(self, *, vhost: str, queue_name: str) -> None:
        """Delete a subscription queue; a queue that is already gone is not an error."""
        ...

    def publish(self, *, vhost: str, queue_name: str, payload: Mapping[str, object]) -> None:
        """Hand a JSON payload over for persistent delivery to ``/queue/<queue_name>`` on ``vhost``.

        Must not block the caller on the broker for long: delivery may happen in the background.
        """
        ...

    def close(self) -> None:
        """Release connections and threads; the bus is unusable afterwards."""
        ...


def _hex(value: str) -> str:
    try:
        return uuid.UUID(value).hex
    except ValueError:
        raise ValueError(f"not a UUID: {value!r}") from None


def vhost_name(user_uuid: str) -> str:
    """The vhost Waldur gives a user: the user's UUID as 32 lowercase hex characters."""
    return _hex(user_uuid)


def broker_user_name(subscription_uuid: str) -> str:
    """The broker login Waldur gives a subscription: its UUID as 32 lowercase hex characters."""
    return _hex(subscription_uuid)


def queue_name(subscription_uuid: str, offering_uuid: str, object_type: str) -> str:
    """Waldur's queue name: ``subscription_{sub_hex}_offering_{off_hex}_{object_type}``.

    UUIDs are accepted hyphenated or bare, in any case; ``ValueError`` for anything else.
    """
    if not object_type:
        raise ValueError("object_type must not be empty")
    return f"subscription_{_hex(subscription_uuid)}_offering_{_hex(offering_uuid)}_{object_type}"


@attrs.frozen
class PublishedEvent:
    """One payload handed to a bus: where it was addressed and what it said."""

    vhost: str
    queue_name: str
    payload: Mapping[str, object]


class NullEventBus:
    """The bus for an emulator without a broker: provisions nothing, delivers nothing, records everything.

    It keeps the same bookkeeping a broker would (which subscriptions and queues exist), so the REST layer
    behaves the same with events off, and tests can assert on ``published``, ``subscriptions`` and ``queues``.
    """

    enabled = False

    def __init__(self, reason: str = "no broker configured") -> None:
        self.reason = reason
        self.published: list[PublishedEvent] = []
        self.subscriptions: set[tuple[str, str]] = set()
        self.queues: set[tuple[str, str]] = set()
        self.closed = False
        self._lock = threading.Lock()

    def describe(self) -> str:
        """Say that events are off and why."""
        return f"events off: {self.reason}"

    def provision_subscription(
        self,
        *,
        user_uuid: str,
        subscription_uuid: str,
        password: str,  # noqa: ARG002 (port signature; never kept)
    ) -> None:
        """Record the subscription as provisioned (the password is deliberately not stored)."""
        with self._lock:
            self.subscriptions.add((vhost_name(user_uuid), broker_user_name(subscription_uuid)))

    def subscription_provisioned(self, *, user_uuid: str, subscription_uuid: str) -> bool:
        """True when :meth:`provision_subscription` was called and not undone."""
        with self._lock:
            return (vhost_name(user_uuid), broker_user_name(subscription_uuid)) in self.subscriptions

    def remove_subscription(self, *, user_uuid: str, subscription_uuid: str, delete_vhost: bool) -> None:
        """Forget the subscription, and every queue of the vhost when it is deleted too."""
        vhost = vhost_name(user_uuid)
        with self._lock:
            self.subscriptions.discard((vhost, broker_user_name(subscription_uuid)))
            if delete_vhost:
                self.queues = {q for q in self.queues if q[0] != vhost}

    def declare_queue(self, *, vhost: str, queue_name: str) -> None:
        """Record the queue."""
        with self._lock:
            self.queues.add((vhost, queue_name))

    def delete_queue(self, *, vhost: str, queue_name: str) -> None:
        """Forget the queue."""
        with self._lock:
            self.queues.discard((vhost, queue_name))

    def publish(self, *, vhost: str, queue_name: str, payload: Mapping[str, object]) -> None:
        """Record the payload (a shallow copy, so later changes by the caller do not show)."""
        with self._lock:
            self.published.append(PublishedEvent(vhost=vhost, queue_name=queue_name, payload=dict(payload)))

    def close(self) -> None:
        """Mark the bus closed."""
        self.closed = True
