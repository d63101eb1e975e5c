"""Seed 001 (the federation e2e test plan), tests 1 to 4 and its known issues, end to end.

fedcore is driven only through its command line (``fedcore validate``, ``fedcore run -m order_process --once`` for
each processor cycle, ``fedcore run -m event_process`` as a daemon for the event test) and both Waldurs only
through their REST APIs (orders placed on A as a user would; B's service provider played with
``approve_by_provider`` and ``set_state_done``). The federation is a *site* (``seed001_kit``): two emulated
Waldurs over HTTP by default, or the real ones of the seed's environment (``WALDUR_E2E_TESTS=1``,
``WALDUR_E2E_CONFIG``, ``WALDUR_E2E_PROJECT_A_UUID``); what needs staff powers is skipped live, saying so.

| Seed 001 | Test |
| --- | --- |
| Test 1, processor initialisation | ``test_1_validate_checks_connectivity_and_an_idle_pass_exits_0`` |
| Test 2, Create order | ``test_2_create_converts_limits_and_links_the_b_resource_on_a_only`` |
| Test 3, Update limits | ``test_3_update_reaches_b_with_converted_limits`` |
| Test 4, Terminate | ``test_4_terminate_ends_both_resources_not_ok`` |
| Test 5, STOMP logins on A | ``test_event_mode::test_one_login_per_type_on_a_and_the_target_login_on_b`` |
| Test 6, STOMP login on B | ``test_event_mode::test_one_login_per_type_on_a_and_the_target_login_on_b`` |
| Tests 7 and 7b, order event flow | ``test_event_mode::test_create_update_and_terminate_flow_on_events_alone`` |
| Test 8, fallback, no target STOMP | ``test_event_mode::test_without_target_stomp_b_completion_is_found_by_polling`` |
| Known issue 1, ``set_state_done`` 500 | ``test_known_issue_1_set_state_done_500_after_commit_leaves_the_order_done`` |
| Known issue 2, shadow resources | ``test_known_issue_2_shadow_update_and_terminate_reach_the_right_b_resource`` |
| Known issue 3, no target STOMP | as Test 8 |
| Known issue 4, STOMP reconnections | ``test_known_issue_4_killed_stomp_connections_lose_no_order_event`` |

Tests 2 to 4 share one federation and run in order, as the seed's do (Test 3 and 4 depend on Test 2's resource).
Where these differ from the seed: known issue 1 is the emulator's ``apply_then_fail`` on A's ``set_state_done``
(committed, then 500), and the order must end *done* (the seed only tolerated erred); known issue 2's shadows are
made with the emulator's admin API (it has no shadow of its own), beside resources federated the same way; known
issue 4 closes fedcore's connections through RabbitMQ's management API instead of waiting for heartbeat drops, and
checks orders (every one done, once), not individual frames. Tests 5 to 8 (``test_event_mode``) run emulated only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from run_world import Fedcore, Running, World, until
from seed001_kit import (
    MANAGEMENT,
    NEEDS_STAFF,
    EmulatedSite,
    Site,
    bare,
    expected_b_limits,
    fedcore_connections,
    kill_connections,
    live_requested,
    same_limits,
    site_from_environment,
)

pytestmark = pytest.mark.e2e

HOUR = {"order_process": 60, "membership_sync": 60, "report": 60, "username_sync": 60}
emulated_only = pytest.mark.skipif(live_requested(), reason=NEEDS_STAFF)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The federation tests 1 to 4 share (live or emulated)."""
    worlds: list[World] = []

    def make_world() -> World:
        worlds.append(World(tmp_path_factory.mktemp("seed001")))
        return worlds[-1]

    made = site_from_environment(make_world)
    if isinstance(made, EmulatedSite):
        made.guard_b_backend_ids()  # seed 001's key design rule: fedcore never sets backend_id on B
    yield made
    made.close()
    for world in worlds:
        world.close()


@pytest.fixture
def emulated(tmp_path: Path) -> Iterator[EmulatedSite]:
    """A fresh emulated federation of its own (for tests that inject faults or make shadows)."""
    world = World(tmp_path)
    made = EmulatedSite(world)
    yield made
    made.close()
    world.close()


