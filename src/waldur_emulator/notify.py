"""Who receives an event and with what payload: Waldur's recipient rules (EVENTS.md section 4).

A subscriber receives a message of type T on offering O when it has a registered queue for (O, T) and one of:
provider access to O; consumer access (the event's project belongs to one of its connected customers); or, for
``offering_user`` events only, ISD identity-manager overlap with the affected user. Publishing is deferred until
the request's state change is complete and happens outside the state lock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from . import perms
from .core import Core
from .records import User
from .records_market import Offering

SLURM = "Marketplace.Slurm"
PENDING_EVENT_TYPES = frozenset({SLURM, "Marketplace.Script", "OpenStack.Tenant", "Marketplace.Basic"})


def _connected_customers(core: Core, subscriber: User) -> set[str]:
    state = core.state
    found = perms.customer_uuids(state, subscriber)
    for project_uuid in perms.project_uuids(state, subscriber):
        project = state.projects.get(project_uuid)
        if project is not None:
            found.add(project.customer_uuid)
    return found


def _consumer_access(core: Core, subscriber: User, offering: Offering, project_uuids: set[str]) -> bool:
    state = core.state
    live = {
        r.project_uuid
        for r in (state.resources[u] for u in state.resources_by_offering.get(offering.uuid))
        if r.state != "Terminated"
    }
    customers = _connected_customers(core, subscriber)
    return any(
        p in live and p in state.projects and state.projects[p].customer_uuid in customers for p in project_uuids
    )


def _publisher(core: Core, vhost: str, name: str, body: dict[str, object]) -> Callable[[], None]:
    bus = core.bus
    return lambda: bus.publish(vhost=vhost, queue_name=name, payload=body)


def publish(
    core: Core,
    offering: Offering,
    object_type: str,
    payload: Mapping[str, object],
    *,
    project_uuids: set[str] | None = None,
    subject: User | None = None,
) -> int:
    """Queue ``payload`` (plus ``offering_uuid``) for every entitled subscriber; returns how many."""
    state = core.state
    message = dict(payload)
    message["offering_uuid"] = offering.uuid
    count = 0
    for queue in list(state.queues.values()):
        if queue.offering_uuid != offering.uuid or queue.object_type != object_type:
            continue
        subscription = state.subscriptions.get(queue.subscription_uuid)
        subscriber = state.users.get(subscription.user_uuid) if subscription else None
        if subscription is None or subscriber is None:
            continue
        if not any(o.get("object_type") == object_type for o in subscription.observable_objects):
            continue
        entitled = perms.can_see_offering(core.state, subscriber, offering)
        if not entitled and project_uuids and core.consumer_event_access:
            entitled = _consumer_access(core, subscriber, offering, project_uuids)
        if not entitled and object_type == "offering_user" and subject is not None:
            entitled = perms.isd_overlap(subscriber, subject)
        if not entitled:
            continue
        count += 1
        vhost, name, body = queue.vhost, queue.queue_name, dict(message)
        core.defer(_publisher(core, vhost, name, body))
    return count
