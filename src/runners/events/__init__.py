"""Event mode: Waldur's STOMP events accelerate the daemon's passes (see docs/events.md).

:class:`EventHandler` carries out what one event asks; :class:`EventReactor` consumes the streams with a bounded
worker pool and acknowledges each message once its effect is durable; :class:`EventService` registers every
offering, opens a stream per broker login and keeps them attached.
"""

from runners.events.handler import Deferred, EventHandler, Handled
from runners.events.reactor import EventReactor, Retry
from runners.events.service import Access, EventService, Login, OfferingEvents, accesses
from runners.events.wiring import registrar_for, stomp_streams

__all__ = [
    "Access",
    "Deferred",
    "EventHandler",
    "EventReactor",
    "EventService",
    "Handled",
    "Login",
    "OfferingEvents",
    "Retry",
    "accesses",
    "registrar_for",
    "stomp_streams",
]
