"""The emulator's in-memory state: Waldur's records as mutable attrs classes, plus the indexes lists filter on.

Records hold UUIDs as 32-character hex strings and reference each other by UUID. ``State`` is guarded by one
lock owned by the application; nothing here locks.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

import attrs


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@attrs.define
class User:
    """A Waldur user with its API token and identity-bridge fields."""

    uuid: str
    username: str
    token: str
    created: dt.datetime
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    civil_number: str | None = None
    organization: str = ""
    phone_number: str = ""
    job_title: str = ""
    affiliations: list[str] = attrs.Factory(list)
    is_staff: bool = False
    is_support: bool = False
    is_active: bool = True
    is_identity_manager: bool = False
    managed_isds: list[str] = attrs.Factory(list)
    active_isds: list[str] = attrs.Factory(list)
    attribute_sources: dict[str, str] = attrs.Factory(dict)
    registration_method: str = "default"
    identity_source: str = ""
    description: str = ""
    extra: dict[str, Any] = attrs.Factory(dict)

    @property
    def full_name(self) -> str:
        """First and last name joined as Waldur does."""
        return f"{self.first_name} {self.last_name}".strip()


@attrs.define
class RoleAssignment:
    """A user's role in a scope (customer, project or offering); ``uuid`` identifies the assignment itself."""

    uuid: str
    user_uuid: str
    role_name: str
    scope_type: str
    scope_uuid: str
    created: dt.datetime
    created_by_uuid: str | None = None
    expiration_time: dt.datetime | None = None


@attrs.define
class Role:
    """A role definition as ``/api/roles/`` lists it."""

    uuid: str
    name: str
    content_type: str
    description: str
    permissions: list[str]


@attrs.define
class Customer:
    """An organisation."""

    uuid: str
    name: str
    created: dt.datetime
    abbreviation: str = ""
    native_name: str = ""
    backend_id: str = ""
    email: str = ""
    blocked: bool = False
    archived: bool = False
    description: str = ""


@attrs.define
class ServiceProvider:
    """A customer's service-provider profile."""

    uuid: str
    customer_uuid: str
    created: dt.datetime
    description: str = ""
    enable_notifications: bool = True


@attrs.define
class Category:
    """A marketplace category."""

    uuid: str
    title: str
    created: dt.datetime
    description: str = ""


@attrs.define
class Project:
    """A project under a customer; removal is soft."""

    uuid: str
    name: str
    customer_uuid: str
    created: dt.datetime
    backend_id: str = ""
    description: str = ""
    slug: str = ""
    start_date: str | None = None
    end_date: str | None = None
    kind: str = "default"
    is_industry: bool = False
    is_removed: bool = False


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
    statistics: dict[str, Any] = attrs.Factory(dict)


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


class Index:
    """Buckets of record UUIDs by one attribute value, kept in insertion order."""

    def __init__(self) -> None:
        self._buckets: defaultdict[str, dict[str, None]] = defaultdict(dict)

    def add(self, key: str | None, uuid: str) -> None:
        """Put ``uuid`` in the bucket of ``key`` (None keys are not indexed)."""
        if key is not None:
            self._buckets[key][uuid] = None

    def discard(self, key: str | None, uuid: str) -> None:
        """Remove ``uuid`` from the bucket of ``key``."""
        if key is not None:
            self._buckets.get(key, {}).pop(uuid, None)

    def get(self, key: str) -> list[str]:
        """UUIDs in the bucket of ``key``, oldest first."""
        return list(self._buckets.get(key, {}))


