"""Seed 000, Suites 1 and 3 (username sync B to A), end to end: two emulated Waldurs over real HTTP, ``fedcore``
as a real process, nothing but the emulators' REST APIs and fedcore's command line.

Seed 000 ran its agent functions inside the test on one Waldur; here fedcore is the agent, between Waldur A
(offering A, user_a = fedcore's agent user on A, OFFERING.MANAGER of offering A) and Waldur B (offering B,
user_b = fedcore's agent user on B, CUSTOMER.OWNER of a non-provider organisation and ISD identity manager of the
federation's ISD). Each side's service provider acts through its own token (an owner of the provider
organisation). The subject is a user of A whose username is its CUID; fedcore's ``membership_sync`` pushes it to
B through the identity bridge, so B's record of it has the same ``user_username`` and pairs with A's.

Seed test → test here (Suite 2 is tests/e2e/test_seed000_routing.py):

Suite 1, TestUsernameSyncIntegration → class TestUsernameSyncIntegration

- test_01 Environment Setup and Token Verification → test_suite1_01_environment_setup_and_token_verification
- test_02 Verify Offering Users Auto-Created → test_suite1_02_offering_users_auto_created
- test_03 Set Target Username on B → test_suite1_03_set_target_username_on_b
- test_04 Sync Usernames (B → A) → test_suite1_04_sync_usernames_b_to_a
- test_05 Idempotent Second Sync → test_suite1_05_idempotent_second_sync
- test_06 Cleanup → test_suite1_06_cleanup

Suite 2, TestIdentityManagerEventRouting → test_seed000_routing.py, class TestIdentityManagerEventRouting

- test_01 Verify Prerequisites → test_01_prerequisites
- test_02 Setup STOMP Subscriptions → test_02_setup_stomp_subscriptions
- test_03 Trigger and Verify Events → test_03_trigger_and_verify_events
- test_04 Verify Events After Clearing ISDs → test_04_no_events_for_identity_manager_after_clearing_isds
- test_05 Cleanup → test_05_cleanup

Suite 3, TestPeriodicReconciliationIntegration → class TestPeriodicReconciliationIntegration

- test_01 Verify Prerequisites (Suite 3) → test_suite3_01_verify_prerequisites
- test_02 Create Offering Users (Suite 3) → test_suite3_02_create_offering_users
- test_03 Set Target Username (Suite 3) → test_suite3_03_set_target_username
- test_04 Run Periodic Reconciliation → test_suite3_04_run_periodic_reconciliation
- test_05 Idempotent Second Reconciliation → test_suite3_05_idempotent_second_reconciliation
- test_06 Skips Non-qualifying Offering → test_suite3_06_skips_non_qualifying_offering
- test_07 Cleanup → test_suite3_07_cleanup

Beyond the seed: the B offering_user event path (a username set on B reaches A within seconds while every
pass period is an hour) → test_event_username_set_on_b_reaches_a_within_seconds

Where this differs from the seed, and why:

- Seed 000's ``sync_offering_user_usernames()`` / ``run_periodic_username_reconciliation()`` are one agent
  function called in-process; fedcore's equivalent is its ``username_sync`` mode, so both Suite 1's sync and
  Suite 3's reconciliation are ``fedcore run --once -m username_sync`` (the periodic job's one pass).
- Seed 000 created resources with the Django ORM and called ``create_or_restore_offering_users_for_user`` from a
  shell. Here the resources come from a real federated order (placed on A by the consumer, carried to B by
  ``fedcore run --once -m order_process``, completed by B's provider, brought back by a second pass), and offering
  users appear through the emulator's ``role_granted`` handler: on A when the subject is added to the project, on
  B when fedcore's ``membership_sync`` grants it the mirrored role.
- "Qualifying" (Suite 3 test_06): seed 000 says reconciliation skips offerings without ``stomp_enabled`` or
  ``membership_sync_backend``; the agent's code skips offerings without ``username_reconciliation_enabled``, and
  so does fedcore (its ``username_sync`` mode serves exactly those). The non-qualifying offering here has all
  three off; a control run with reconciliation and membership sync on shows it is then reconciled. STOMP stays
  off in both: fedcore's reconciliation is a polling mode of its own, not a side job of event mode as in the
  agent, so the seed's "without stomp_enabled" has no counterpart here (the federation's own offering, reconciled
  in test_04, polls too).
- No PATCH in an idempotent run is proven by a tripwire: every write to either Waldur is refused and counted, and
  the count stays 0 while the run exits 0 and reports "0 username(s) copied".
- Cleanup deletes the offering users through REST; the rest of each environment is in-memory and goes with the
  emulators when the suite's (class-scoped) fixture stops them.
"""

from __future__ import annotations

import secrets
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from run_world import Fedcore, Running, until
from seed000_kit import HOUR, UsernameWorld

