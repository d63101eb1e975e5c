"""Event registration (runners.registration over adapters.waldur.events) against two in-process emulators.

The emulators run with their default NullEventBus: no broker, but subscriptions and queues are recorded. Time
is a fake clock the tests step; retries inside one call are instant; a background attempt is started by
``tick()`` and awaited with ``drain()``, so nothing sleeps.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator

import attrs
import httpx
import pytest

from adapters.config import parse_config
from adapters.waldur import RetryPolicy
from adapters.waldur.client import make_client
from adapters.waldur.http import WaldurHttp
from fedcore.ids import Uuid, normalize_uuid
from runners.registration import (
    A_OBJECT_TYPES,
    B_OBJECT_TYPES,
    Backoff,
    Registrar,
    State,
    Target,
    targets_from_config,
)
from runners.sandbox import federation_config
from waldur_emulator import Emulator, FaultRule
from waldur_emulator.federation import Federation, build_federation
from waldur_emulator.seeding import Seeder

pytestmark = pytest.mark.contract

A_API, B_API = "http://waldur-a.test/api/", "http://waldur-b.test/api/"
STAFF_A, STAFF_B = "staff-a-" + "0" * 32, "staff-b-" + "0" * 32
NAME = "fedcore@test-host"


class Wire(httpx.BaseTransport):
    """An emulator's in-process transport that records every call and can play a server that is down."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.calls: list[tuple[str, str]] = []
        self.down = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        return self.inner.handle_request(request)

    def writes(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if c[0] != "GET"]


@attrs.define
class FakeClock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now

    def step(self, seconds: float) -> None:
        self.now += seconds


class World:
    """Two federated emulators, fedcore's clients of both (through recording wires), a fake clock."""

    def __init__(self) -> None:
        self.a, self.b = Emulator(staff_token=STAFF_A), Emulator(staff_token=STAFF_B)
        self.staff_a = httpx.Client(transport=self.a.transport(), base_url="http://waldur-a.test",
                                    headers={"Authorization": f"Token {STAFF_A}"})
        self.staff_b = httpx.Client(transport=self.b.transport(), base_url="http://waldur-b.test",
                                    headers={"Authorization": f"Token {STAFF_B}"})
        self.fed: Federation = build_federation(self.staff_a, self.staff_b)
        self.wire_a, self.wire_b = Wire(self.a.transport()), Wire(self.b.transport())
        self.http_a = self._http("A", A_API, self.fed.a.agent_token, self.wire_a)
        self.http_b = self._http("B", B_API, self.fed.b.agent_token, self.wire_b)
        self.clock = FakeClock()
        self.registrars: list[Registrar] = []

    @staticmethod
    def _http(side: str, api: str, token: str, wire: Wire) -> WaldurHttp:
        return WaldurHttp(make_client(api, token, transport=wire), side=side, retry=RetryPolicy.instant())

    def a_target(self, offering_uuid: str) -> Target:
        return Target("A", normalize_uuid(offering_uuid), self.http_a, A_OBJECT_TYPES)

    def b_target(self, offering_uuid: str | None = None) -> Target:
        return Target("B", normalize_uuid(offering_uuid or self.fed.b.offering_uuid), self.http_b, B_OBJECT_TYPES)

    def registrar(self, targets: list[Target], **kwargs: object) -> Registrar:
        registrar = Registrar(targets, agent_name=NAME, version="1.0", clock=self.clock,
                              backoff=Backoff(initial=1, factor=2, cap=8, permanent=100), **kwargs)  # type: ignore[arg-type]
        self.registrars.append(registrar)
        return registrar

    def a_offerings(self, count: int, *, offering_type: str = "Marketplace.Slurm") -> list[str]:
        """``count`` more offerings on A that fedcore's A user manages."""
        seed = Seeder(self.staff_a)
        org = seed.customer(f"more-{uuid.uuid4().hex[:6]}")
        seed.service_provider(org)
        category = seed.category("HPC")
        made = []
        for i in range(count):
            offering, _ = seed.offering(org, category, f"extra {i}", components=("cpu",), offering_type=offering_type)
            seed.role("marketplace-provider-offerings", offering.uuid, self.fed.a.agent_uuid, "OFFERING.MANAGER")
            made.append(offering.uuid)
        return made

    def subscriptions(self, emulator: Emulator) -> list[object]:
        return list(emulator.core.state.subscriptions.values())

    def queues(self, emulator: Emulator) -> list[object]:
        return list(emulator.core.state.queues.values())

    def close(self) -> None:
        for registrar in self.registrars:
            registrar.close()
        self.staff_a.close()
        self.staff_b.close()


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    yield w
    w.close()


