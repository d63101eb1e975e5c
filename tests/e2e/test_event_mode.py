"""``fedcore run -m event_process`` as a real process, two emulated Waldurs over HTTP, a real RabbitMQ.

Every pass period here is an hour, so what happens within the test's deadlines after the first passes is the
work of events alone (and of the catch-up pass after every connect). Seed 001 tests 5 to 8: a STOMP login per
subscribed type on A and the target login on B; the order event flow (Create, Update, Terminate); fallback to
polling without target STOMP. Then the faults: a broker restart amid orders, poison and duplicated frames.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from run_world import Fedcore, Running, World, until

from adapters.stomp import RECONNECT_CAP_VARIABLE
from waldur_emulator.faults import FaultRule

pytestmark = [pytest.mark.e2e, pytest.mark.broker]

MANAGEMENT = "http://127.0.0.1:15672"
HOUR = {"order_process": 60, "membership_sync": 60, "report": 60, "username_sync": 60}
OUTAGE = float(os.environ.get("FEDCORE_BROKER_OUTAGE_SECONDS", "5"))
"""How long the broker stays down in the restart test (longer soaks: set the variable)."""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    built = World(tmp_path, events=True)
    yield built
    built.close()


@pytest.fixture
def admin() -> Iterator[httpx.Client]:
    with httpx.Client(base_url=MANAGEMENT, auth=("guest", "guest"), timeout=10) as client:
        yield client


@pytest.fixture
def started() -> Iterator[list[Running]]:
    processes: list[Running] = []
    yield processes
    for running in processes:
        running.kill()


def start(world: World, started: list[Running], config: dict[str, Any], *extra: str,
          env: dict[str, str] | None = None) -> Running:
    path = world.write_config(config)
    running = Running(Fedcore(env).start("run", "-c", path, "-m", "event_process", "--event-watch-seconds", "1",
                                         *extra))
    started.append(running)
    return running


def on_events(running: Running, sides: str = "AB") -> None:
    for side in sides:
        until(lambda s=side: any(f" {s} offering" in line and ": on events" in line  # type: ignore[misc]
                                 for line in list(running.lines)), f"{side} on events", deadline=30)


def b_order_for(world: World, known: set[str], deadline: float = 10.0) -> str:
    """The one B order not in ``known`` (waits for it)."""
    def fresh() -> str | None:
        new = [o["uuid"] for o in world.b_orders() if o["uuid"] not in known]
        assert len(new) <= 1, f"more than one new B order: {new}"
        return new[0] if new else None

    uuid = until(fresh, "a new B order", deadline)
    known.add(uuid)
    return uuid


def a_state(world: World, uuid: str) -> str:
    return str(world.a_order(uuid)["state"])


def vhost_users(admin: httpx.Client, vhost: str) -> list[str]:
    answer = admin.get(f"/api/vhosts/{quote(vhost, safe='')}/connections")
    if answer.status_code == 404:  # no vhost: nobody ever subscribed there
        return []
    return sorted(c["user"] for c in answer.json())


def test_one_login_per_type_on_a_and_the_target_login_on_b(world: World, admin: httpx.Client,
                                                           started: list[Running]) -> None:
    running = start(world, started, world.event_config(periods=HOUR))
    on_events(running)
    # The management API lists connections with a delay (its statistics interval): poll.
    a_users = until(lambda: at_least(vhost_users(admin, world.fed.a.agent_uuid.replace("-", "")), 4),
                    "four A connections", deadline=30)
    b_users = until(lambda: at_least(vhost_users(admin, world.fed.b.agent_uuid.replace("-", "")), 2),
                    "two B connections", deadline=30)
    assert len(a_users) == 4  # order, user_role, resource, offering_user: one subscription (login) each
    assert len(set(a_users)) == 4
    assert len(b_users) == 2  # order, offering_user
    code, err = stop_and_wait(running)
    assert code == 0, err[-2000:]
    assert until(lambda: not vhost_users(admin, world.fed.a.agent_uuid.replace("-", "")) or None,
                 "A connections closed") is not None


def at_least(users: list[str], count: int) -> list[str] | None:
    return users if len(users) >= count else None


def stop_and_wait(running: Running) -> tuple[int, str]:
    running.signal(signal.SIGTERM)
    return running.wait(30)


def test_create_update_and_terminate_flow_on_events_alone(world: World, started: list[Running]) -> None:
    running = start(world, started, world.event_config(periods=HOUR))
    on_events(running)
    known: set[str] = set()

    create = world.order({"node_hours": 2})
    b_create = b_order_for(world, known)
    world.b_done(b_create)
    until(lambda: a_state(world, create) == "done", "the Create order done on A")

    resource = world.a_resource_of(create)
    update = world.consumer("POST", f"/api/marketplace-resources/{resource}/update_limits/",
                            json={"limits": {"node_hours": 3}})["order_uuid"]
    b_update = b_order_for(world, known)
    b_resource = world.staff_b.get(f"/api/marketplace-orders/{b_update}/").json()
    assert b_resource["limits"]["cpu_k_hours"] == 3 * 128  # converted with the configured factors
    world.b_done(b_update)
    until(lambda: a_state(world, update) == "done", "the Update order done on A")

    terminate = world.consumer("POST", f"/api/marketplace-resources/{resource}/terminate/", json={})["order_uuid"]
    b_terminate = b_order_for(world, known)
    world.b_done(b_terminate)
    until(lambda: a_state(world, terminate) == "done", "the Terminate order done on A")

    assert len(world.b_orders()) == 3
    code, err = stop_and_wait(running)
    assert code == 0, err[-2000:]
    assert "ERROR" not in err
    for token in world.tokens:
        assert token not in err


def test_without_target_stomp_b_completion_is_found_by_polling(world: World, admin: httpx.Client,
                                                               started: list[Running]) -> None:
    periods = {**HOUR, "order_process": 0.05}  # 3 s: B's done is found by the pass, not by an event
    running = start(world, started, world.event_config(target_stomp=False, periods=periods))
    on_events(running, "A")
    assert not vhost_users(admin, world.fed.b.agent_uuid.replace("-", ""))
    order = world.order({"node_hours": 1})
    b_order = b_order_for(world, set())
    world.b_done(b_order)
    until(lambda: a_state(world, order) == "done", "the A order done by polling")
    stop_and_wait(running)


@pytest.mark.broker_restart  # it stops RabbitMQ: no other broker test may run meanwhile (tests/conftest.py)
def test_a_broker_restart_amid_orders_loses_and_duplicates_nothing(world: World, started: list[Running]) -> None:
    # The documented reconnect cap (adapters.stomp.Backoff): every login retries at least once a second, so the
    # reconnection follows the broker's return at once instead of after a backoff grown to 8-16 s in the outage.
    running = start(world, started, world.event_config(periods=HOUR), env={RECONNECT_CAP_VARIABLE: "1"})
    on_events(running)
    before = [world.order({"node_hours": 1}, name=f"before-{n}") for n in range(3)]
    until(lambda: len(world.b_orders()) == 3 or None, "three B orders")
    connects = sum(1 for line in running.lines if "STOMP connected" in line)

    rabbitmqctl("stop_app")
    try:
        during = [world.order({"node_hours": 1}, name=f"during-{n}") for n in range(3)]
        for b_order in [o["uuid"] for o in world.b_orders()]:
            world.b_done(b_order)  # B's done events have no broker to go to
        until(lambda: running.saw("STOMP connection to") and running.saw("reconnecting"), "the drop noticed")
        # The scenario itself, not a synchronisation: the broker stays down this long.
        threading.Event().wait(OUTAGE)
    finally:
        rabbitmqctl("start_app")

    until(lambda: sum(1 for line in running.lines if "STOMP connected" in line) >= connects + 6 or None,
          "every login reconnected", deadline=120)
    until(lambda: len(world.b_orders()) == 6 or None, "the orders placed during the outage on B", deadline=60)
    for b_order in [o["uuid"] for o in world.b_orders() if o["state"] != "done"]:
        world.b_done(b_order)
    for uuid in before + during:
        until(lambda u=uuid: a_state(world, u) == "done", f"A order {uuid} done", deadline=60)  # type: ignore[misc]
    assert len(world.b_orders()) == 6  # none twice
    assert running.process.poll() is None


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


def test_poison_and_duplicated_frames_among_valid_events(world: World, admin: httpx.Client,
                                                         started: list[Running]) -> None:
    running = start(world, started, world.event_config(periods=HOUR))
    on_events(running)
    vhost = world.fed.a.agent_uuid.replace("-", "")
    queues = admin.get(f"/api/queues/{quote(vhost, safe='')}").json()
    [order_queue] = [q["name"] for q in queues if q["name"].endswith("_order")]
    publish = f"/api/exchanges/{quote(vhost, safe='')}/amq.default/publish"
    junk = ["not json", "[1, 2]", json.dumps({"order_uuid": 7}), json.dumps({"offering_uuid": "zz"}), "\u00ff" * 10]

    orders = []
    for n in range(1000):
        body = junk[n % len(junk)]
        sent = admin.post(publish, json={"properties": {}, "routing_key": order_queue, "payload": body,
                                         "payload_encoding": "string"})
        assert sent.json()["routed"], sent.text
        if n % 100 == 0:
            orders.append(world.order({"node_hours": 1}, name=f"among-{n}"))
            duplicate = json.dumps({"offering_uuid": world.fed.a.offering_uuid.replace("-", ""),
                                    "order_uuid": orders[-1], "order_state": "pending-provider"})
            for _ in range(2):  # the same event twice more
                admin.post(publish, json={"properties": {}, "routing_key": order_queue, "payload": duplicate,
                                          "payload_encoding": "string"})

    until(lambda: len(world.b_orders()) == len(orders) or None, "a B order per A order", deadline=60)
    for b_order in [o["uuid"] for o in world.b_orders()]:
        world.b_done(b_order)
    for uuid in orders:
        until(lambda u=uuid: a_state(world, u) == "done", f"A order {uuid} done")  # type: ignore[misc]
    assert len(world.b_orders()) == len(orders)
    until(lambda: admin.get(f"/api/queues/{quote(vhost, safe='')}/{quote(order_queue, safe='')}").json()
          .get("messages") == 0, "the order queue drained", deadline=60)
    malformed = [line for line in running.lines if "malformed" in line]
    assert 5 <= len(malformed) <= 25  # logged, thinned: 1000 frames do not make 1000 lines
    assert running.process.poll() is None


def test_b_down_at_start_serves_b_by_polling_then_joins_events_when_b_answers(world: World,
                                                                              started: list[Running]) -> None:
    world.b.add_fault(FaultRule(path="^/api/(?!emulator/)", kind="error", status=503))
    periods = {**HOUR, "order_process": 0.05}
    running = start(world, started, world.event_config(periods=periods))
    on_events(running, "A")
    until(lambda: running.saw("B offering") and any(" B offering" in line and "polling, not on events" in line
                                                    for line in list(running.lines)), "B said to be polling")
    order = world.order({"node_hours": 1})  # served meanwhile: A's event, then B as soon as it answers
    world.b.clear_faults()
    on_events(running, "B")  # the registration retried with backoff (2, 4, 8 s ...)
    b_order = b_order_for(world, set(), deadline=30)
    world.b_done(b_order)
    until(lambda: a_state(world, order) == "done", "the A order done")
    assert len(world.b_orders()) == 1
    assert a_state(world, order) != "erred"


def test_after_a_token_rotation_the_refused_login_gets_a_new_subscription_and_events_flow(
    world: World, started: list[Running]
) -> None:
    first = start(world, started, world.event_config(periods=HOUR))
    on_events(first, "A")
    code, err = stop_and_wait(first)
    assert code == 0, err[-2000:]
    # The operator rotates fedcore's token on A; Waldur keeps the old one as the subscriptions' broker password.
    rotated = world.staff_a.post(f"/api/users/{world.fed.a.agent_uuid}/refresh_token/").json()["token"]
    config = world.event_config(periods=HOUR)
    config["offerings"][0]["waldur_api_token"] = rotated
    second = start(world, started, config)
    until(lambda: second.saw("refused 3 times (a rotated token?)"), "the refused login noticed", deadline=60)
    on_events(second, "A")
    order = world.order({"node_hours": 1})
    b_order = b_order_for(world, set())  # submitted on A's order event: the new login consumes
    world.b_done(b_order)
    until(lambda: a_state(world, order) == "done", "the A order done")
    code, err = stop_and_wait(second)
    assert code == 0, err[-2000:]
    assert rotated not in err
