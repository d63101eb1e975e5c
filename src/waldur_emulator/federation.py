"""A federation between two Waldurs, set up through their REST APIs the way an operator sets up real ones.

On **A** (the source): a provider organisation with an active ``Marketplace.Slurm`` offering, the agent user who
is OFFERING.MANAGER of it, and a consumer organisation with a project whose member places orders.
On **B** (the target): a provider organisation with its own active offering, and the organisation fedcore orders
under, whose owner (the agent user on B) is also an ISD identity manager for ``isd_source``.

Everything goes through HTTP with each emulator's staff token, so the emulators' own rules run. The result holds
the UUIDs and tokens a configuration file needs.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import httpx

from .seeding import Seeder


@attrs.frozen
class Side:
    """One Waldur of the federation: its offering, the agent's token, and who else acts there."""

    offering_uuid: str
    plan_uuid: str
    agent_token: str
    agent_uuid: str
    provider_customer_uuid: str


@attrs.frozen
class Federation:
    """What a fedcore configuration and a test need to know about the two Waldurs."""

    a: Side
    b: Side
    b_customer_uuid: str
    """The organisation on B under which fedcore creates projects and orders."""
    consumer_customer_uuid: str
    consumer_project_uuid: str
    consumer_token: str
    """A user on A who may order in the consumer project."""
    isd_source: str


def _side(seeder: Seeder, name: str, components: Sequence[str], agent: str) -> tuple[Side, str]:
    provider_org = seeder.customer(f"{name} provider")
    seeder.service_provider(provider_org)
    category = seeder.category("HPC")
    offering, plan = seeder.offering(provider_org, category, f"{name} cluster", components=tuple(components))
    agent_user, agent_token = seeder.user(agent)
    return Side(offering.uuid, plan.uuid, agent_token, agent_user.uuid, provider_org.uuid), agent_user.uuid


def build_federation(
    a: httpx.Client,
    b: httpx.Client,
    *,
    a_components: Sequence[str] = ("node_hours", "storage"),
    b_components: Sequence[str] = ("cpu_k_hours", "mem_gb_hours", "storage"),
    isd_source: str = "isd:federation",
) -> Federation:
    """Set up both sides through staff clients of A and B (``base_url`` at the server root, not ``/api/``)."""
    seed_a, seed_b = Seeder(a), Seeder(b)
    side_a, agent_a = _side(seed_a, "A", a_components, "fedcore-a")
    seed_a.role("marketplace-provider-offerings", side_a.offering_uuid, agent_a, "OFFERING.MANAGER")
    consumer_org = seed_a.customer("Consumer university")
    project = seed_a.project(consumer_org, "Physics")
    consumer, consumer_token = seed_a.user("orderer")
    seed_a.role("customers", consumer_org.uuid, consumer.uuid, "CUSTOMER.OWNER")
    seed_a.role("projects", project.uuid, consumer.uuid, "PROJECT.ADMIN")

    side_b, agent_b = _side(seed_b, "B", b_components, "fedcore-b")
    b_org = seed_b.customer("Federated from A")
    seed_b.role("customers", b_org.uuid, agent_b, "CUSTOMER.OWNER")
    seed_b.patch_user(agent_b, is_identity_manager=True, managed_isds=[isd_source])
    return Federation(side_a, side_b, b_org.uuid, consumer_org.uuid, project.uuid, consumer_token, isd_source)


def place_order(
    a: httpx.Client, fed: Federation, limits: dict[str, int], name: str = "res", **attributes: object
) -> dict[str, object]:
    """A Create order for A's offering in the consumer project, placed by the consumer as a user would.

    ``a`` is any client of A (its own ``Authorization`` is replaced by the consumer's token for the order itself).
    Returns the order as A answered it (``pending-provider``).
    """
    offering = a.get(f"/api/marketplace-public-offerings/{fed.a.offering_uuid}/").json()
    plan = a.get(f"/api/marketplace-public-offerings/{fed.a.offering_uuid}/plans/").json()[0]
    project = a.get(f"/api/projects/{fed.consumer_project_uuid}/").json()
    body = {"offering": offering["url"], "project": project["url"], "plan": plan["url"], "limits": limits,
            "attributes": {"name": name, **attributes}, "accepting_terms_of_service": True}
    made = a.post("/api/marketplace-orders/", json=body, headers={"Authorization": f"Token {fed.consumer_token}"})
    if made.status_code != 201:
        raise RuntimeError(f"placing an order on A: {made.status_code} {made.text[:300]}")
    answer: dict[str, object] = made.json()
    return answer
