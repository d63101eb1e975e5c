"""The emulator's in-memory state: one table per record type plus the indexes lists filter on.

Every write goes through :meth:`State.add` and :meth:`State.remove` (and :meth:`State.add_user` for users, whose
tokens are indexed too), so an index can never disagree with its table. Handlers read tables and indexes
directly. ``State`` is guarded by one lock owned by the application; nothing here locks.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, TypeAlias

import attrs

from .records import Category, Customer, Project, Role, RoleAssignment, ServiceProvider, User
from .records_market import (
    AgentIdentity,
    AgentProcessor,
    AgentService,
    ComponentUsage,
    ComponentUserUsage,
    EventQueue,
    EventSubscription,
    Offering,
    OfferingUser,
    Order,
    Plan,
    Resource,
)

Record: TypeAlias = (
    RoleAssignment
    | Customer
    | ServiceProvider
    | Category
    | Project
    | Offering
    | Plan
    | Resource
    | Order
    | OfferingUser
    | ComponentUsage
    | ComponentUserUsage
    | AgentIdentity
    | AgentService
    | AgentProcessor
    | EventSubscription
    | EventQueue
)


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

    def keys(self) -> set[str]:
        """Every key with a non-empty bucket."""
        return {key for key, bucket in self._buckets.items() if bucket}


@attrs.frozen
class _Table:
    """Where records of one type live: the table attribute and (index attribute, record attribute) pairs."""

    name: str
    indexes: tuple[tuple[str, str], ...] = ()


_TABLES: dict[type, _Table] = {
    RoleAssignment: _Table(
        "assignments", (("assignments_by_user", "user_uuid"), ("assignments_by_scope", "scope_uuid"))
    ),
    Customer: _Table("customers"),
    ServiceProvider: _Table("service_providers"),
    Category: _Table("categories"),
    Project: _Table("projects"),
    Offering: _Table("offerings"),
    Plan: _Table("plans"),
    Resource: _Table(
        "resources", (("resources_by_offering", "offering_uuid"), ("resources_by_project", "project_uuid"))
    ),
    Order: _Table(
        "orders",
        (
            ("orders_by_offering", "offering_uuid"),
            ("orders_by_project", "project_uuid"),
            ("orders_by_resource", "resource_uuid"),
        ),
    ),
    OfferingUser: _Table(
        "offering_users",
        (("offering_users_by_offering", "offering_uuid"), ("offering_users_by_user", "user_uuid")),
    ),
    ComponentUsage: _Table("usages", (("usages_by_resource", "resource_uuid"),)),
    ComponentUserUsage: _Table("user_usages", (("user_usages_by_usage", "component_usage_uuid"),)),
    AgentIdentity: _Table("agent_identities"),
    AgentService: _Table("agent_services", (("agent_services_by_identity", "identity_uuid"),)),
    AgentProcessor: _Table("agent_processors", (("agent_processors_by_service", "service_uuid"),)),
    EventSubscription: _Table("subscriptions"),
    EventQueue: _Table("queues"),
}


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
    agent_services_by_identity: Index = attrs.Factory(Index)
    agent_processors: dict[str, AgentProcessor] = attrs.Factory(dict)
    agent_processors_by_service: Index = attrs.Factory(Index)
    subscriptions: dict[str, EventSubscription] = attrs.Factory(dict)
    queues: dict[str, EventQueue] = attrs.Factory(dict)
    known_cuids: dict[str, dict[str, Any]] = attrs.Factory(dict)

    # --- writes ---------------------------------------------------------------------------------------------

    def add(self, record: Record) -> None:
        """Store a record (or store it again under the same UUID) and index it."""
        table = _TABLES[type(record)]
        getattr(self, table.name)[record.uuid] = record
        for index, attribute in table.indexes:
            getattr(self, index).add(getattr(record, attribute), record.uuid)

    def remove(self, record: Record) -> None:
        """Forget a record and drop it from its indexes."""
        table = _TABLES[type(record)]
        del getattr(self, table.name)[record.uuid]
        for index, attribute in table.indexes:
            getattr(self, index).discard(getattr(record, attribute), record.uuid)

    def add_user(self, user: User) -> None:
        """Store a user and index its API token."""
        self.users[user.uuid] = user
        self.tokens[user.token] = user.uuid

    def replace_token(self, user: User, token: str) -> None:
        """Give ``user`` a new API token; the old one stops working at once."""
        self.tokens.pop(user.token, None)
        user.token = token
        self.tokens[token] = user.uuid

    def remove_user(self, user: User) -> None:
        """Forget a user, its token and its role assignments."""
        for assignment in self.roles_of(user.uuid):
            self.remove(assignment)
        self.tokens.pop(user.token, None)
        del self.users[user.uuid]

    def add_role(self, role: Role) -> None:
        """Store a role definition (keyed by name, as role actions look roles up by name)."""
        self.roles[role.name] = role

    def learn_cuid(self, cuid: str, attributes: dict[str, Any]) -> None:
        """Make remote-eduteams know a CUID and the attributes it returns."""
        self.known_cuids[cuid] = dict(attributes)

    # --- indexed reads --------------------------------------------------------------------------------------

    def roles_of(self, user_uuid: str) -> list[RoleAssignment]:
        """Every role assignment of a user."""
        return [self.assignments[a] for a in self.assignments_by_user.get(user_uuid)]

    def roles_in(self, scope_uuid: str) -> list[RoleAssignment]:
        """Every role assignment in a scope."""
        return [self.assignments[a] for a in self.assignments_by_scope.get(scope_uuid)]

    def index_problems(self) -> list[str]:
        """Every disagreement between a table and its indexes (empty when consistent); a self-check for tests."""
        problems = []
        for record_type, table in _TABLES.items():
            records = getattr(self, table.name)
            for index_name, attribute in table.indexes:
                index: Index = getattr(self, index_name)
                expected: dict[str, list[str]] = {}
                for uuid, record in records.items():
                    expected.setdefault(getattr(record, attribute), []).append(uuid)
                for key, uuids in expected.items():
                    if index.get(key) != uuids:
                        problems.append(f"{index_name}[{key}]: {index.get(key)} != {uuids}")
                stale = sorted(index.keys() - set(expected))
                problems += [f"{index_name}[{k}]: stale {index.get(k)} ({record_type.__name__})" for k in stale]
        problems += [f"tokens[{t}] -> unknown user {u}" for t, u in self.tokens.items() if u not in self.users]
        problems += [f"user {u.uuid} has no token" for u in self.users.values() if self.tokens.get(u.token) != u.uuid]
        return problems
