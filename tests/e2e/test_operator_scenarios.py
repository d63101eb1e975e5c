"""The scenarios a federation operator expects, end to end: fedcore driven only through ``fedcore run --once`` and
the two emulated Waldurs driven only through their REST APIs (issue 10, "Also: ...").

Each test builds its own federation (:func:`operator_kit.operator`): A's users are added and removed by the
consumer project's owner, B's service provider acts with its own token, and fedcore's passes are separate
``fedcore run --once -m MODE`` processes, as cron or an operator would start them. Every test asserts the end
state on both Waldurs and the exit code ``docs/running.md`` documents. Where several federations are needed
(the user resolution methods), they are built side by side and fedcore runs against them at the same time, to
keep the module short on two cores.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path

import pytest
from operator_kit import MEMBERSHIP, ORDERS, REPORT, USERNAMES, Operator, ok, operator

from runners.exitcodes import ExitCode

pytestmark = pytest.mark.e2e

LIMITS = {"node_hours": 2, "storage": 1}
"""A Create order's limits on A; B gets node_hours x 128 cpu_k_hours and x 512 mem_gb_hours, storage as is."""

NOT_BRIDGE = {"user_resolve_method": None, "identity_bridge_source": None}


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Operator]:
    with operator(tmp_path) as made:
        yield made


# --- 1. membership sync --------------------------------------------------------------------------------------


def test_a_team_is_mirrored_on_b_with_mapped_roles_and_a_person_who_leaves_is_removed(op: Operator) -> None:
    config = op.write(op.config(role_mapping={"PROJECT.ADMIN": "PROJECT.MANAGER"}))
    carol, bob = op.a_user("carol-1c@eduteams.org"), op.a_user("bob-2b@eduteams.org")
    op.join(carol, "PROJECT.ADMIN")
    pair = op.submit(config, LIMITS)
    op.join(bob, "PROJECT.MEMBER")

    first = op.run(config, MEMBERSHIP)
    assert first.returncode == ExitCode.OK, first.stderr
    assert op.b_members(pair.b_project) == {
        "orderer": "PROJECT.MANAGER",  # PROJECT.ADMIN on A, mapped
        "carol-1c@eduteams.org": "PROJECT.MANAGER",
        "bob-2b@eduteams.org": "PROJECT.MEMBER",  # not in role_mapping: keeps its name
    }
    assert op.a_members() == {"orderer": "PROJECT.ADMIN", "carol-1c@eduteams.org": "PROJECT.ADMIN",
                              "bob-2b@eduteams.org": "PROJECT.MEMBER"}

    op.leave(carol, "PROJECT.ADMIN")
    second = op.run(config, MEMBERSHIP)
    assert second.returncode == ExitCode.OK, second.stderr
    assert "1/1 role change(s) applied, 1 identity release(s)" in second.stderr
    assert op.b_members(pair.b_project) == {"orderer": "PROJECT.MANAGER", "bob-2b@eduteams.org": "PROJECT.MEMBER"}
    assert "carol-1c@eduteams.org" not in op.a_members()
    [carol_on_b] = ok(op.world.staff_b.get("/api/users/", params={"username": "carol-1c@eduteams.org"}))
    assert carol_on_b["is_active"] is False  # released from the bridge source, her only one: deactivated by B