pytestmark = [pytest.mark.e2e]

EVENT_DEADLINE = 5.0
"""Seconds a username set on B may take to reach A through events (every pass period is an hour)."""


@pytest.fixture(scope="class")
def suite1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UsernameWorld]:
    built = UsernameWorld(tmp_path_factory.mktemp("seed000-suite1"))
    yield built
    built.close()


@pytest.fixture(scope="class")
def suite3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UsernameWorld]:
    built = UsernameWorld(tmp_path_factory.mktemp("seed000-suite3"))
    yield built
    built.close()


def _verify_tokens(env: UsernameWorld) -> None:
    """user_a and user_b (fedcore's agent users) answer as themselves, with the rights seed 000 gives them."""
    fed = env.world.fed
    me_a = env.agent_a.get("/api/users/me/").json()
    me_b = env.agent_b.get("/api/users/me/").json()
    assert me_a["uuid"] == fed.a.agent_uuid
    assert me_b["uuid"] == fed.b.agent_uuid
    assert (me_b["is_identity_manager"], me_b["managed_isds"]) == (True, [fed.isd_source])
    roles = env.world.staff_a.get(f"/api/marketplace-provider-offerings/{fed.a.offering_uuid}/list_users/")
    assert roles.status_code == 200, roles.text
    assert any(r.get("user_uuid") == fed.a.agent_uuid and r.get("role_name") == "OFFERING.MANAGER"
               for r in roles.json())
    for client, offering in ((env.agent_a, fed.a.offering_uuid), (env.agent_b, fed.b.offering_uuid)):
        answer = client.get("/api/marketplace-offering-users/", params={"offering_uuid": offering})
        assert answer.status_code == 200, answer.text


class TestUsernameSyncIntegration:
    """Suite 1: polling username sync B → A, offering users auto-created through a role grant."""

    def test_suite1_01_environment_setup_and_token_verification(self, suite1: UsernameWorld) -> None:
        env, fed = suite1, suite1.world.fed
        _verify_tokens(env)

        def grant() -> None:
            # The role grant on A (role_granted → create_or_restore_offering_users_for_user; the resource is being
            # created, its Create order executing) ...
            env.world.consumer("POST", f"/api/projects/{fed.consumer_project_uuid}/add_user/",
                               json={"user": env.subject.uuid, "role": "PROJECT.MEMBER"})

        # ... and its mirror on B, made by fedcore's membership_sync in the run that brings the order back: the
        # subject pushed through B's identity bridge and granted the role in the B project.
        a_resource, b_resource = env.federated_resource(then=grant, also=("membership_sync",))
        assert env.world.staff_a.get(f"/api/marketplace-resources/{a_resource}/").json()["state"] == "OK"
        assert env.world.staff_b.get(f"/api/marketplace-resources/{b_resource}/").json()["state"] == "OK"
        b_users = env.world.staff_b.get("/api/users/", params={"username": env.cuid}).json()
        assert len(b_users) == 1

    def test_suite1_02_offering_users_auto_created(self, suite1: UsernameWorld) -> None:
        env, steps = suite1, suite1.steps
        a_record = env.wait_offering_user("A")
        assert (a_record["state"], a_record["user_uuid"], a_record["username"] or "") == (
            "Requested", env.subject.uuid, "")
        placeholder = f"placeholder-{secrets.token_hex(4)}"
        assert env.set_username("A", a_record["uuid"], placeholder)["state"] == "OK"
        b_record = env.wait_offering_user("B")
        assert (b_record["state"], b_record["user_username"], b_record["username"] or "") == (
            "Requested", env.cuid, "")
        # Role-based access, as seed 000 checks it: user_a sees A's record, user_b B's (through the ISD overlap).
        assert [r["uuid"] for r in env.offering_users("A", client=env.agent_a)] == [a_record["uuid"]]
        assert [r["uuid"] for r in env.offering_users("B", client=env.agent_b)] == [b_record["uuid"]]
        steps.update(a=a_record["uuid"], b=b_record["uuid"], placeholder=placeholder)

    def test_suite1_03_set_target_username_on_b(self, suite1: UsernameWorld) -> None:
        env, steps = suite1, suite1.steps
        target = f"inttest-sync-{secrets.token_hex(4)}"
        answer = env.set_username("B", steps["b"], target)
        assert (answer["username"], answer["state"]) == (target, "OK")
        assert env.record("A", steps["a"])["username"] == steps["placeholder"]
        steps["target"] = target

    def test_suite1_04_sync_usernames_b_to_a(self, suite1: UsernameWorld) -> None:
        env, steps = suite1, suite1.steps
        log = env.ok("username_sync")
        assert "1 username(s) copied to A" in log, log
        a_record = env.record("A", steps["a"])
        assert (a_record["username"], a_record["state"]) == (steps["target"], "OK")
        assert env.record("B", steps["b"])["username"] == steps["target"]  # B is only read

    def test_suite1_05_idempotent_second_sync(self, suite1: UsernameWorld) -> None:
        env, steps = suite1, suite1.steps
        env.tripwire()
        try:
            log = env.ok("username_sync")
            assert env.writes_refused == 0  # not one PATCH (nor any other write) reached either Waldur
        finally:
            env.clear_tripwire()
        assert "0 username(s) copied to A" in log, log
        assert env.record("A", steps["a"])["username"] == steps["target"]

    def test_suite1_06_cleanup(self, suite1: UsernameWorld) -> None:
        env, steps = suite1, suite1.steps
        for side, provider, staff in (("A", env.sp_a, env.world.staff_a), ("B", env.sp_b, env.world.staff_b)):
            uuid = steps[side.lower()]
            assert provider.delete(f"/api/marketplace-offering-users/{uuid}/").status_code == 204
            assert staff.get(f"/api/marketplace-offering-users/{uuid}/").status_code == 404
            assert env.offering_users(side) == []


