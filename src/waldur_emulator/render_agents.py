"""JSON renderings of site-agent records (identities, services, processors) and event subscriptions with queues."""

from __future__ import annotations

from typing import Any

from .records_market import AgentIdentity, AgentProcessor, AgentService, EventQueue, EventSubscription
from .render import iso, url
from .store import State

J = dict[str, Any]


def agent_service(state: State, base: str, record: AgentService, *, nested: bool = False) -> J:
    """``AgentService`` or ``NestedAgentService``."""
    out: J = {
        "uuid": record.uuid,
        "url": url(base, "marketplace-site-agent-services", record.uuid),
        "name": record.name,
        "mode": record.mode,
        "state": record.state,
        "statistics": record.statistics,
        "created": iso(record.created),
        "modified": iso(record.modified),
    }
    if not nested:
        identity = state.agent_identities[record.identity_uuid]
        processors = [state.agent_processors[p] for p in state.agent_processors_by_service.get(record.uuid)]
        out.update(
            identity=identity.uuid,
            identity_name=identity.name,
            processors=[agent_processor(state, base, p, nested=True) for p in processors],
        )
    return out


def agent_processor(state: State, base: str, record: AgentProcessor, *, nested: bool = False) -> J:
    """``AgentProcessor`` or ``NestedAgentProcessor``."""
    out: J = {
        "uuid": record.uuid,
        "url": url(base, "marketplace-site-agent-processors", record.uuid),
        "name": record.name,
        "last_run": iso(record.last_run),
        "backend_type": record.backend_type,
        "backend_version": record.backend_version,
        "created": iso(record.created),
        "modified": iso(record.modified),
    }
    if not nested:
        out.update(service=record.service_uuid, service_name=state.agent_services[record.service_uuid].name)
    return out


def agent_identity(state: State, base: str, record: AgentIdentity) -> J:
    """``AgentIdentity`` with its services."""
    out: J = {
        "uuid": record.uuid,
        "url": url(base, "marketplace-site-agent-identities", record.uuid),
        "offering": record.offering_uuid,
        "name": record.name,
        "version": record.version,
        "dependencies": list(record.dependencies),
        "config_file_path": record.config_file_path,
        "config_file_content": record.config_file_content,
        "created": iso(record.created),
        "modified": iso(record.modified),
        "services": [
            agent_service(state, base, s, nested=True)
            for s in (state.agent_services[u] for u in state.agent_services_by_identity.get(record.uuid))
        ],
    }
    if record.last_restarted:
        out["last_restarted"] = record.last_restarted
    return out


def subscription(state: State, base: str, record: EventSubscription) -> J:
    """``EventSubscription``."""
    owner = state.users[record.user_uuid]
    return {
        "uuid": record.uuid,
        "url": url(base, "event-subscriptions", record.uuid),
        "description": record.description,
        "user": url(base, "users", owner.uuid),
        "user_uuid": owner.uuid,
        "user_username": owner.username,
        "user_full_name": owner.full_name,
        "observable_objects": [dict(o) for o in record.observable_objects],
        "created": iso(record.created),
        "modified": iso(record.modified),
        "source_ip": record.source_ip or "127.0.0.1",
    }


def queue(state: State, base: str, record: EventQueue) -> J:  # noqa: ARG001 (uniform renderer signature)
    """``EventSubscriptionQueue``."""
    return {
        "uuid": record.uuid,
        "url": url(base, "event-subscription-queues", record.uuid),
        "event_subscription": url(base, "event-subscriptions", record.subscription_uuid),
        "event_subscription_uuid": record.subscription_uuid,
        "offering_uuid": record.offering_uuid,
        "object_type": record.object_type,
        "queue_name": record.queue_name,
        "vhost": record.vhost,
        "created": iso(record.created),
    }
