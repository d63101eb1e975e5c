"""The emulator over real HTTP: seed 000's set-up and username flow, orders, offering users, identity bridge.

Every request and response passes through the OpenAPI checker (``ValidatingTransport``); each test ends by
asserting that no traffic deviated from Waldur 8.0.5's schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from contract.openapi_check import SchemaChecker, ValidatingTransport
from waldur_emulator import Emulator, ServerHandle
from waldur_emulator.events import NullEventBus
from waldur_emulator.seeding import Created, Seeder

pytestmark = pytest.mark.contract

STAFF = "staff-token-0123456789"
ClientFactory = Callable[[str], httpx.Client]


@pytest.fixture
def emulator() -> Iterator[tuple[Emulator, ServerHandle]]:
    emu = Emulator(staff_token=STAFF, seed=7)
    handle = emu.serve("127.0.0.1", 0)
    try:
        yield emu, handle
    finally:
        handle.stop()


@pytest.fixture
def connect(emulator: tuple[Emulator, ServerHandle], schema_checker: SchemaChecker) -> Iterator[ClientFactory]:
    transports: list[ValidatingTransport] = []
    clients: list[httpx.Client] = []

    def make(token: str) -> httpx.Client:
        transport = ValidatingTransport(httpx.HTTPTransport(), schema_checker)
        transports.append(transport)
        client = httpx.Client(
            base_url=emulator[1].base_url, transport=transport, timeout=10, headers={"Authorization": f"Token {token}"}
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
    for transport in transports:
        transport.assert_clean()


class World:
    """Seed 000's environment: offerings A and B, user_a (OFFERING.MANAGER on A), user_b (owner of C + IDM)."""

    def __init__(self, connect: ClientFactory) -> None:
        self.staff = connect(STAFF)
        self.admin = httpx.Client(
            base_url=str(self.staff.base_url).rstrip("/"), headers={"Authorization": f"Token {STAFF}"}
        )
        seed = Seeder(self.staff, self.admin)
        self.seed = seed
        cat = seed.category()
        self.customer_a, self.customer_b = seed.customer("Provider A"), seed.customer("Provider B")
        seed.service_provider(self.customer_a)
        seed.service_provider(self.customer_b)
        self.project_a = seed.project(self.customer_a, "project A")
        self.offering_a, self.plan_a = seed.offering(self.customer_a, cat, "Offering A")
        self.offering_b, self.plan_b = seed.offering(self.customer_b, cat, "Offering B")
        user_a, self.token_a = seed.user("user_a", email="a@example.org")
        user_b, self.token_b = seed.user("user_b", email="b@example.org")
        self.subject, _ = seed.user("subject_user", email="Subject@Example.org")
        self.user_a, self.user_b = user_a, user_b
        self.customer_c = seed.customer("Consumer C")
        seed.role("marketplace-provider-offerings", self.offering_a.uuid, user_a.uuid, "OFFERING.MANAGER")
        seed.role("customers", self.customer_c.uuid, user_b.uuid, "CUSTOMER.OWNER")
        seed.patch_user(user_b.uuid, is_identity_manager=True, managed_isds=["isd:integration-test"])
        seed.bridge("subject_user", "isd:integration-test", first_name="Sub")
        self.resource_a = seed.resource(self.offering_a, self.project_a)
        seed.role("projects", self.project_a.uuid, self.subject.uuid, "PROJECT.MEMBER")
        self.project_b = seed.project(self.customer_c, "project B")
        self.resource_b = seed.resource(self.offering_b, self.project_b)
        seed.role("projects", self.project_b.uuid, self.subject.uuid, "PROJECT.MEMBER")


def offering_users(client: httpx.Client, offering: Created, *states: str) -> list[dict[str, object]]:
    params: list[tuple[str, str | int | float | bool | None]] = [("offering_uuid", offering.uuid)]
    params += [("state", s) for s in states]
    response = client.get("/api/marketplace-offering-users/", params=params)
    assert response.status_code == 200
    body: list[dict[str, object]] = response.json()
    return body


