"""Waldur's STOMP events as an :class:`~fedcore.ports.EventStream`: stomp.py over WebSocket or TCP, wrapped.

:class:`StompEventStream` consumes Waldur subscription queues (``/amq/queue/<name>``, ``client-individual``
acknowledgement, a bounded prefetch) and decodes every body into :class:`~fedcore.events.Event` or
:class:`~fedcore.events.Malformed`; its own supervisor thread reconnects with :class:`Backoff` forever and calls
``on_connected`` after every (re)connect. :func:`decode` is the pure decoder (EVENTS.md §5).
"""

from ._backoff import Backoff
from ._decode import MAX_BODY, decode, object_type_of
from ._stream import StompEventStream
from ._wire import StompQueue, Transport

__all__ = ["MAX_BODY", "Backoff", "StompEventStream", "StompQueue", "Transport", "decode", "object_type_of"]