def test_each_user_resolution_method_finds_the_person_on_b(tmp_path: Path) -> None:
    """remote eduTEAMS, and a user field (cuid, email, username): four federations side by side (the identity
    bridge is the sandbox's method, in the test above). People B already has are in a project of the organisation
    fedcore orders under, because Waldur lists only users connected to the caller (see operator_kit)."""
    methods = ("remote_eduteams", "cuid", "email", "username")
    with ExitStack() as stack:
        for method in methods:
            (tmp_path / method).mkdir()
        ops = {m: stack.enter_context(operator(tmp_path / m)) for m in methods}
        for each in ops.values():
            each.drop_orderer_role()  # the organisation's owner orders; the team is the people below
        eduteams, cuid, email, username = (ops[m] for m in methods)
        # remote eduTEAMS knows the CUID; B has never seen the person
        dave = eduteams.a_user("dave-3d@eduteams.org")
        ok(eduteams.world.staff_b.post("/api/emulator/known-cuids/", json={
            "cuid": "dave-3d@eduteams.org", "attributes": {"first_name": "Dave", "email": "dave@uni.example"}}), 201)
        # B already has the person, under the same CUID (B's username), the same e-mail, or the same username
        erin = cuid.a_user("erin-4e@eduteams.org")
        cuid.b_user_known("erin-4e@eduteams.org")
        frank = email.a_user("frank-5f@eduteams.org", email="frank@uni.example")
        email.b_user_known("frank_b", email="Frank@Uni.Example")  # e-mails compare without case
        email.b_user_known("frank_decoy", email="frank@uni.example.net")  # a substring hit, not the person
        grace = username.a_user("grace")
        username.b_user_known("grace")
        for each, person in ((eduteams, dave), (cuid, erin), (email, frank), (username, grace)):
            each.join(person, "PROJECT.MEMBER")
        configs = {
            "remote_eduteams": {**NOT_BRIDGE, "user_resolve_method": "remote_eduteams"},
            "cuid": {**NOT_BRIDGE, "user_resolve_method": "user_field", "user_match_field": "cuid"},
            "email": {**NOT_BRIDGE, "user_resolve_method": "user_field", "user_match_field": "email"},
            "username": {**NOT_BRIDGE, "user_resolve_method": "user_field", "user_match_field": "username"},
        }
        files = {}
        for m in methods:
            data = ops[m].config(**configs[m])
            data["offerings"][0]["username_management_backend"] = "base"
            files[m] = ops[m].write(data, f"{m}.yaml")
        pairs = dict(zip(methods, Operator.submit_all([(ops[m], files[m], LIMITS) for m in methods]), strict=True))
        done = dict(zip(methods, Operator.run_all([(ops[m], files[m], MEMBERSHIP) for m in methods]), strict=True))
        expected = {"remote_eduteams": "dave-3d@eduteams.org", "cuid": "erin-4e@eduteams.org", "email": "frank_b",
                    "username": "grace"}
        for m in methods:
            assert done[m].returncode == ExitCode.OK, f"{m}: {done[m].stderr}"
            assert ops[m].b_members(pairs[m].b_project) == {expected[m]: "PROJECT.MEMBER"}, m
        [made] = ok(eduteams.world.staff_b.get("/api/users/", params={"username": "dave-3d@eduteams.org"}))
        assert (made["registration_method"], made["email"]) == ("eduteams", "dave@uni.example")

        # leaving the A project takes the role on B away under a user field too; the B account is B's own
        cuid.leave(erin, "PROJECT.MEMBER")
        left = cuid.run(files["cuid"], MEMBERSHIP)
        assert left.returncode == ExitCode.OK, left.stderr
        assert cuid.b_members(pairs["cuid"].b_project) == {}
        [erin_on_b] = ok(cuid.world.staff_b.get("/api/users/", params={"username": "erin-4e@eduteams.org"}))
        assert erin_on_b["is_active"] is True  # no identity-bridge release outside the bridge method


def test_a_person_missing_on_b_is_skipped_under_warn_and_fails_the_pass_under_fail(op: Operator) -> None:
    op.drop_orderer_role()
    known, ghost = op.a_user("ivy-6i@eduteams.org"), op.a_user("ghost-7g@eduteams.org")
    op.b_user_known("ivy-6i@eduteams.org")
    op.join(known, "PROJECT.MEMBER")
    op.join(ghost, "PROJECT.MANAGER")
    settings = {**NOT_BRIDGE, "user_resolve_method": "user_field", "user_match_field": "cuid"}
    warn = op.config(**settings, user_not_found_action="warn")
    fail = op.config(**settings, user_not_found_action="fail")
    for data in (warn, fail):
        data["offerings"][0]["username_management_backend"] = "base"
    warn_file, fail_file = op.write(warn, "warn.yaml"), op.write(fail, "fail.yaml")
    pair = op.submit(warn_file, LIMITS)

    warned = op.run(warn_file, MEMBERSHIP)
    assert warned.returncode == ExitCode.OK, warned.stderr
    assert op.b_members(pair.b_project) == {"ivy-6i@eduteams.org": "PROJECT.MEMBER"}
    assert ok(op.world.staff_b.get("/api/users/", params={"username": "ghost-7g@eduteams.org"})) == []

    failed = op.run(fail_file, MEMBERSHIP)
    assert failed.returncode == ExitCode.PARTIAL, failed.stderr
    assert "user ghost-7g@eduteams.org: no B user with this cuid" in failed.stderr
    assert op.b_members(pair.b_project) == {"ivy-6i@eduteams.org": "PROJECT.MEMBER"}
    assert ok(op.world.staff_b.get("/api/users/", params={"username": "ghost-7g@eduteams.org"})) == []

    # docs/configuration.md promises a warning ("skip it with a warning"): the operator learns of the person.
    assert "user ghost-7g@eduteams.org left out of B (user_not_found_action: warn)" in warned.stderr
    assert "1 user(s) not found on B" in warned.stderr