def test_seed000_auto_created_offering_users_and_username_sync(connect: ClientFactory) -> None:
    world = World(connect)
    user_a, user_b = connect(world.token_a), connect(world.token_b)
    on_a = offering_users(user_a, world.offering_a)
    on_b = offering_users(user_b, world.offering_b)
    assert [(r["user_uuid"], r["state"]) for r in on_a] == [(world.subject.uuid, "Requested")]
    assert [(r["user_uuid"], r["state"]) for r in on_b] == [(world.subject.uuid, "Requested")]
    # the ISD rule: user_b sees the subject's records on every offering, A's included
    assert len(offering_users(user_b, world.offering_a)) == 1

    patched = world.staff.patch(f"/api/marketplace-offering-users/{on_a[0]['uuid']}/", json={"username": "placeholder"})
    assert (patched.status_code, patched.json()["state"]) == (200, "OK")
    world.staff.patch(f"/api/marketplace-offering-users/{on_b[0]['uuid']}/", json={"username": "inttest-sync"})
    ok_on_b = offering_users(user_b, world.offering_b, "OK")
    assert [r["username"] for r in ok_on_b] == ["inttest-sync"]
    mismatch = offering_users(user_a, world.offering_a, "OK", "Creating", "Requested")
    assert [r["username"] for r in mismatch] == ["placeholder"]
    user_a.patch(f"/api/marketplace-offering-users/{mismatch[0]['uuid']}/", json={"username": "inttest-sync"})
    assert offering_users(user_a, world.offering_a, "OK")[0]["username"] == "inttest-sync"

    world.seed.patch_user(world.user_b.uuid, managed_isds=[])
    assert offering_users(user_b, world.offering_b) == []
    assert user_b.get(f"/api/marketplace-offering-users/{on_b[0]['uuid']}/").status_code == 404


def test_offering_user_transitions_follow_the_table(connect: ClientFactory) -> None:
    world = World(connect)
    record = offering_users(world.staff, world.offering_a)[0]
    url = f"/api/marketplace-offering-users/{record['uuid']}/"
    assert world.staff.post(url + "request_deletion/").status_code == 409
    assert world.staff.post(url + "begin_creating/").status_code == 200
    linking = world.staff.post(url + "set_pending_account_linking/", json={"comment": "link", "comment_url": ""})
    assert linking.status_code == 200
    assert world.staff.get(url).json()["service_provider_comment"] == "link"
    assert world.staff.post(url + "set_validation_complete/").status_code == 200
    assert world.staff.post(url + "request_deletion/").status_code == 200
    assert world.staff.post(url + "set_deleting/").status_code == 200
    assert world.staff.post(url + "set_deleted/").status_code == 200
    assert world.staff.get(url).json()["state"] == "Deleted"
    conflict = world.staff.post(url + "set_ok/")
    assert conflict.status_code == 409
    assert conflict.json()["detail"].startswith("Valid states for operation:")


def test_order_state_machine_and_resource_states(connect: ClientFactory) -> None:
    world = World(connect)
    body = {
        "offering": world.offering_b.url,
        "project": world.staff.get(f"/api/projects/{world.project_b.uuid}/").json()["url"],
        "plan": world.plan_b.url,
        "limits": {"cpu": 10},
        "attributes": {"name": "fed-1"},
        "type": "Create",
    }
    user_b = connect(world.token_b)
    created = user_b.post("/api/marketplace-orders/", json=body)
    assert created.status_code == 201
    order = created.json()
    assert order["state"] == "pending-provider"
    resource_uuid = order["marketplace_resource_uuid"]
    resource = user_b.get(f"/api/marketplace-resources/{resource_uuid}/").json()
    assert (resource["state"], resource["limits"]) == ("Creating", {"cpu": 10})
    url = f"/api/marketplace-orders/{order['uuid']}/"
    assert user_b.post(url + "approve_by_provider/").status_code == 403
    assert world.staff.post(url + "set_state_done/").status_code == 409
    assert world.staff.post(url + "approve_by_provider/").json() == {"detail": "Order has been approved."}
    assert world.staff.post(url + "cancel/").status_code == 405
    assert world.staff.post(url + "set_backend_id/", json={"backend_id": "x"}).json()["status"].endswith("changed.")
    assert world.staff.post(url + "set_state_done/").status_code == 200
    assert user_b.get(url).json()["state"] == "done"
    assert user_b.get(f"/api/marketplace-resources/{resource_uuid}/").json()["state"] == "OK"

    update = user_b.post(f"/api/marketplace-resources/{resource_uuid}/update_limits/", json={"limits": {"cpu": 20}})
    assert update.status_code == 200
    update_url = f"/api/marketplace-orders/{update.json()['order_uuid']}/"
    assert user_b.get(f"/api/marketplace-resources/{resource_uuid}/").json()["state"] == "Updating"
    assert user_b.post(f"/api/marketplace-resources/{resource_uuid}/terminate/").status_code == 409
    world.staff.post(update_url + "approve_by_provider/")
    world.staff.post(update_url + "set_state_erred/", json={"error_message": "boom", "error_traceback": ""})
    erred = user_b.get(update_url).json()
    assert (erred["state"], erred["error_message"]) == ("erred", "boom")
    assert user_b.get(f"/api/marketplace-resources/{resource_uuid}/").json()["state"] == "Erred"

    terminate = user_b.post(f"/api/marketplace-resources/{resource_uuid}/terminate/", json={})
    terminate_url = f"/api/marketplace-orders/{terminate.json()['order_uuid']}/"
    assert user_b.get(f"/api/marketplace-resources/{resource_uuid}/").json()["state"] == "Terminating"
    in_flight = user_b.get(
        "/api/marketplace-orders/",
        params=[
            ("resource_uuid", resource_uuid),
            ("type", "Terminate"),
            ("state", "pending-consumer"),
            ("state", "pending-provider"),
            ("state", "executing"),
        ],
    ).json()
    assert [o["uuid"] for o in in_flight] == [terminate.json()["order_uuid"]]
    world.staff.post(terminate_url + "approve_by_provider/")
    world.staff.post(terminate_url + "set_state_done/")
    assert user_b.get(f"/api/marketplace-resources/{resource_uuid}/").json()["state"] == "Terminated"