def _with_second(env: UsernameWorld, a_offering: str, b_offering: str, *, qualifying: bool) -> dict[str, Any]:
    """The federation's offering plus a second one ("Second cluster"). Not ``qualifying``: no
    ``username_reconciliation_enabled``, no ``membership_sync_backend``, no ``stomp_enabled`` (seed 000's reasons
    to skip, and the agent's). ``qualifying``: reconciliation and membership sync on, as the federation's offering
    (which polls, without STOMP, as every ``--once`` run here does)."""
    data = env.config()
    first = data["offerings"][0]
    second = {**first, "name": "Second cluster", "waldur_offering_uuid": a_offering,
              "backend_settings": {**first["backend_settings"], "target_offering_uuid": b_offering}}
    second.pop("reporting_backend")
    if not qualifying:
        second.pop("membership_sync_backend")
    second.update(username_reconciliation_enabled=qualifying, stomp_enabled=False)
    data["offerings"].append(second)
    return data


class TestPeriodicReconciliationIntegration:
    """Suite 3: the periodic reconciliation (``username_sync``), idempotent, skipping offerings that do not qualify."""

    def test_suite3_01_verify_prerequisites(self, suite3: UsernameWorld) -> None:
        env, fed = suite3, suite3.world.fed
        _verify_tokens(env)
        # The subject on B, as seed 000 pushes it (POST /api/identity-bridge/), under the federation's ISD.
        pushed = env.seed_b.bridge(env.cuid, fed.isd_source, first_name="Subject", last_name="User")
        env.steps["b_user"] = pushed["uuid"]

    def test_suite3_02_create_offering_users(self, suite3: UsernameWorld) -> None:
        env, steps, fed = suite3, suite3.steps, suite3.world.fed
        a_record = env.create_offering_user("A", env.subject.uuid, fed.a.offering_uuid)
        b_record = env.create_offering_user("B", steps["b_user"], fed.b.offering_uuid)
        assert a_record["state"] == b_record["state"] == "Requested"
        placeholder = f"placeholder-{secrets.token_hex(4)}"
        env.set_username("A", a_record["uuid"], placeholder)
        steps.update(a=a_record["uuid"], b=b_record["uuid"], placeholder=placeholder)

    def test_suite3_03_set_target_username(self, suite3: UsernameWorld) -> None:
        env, steps = suite3, suite3.steps
        target = f"reconcile-{secrets.token_hex(4)}"
        assert env.set_username("B", steps["b"], target)["state"] == "OK"
        steps["target"] = target

    def test_suite3_04_run_periodic_reconciliation(self, suite3: UsernameWorld) -> None:
        env, steps = suite3, suite3.steps
        log = env.ok("username_sync")
        assert "1 username(s) copied to A" in log, log
        a_record = env.record("A", steps["a"])
        assert (a_record["username"], a_record["state"]) == (steps["target"], "OK")

    def test_suite3_05_idempotent_second_reconciliation(self, suite3: UsernameWorld) -> None:
        env, steps = suite3, suite3.steps
        env.tripwire()
        try:
            log = env.ok("username_sync")
            assert env.writes_refused == 0
        finally:
            env.clear_tripwire()
        assert "0 username(s) copied to A" in log, log
        assert env.record("A", steps["a"])["username"] == steps["target"]

    def test_suite3_06_skips_non_qualifying_offering(self, suite3: UsernameWorld) -> None:
        env, steps = suite3, suite3.steps
        a_offering, b_offering = env.extra_offerings("Second cluster")
        a_record = env.create_offering_user("A", env.subject.uuid, a_offering.uuid)
        b_record = env.create_offering_user("B", steps["b_user"], b_offering.uuid)
        placeholder, target = f"placeholder-{secrets.token_hex(4)}", f"skipped-{secrets.token_hex(4)}"
        env.set_username("A", a_record["uuid"], placeholder)
        env.set_username("B", b_record["uuid"], target)
        steps.update(a2=a_record["uuid"], b2=b_record["uuid"])

        env.tripwire()
        try:
            log = env.ok("username_sync", config=_with_second(env, a_offering.uuid, b_offering.uuid,
                                                              qualifying=False))
            assert env.writes_refused == 0  # the second offering's usernames differ, and still nothing was written
        finally:
            env.clear_tripwire()
        assert "fedcore serving 1 offering(s) (HPC via Waldur B) in username_sync" in log, log
        assert "0 username(s) copied to A" in log, log
        assert "Second cluster" not in log, log
        assert env.record("A", a_record["uuid"])["username"] == placeholder

        # The control: the same offering, qualifying, is reconciled (so the skip above was the configuration's).
        log = env.ok("username_sync", config=_with_second(env, a_offering.uuid, b_offering.uuid, qualifying=True))
        assert "fedcore serving 2 offering(s)" in log, log
        assert "1 username(s) copied to A [offering='Second cluster'" in log, log
        assert env.record("A", a_record["uuid"])["username"] == target

    def test_suite3_07_cleanup(self, suite3: UsernameWorld) -> None:
        env, steps = suite3, suite3.steps
        for key in ("a", "b", "a2", "b2"):
            provider, staff = (env.sp_a, env.world.staff_a) if key.startswith("a") else (env.sp_b, env.world.staff_b)
            assert provider.delete(f"/api/marketplace-offering-users/{steps[key]}/").status_code == 204
            assert staff.get(f"/api/marketplace-offering-users/{steps[key]}/").status_code == 404