def key(side: str, offering_uuid: str) -> tuple[str, Uuid]:
    return (side, normalize_uuid(offering_uuid))


def settle(registrar: Registrar) -> None:
    registrar.tick()
    registrar.drain(timeout=10)


def endpoints(calls: list[tuple[str, str]]) -> Counter[str]:
    """Calls by ``METHOD template`` (UUIDs replaced), to count them."""
    out: Counter[str] = Counter()
    for method, path in calls:
        parts = ["{uuid}" if len(p) == 32 and all(c in "0123456789abcdef" for c in p) else p for p in path.split("/")]
        out[f"{method} {'/'.join(parts)}"] += 1
    return out


# --- the happy path -----------------------------------------------------------------------------------


def test_a_and_b_register_with_the_exact_calls_and_give_what_a_consumer_needs(world: World) -> None:
    registrar = world.registrar([world.a_target(world.fed.a.offering_uuid), world.b_target()])
    settle(registrar)
    assert registrar.ready()
    regs = registrar.registrations()
    a = regs[key("A", world.fed.a.offering_uuid)]
    b = regs[key("B", world.fed.b.offering_uuid)]
    assert a.vhost == world.fed.a.agent_uuid
    assert b.vhost == world.fed.b.agent_uuid
    assert [q.object_type for q in a.queues] == list(A_OBJECT_TYPES)
    assert [q.object_type for q in b.queues] == list(B_OBJECT_TYPES)
    for q in a.queues:
        assert q.queue_name == f"subscription_{q.login}_offering_{world.fed.a.offering_uuid}_{q.object_type}"
        assert q.destination == f"/amq/queue/{q.queue_name}"
    assert {s.uuid for s in world.subscriptions(world.a)} == {q.login for q in a.queues}  # type: ignore[attr-defined]
    assert len(world.queues(world.a)) == 4
    assert len(world.queues(world.b)) == 2
    assert [i.name for i in world.a.core.state.agent_identities.values()] == [NAME]
    assert [s.mode for s in world.b.core.state.agent_services.values()] == ["event_process"]
    identity = "marketplace-site-agent-identities/{uuid}"
    expected_a = Counter({
        "GET /api/users/me/": 1,
        "GET /api/marketplace-provider-offerings/{uuid}/": 1,
        "GET /api/marketplace-site-agent-identities/": 1,
        "POST /api/marketplace-site-agent-identities/": 1,
        f"POST /api/{identity}/register_service/": 1,
        f"POST /api/{identity}/register_event_subscription/": 4,
        "POST /api/event-subscriptions/{uuid}/create_queue/": 4,
    })
    assert endpoints(world.wire_a.calls) == expected_a
    assert endpoints(world.wire_b.calls)["POST /api/event-subscriptions/{uuid}/create_queue/"] == 2
    assert len(world.wire_b.calls) == 5 + 2 * 2


def test_a_second_process_updates_its_identity_in_place(world: World) -> None:
    settle(world.registrar([world.a_target(world.fed.a.offering_uuid)]))
    world.wire_a.calls.clear()
    again = world.registrar([world.a_target(world.fed.a.offering_uuid)])
    settle(again)
    assert again.ready()
    assert endpoints(world.wire_a.calls)["PUT /api/marketplace-site-agent-identities/{uuid}/"] == 1
    assert "POST /api/marketplace-site-agent-identities/" not in endpoints(world.wire_a.calls)
    assert len(world.a.core.state.agent_identities) == 1
    assert len(world.subscriptions(world.a)) == 4
    assert len(world.queues(world.a)) == 4


def test_many_offerings_cost_a_bounded_number_of_calls_and_the_token_is_read_once(world: World) -> None:
    offerings = [world.fed.a.offering_uuid, *world.a_offerings(4)]
    registrar = world.registrar([world.a_target(o) for o in offerings], max_workers=3)
    settle(registrar)
    assert registrar.ready()
    counts = endpoints(world.wire_a.calls)
    assert counts["GET /api/users/me/"] == 1
    assert counts["POST /api/marketplace-site-agent-identities/"] == 5
    assert counts["POST /api/marketplace-site-agent-identities/{uuid}/register_service/"] == 5
    assert len(world.wire_a.calls) == 1 + 5 * (4 + 2 * 4)
    assert len(world.subscriptions(world.a)) == 4  # one per (user, object type), shared
    assert len(world.queues(world.a)) == 5 * 4


# --- faults -------------------------------------------------------------------------------------------