# --- 2. usage ------------------------------------------------------------------------------------------------


def test_usage_reported_on_b_comes_back_to_a_converted_in_total_and_per_user(op: Operator) -> None:
    op.drop_orderer_role()
    alice, bob = op.a_user("alice-8a@eduteams.org"), op.a_user("bob-9b@eduteams.org")
    op.join(alice, "PROJECT.MANAGER")
    op.join(bob, "PROJECT.MEMBER")
    config = op.write(op.config())
    pair = op.federate(config, LIMITS, with_modes=(MEMBERSHIP,))
    names = {"alice-8a@eduteams.org": "hpc_alice", "bob-9b@eduteams.org": "hpc_bob"}
    for cuid, name in names.items():  # B's provider names the accounts
        record = op.until_b_offering_user(cuid)
        op.provider("PATCH", f"/api/marketplace-offering-users/{record['uuid']}/", {"username": name})
    synced = op.run(config, USERNAMES)
    assert synced.returncode == ExitCode.OK, synced.stderr
    assert {u["user_username"]: u["username"] for u in op.a_offering_users()} == names

    today = dt.datetime.now(dt.UTC).date()
    op.provider("POST", "/api/marketplace-component-usages/set_usage/", {
        "resource": pair.b_resource,
        "usages": [{"type": "cpu_k_hours", "amount": "768"}, {"type": "mem_gb_hours", "amount": "2560"},
                   {"type": "storage", "amount": "7"}]})
    per_user = {"cpu_k_hours": {"hpc_alice": 512, "hpc_bob": 256}, "mem_gb_hours": {"hpc_alice": 1024, "hpc_bob": 1536}}
    for component, amounts in per_user.items():
        [parent] = op.provider("GET", f"/api/marketplace-component-usages/?resource_uuid={pair.b_resource}"
                                      f"&type={component}")
        op.provider("POST", f"/api/marketplace-component-usages/{parent['uuid']}/set_user_usages/",
                    {"usages": [{"username": u, "usage": str(v)} for u, v in amounts.items()]})

    reported = op.run(config, REPORT)
    assert reported.returncode == ExitCode.OK, reported.stderr
    totals, users = op.usage("A", pair.a_resource, today)
    # node_hours: the larger of 768 / 128 = 6 and 2560 / 512 = 5; storage passes through
    assert totals == {"node_hours": Decimal(6), "storage": Decimal(7)}
    # per user, each on their own: alice max(4, 2) = 4, bob max(2, 3) = 3
    assert users == {"node_hours hpc_alice": Decimal(4), "node_hours hpc_bob": Decimal(3)}
    b_totals, b_users = op.usage("B", pair.b_resource, today)
    assert b_totals == {"cpu_k_hours": Decimal(768), "mem_gb_hours": Decimal(2560), "storage": Decimal(7)}
    assert len(b_users) == 4  # B keeps its own figures


# --- 3. an order rejected on B ---------------------------------------------------------------------------------