def on_events(running: Running) -> None:
    """Wait until fedcore says both offerings' sides are on events (the tail of its log if it does not)."""
    for side in "AB":
        try:
            until(lambda s=side: any(f" {s} offering" in line and ": on events" in line  # type: ignore[misc]
                                     for line in list(running.lines)), f"{side} on events", deadline=30)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; fedcore's log ends:\n{''.join(running.lines[-30:])}") from None


@pytest.mark.broker
def test_event_username_set_on_b_reaches_a_within_seconds(tmp_path: Path) -> None:
    """The B offering_user event path: with ``fedcore run -m event_process`` on events on both sides and every pass
    period an hour, a username B's provider sets reaches A's offering user within seconds."""
    env = UsernameWorld(tmp_path, events=True)
    running: Running | None = None
    try:
        fed = env.world.fed
        path = env.world.write_config(env.world.event_config(periods=HOUR), "events.yaml")
        running = Running(Fedcore().start("run", "-c", path, "-m", "event_process", "--event-watch-seconds", "1",
                                          "--log-level", "debug"))
        on_events(running)
        # A federated resource, then the subject joins the project on A: the rest is fedcore's events.
        order = env.world.order({"node_hours": 1}, name="events")
        b_order = until(lambda: next((o["uuid"] for o in env.world.b_orders()), None), "the B order")
        for action in ("approve_by_provider", "set_state_done"):
            assert env.sp_b.post(f"/api/marketplace-orders/{b_order}/{action}/").status_code == 200
        until(lambda: env.world.a_order(order)["state"] == "done", "the A order done")
        env.world.consumer("POST", f"/api/projects/{fed.consumer_project_uuid}/add_user/",
                           json={"user": env.subject.uuid, "role": "PROJECT.MEMBER"})
        a_record = env.wait_offering_user("A")
        b_record = env.wait_offering_user("B")  # fedcore mirrored the role on B; B created the offering user
        # A's own offering_user event (the record's creation) is behind fedcore before B's provider acts, so the
        # username can only reach A through B's event.
        until(lambda: running is not None and running.saw("A offering_user event handled"),
              "A's offering_user event handled")

        target = f"event-{secrets.token_hex(4)}"
        set_at = time.monotonic()
        env.set_username("B", b_record["uuid"], target)
        until(lambda: env.record("A", a_record["uuid"])["username"] == target, "the username on A",
              deadline=EVENT_DEADLINE)
        took = time.monotonic() - set_at
        assert env.record("A", a_record["uuid"])["state"] == "OK"
        assert took < EVENT_DEADLINE

        running.signal(signal.SIGTERM)
        code, err = running.wait(30)
        running = None
        assert code == 0, err[-3000:]
        # The patch is the B offering_user event's (its handler logs at debug; no username_sync pass is due).
        assert f"B offering_user event handled: username of {env.cuid}: 1 patch(es)" in err, err[-3000:]
        for token in env.world.tokens:
            assert token not in err
    finally:
        if running is not None:
            running.kill()
        env.close()
