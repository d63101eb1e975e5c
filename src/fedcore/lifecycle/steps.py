"""The vocabulary of the order lifecycle: what is known about an order (:class:`OrderView`) and the steps
:func:`fedcore.lifecycle.decide` can return.

A step either asks for a fact (``Need*``: the service reads it through a port), asks for a write (the service
applies it and folds the result into the view), or ends the order's turn in this pass (:class:`Wait`,
:class:`Retry`, :class:`Complete`, :class:`Fail`, :class:`Reject`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Final, Protocol, TypeAlias

from attrs import field, frozen

from fedcore.ids import Uuid, normalize_uuid
from fedcore.model import NewOrder, Order, Project, ProjectKey, Resource, int_map

KEY_PREFIX: Final = "fedcore-order:"
DISCARD_PREFIX: Final = "fedcore-discard:"


def idempotency_key(a_order_uuid: Uuid) -> str:
    """The key stamped on the B order fedcore submits for this A order: stable across crashes and restarts."""
    return f"{KEY_PREFIX}{a_order_uuid}"


def discard_key(b_order_uuid: Uuid) -> str:
    """The key stamped on the B Terminate order that removes a duplicate B order's resource (never an A order's)."""
    return f"{DISCARD_PREFIX}{b_order_uuid}"


def a_order_of_key(key: str) -> Uuid | None:
    """The A order a B order's idempotency key names (None for a key fedcore did not make, or none)."""
    if not key.startswith(KEY_PREFIX):
        return None
    try:
        return normalize_uuid(key.removeprefix(KEY_PREFIX))
    except ValueError:
        return None


class LimitConverter(Protocol):
    """Converts A limits to B limits (implemented by :class:`fedcore.conversion.Conversion`).

    Raises ``ValueError`` for a component the mapping does not know: the order is then invalid.
    """

    def limits_to_target(self, a_limits: Mapping[str, int]) -> dict[str, int]:
        """B limits for these A limits."""
        ...


class Unknown(enum.Enum):
    """Marks a fact that has not been read in this pass (distinct from a read that found nothing)."""

    UNKNOWN = "unknown"


UNKNOWN: Final = Unknown.UNKNOWN


@frozen
class Gone:
    """A single-object read answered "not found": the object is gone (or invisible). ``evidence`` is B's answer."""

    evidence: str


@frozen
class KeyedMatch:
    """The B order chosen for one idempotency key, and any others carrying the same key (to be repaired)."""

    winner: Order
    duplicates: tuple[Order, ...] = ()


Fact: TypeAlias = "Unknown | Order | Project | Resource | KeyedMatch | Gone | None"


@frozen
class OrderView:
    """Everything known about one A order in this pass. ``UNKNOWN`` = not read yet; ``None`` = read, absent."""

    order: Order
    check_before_completing: bool = True
    """Look a linked Create's key up before completing it (off for turns where latency matters more: events)."""
    approved_now: bool = False
    project_resources: Sequence[Resource] | None = None
    b_project: Project | Unknown | None = UNKNOWN
    project_created_now: bool = False
    project_checked: bool = False
    """The B project this turn created has been looked up again (another replica may have made one first)."""
    abandoned_project: Uuid | None = None
    """A B project this turn created that lost to an older one with the same ``backend_id``: to be deleted."""
    b_order: Order | Unknown | Gone = UNKNOWN
    keyed_order: Order | Unknown | None = UNKNOWN
    submitted_now: bool = False
    """This turn submitted the Create order on B: the key is looked up again before anything is linked."""
    keyed_checked: bool = False
    """B's orders carrying the key were read after this turn's submission (or, for a linked Create whose B order is
    done, before completing it): :attr:`duplicates` is current."""
    duplicates: tuple[Order, ...] = ()
    """B orders carrying the key besides the one serving the A order (another replica's, or an operator's)."""
    repaired: tuple[Uuid, ...] = ()
    """Duplicates this turn has deleted, or whose resource it has asked B to terminate."""
    b_resource: Resource | Unknown | None = UNKNOWN
    resource_linked: bool = False

    @property
    def key(self) -> str:
        """This order's idempotency key on B."""
        return idempotency_key(self.order.uuid)

    @property
    def project_key(self) -> ProjectKey:
        """The key of the B project that mirrors this order's A project."""
        return ProjectKey(self.order.customer_uuid, self.order.project_uuid)


