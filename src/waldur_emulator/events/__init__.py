"""The event side of the Waldur emulator: RabbitMQ provisioning and STOMP publication, as Waldur 8.0.5 does.

The REST layer decides who receives which payload (EventBus callers); this package only talks to the broker.
``NullEventBus`` runs without one; ``RabbitEventBus`` uses a real RabbitMQ; ``waldur_emulator.events.testing``
has a Web-STOMP consumer for tests that mirrors a real Waldur event client.
"""

from ._bus import (
    MESSAGE_TTL_MS,
    QUEUE_ARGUMENTS,
    EventBus,
    EventBusError,
    NullEventBus,
    PublishedEvent,
    broker_user_name,
    queue_name,
    vhost_name,
)
from ._publisher import PublisherStats
from ._rabbit import RabbitEventBus

__all__ = [
    "MESSAGE_TTL_MS",
    "QUEUE_ARGUMENTS",
    "EventBus",
    "EventBusError",
    "NullEventBus",
    "PublishedEvent",
    "PublisherStats",
    "RabbitEventBus",
    "broker_user_name",
    "queue_name",
    "vhost_name",
]
