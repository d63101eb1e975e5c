"""Set up marketplace scenarios through the REST API, as Waldur's integration tests do (seed 000's test_01).

Everything goes through HTTP with a staff token, so the emulator's own rules run; the only shortcut is
``/api/emulator/resources/``, which stands in for Waldur tests' direct ORM inserts.
"""

from __future__ import annotations

from typing import Any

import attrs
import httpx


class SeedError(RuntimeError):
    """A set-up call did not answer as expected."""


@attrs.frozen
class Created:
    """A created object's UUID and URL, plus the raw JSON."""

    uuid: str
    url: str
    data: dict[str, Any]


def url_of(made: Created) -> str:
    """The object's URL (provider offerings answer with their provider URL)."""
    return made.url


class Seeder:
    """Thin typed helpers over a staff client: one method per set-up call, failing loudly."""

    def __init__(self, client: httpx.Client, admin: httpx.Client | None = None) -> None:
        self.client = client
        self.admin = admin if admin is not None else client

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None, expect: int = 201) -> Any:
        client = self.admin if path.startswith("/api/emulator/") else self.client
        response = client.request(method, path, json=body)
        if response.status_code != expect:
            raise SeedError(f"{method} {path}: expected {expect}, got {response.status_code}: {response.text[:300]}")
        return response.json() if response.content else None

    def _created(self, path: str, body: dict[str, Any]) -> Created:
        data = self._call("POST", path, body)
        return Created(data["uuid"], data.get("url", ""), data)

    def user(self, username: str, **fields: Any) -> tuple[Created, str]:
        """A user and its API token."""
        made = self._created("/api/users/", {"username": username, "email": f"{username}@example.org", **fields})
        return made, str(made.data["token"])

    def customer(self, name: str, **fields: Any) -> Created:
        """An organisation."""
        return self._created("/api/customers/", {"name": name, **fields})

    def service_provider(self, customer: Created) -> Created:
        """Make a customer a service provider."""
        return self._created("/api/marketplace-service-providers/", {"customer": customer.url})

    def category(self, title: str = "HPC") -> Created:
        """A marketplace category."""
        return self._created("/api/marketplace-categories/", {"title": title})

    def project(self, customer: Created, name: str, **fields: Any) -> Created:
        """A project under a customer."""
        return self._created("/api/projects/", {"name": name, "customer": customer.url, **fields})

    def offering(
        self,
        customer: Created,
        category: Created,
        name: str,
        *,
        offering_type: str = "Marketplace.Slurm",
        components: tuple[str, ...] = ("cpu", "mem"),
        plugin_options: dict[str, Any] | None = None,
        activate: bool = True,
    ) -> tuple[Created, Created]:
        """An offering with limit components, one plan, and (by default) activated: (offering, public plan)."""
        options = {"service_provider_can_create_offering_user": True, **(plugin_options or {})}
        made = self._created(
            "/api/marketplace-provider-offerings/",
            {
                "name": name,
                "category": category.url,
                "customer": customer.url,
                "type": offering_type,
                "plugin_options": options,
                "components": [
                    {"type": c, "name": c.upper(), "billing_type": "limit", "measured_unit": "units"}
                    for c in components
                ],
            },
        )
        plan = self._created("/api/marketplace-plans/", {"name": "Default", "offering": url_of(made), "unit": "month"})
        self._call(
            "POST",
            f"/api/marketplace-plans/{plan.uuid}/update_prices/",
            {"prices": dict.fromkeys(components, "0")},
            200,
        )
        if activate:
            self._call("POST", f"/api/marketplace-provider-offerings/{made.uuid}/activate/", None, 200)
        public_plan = self._call("GET", f"/api/marketplace-public-offerings/{made.uuid}/plans/{plan.uuid}/", None, 200)
        public = self._call("GET", f"/api/marketplace-public-offerings/{made.uuid}/", None, 200)
        return Created(made.uuid, public["url"], public), Created(plan.uuid, public_plan["url"], public_plan)

    def role(self, scope: str, scope_uuid: str, user_uuid: str, role: str) -> None:
        """Grant a role: scope is ``customers``, ``projects`` or ``marketplace-provider-offerings``."""
        self._call("POST", f"/api/{scope}/{scope_uuid}/add_user/", {"role": role, "user": user_uuid})

    def patch_user(self, user_uuid: str, **fields: Any) -> dict[str, Any]:
        """PATCH a user (e.g. is_identity_manager, managed_isds)."""
        result: dict[str, Any] = self._call("PATCH", f"/api/users/{user_uuid}/", fields, 200)
        return result

    def resource(self, offering: Created, project: Created, name: str = "res", **fields: Any) -> Created:
        """A resource created directly in state OK (Waldur tests use the ORM for this)."""
        return self._created(
            "/api/emulator/resources/", {"offering": offering.uuid, "project": project.uuid, "name": name, **fields}
        )

    def bridge(self, username: str, source: str, **fields: Any) -> dict[str, Any]:
        """Push a user through the identity bridge."""
        result: dict[str, Any] = self._call(
            "POST", "/api/identity-bridge/", {"username": username, "source": source, **fields}, 200
        )
        return result
