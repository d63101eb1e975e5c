"""Waldur's event registration calls (EVENTS.md §7, API.md §3.12-3.13): agent identities, their service, event
subscriptions and their queues.

Each function is one REST call through :class:`~adapters.waldur.http.WaldurHttp`, read into a frozen value by a
wire model; every failure leaves through :mod:`adapters.waldur.errors`. The orchestration (which calls, in which
order, retried how) is :mod:`runners.registration`'s.

- Upserting an identity, registering a service, an event subscription or a queue are idempotent on Waldur's side
  (looked up by name, or reused by Waldur), so they are retried like reads.
- An identity is replaced with ``PUT`` (there is no ``PATCH``), queues and stale subscriptions are removed with
  ``DELETE``: both retried, through the same send path, observer and error translation as every call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import attrs

from adapters.waldur.http import WaldurHttp
from adapters.waldur.wire import structure, structure_list, to_domain
from fedcore.ids import Uuid, normalize_uuid

IDENTITIES = "marketplace-site-agent-identities/"
SUBSCRIPTIONS = "event-subscriptions/"
QUEUES = "event-subscription-queues/"

SERVICE_MODE = "event_process"


@attrs.frozen
class _WireIdentity:
    uuid: str
    name: str
    offering_uuid: str | None = None


@attrs.frozen
class _WireService:
    uuid: str
    name: str | None = None


@attrs.frozen
class _WireSubscription:
    uuid: str
    user_uuid: str
    description: str | None = None


@attrs.frozen
class _WireQueue:
    uuid: str
    queue_name: str
    vhost: str
    event_subscription_uuid: str
    offering_uuid: str
    object_type: str


@attrs.frozen
class AgentIdentity:
    """A site-agent identity: one per (offering, agent name)."""

    uuid: Uuid
    name: str


@attrs.frozen
class Subscription:
    """An event subscription: its UUID is the STOMP login, its owner's UUID the vhost."""

    uuid: Uuid
    user_uuid: Uuid
    description: str


@attrs.frozen
class Queue:
    """A registered queue: Waldur publishes to ``queue_name`` in ``vhost`` for (offering, object type)."""

    uuid: Uuid
    queue_name: str
    vhost: str
    subscription_uuid: Uuid
    offering_uuid: Uuid
    object_type: str


def _identity(wire: _WireIdentity) -> AgentIdentity:
    return AgentIdentity(normalize_uuid(wire.uuid), wire.name)


def _subscription(wire: _WireSubscription) -> Subscription:
    return Subscription(normalize_uuid(wire.uuid), normalize_uuid(wire.user_uuid), wire.description or "")


def _queue(wire: _WireQueue) -> Queue:
    return Queue(
        uuid=normalize_uuid(wire.uuid),
        queue_name=wire.queue_name,
        vhost=wire.vhost.replace("-", ""),
        subscription_uuid=normalize_uuid(wire.event_subscription_uuid),
        offering_uuid=normalize_uuid(wire.offering_uuid),
        object_type=wire.object_type,
    )




def identity_body(
    offering_uuid: Uuid, name: str, version: str, now: dt.datetime, dependencies: Sequence[tuple[str, str]] = ()
) -> dict[str, object]:
    """The body of both the creation and the update of an identity (EVENTS.md §7 step 2)."""
    return {
        "offering": offering_uuid,
        "name": name,
        "version": version,
        "last_restarted": now.astimezone(dt.UTC).isoformat(),
        "dependencies": [{"package": p, "version": v} for p, v in dependencies],
        "config_file_path": "",
        "config_file_content": "",
    }


def upsert_identity(http: WaldurHttp, offering_uuid: Uuid, name: str, version: str, now: dt.datetime) -> AgentIdentity:
    """Find the identity ``name`` of the offering; PUT it when it exists, POST it otherwise."""
    params = [("name", name), ("offering_uuid", offering_uuid)]
    where = http.where("GET", IDENTITIES)
    found = structure_list(http.list(IDENTITIES, params), _WireIdentity, where)
    body = identity_body(offering_uuid, name, version, now)
    if found:
        path = f"{IDENTITIES}{normalize_uuid(found[0].uuid)}/"
        answer = http.put(path, body)
        where = http.where("PUT", path)
    else:
        answer = http.post(IDENTITIES, body, idempotent=False)
        where = http.where("POST", IDENTITIES)
    return to_domain(where, _identity, structure(answer, _WireIdentity, where))


def register_service(http: WaldurHttp, identity_uuid: Uuid, name: str) -> Uuid:
    """``register_service``: the identity's service ``name`` in ``event_process`` mode (reused by name)."""
    path = f"{IDENTITIES}{identity_uuid}/register_service/"
    where = http.where("POST", path)
    answer = http.post(path, {"name": name, "mode": SERVICE_MODE}, idempotent=True)
    wire = structure(answer, _WireService, where)
    return to_domain(where, lambda w: normalize_uuid(w.uuid), wire)


def register_subscription(http: WaldurHttp, identity_uuid: Uuid, object_type: str, description: str) -> Subscription:
    """``register_event_subscription``: the caller's subscription to ``object_type`` (Waldur reuses one per user
    and type, so every offering of the same token shares it: EVENTS.md §8 pitfall 5)."""
    path = f"{IDENTITIES}{identity_uuid}/register_event_subscription/"
    where = http.where("POST", path)
    body = {"observable_object_type": object_type, "description": description}
    answer = http.post(path, body, idempotent=True)
    return to_domain(where, _subscription, structure(answer, _WireSubscription, where))


def create_queue(http: WaldurHttp, subscription_uuid: Uuid, offering_uuid: Uuid, object_type: str) -> Queue:
    """``create_queue``: Waldur publishes (offering, object type) events of the subscription to the answered queue."""
    path = f"{SUBSCRIPTIONS}{subscription_uuid}/create_queue/"
    where = http.where("POST", path)
    body = {"offering_uuid": offering_uuid, "object_type": object_type}
    answer = http.post(path, body, idempotent=True)
    return to_domain(where, _queue, structure(answer, _WireQueue, where))


def list_subscriptions(http: WaldurHttp, user_uuid: Uuid) -> list[Subscription]:
    """Every event subscription the user owns."""
    where = http.where("GET", SUBSCRIPTIONS)
    wires = structure_list(http.list(SUBSCRIPTIONS, [("user_uuid", user_uuid)]), _WireSubscription, where)
    return [to_domain(where, _subscription, w) for w in wires]


def list_queues(http: WaldurHttp, subscription_uuid: Uuid) -> list[Queue]:
    """Every queue registered for a subscription."""
    where = http.where("GET", QUEUES)
    params = [("event_subscription_uuid", subscription_uuid)]
    return [to_domain(where, _queue, w) for w in structure_list(http.list(QUEUES, params), _WireQueue, where)]


def delete_queue(http: WaldurHttp, queue_uuid: Uuid) -> None:
    """Remove a registered queue (and its messages)."""
    http.delete(f"{QUEUES}{queue_uuid}/")


def delete_subscription(http: WaldurHttp, subscription_uuid: Uuid) -> None:
    """Remove a subscription, its queues and its broker user."""
    http.delete(f"{SUBSCRIPTIONS}{subscription_uuid}/")
