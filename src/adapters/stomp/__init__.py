"""Waldur's STOMP events as an :class:`~fedcore.ports.EventStream`: stomp.py over WebSocket or TCP, wrapped.

:class:`StompEventStream` consumes Waldur subscription queues (``/amq/queue/<name>``, ``client-individual``
acknowledgement, a bounded prefetch) and decodes every body into :class:`~fedcore.events.Event` or
:class:`~fedcore.events.Malformed`; its own supervisor thread reconnects with :class:`Backoff` forever and calls
``on_connected`` after every (re)connect (the longest wait between attempts, 60 s by default, is set by the
environment variable ``FEDCORE_STOMP_RECONNECT_CAP_SECONDS``). :func:`decode` is the pure decoder (EVENTS.md §5).
"""

from ._backoff import RECONNECT_CAP_VARIABLE, Backoff
from ._decode import MAX_BODY, decode, object_type_of
from ._stream import StompEventStream
from ._wire import StompQueue, Transport

__all__ = ["MAX_BODY", "RECONNECT_CAP_VARIABLE", "Backoff", "StompEventStream", "StompQueue", "Transport", "decode",
           "object_type_of"]
