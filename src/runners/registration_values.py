"""The values of event registration: targets, results, statuses and the retry schedule (:mod:`runners.registration`
does the registering)."""

from __future__ import annotations

import enum

import attrs

from adapters.waldur.http import WaldurHttp
from fedcore.ids import Uuid


class State(enum.StrEnum):
    """Where an offering's registration stands."""

    PENDING = "pending"
    """Not tried yet, or the first attempt is running."""
    REGISTERED = "registered"
    """Queues exist: events can be consumed."""
    POLLING = "polling"
    """Registration failed (``reason``); fedcore serves the offering by REST polling while it retries."""


@attrs.frozen
class Target:
    """One offering to register on one side, with the client of the token that serves it."""

    side: str
    offering_uuid: Uuid
    http: WaldurHttp = attrs.field(eq=False, repr=False)
    object_types: tuple[str, ...]

    @property
    def key(self) -> tuple[str, Uuid]:
        """``(side, offering UUID)``: how status and results name the target."""
        return (self.side, self.offering_uuid)


@attrs.frozen
class StompQueue:
    """One queue to consume: connect to ``vhost`` as ``login`` (the token is the passcode), SUBSCRIBE to
    ``/amq/queue/<queue_name>``."""

    object_type: str
    queue_name: str
    login: str
    vhost: str
    queue_uuid: Uuid

    @property
    def destination(self) -> str:
        """The STOMP destination (never ``/queue/…``: EVENTS.md §8 pitfall 8)."""
        return f"/amq/queue/{self.queue_name}"


@attrs.frozen
class Registration:
    """What a consumer needs for one offering on one side."""

    side: str
    offering_uuid: Uuid
    identity_uuid: Uuid
    vhost: str
    queues: tuple[StompQueue, ...]


@attrs.frozen
class OfferingStatus:
    """One offering's registration as the daemon and ``/readyz`` read it."""

    side: str
    offering_uuid: Uuid
    state: State
    reason: str = ""
    permanent: bool = False
    attempts: int = 0
    next_attempt_at: float | None = None
    registration: Registration | None = None


@attrs.frozen
class Backoff:
    """Seconds to wait before the next attempt: ``initial * factor ** (n - 1)`` capped at ``cap``; ``permanent`` after
    a refusal that waiting does not cure (the operator has to act; fedcore still looks again now and then)."""

    initial: float = 2.0
    factor: float = 2.0
    cap: float = 300.0
    permanent: float = 3600.0

    def delay(self, failures: int, permanent: bool) -> float:
        """The wait after the ``failures``-th failure in a row."""
        if permanent:
            return self.permanent
        return min(self.cap, self.initial * self.factor ** max(0, failures - 1))