@attrs.define
class State:
    """Everything one emulated Waldur holds."""

    users: dict[str, User] = attrs.Factory(dict)
    tokens: dict[str, str] = attrs.Factory(dict)
    roles: dict[str, Role] = attrs.Factory(dict)
    assignments: dict[str, RoleAssignment] = attrs.Factory(dict)
    assignments_by_user: Index = attrs.Factory(Index)
    assignments_by_scope: Index = attrs.Factory(Index)
    customers: dict[str, Customer] = attrs.Factory(dict)
    service_providers: dict[str, ServiceProvider] = attrs.Factory(dict)
    categories: dict[str, Category] = attrs.Factory(dict)
    projects: dict[str, Project] = attrs.Factory(dict)
    offerings: dict[str, Offering] = attrs.Factory(dict)
    plans: dict[str, Plan] = attrs.Factory(dict)
    resources: dict[str, Resource] = attrs.Factory(dict)
    resources_by_offering: Index = attrs.Factory(Index)
    resources_by_project: Index = attrs.Factory(Index)
    orders: dict[str, Order] = attrs.Factory(dict)
    orders_by_offering: Index = attrs.Factory(Index)
    orders_by_project: Index = attrs.Factory(Index)
    orders_by_resource: Index = attrs.Factory(Index)
    offering_users: dict[str, OfferingUser] = attrs.Factory(dict)
    offering_users_by_offering: Index = attrs.Factory(Index)
    offering_users_by_user: Index = attrs.Factory(Index)
    usages: dict[str, ComponentUsage] = attrs.Factory(dict)
    usages_by_resource: Index = attrs.Factory(Index)
    user_usages: dict[str, ComponentUserUsage] = attrs.Factory(dict)
    user_usages_by_usage: Index = attrs.Factory(Index)
    agent_identities: dict[str, AgentIdentity] = attrs.Factory(dict)
    agent_services: dict[str, AgentService] = attrs.Factory(dict)
    subscriptions: dict[str, EventSubscription] = attrs.Factory(dict)
    queues: dict[str, EventQueue] = attrs.Factory(dict)
    known_cuids: dict[str, dict[str, Any]] = attrs.Factory(dict)

    def add_assignment(self, assignment: RoleAssignment) -> None:
        """Store a role assignment and index it by user and by scope."""
        self.assignments[assignment.uuid] = assignment
        self.assignments_by_user.add(assignment.user_uuid, assignment.uuid)
        self.assignments_by_scope.add(assignment.scope_uuid, assignment.uuid)

    def remove_assignment(self, assignment: RoleAssignment) -> None:
        """Forget a role assignment."""
        del self.assignments[assignment.uuid]
        self.assignments_by_user.discard(assignment.user_uuid, assignment.uuid)
        self.assignments_by_scope.discard(assignment.scope_uuid, assignment.uuid)

    def add_resource(self, resource: Resource) -> None:
        """Store a resource and index it."""
        self.resources[resource.uuid] = resource
        self.resources_by_offering.add(resource.offering_uuid, resource.uuid)
        self.resources_by_project.add(resource.project_uuid, resource.uuid)

    def add_order(self, order: Order) -> None:
        """Store an order and index it."""
        self.orders[order.uuid] = order
        self.orders_by_offering.add(order.offering_uuid, order.uuid)
        self.orders_by_project.add(order.project_uuid, order.uuid)
        self.orders_by_resource.add(order.resource_uuid, order.uuid)

    def add_offering_user(self, record: OfferingUser) -> None:
        """Store an offering user and index it."""
        self.offering_users[record.uuid] = record
        self.offering_users_by_offering.add(record.offering_uuid, record.uuid)
        self.offering_users_by_user.add(record.user_uuid, record.uuid)

    def remove_offering_user(self, record: OfferingUser) -> None:
        """Forget an offering user."""
        del self.offering_users[record.uuid]
        self.offering_users_by_offering.discard(record.offering_uuid, record.uuid)
        self.offering_users_by_user.discard(record.user_uuid, record.uuid)

    def roles_of(self, user_uuid: str) -> list[RoleAssignment]:
        """Every role assignment of a user."""
        return [self.assignments[a] for a in self.assignments_by_user.get(user_uuid)]

    def roles_in(self, scope_uuid: str) -> list[RoleAssignment]:
        """Every role assignment in a scope."""
        return [self.assignments[a] for a in self.assignments_by_scope.get(scope_uuid)]