def test_consumer_approval_and_permission_matrix(connect: ClientFactory) -> None:
    world = World(connect)
    member, member_token = world.seed.user("member")
    world.seed.role("projects", world.project_b.uuid, member.uuid, "PROJECT.MEMBER")
    stranger, stranger_token = world.seed.user("stranger")
    project_url = world.staff.get(f"/api/projects/{world.project_b.uuid}/").json()["url"]
    body = {
        "offering": world.offering_b.url,
        "project": project_url,
        "plan": world.plan_b.url,
        "limits": {"cpu": 1},
        "attributes": {"name": "m"},
    }
    as_member, as_stranger, as_owner = connect(member_token), connect(stranger_token), connect(world.token_b)
    order = as_member.post("/api/marketplace-orders/", json=body).json()
    assert order["state"] == "pending-consumer"
    url = f"/api/marketplace-orders/{order['uuid']}/"
    assert as_stranger.get(url).status_code == 404
    assert as_stranger.post("/api/marketplace-orders/", json=body).status_code == 400
    assert as_member.post(url + "approve_by_consumer/").status_code == 403
    assert as_owner.post(url + "approve_by_consumer/").status_code == 200
    assert as_owner.get(url).json()["state"] == "pending-provider"
    assert as_owner.post(url + "approve_by_consumer/").status_code == 409
    assert as_stranger.post("/api/customers/", json={"name": "x"}).status_code == 403
    bad = world.admin.post("/api/projects/", json={"customer": world.customer_c.url})
    assert bad.json() == {"name": ["This field is required."]}
    assert connect("nope").get("/api/users/me/").status_code == 401
    assert as_stranger.get("/api/users/", params={"username": "member"}).json() == []
    assert [u["username"] for u in as_owner.get("/api/users/", params={"username": "member"}).json()] == ["member"]
    assert len(as_owner.get("/api/users/", params={"email": "example.ORG"}).json()) == 3
    del stranger


def test_project_roles_and_backend_id_filter(connect: ClientFactory) -> None:
    world = World(connect)
    project = world.seed.project(world.customer_c, "fed", backend_id="a_b")
    listed = world.staff.get("/api/projects/", params={"backend_id": "a_b"}).json()
    assert [p["uuid"] for p in listed] == [project.uuid]
    both = world.staff.get("/api/projects/", params={"customer": f"{world.customer_a.uuid},{world.customer_c.uuid}"})
    assert int(both.headers["X-Result-Count"]) == 3
    world.seed.role("projects", project.uuid, world.subject.uuid, "PROJECT.ADMIN")
    again = world.staff.post(
        f"/api/projects/{project.uuid}/add_user/", json={"role": "PROJECT.ADMIN", "user": world.subject.uuid}
    )
    assert again.status_code == 400
    members = world.staff.get(f"/api/projects/{project.uuid}/list_users/").json()
    assert [(m["user_uuid"], m["role_name"]) for m in members] == [(world.subject.uuid, "PROJECT.ADMIN")]
    assert members[0]["uuid"] != world.subject.uuid
    removed = world.staff.post(
        f"/api/projects/{project.uuid}/delete_user/", json={"role": "PROJECT.ADMIN", "user": world.subject.uuid}
    )
    assert removed.status_code == 200
    assert world.staff.get(f"/api/projects/{project.uuid}/list_users/").json() == []
    assert world.staff.delete(f"/api/projects/{world.project_b.uuid}/").status_code == 409