class Chain:
    """What Test 2 leaves for Tests 3 and 4 (the seed's ``resource_uuid_a`` and ``resource_uuid_b``)."""

    a_resource: str = ""
    b_resource: str = ""
    b_backend_id: str = ""


# --- Tests 1 to 4: REST polling mode -------------------------------------------------------------------------


def test_1_validate_checks_connectivity_and_an_idle_pass_exits_0(site: Site) -> None:
    validate, once = Fedcore().run_all(["validate", "-c", site.config_path, "--check-connectivity"],
                                       ["run", "-c", site.config_path, "--once"], timeout=120)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert ", 0 fail, 0 unreachable" in validate.stdout
    assert once.returncode == 0, once.stderr[-3000:]
    assert "one pass done: exit code 0" in once.stderr
    if not site.live:  # an idle federation: the pass made nothing
        assert "0 open order(s)" in once.stderr
        assert site.b.get("/api/marketplace-orders/").json() == []


def test_2_create_converts_limits_and_links_the_b_resource_on_a_only(site: Site) -> None:
    limits = site.small_limits()
    order = site.create(limits, "seed001-create")
    passes = site.drive(order)
    a_order = site.a_order(order)
    assert a_order["state"] == "done", a_order.get("error_message")
    if not site.live:
        assert len(passes) == 2  # cycle 1 submits on B, cycle 2 sees B done: nothing waits on B in a cycle

    resource = site.a_resource(str(a_order["marketplace_resource_uuid"]))
    assert resource["state"] == "OK"
    b_uuid = bare(str(resource["backend_id"]))
    assert b_uuid, "the A resource has a backend_id"
    b_resource = site.b_resource(b_uuid)
    assert b_resource is not None, f"no resource on B at A's backend_id {b_uuid}"
    assert bare(str(b_resource["uuid"])) == b_uuid
    assert b_resource["offering_uuid"] == bare(site.offering["backend_settings"]["target_offering_uuid"])
    assert same_limits(b_resource["limits"], expected_b_limits(site.components, limits)), b_resource["limits"]
    b_order = site.b_order(str(site.b_order_of(order)))
    assert b_order["marketplace_resource_uuid"] == b_resource["uuid"]
    assert same_limits(b_order["limits"], expected_b_limits(site.components, limits))
    if not site.live:
        assert b_order["limits"] == {"cpu_k_hours": 256, "mem_gb_hours": 1024, "storage": 2}  # the sandbox's factors
        assert b_resource["backend_id"] == ""  # fedcore never sets it on B ...
        assert isinstance(site, EmulatedSite)
        assert site.faults_injected("B") == 0
    else:  # B's own provider may set it; it is never fedcore's link back to A
        assert bare(str(b_resource["backend_id"] or "")) not in (bare(resource["uuid"]), bare(order))
    Chain.a_resource, Chain.b_resource = str(resource["uuid"]), b_uuid
    Chain.b_backend_id = str(b_resource["backend_id"] or "")


def test_3_update_reaches_b_with_converted_limits(site: Site) -> None:
    if not Chain.a_resource:
        pytest.skip("needs Test 2's resource")
    limits = site.small_limits(3)
    order = site.update_limits(Chain.a_resource, limits)
    site.drive(order)
    assert site.a_order(order)["state"] == "done", site.a_order(order).get("error_message")
    b_order_uuid = site.b_order_of(order)
    assert b_order_uuid is not None
    b_order = site.b_order(b_order_uuid)
    assert b_order["type"] == "Update"
    assert bare(b_order["marketplace_resource_uuid"]) == Chain.b_resource
    expected = expected_b_limits(site.components, limits)
    b_resource = site.b_resource(Chain.b_resource)
    assert b_resource is not None
    assert same_limits(b_resource["limits"], expected), b_resource["limits"]
    assert bare(str(site.a_resource(Chain.a_resource)["backend_id"])) == Chain.b_resource  # the link holds
    assert str(b_resource["backend_id"] or "") == Chain.b_backend_id  # untouched by fedcore
    if not site.live:
        assert b_order["limits"] == {"cpu_k_hours": 384, "mem_gb_hours": 1536, "storage": 3}
        assert isinstance(site, EmulatedSite)
        assert site.faults_injected("B") == 0


