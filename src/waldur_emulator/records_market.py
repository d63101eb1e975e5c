"""The emulator's marketplace records: offerings with components and plans, resources, orders, offering users,
usages, site-agent identities/services/processors, and event subscriptions with their queues.

Mutable attrs classes holding UUIDs as 32-character hex strings; they reference each other by UUID. ``State`` in
``store`` owns them; nothing here locks or indexes.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import attrs


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@attrs.define
class Component:
    """An offering component (its fields mirror ``OfferingComponent``)."""

    uuid: str
    type: str
    name: str
    billing_type: str
    fields: dict[str, Any] = attrs.Factory(dict)


@attrs.define
class Plan:
    """A plan of an offering."""

    uuid: str
    offering_uuid: str
    name: str
    created: dt.datetime
    unit: str = "month"
    unit_price: str = "0.0000000"
    description: str = ""
    article_code: str = ""
    max_amount: int | None = None
    archived: bool = False
    backend_id: str = ""
    prices: dict[str, str] = attrs.Factory(dict)
    quotas: dict[str, int] = attrs.Factory(dict)


@attrs.define
class Offering:
    """A marketplace offering with its components; plans are stored separately."""

    uuid: str
    name: str
    type: str
    customer_uuid: str
    category_uuid: str
    created: dt.datetime
    state: str = "Draft"
    description: str = ""
    shared: bool = True
    billable: bool = True
    backend_id: str = ""
    plugin_options: dict[str, Any] = attrs.Factory(dict)
    secret_options: dict[str, Any] = attrs.Factory(dict)
    attributes: dict[str, Any] = attrs.Factory(dict)
    components: list[Component] = attrs.Factory(list)
    slug: str = ""


@attrs.define
class Resource:
    """A marketplace resource (what an order creates and changes)."""

    uuid: str
    name: str
    offering_uuid: str
    project_uuid: str
    plan_uuid: str | None
    created: dt.datetime
    modified: dt.datetime
    state: str = "Creating"
    limits: dict[str, int] = attrs.Factory(dict)
    attributes: dict[str, Any] = attrs.Factory(dict)
    backend_id: str = ""
    effective_id: str = ""
    description: str = ""
    end_date: str | None = None
    end_date_requested_by: str | None = None
    error_message: str = ""
    error_traceback: str = ""
    downscaled: bool = False
    paused: bool = False
    restrict_member_access: bool = False
    backend_metadata: dict[str, Any] = attrs.Factory(dict)
    slug: str = ""
    last_sync: dt.datetime = attrs.Factory(_now)
    creation_order_uuid: str | None = None


@attrs.define
class Order:
    """A marketplace order; ``resource_uuid`` is the marketplace resource it creates or changes."""

    uuid: str
    type: str
    state: str
    offering_uuid: str
    project_uuid: str
    resource_uuid: str
    created_by_uuid: str
    created: dt.datetime
    modified: dt.datetime
    plan_uuid: str | None = None
    old_plan_uuid: str | None = None
    limits: dict[str, int] = attrs.Factory(dict)
    attributes: dict[str, Any] = attrs.Factory(dict)
    backend_id: str = ""
    completed_at: dt.datetime | None = None
    consumer_reviewed_by: str | None = None
    consumer_reviewed_at: dt.datetime | None = None
    provider_reviewed_by: str | None = None
    provider_reviewed_at: dt.datetime | None = None
    error_message: str = ""
    error_traceback: str = ""
    request_comment: str | None = None
    start_date: str | None = None
    callback_url: str | None = None
    termination_comment: str | None = None
    provider_rejection_comment: str = ""
    consumer_rejection_comment: str = ""
    slug: str = ""


@attrs.define
class OfferingUser:
    """A user's account on an offering; ``username`` is the offering-local account name."""

    uuid: str
    user_uuid: str
    offering_uuid: str
    created: dt.datetime
    modified: dt.datetime
    username: str | None = None
    state: str = "Requested"
    is_restricted: bool = False
    service_provider_comment: str = ""
    service_provider_comment_url: str = ""


@attrs.define
class ComponentUsage:
    """A resource's reported usage of one component in one billing period."""

    uuid: str
    resource_uuid: str
    type: str
    usage: Decimal
    date: dt.datetime
    billing_period: str
    created: dt.datetime
    modified: dt.datetime
    description: str = ""
    recurring: bool = False
    modified_by_uuid: str | None = None


@attrs.define
class ComponentUserUsage:
    """One user's share of a component usage."""

    uuid: str
    component_usage_uuid: str
    username: str
    usage: Decimal
    date: dt.datetime
    created: dt.datetime
    modified: dt.datetime
    user_uuid: str | None = None
    backend_id: str = ""
    description: str = ""


@attrs.define
class AgentService:
    """A service registered under an agent identity."""

    uuid: str
    identity_uuid: str
    name: str
    created: dt.datetime
    modified: dt.datetime
    mode: str = ""
    state: str = "Active"
    statistics: Any = attrs.Factory(dict)


@attrs.define
class AgentProcessor:
    """A processor (one loop of a site agent) registered under an agent service."""

    uuid: str
    service_uuid: str
    name: str
    backend_type: str
    created: dt.datetime
    modified: dt.datetime
    backend_version: str | None = None
    last_run: dt.datetime | None = None


@attrs.define
class AgentIdentity:
    """A site agent describing itself for one offering."""

    uuid: str
    offering_uuid: str
    name: str
    created_by_uuid: str
    created: dt.datetime
    modified: dt.datetime
    version: str | None = None
    dependencies: list[Any] = attrs.Factory(list)
    config_file_path: str | None = None
    config_file_content: str | None = None
    last_restarted: str | None = None


@attrs.define
class EventSubscription:
    """A user's subscription to object types; its UUID is the RabbitMQ login."""

    uuid: str
    user_uuid: str
    observable_objects: list[dict[str, Any]]
    created: dt.datetime
    modified: dt.datetime
    description: str = ""
    source_ip: str | None = None


@attrs.define
class EventQueue:
    """A registered queue (subscription, offering, object type): Waldur publishes only to these."""

    uuid: str
    subscription_uuid: str
    offering_uuid: str
    object_type: str
    queue_name: str
    vhost: str
    created: dt.datetime
