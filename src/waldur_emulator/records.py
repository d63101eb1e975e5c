"""The emulator's records of people and organisations: users, roles and their assignments, customers, service
providers, categories and projects.

Mutable attrs classes holding UUIDs as 32-character hex strings; they reference each other by UUID. ``State`` in
``store`` owns them; nothing here locks or indexes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs


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