def test_4_terminate_ends_both_resources_not_ok(site: Site) -> None:
    if not Chain.a_resource:
        pytest.skip("needs Test 2's resource")
    order = site.terminate(Chain.a_resource)
    site.drive(order)
    assert site.a_order(order)["state"] == "done", site.a_order(order).get("error_message")
    b_order_uuid = site.b_order_of(order)
    assert b_order_uuid is not None
    assert site.b_order(b_order_uuid)["type"] == "Terminate"
    assert site.a_resource(Chain.a_resource)["state"] != "OK"
    b_resource = site.b_resource(Chain.b_resource)
    assert b_resource is None or b_resource["state"] != "OK"
    if not site.live:
        assert site.a_resource(Chain.a_resource)["state"] == "Terminated"
        assert b_resource is not None
        assert b_resource["state"] == "Terminated"
        assert b_resource["backend_id"] == ""
        assert isinstance(site, EmulatedSite)
        assert site.faults_injected("B") == 0
        assert len(site.b.get("/api/marketplace-orders/").json()) == 3  # Create, Update, Terminate: none twice


# --- Known issues ------------------------------------------------------------------------------------------------


@emulated_only
def test_known_issue_1_set_state_done_500_after_commit_leaves_the_order_done(emulated: EmulatedSite) -> None:
    order = emulated.create({"node_hours": 1}, "seed001-ki1")
    first = emulated.order_pass()
    assert first.returncode == 0, first.stderr[-3000:]
    b_order = emulated.b_order_of(order)
    assert b_order is not None
    emulated.provider_step(b_order)
    # A commits set_state_done and answers 500 (the emulator's apply_then_fail), once; any later try of
    # set_state_done or set_state_erred on A is refused (503) and counted.
    done = f"^/api/marketplace-orders/{order}/set_state_done/$"
    emulated.add_fault("A", path=done, method="POST", kind="apply_then_fail", times=1)
    for action in ("set_state_done", "set_state_erred"):
        emulated.add_fault("A", path=f"^/api/marketplace-orders/{order}/{action}/$", method="POST",
                           kind="error", status=503)

    second = emulated.order_pass()
    assert second.returncode in (0, 1), second.stderr[-3000:]  # 1: the 500 counts as a transient failure
    assert emulated.faults_injected("A") == 1, second.stderr[-3000:]  # the 500, and no other write to the order
    shown = emulated.a_order(order)
    assert shown["state"] == "done"  # not erred: fedcore never answered the 500 with set_state_erred
    assert shown["error_message"] == ""
    assert "order failed" not in second.stderr
    assert emulated.a_resource(shown["marketplace_resource_uuid"])["state"] == "OK"
    [b_shown] = emulated.b.get("/api/marketplace-orders/").json()
    assert b_shown["state"] == "done"


@emulated_only
def test_known_issue_2_shadow_update_and_terminate_reach_the_right_b_resource(emulated: EmulatedSite) -> None:
    # Two A projects, each with one federated resource (as Waldur's own tests make them: directly; the first
    # linked with a hyphenated UUID, as the existing agent writes it), so both shadows travel in the same passes.
    projects = emulated.project_uuid, emulated.project("Chemistry")
    real, b_real = zip(*(emulated.federated_pair(project, {"node_hours": 1}, f"seed001-ki2-{n}", hyphenated=n == 0)
                         for n, project in enumerate(projects)), strict=True)
    # Waldur points the orders at shadows: same offering, plan and project, empty name and backend_id.
    shadows = [emulated.shadow_of(r, {"node_hours": 1}) for r in real]
    update = emulated.update_limits(shadows[0], {"node_hours": 5})
    terminate = emulated.terminate(shadows[1])
    for order, shadow in ((update, shadows[0]), (terminate, shadows[1])):
        shown = emulated.a_order(order)
        assert shown["marketplace_resource_uuid"] == shadow
        assert shown["resource_name"] == ""
        assert emulated.a_resource(shadow)["backend_id"] == ""

    passes = emulated.drive(update, terminate)
    assert len(passes) == 2
    for order in (update, terminate):
        assert emulated.a_order(order)["state"] == "done", emulated.a_order(order)["error_message"]
    b_update = emulated.b_order(str(emulated.b_order_of(update)))
    b_terminate = emulated.b_order(str(emulated.b_order_of(terminate)))
    assert (b_update["type"], b_update["marketplace_resource_uuid"]) == ("Update", b_real[0])
    assert (b_terminate["type"], b_terminate["marketplace_resource_uuid"]) == ("Terminate", b_real[1])
    updated, terminated = (emulated.b_resource(b) for b in b_real)
    assert updated is not None
    assert updated["limits"] == {"cpu_k_hours": 640, "mem_gb_hours": 2560}
    assert updated["state"] == "OK"
    assert terminated is not None
    assert terminated["state"] == "Terminated"
    assert len(emulated.b.get("/api/marketplace-orders/").json()) == 2  # nothing else reached B