def test_identity_bridge_rules(connect: ClientFactory) -> None:
    world = World(connect)
    user_b = connect(world.token_b)
    created = user_b.post(
        "/api/identity-bridge/",
        json={"username": "cuid-1@example", "source": "isd:integration-test", "email": "c@x.org", "first_name": "C"},
    )
    assert created.status_code == 200
    assert created.json()["created"] is True
    again = user_b.post(
        "/api/identity-bridge/",
        json={"username": "cuid-1@example", "source": "isd:integration-test", "email": "c@x.org"},
    )
    assert (again.json()["created"], again.json()["updated_fields"]) == (False, [])
    assert user_b.post("/api/identity-bridge/", json={"username": "u", "source": "isd:other"}).status_code == 403
    assert user_b.post("/api/identity-bridge/", json={"username": "u", "source": "bad source"}).status_code == 400
    disallowed = user_b.post(
        "/api/identity-bridge/", json={"username": "u", "source": "isd:integration-test", "civil_number": "1"}
    )
    assert disallowed.status_code == 400
    found = world.staff.get("/api/users/", params={"username": "cuid-1@example"}).json()
    assert found[0]["active_isds"] == ["isd:integration-test"]
    removed = user_b.post(
        "/api/identity-bridge/remove/", json={"username": "cuid-1@example", "source": "isd:integration-test"}
    )
    assert removed.json() == {"uuid": created.json()["uuid"], "deactivated": True}
    assert user_b.post("/api/remote-eduteams/", json={"cuid": "unknown"}).status_code == 404


def test_events_reach_offering_manager_and_identity_manager(
    emulator: tuple[Emulator, ServerHandle], connect: ClientFactory
) -> None:
    world = World(connect)
    bus = emulator[0].bus
    assert isinstance(bus, NullEventBus)
    subscribers = {}
    for name, token in (("a", world.token_a), ("b", world.token_b)):
        client = connect(token)
        identity = client.post(
            "/api/marketplace-site-agent-identities/", json={"offering": world.offering_b.uuid, "name": f"agent-{name}"}
        )
        if name == "a":
            assert identity.status_code == 403
            world.seed.role(
                "marketplace-provider-offerings", world.offering_b.uuid, world.user_a.uuid, "OFFERING.MANAGER"
            )
            identity = client.post(
                "/api/marketplace-site-agent-identities/",
                json={"offering": world.offering_b.uuid, "name": f"agent-{name}"},
            )
        assert identity.status_code == 201
        sub = client.post(
            f"/api/marketplace-site-agent-identities/{identity.json()['uuid']}/register_event_subscription/",
            json={"observable_object_type": "offering_user"},
        )
        assert sub.status_code == 201
        same = client.post(
            f"/api/marketplace-site-agent-identities/{identity.json()['uuid']}/register_event_subscription/",
            json={"observable_object_type": "offering_user"},
        )
        assert (same.status_code, same.json()["uuid"]) == (200, sub.json()["uuid"])
        queue = client.post(
            f"/api/event-subscriptions/{sub.json()['uuid']}/create_queue/",
            json={"offering_uuid": world.offering_b.uuid, "object_type": "offering_user"},
        )
        assert queue.status_code == 201
        subscribers[name] = queue.json()["queue_name"]
    record = offering_users(world.staff, world.offering_b)[0]
    world.staff.patch(f"/api/marketplace-offering-users/{record['uuid']}/", json={"username": "stomp-1"})
    received = {name: [e.payload for e in bus.published if e.queue_name == q] for name, q in subscribers.items()}
    for name in ("a", "b"):
        actions = [p["action"] for p in received[name]]
        assert actions == ["update", "username_set"], name
        assert received[name][0]["changed_fields"] == ["state", "username"]
        assert received[name][1]["state"] == 5
        assert received[name][0]["offering_uuid"] == world.offering_b.uuid
    bus.published.clear()
    world.seed.patch_user(world.user_b.uuid, managed_isds=[])
    world.staff.patch(f"/api/marketplace-offering-users/{record['uuid']}/", json={"username": "no-isd"})
    assert {e.queue_name for e in bus.published} == {subscribers["a"]}
