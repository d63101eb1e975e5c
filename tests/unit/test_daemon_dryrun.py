"""``--dry-run`` ports: a pass through them writes nothing and records the very writes the real pass makes."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from test_membership_pass import BRIDGE, IDENTITY, World

from adapters.memory.faults import Faults
from adapters.memory.usage import MemoryUsage
from fedcore.enums import OfferingUserState
from fedcore.ids import Uuid
from fedcore.model import ResourceUsage, UserUsage
from fedcore.services.membership_pass import MembershipPorts, run_membership_pass
from fedcore.services.report_pass import ReportPorts, run_report_pass
from fedcore.services.usernames import sync_usernames
from runners.dryrun import (
    DrySourceResources,
    DrySourceUsage,
    DrySourceUsers,
    DryTargetMarketplace,
    DryTargetUsers,
    WriteJournal,
    made_up_uuid,
)

pytestmark = pytest.mark.unit

WRITES = {
    "approve", "reject", "set_order_backend_id", "complete", "fail", "set_resource_backend_id", "set_end_date",
    "set_limits", "set_offering_user_username", "set_usage", "set_user_usages", "create_project", "create_order",
    "request_update", "request_termination", "add_member", "remove_member", "push_identity", "remove_identity",
    "resolve_eduteams",
}


class Dry:
    """The dry-run wrappers around a seeded :class:`World`'s fakes, and the journal they fill."""

    def __init__(self, world: World) -> None:
        self.journal = WriteJournal()
        j, name = self.journal, "hpc"
        self.a_resources = DrySourceResources(world.a, j, name)
        self.a_users = DrySourceUsers(world.a_users, j, name)
        self.b = DryTargetMarketplace(world.b, world.b, world.b, j, name, b_offering=Uuid("b" * 32),
                                      b_customer=Uuid("c" * 32))
        self.b_users = DryTargetUsers(world.b_users, j, name)

    def calls(self) -> Counter[str]:
        return Counter(f"{w.side}.{w.call}" for w in self.journal.writes)


def real_writes(world: World) -> Counter[str]:
    return Counter({k: v for k, v in world.faults.calls.items() if k.split(".")[1] in WRITES})


def seeded() -> World:
    world = World()
    world.seed()
    return world


def test_a_dry_membership_pass_records_what_the_real_one_writes_and_changes_nothing() -> None:
    real, dry_world = seeded(), seeded()
    real.run()
    before = dry_world.state()
    dry = Dry(dry_world)
    ports = MembershipPorts(dry.a_resources, dry.a_users, dry.b, dry.b, dry.b_users)
    run_membership_pass(ports, BRIDGE, IDENTITY)
    assert dry_world.state() == before
    assert dry.calls() == real_writes(real)
    assert {"B.push_identity", "B.remove_identity", "B.add_member", "B.remove_member"} <= set(dry.calls())
    pushes = [w.detail for w in dry.journal.writes if w.call == "push_identity"]
    # Bob is on B already: the dry push answers with his real B user, so his roles are not planned again.
    assert any(f"(B user {dry_world.b_user('bob@cuid')})" in p for p in pushes)
    assert any(f"(B user {made_up_uuid('user', 'ann@cuid')})" in p for p in pushes)


def test_dry_username_and_usage_writes_are_recorded_and_not_made() -> None:
    world = seeded()
    dry = Dry(world)
    world.b_users.push_identity("ann@cuid", "isd:puhuri", {})
    ann = world.b_users.user_by_username("ann@cuid")
    assert ann is not None
    world.b_users.add_offering_user(ann, OfferingUserState.OK, "ann_hpc")
    report = sync_usernames(dry.a_users, world.b_users)
    assert [p.username for p in report.applied] == ["ann_hpc"]
    assert [w.call for w in dry.journal.writes] == ["set_offering_user_username"]
    assert {u.username for u in world.a_users.list_offering_users(frozenset(OfferingUserState))} == {
        "ann", "bob", "cid", "eve"}

    faults = Faults()
    a_usage, b_usage = MemoryUsage("A", faults=faults), MemoryUsage("B", faults=faults)
    period = dt.date(2026, 1, 1)
    a_usage.add_resource(world.r1.uuid)
    b_usage.add_resource(world.br1.uuid)
    b_usage.report(world.br1.uuid, period, {"cpu": Decimal(7)}, [UserUsage("cpu", "ann_hpc", Decimal(7))])
    usage = DrySourceUsage(a_usage, dry.journal, "hpc")
    ports = ReportPorts(dry.a_resources, dry.a_users, usage, world.b_users, b_usage)
    run_report_pass(ports, BRIDGE, IDENTITY, today=dt.date(2026, 1, 15), periods=1)
    assert [w.call for w in dry.journal.writes][1:] == ["set_usage", "set_user_usages"]
    assert a_usage.read_usage(world.r1.uuid, period) == ResourceUsage(world.r1.uuid, period)
    assert "{'cpu': '7.00'}" in dry.journal.writes[1].detail