# Reads -------------------------------------------------------------------------------------------------------


@frozen
class NeedBOrder:
    """Read the B order linked from the A order's ``backend_id``."""

    uuid: Uuid


@frozen
class NeedProjectResources:
    """Read the offering's A resources in the order's A project (to find the A resource and resolve shadows)."""

    project_uuid: Uuid


@frozen
class NeedBProject:
    """Look up the B project mirroring the A project (``fresh``: again, after this turn created one)."""

    key: ProjectKey
    fresh: bool = False


@frozen
class NeedKeyedOrder:
    """Look up, in one B project, the B orders carrying this order's idempotency key (``fresh``: read again after
    this turn's own submission, not from what the pass read before it)."""

    project_uuid: Uuid
    key: str
    fresh: bool = False


@frozen
class NeedBResource:
    """Read the B resource linked to the A resource."""

    uuid: Uuid


# Writes ------------------------------------------------------------------------------------------------------


@frozen
class Approve:
    """``approve_by_provider`` on A."""


@frozen
class CreateProject:
    """Create the B project for the A project."""

    key: ProjectKey
    name: str
    description: str


@frozen
class SubmitCreate:
    """Submit the Create order on B."""

    order: NewOrder


@frozen
class SubmitUpdate:
    """``update_limits`` on the B resource."""

    resource_uuid: Uuid
    limits: Mapping[str, int] = field(converter=int_map)
    key: str = ""


@frozen
class SubmitTerminate:
    """``terminate`` on the B resource."""

    resource_uuid: Uuid
    key: str


@frozen
class LinkResource:
    """Record the B resource UUID as the A resource's ``backend_id``."""

    a_resource_uuid: Uuid
    b_resource_uuid: Uuid


@frozen
class LinkOrder:
    """Record the B order UUID as the A order's ``backend_id`` (also how an in-flight B order is adopted)."""

    b_order_uuid: Uuid


# Repairs: undoing what a second replica (or an interrupted earlier attempt) duplicated. Best effort: B refusing
# one (the object moved on, or is already being removed) never fails the A order.


@frozen
class DeleteProject:
    """Delete the empty B project this turn created, which lost to an older one with the same ``backend_id``."""

    project_uuid: Uuid


@frozen
class DeleteDuplicate:
    """Delete a duplicate B Create order that B's provider has not taken up (``pending-*``: nothing exists yet)."""

    order_uuid: Uuid


@frozen
class TerminateDuplicate:
    """Terminate the resource of a duplicate B Create order that B completed (keyed with :func:`discard_key`)."""

    order_uuid: Uuid
    resource_uuid: Uuid


# Ends of the order's turn ------------------------------------------------------------------------------------


@frozen
class Wait:
    """Nothing to do until B moves: the B order is still in progress."""

    reason: str


@frozen
class Retry:
    """Try again in a later pass (B resource busy, transient fault)."""

    reason: str


@frozen
class Complete:
    """``set_state_done`` on A: the B order is done."""


@frozen
class Fail:
    """``set_state_erred`` on A, carrying B's reason or why the request is invalid."""

    message: str


@frozen
class Reject:
    """``reject_by_provider`` on A: a pending-provider order that fedcore cannot serve, refused before any write."""

    message: str


Read: TypeAlias = NeedBOrder | NeedProjectResources | NeedBProject | NeedKeyedOrder | NeedBResource
Repair: TypeAlias = DeleteProject | DeleteDuplicate | TerminateDuplicate
Write: TypeAlias = (
    Approve | CreateProject | SubmitCreate | SubmitUpdate | SubmitTerminate | LinkResource | LinkOrder | Repair
)
Finish: TypeAlias = Complete | Fail | Reject
"""Ends of a turn that write the outcome on A."""
Final_: TypeAlias = Wait | Retry | Finish
Step: TypeAlias = Read | Write | Final_