def at_least(names: list[str], count: int) -> list[str] | None:
    return names if len(names) >= count else None


def stomp_connects(running: Running) -> int:
    """How many STOMP logins the daemon has made so far."""
    return sum(1 for line in list(running.lines) if "STOMP connected" in line)


@pytest.fixture
def admin() -> Iterator[httpx.Client]:
    with httpx.Client(base_url=MANAGEMENT, auth=("guest", "guest"), timeout=10) as client:
        yield client


@emulated_only
@pytest.mark.broker
def test_known_issue_4_killed_stomp_connections_lose_no_order_event(tmp_path: Path, admin: httpx.Client) -> None:
    # Every pass period is an hour: after the first passes, only events (and the catch-up pass after each
    # connect) move the orders, so an event lost in a reconnection would leave its order behind.
    world = World(tmp_path, events=True)
    site = EmulatedSite(world, world.event_config(periods=HOUR))
    running = Running(Fedcore().start("run", "-c", site.config_path, "-m", "event_process",
                                      "--event-watch-seconds", "1"))
    try:
        for side in "AB":
            until(lambda s=side: any(f" {s} offering" in line and ": on events" in line  # type: ignore[misc]
                                     for line in list(running.lines)), f"{side} on events", deadline=30)
        connected = stomp_connects(running)
        before = [site.create({"node_hours": 1}, f"before-{n}") for n in range(3)]
        names = until(lambda: at_least(fedcore_connections(admin, world), connected),
                      f"fedcore's {connected} connections listed by the management API", deadline=30)
        until(lambda: len(site.b.get("/api/marketplace-orders/").json()) == 3 or None, "three B orders")
        kill_connections(admin, names)  # amid orders: B's provider and A's users act while fedcore reconnects
        for b_order in [o["uuid"] for o in site.b.get("/api/marketplace-orders/").json()]:
            site.provider_step(b_order)
        during = [site.create({"node_hours": 1}, f"during-{n}") for n in range(3)]
        try:
            until(lambda: stomp_connects(running) >= connected + len(names) or None,
                  f"{len(names)} killed connection(s) reconnected", deadline=60)
        except AssertionError as exc:
            raise AssertionError(f"{exc}:\n{''.join(line for line in running.lines if 'STOMP' in line)}") from exc
        until(lambda: len(site.b.get("/api/marketplace-orders/").json()) == 6 or None, "six B orders", 30)
        for b_order in [o["uuid"] for o in site.b.get("/api/marketplace-orders/").json()]:
            site.provider_step(b_order)
        for order in before + during:
            until(lambda o=order: site.a_order(o)["state"] == "done", f"A order {order} done")  # type: ignore[misc]
        b_orders: list[dict[str, Any]] = site.b.get("/api/marketplace-orders/").json()
        assert len(b_orders) == 6  # every order done once: none twice on B
        assert all(o["state"] == "done" for o in b_orders)
        assert running.process.poll() is None
        assert json.dumps(running.lines).count("reconnecting") >= 1
    finally:
        running.kill()
        site.close()
        world.close()