def test_a_down_at_start_is_polling_then_registered_after_backoff(world: World) -> None:
    world.wire_a.down = True
    registrar = world.registrar([world.a_target(world.fed.a.offering_uuid), world.b_target()])
    settle(registrar)
    status = registrar.status()
    a = status[key("A", world.fed.a.offering_uuid)]
    assert a.state is State.POLLING
    assert not a.permanent
    assert "ConnectError" in a.reason
    assert status[key("B", world.fed.b.offering_uuid)].state is State.REGISTERED
    assert a.next_attempt_at == 1.0
    settle(registrar)  # not due yet: nothing is tried
    assert registrar.status()[a.side, a.offering_uuid].attempts == 1
    world.clock.step(1)
    settle(registrar)
    again = registrar.status()[key("A", world.fed.a.offering_uuid)]
    assert again.attempts == 2
    assert again.next_attempt_at == 1.0 + 2.0
    world.wire_a.down = False
    world.clock.step(2)
    settle(registrar)
    assert registrar.ready()
    assert len(world.queues(world.a)) == 4


REGISTRATION_CALLS = [
    ("GET", r"/api/users/me/$"),
    ("GET", r"/api/marketplace-provider-offerings/[0-9a-f]{32}/$"),
    ("GET", r"/api/marketplace-site-agent-identities/$"),
    ("POST", r"/api/marketplace-site-agent-identities/$"),
    ("POST", r"/register_service/$"),
    ("POST", r"/register_event_subscription/$"),
    ("POST", r"/create_queue/$"),
]


@pytest.mark.parametrize(("method", "path"), REGISTRATION_CALLS, ids=[p for _, p in REGISTRATION_CALLS])
def test_a_timeout_on_any_registration_call_ends_registered_without_duplicates(
    world: World, method: str, path: str
) -> None:
    world.a.add_fault(FaultRule(path=path, method=method, kind="timeout", timeout_seconds=0.0, times=1))
    registrar = world.registrar([world.a_target(world.fed.a.offering_uuid)])
    for _ in range(3):
        settle(registrar)
        world.clock.step(10)
    assert registrar.ready(), registrar.status()
    assert world.a.faults._fired == {0: 1}  # the timeout did happen
    assert len(world.a.core.state.agent_identities) == 1
    assert len(world.a.core.state.agent_services) == 1
    assert len(world.subscriptions(world.a)) == 4
    assert len(world.queues(world.a)) == 4


def test_forty_offerings_with_one_failing_register_the_others(world: World) -> None:
    offerings = [world.fed.a.offering_uuid, *world.a_offerings(39)]
    failing = offerings[17]
    world.a.add_fault(FaultRule(path=f"/api/marketplace-provider-offerings/{failing}/$", kind="error", status=503))
    registrar = world.registrar([world.a_target(o) for o in offerings], max_workers=8)
    settle(registrar)
    status = registrar.status()
    ready = [s for s in status.values() if s.state is State.REGISTERED]
    assert len(ready) == 39
    bad = status[key("A", failing)]
    assert bad.state is State.POLLING
    assert "503" in bad.reason
    assert "Injected fault" in bad.reason
    assert not registrar.ready()
    assert len(world.queues(world.a)) == 39 * 4


# --- clean-up -----------------------------------------------------------------------------------------


def test_stale_subscriptions_are_removed_at_start_and_queues_at_close(world: World) -> None:
    kept, gone = world.fed.a.offering_uuid, world.a_offerings(1)[0]
    first = world.registrar([world.a_target(kept), world.a_target(gone)])
    settle(first)
    assert len(world.queues(world.a)) == 8
    foreign = world.staff_a.post("/api/event-subscriptions/", json={
        "observable_objects": [{"object_type": "order"}], "description": "someone else"})
    assert foreign.status_code == 201
    # the next start no longer configures ``gone``: its queues go, the shared subscriptions stay for ``kept``
    second = world.registrar([world.a_target(kept)])
    removed = second.remove_stale()
    assert len(removed) == 4
    assert all(gone in r for r in removed)
    assert {q.offering_uuid for q in world.queues(world.a)} == {kept}  # type: ignore[attr-defined]
    assert len(world.subscriptions(world.a)) == 5
    settle(second)
    assert second.ready()
    world.wire_a.calls.clear()
    second.close()  # a clean stop removes this process's queues; subscriptions and identities stay
    assert world.queues(world.a) == []
    assert len(world.subscriptions(world.a)) == 5
    assert endpoints(world.wire_a.calls) == Counter({"DELETE /api/event-subscription-queues/{uuid}/": 4})