def test_an_order_rejected_by_bs_provider_ends_erred_on_a_with_bs_reason(op: Operator) -> None:
    config = op.write(op.config())
    a_order = op.order(LIMITS)
    first = op.run(config, ORDERS)
    assert first.returncode == ExitCode.OK, first.stderr
    b_order = op.b_order_of(a_order)
    reason = "Project quota on cluster B exhausted until March"
    op.provider("POST", f"/api/marketplace-orders/{b_order['uuid']}/reject_by_provider/",
                {"provider_rejection_comment": reason})
    second = op.run(config, ORDERS)
    assert second.returncode == ExitCode.OK, second.stderr  # fedcore did what it had to: a success of the pass
    order = op.world.a_order(a_order)
    assert order["state"] == "erred"
    assert reason in order["error_message"]
    assert op.b_order_of(a_order)["state"] == "rejected"
    assert op.resource("A", order["marketplace_resource_uuid"])["state"] == "Erred"  # a failed Create order


# --- 4. end dates and limits -----------------------------------------------------------------------------------


def test_end_dates_and_limits_follow_each_direction_setting_and_never_the_other_way(op: Operator) -> None:
    """One federated pair, one pass per setting; before each, both sides change at once (A's end date by the
    consumer, B's by B's provider; B's limits by B's provider, A's by A's staff), and only the setting's source
    side may win."""
    pair = op.federate(op.write(op.config()), LIMITS)
    soon = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=60)
    # (end date direction, limit direction, which end date both sides end with: "a", "b" or None = each its own)
    cases = [("a_to_b", "b_to_a", "a"), ("b_to_a", "disabled", "b"), ("bidirectional", "b_to_a", "a"),
             ("disabled", "disabled", None)]
    for step, (end_dates, limits, winner) in enumerate(cases):
        config = op.write(op.config(end_date_sync_direction=end_dates, limit_sync_direction=limits), f"{step}.yaml")
        a_end, b_end = soon + dt.timedelta(days=10 * step), soon + dt.timedelta(days=10 * step + 5)
        a_limits = {"node_hours": 10 + step, "storage": 1}
        b_limits = {"cpu_k_hours": 128 * (20 + step), "mem_gb_hours": 512 * (20 + step), "storage": 3}
        op.world.consumer("PATCH", f"/api/marketplace-resources/{pair.a_resource}/", json={"end_date": str(a_end)})
        op.provider("POST", f"/api/marketplace-provider-resources/{pair.b_resource}/set_end_date_by_provider/",
                    {"end_date": str(b_end)})
        ok(op.world.staff_a.post(f"/api/marketplace-provider-resources/{pair.a_resource}/set_limits/",
                                 json={"limits": a_limits}))
        op.provider("POST", f"/api/marketplace-provider-resources/{pair.b_resource}/set_limits/",
                    {"limits": b_limits})
        done = op.run(config, MEMBERSHIP)
        assert done.returncode == ExitCode.OK, f"{end_dates}/{limits}: {done.stderr}"
        a, b = op.resource("A", pair.a_resource), op.resource("B", pair.b_resource)
        where = f"end_date_sync_direction={end_dates}, limit_sync_direction={limits}"
        if winner is None:
            assert (a["end_date"], b["end_date"]) == (str(a_end), str(b_end)), where
        else:
            both = str(a_end if winner == "a" else b_end)
            assert (a["end_date"], b["end_date"]) == (both, both), where
        assert b["limits"] == b_limits, where  # B's limits are never written by a pass
        if limits == "b_to_a":
            assert a["limits"] == {"node_hours": 20 + step, "storage": 3}, where
        else:
            assert a["limits"] == a_limits, where


# --- 5. passthrough attributes ---------------------------------------------------------------------------------


def test_passthrough_attributes_of_the_a_order_reach_the_b_order(op: Operator) -> None:
    config = op.write(op.config(passthrough_attributes=["slurm_account", "qos"]))
    a_order = op.order(LIMITS, "passthrough", slurm_account="phys-42", qos="high", note="not listed")
    done = op.run(config, ORDERS)
    assert done.returncode == ExitCode.OK, done.stderr
    attributes = op.b_order_of(a_order)["attributes"]
    assert (attributes["slurm_account"], attributes["qos"], attributes["name"]) == ("phys-42", "high", "passthrough")
    assert "note" not in attributes
    assert op.world.a_order(a_order)["attributes"]["slurm_account"] == "phys-42"