def test_subscriptions_left_only_with_stale_queues_are_deleted(world: World) -> None:
    gone = world.fed.a.offering_uuid
    settle(world.registrar([world.a_target(gone)]))
    foreign = world.staff_a.post("/api/event-subscriptions/", json={
        "observable_objects": [{"object_type": "order"}], "description": "someone else"})
    assert foreign.status_code == 201
    other = world.a_offerings(1)[0]
    removed = world.registrar([world.a_target(other)]).remove_stale()
    assert len(removed) == 4
    assert all("subscription" in r for r in removed)
    assert [s.description for s in world.subscriptions(world.a)] == ["someone else"]  # type: ignore[attr-defined]
    assert world.queues(world.a) == []


# --- invalid input --------------------------------------------------------------------------------------


def test_invalid_offerings_are_refused_before_any_write_as_permanent(world: World) -> None:
    [wrong_type] = world.a_offerings(1, offering_type="Marketplace.Remote")
    unknown = uuid.uuid4().hex
    Seeder(world.staff_b).patch_user(world.fed.b.agent_uuid, is_identity_manager=False, managed_isds=[])
    registrar = world.registrar([world.a_target(unknown), world.a_target(wrong_type), world.b_target()])
    settle(registrar)
    status = registrar.status()
    assert all(s.state is State.POLLING and s.permanent for s in status.values())
    assert "unknown offering" in status[key("A", unknown)].reason
    assert "Marketplace.Remote" in status[key("A", wrong_type)].reason
    assert "no rights" in status[key("B", world.fed.b.offering_uuid)].reason
    assert world.wire_a.writes() == []
    assert world.wire_b.writes() == []
    assert status[key("A", unknown)].next_attempt_at == 100.0  # retried slowly
    world.clock.step(99)
    settle(registrar)
    assert all(s.attempts == 1 for s in registrar.status().values())


# --- configuration and start-up -------------------------------------------------------------------------


def test_targets_come_from_the_stomp_flags_of_each_side_once_per_offering(world: World) -> None:
    raw = federation_config(world.fed, A_API, B_API)
    entry = raw["offerings"][0]
    b_on = {**entry["backend_settings"], "target_stomp_enabled": True}
    twin = {**entry, "name": "twin", "waldur_offering_uuid": world.a_offerings(1)[0], "backend_settings": b_on}
    raw["offerings"] = [{**entry, "stomp_enabled": True, "backend_settings": b_on}, twin]
    config = parse_config(raw)
    clients = {"A": world.http_a, "B": world.http_b}
    targets = targets_from_config(config.offerings, lambda _, side: clients[side])
    assert [(t.side, t.offering_uuid, t.object_types) for t in targets] == [
        ("A", world.fed.a.offering_uuid, A_OBJECT_TYPES),
        ("B", world.fed.b.offering_uuid, B_OBJECT_TYPES),
    ]
    registrar = world.registrar(targets)
    settle(registrar)
    assert registrar.ready()


def test_clean_up_with_a_server_down_is_skipped_and_registration_goes_on(world: World) -> None:
    world.wire_a.down = True
    registrar = world.registrar([world.a_target(world.fed.a.offering_uuid), world.b_target()])
    assert registrar.remove_stale() == []
    settle(registrar)
    assert registrar.status()[key("B", world.fed.b.offering_uuid)].state is State.REGISTERED
    assert registrar.status()[key("A", world.fed.a.offering_uuid)].state is State.POLLING


def test_refresh_registers_again_and_recreates_a_deleted_queue_with_the_same_name(world: World) -> None:
    registrar = world.registrar([world.a_target(world.fed.a.offering_uuid)])
    settle(registrar)
    before = registrar.registrations()[key("A", world.fed.a.offering_uuid)]
    [order_queue] = [q for q in before.queues if q.object_type == "order"]
    assert world.staff_a.delete(f"/api/event-subscription-queues/{order_queue.queue_uuid}/").status_code == 204
    assert len(world.queues(world.a)) == 3
    settle(registrar)
    assert len(world.queues(world.a)) == 3  # registered targets are not registered again on their own

    world.wire_a.calls.clear()
    registrar.refresh([key("A", world.fed.a.offering_uuid)])
    settle(registrar)

    assert len(world.queues(world.a)) == 4
    after = registrar.registrations()[key("A", world.fed.a.offering_uuid)]
    assert sorted(q.queue_name for q in after.queues) == sorted(q.queue_name for q in before.queues)
    calls = endpoints(world.wire_a.calls)
    assert calls["POST /api/marketplace-site-agent-identities/{uuid}/register_event_subscription/"] == 4
    assert calls["POST /api/event-subscriptions/{uuid}/create_queue/"] == 4
    assert "GET /api/users/me/" not in calls  # the identity and the token check are not repeated
    made = len(world.wire_a.calls)
    settle(registrar)
    assert len(world.wire_a.calls) == made  # refreshed once, not on every tick
