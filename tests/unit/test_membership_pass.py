"""The membership_sync pass over the in-memory Waldurs: teams mirrored, identities released, pairs kept in step."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

import pytest
from attrs import evolve

from adapters.memory.faults import Faults
from adapters.memory.orders import MemorySource, MemoryTarget
from adapters.memory.users import MemoryUsers
from fedcore.conversion import build_conversion
from fedcore.enums import EndDateSyncDirection, LimitSyncDirection, OfferingUserState, ResourceState, UserResolveMethod
from fedcore.errors import PermanentError, PortError, TransientError
from fedcore.ids import Uuid
from fedcore.matching import MatchSettings, MatchStatus
from fedcore.memberships import ChangeKind
from fedcore.model import Member, OfferingUser, ProjectKey, Resource
from fedcore.ports.users import SourceUsers
from fedcore.services.membership_pass import MembershipPassReport, MembershipPorts, run_membership_pass
from fedcore.settings import FederationSettings

pytestmark = pytest.mark.unit

SOURCE = "isd:puhuri"
A_OFFERING, B_OFFERING, B_CUSTOMER = Uuid(f"{0xA0:032x}"), Uuid(f"{0xB0:032x}"), Uuid(f"{0xBC:032x}")
BRIDGE = FederationSettings(A_OFFERING, B_OFFERING, B_CUSTOMER, match=MatchSettings(source=SOURCE))
IDENTITY = build_conversion([])
JAN = dt.date(2026, 1, 31)
ADMIN, MANAGER, MEMBER = "PROJECT.ADMIN", "PROJECT.MANAGER", "PROJECT.MEMBER"


class World:
    """One offering on both sides (seed: see :meth:`seed`), every fake sharing one fault plan and call counter."""

    def __init__(self, settings: FederationSettings = BRIDGE, users: SourceUsers | None = None) -> None:
        self.settings = settings
        self.faults = Faults()
        self.a = MemorySource(A_OFFERING, faults=self.faults)
        self.a_users = MemoryUsers("A", offering_uuid=A_OFFERING, faults=self.faults)
        self.b_users = MemoryUsers("B", offering_uuid=B_OFFERING, managed_sources=[SOURCE], faults=self.faults)
        self.b = MemoryTarget(B_OFFERING, B_CUSTOMER, faults=self.faults, users=self.b_users.registry)
        self.ports = MembershipPorts(self.a, users or self.a_users, self.b, self.b, self.b_users)

    def run(self) -> MembershipPassReport:
        return run_membership_pass(self.ports, self.settings, IDENTITY)

    def linked(self, name: str, a_limits: dict[str, int], b_limits: dict[str, int], a_end: dt.date | None = None,
               ) -> tuple[Uuid, Uuid, Resource, Resource]:  # fmt: skip
        """An A project with an OK resource linked to an OK B resource in the project's B project."""
        project = self.a.add_project(name)
        self.a_users.add_project(project.uuid)
        b_project = self.b.create_project(ProjectKey(project.customer_uuid, project.uuid), name, "")
        b_res = Resource(self.b.new_uuid(), ResourceState.OK, B_OFFERING, b_project.uuid, limits=b_limits,
                         customer_uuid=B_CUSTOMER)  # fmt: skip
        a_res = Resource(self.a.new_uuid(), ResourceState.OK, A_OFFERING, project.uuid, backend_id=b_res.uuid,
                         limits=a_limits, end_date=a_end, customer_uuid=project.customer_uuid)  # fmt: skip
        self.a.resources[a_res.uuid] = a_res
        self.b.resources[b_res.uuid] = b_res
        return project.uuid, b_project.uuid, a_res, b_res

    def unlinked(self, name: str) -> Uuid:
        """An A project whose only resource has not reached B yet."""
        project = self.a.add_project(name)
        self.a_users.add_project(project.uuid)
        resource = Resource(self.a.new_uuid(), ResourceState.CREATING, A_OFFERING, project.uuid,
                            customer_uuid=project.customer_uuid)  # fmt: skip
        self.a.resources[resource.uuid] = resource
        return project.uuid

    def seed(self) -> None:
        """P1 (linked): Ann (admin) and Bob (member) on A; on B Bob is a manager, Cid (who left every project)
        and Eve (who moved to P2) are members, and a local admin was added by hand. P2 (not on B yet): Eve.
        Ann, Bob, Cid and Eve are A's offering users. The pair: A ends on 31 January, B has no end date; B's
        limits differ from A's."""
        self.p1, self.bp1, self.r1, self.br1 = self.linked("physics", {"cpu": 10}, {"cpu": 20}, a_end=JAN)
        self.p2 = self.unlinked("chemistry")
        people = {n: self.a_users.add_user(f"{n}@cuid") for n in ("ann", "bob", "cid", "eve")}
        for user in people.values():
            self.a_users.add_offering_user(user, OfferingUserState.OK, user.username.split("@")[0])
        self.a_users.grant(self.p1, people["ann"], ADMIN)
        self.a_users.grant(self.p1, people["bob"], MEMBER)
        self.a_users.grant(self.p2, people["eve"], MEMBER)
        for name, role in (("bob", MANAGER), ("cid", MEMBER), ("eve", MEMBER)):
            uuid = self.b_users.push_identity(f"{name}@cuid", SOURCE, {})
            self.b.add_member(self.bp1, uuid, role)
        self.local = self.b_users.add_user("local-admin")
        self.b.add_member(self.bp1, self.local.uuid, ADMIN)
        self.faults.reset_counts()

    def b_user(self, username: str) -> Uuid:
        user = self.b_users.user_by_username(username)
        assert user is not None
        return user.uuid

    def b_roles(self) -> set[tuple[str, str]]:
        return {(m.user.username, m.role) for m in self.b.members[self.bp1]}

    def state(self) -> object:
        """Everything a pass may change, by name (UUIDs agree between worlds seeded alike)."""
        return (
            self.b_roles(),
            {u.username: (sorted(self.b_users.active_sources(u.uuid)), self.b_users.is_active(u.uuid))
             for u in self.b_users.users()},
            {r.uuid: (r.end_date, dict(r.limits)) for r in (*self.a.resources.values(), *self.b.resources.values())},
        )  # fmt: skip


def seeded(settings: FederationSettings = BRIDGE) -> World:
    world = World(settings)
    world.seed()
    return world


SETTLED = {("local-admin", ADMIN), ("ann@cuid", ADMIN), ("bob@cuid", MEMBER)}


# --- the happy path, its budget and idempotence ---------------------------------------------------------------


def test_a_pass_mirrors_the_team_releases_who_left_and_keeps_the_pair_in_step() -> None:
    world = seeded()
    report = world.run()
    [project] = report.projects
    assert (project.project_uuid, project.b_project_uuid, project.skipped) == (world.p1, world.bp1, "")
    assert project.report is not None
    assert [m.status for m in project.report.matches] == [MatchStatus.MATCHED, MatchStatus.MATCHED]
    ann, bob, cid, eve = (world.b_user(f"{n}@cuid") for n in ("ann", "bob", "cid", "eve"))
    assert [(c.kind, c.user_uuid, c.role) for c in project.report.applied] == sorted(
        [(ChangeKind.ADD, ann, ADMIN), (ChangeKind.ADD, bob, MEMBER)]) + sorted(
        [(ChangeKind.REMOVE, bob, MANAGER), (ChangeKind.REMOVE, cid, MEMBER), (ChangeKind.REMOVE, eve, MEMBER)])
    assert world.b_roles() == SETTLED
    # Cid left every project: released. Eve is still in P2 (not on B yet): her identity stays.
    assert [(r.username, r.user_uuid) for r in report.removed] == [("cid@cuid", cid)]
    assert report.removal_skipped == ""
    assert (world.b_users.active_sources(cid), world.b_users.is_active(cid)) == (set(), False)
    assert world.b_users.active_sources(eve) == {SOURCE}
    assert [i.name for i in report.resources.applied] == [f"end_date on B resource {world.br1.uuid}",
                                                          f"limits on A resource {world.r1.uuid}"]  # fmt: skip
    assert world.b.resources[world.br1.uuid].end_date == JAN
    assert world.a.resources[world.r1.uuid].limits == {"cpu": 20}
    assert world.faults.calls == {
        "A.list_resources": 1, "B.list_resources": 1, "A.list_offering_users": 1, "A.list_team": 2,
        "B.find_project": 1, "B.list_members": 1, "B.push_identity": 2, "B.remove_identity": 1,
        "B.add_member": 2, "B.remove_member": 3, "B.set_end_date": 1, "A.set_limits": 1,
    }  # fmt: skip


def test_a_second_pass_only_reads_and_pushes_identities() -> None:
    world = seeded()
    world.run()
    world.faults.reset_counts()
    report = world.run()
    assert report.projects[0].report is not None
    assert report.projects[0].report.applied == ()
    assert (report.removed, report.resources.applied) == ((), ())
    assert world.faults.calls == {
        "A.list_resources": 1, "B.list_resources": 1, "A.list_offering_users": 1, "A.list_team": 2,
        "B.find_project": 1, "B.list_members": 1, "B.push_identity": 2,
    }  # fmt: skip
    assert world.faults.writes == 2  # the identity bridge's idempotent pushes: no other write


def test_an_offering_without_resources_costs_one_call() -> None:
    world = World()
    report = world.run()
    assert (report.projects, report.removal_skipped) == ((), "no federated project")
    assert world.faults.calls == {"A.list_resources": 1}


def test_without_the_identity_bridge_nobody_is_released_and_only_federated_teams_are_read() -> None:
    settings = evolve(BRIDGE, match=MatchSettings(UserResolveMethod.USER_FIELD))
    world = seeded(settings)
    world.b_users.add_user("ann@cuid")  # looked up by username on B, not pushed
    report = world.run()
    assert report.removed == ()
    assert report.removal_skipped == "users are resolved by user_field, not the identity bridge"
    assert world.b_roles() == SETTLED  # Cid and Eve are still revoked: they left P1
    assert world.faults.calls["A.list_team"] == 1
    assert "B.remove_identity" not in world.faults.calls


def test_disabled_directions_make_no_resource_call() -> None:
    settings = evolve(BRIDGE, end_date_sync=EndDateSyncDirection.DISABLED, limit_sync=LimitSyncDirection.DISABLED)
    world = seeded(settings)
    report = world.run()
    assert report.resources.applied == ()
    assert report.resources.skipped == ()
    assert "B.list_resources" not in world.faults.calls


# --- projects and pairs that cannot be served -------------------------------------------------------------------


def test_projects_without_a_b_project_or_a_customer_are_skipped_and_named() -> None:
    world = seeded()
    orphan, _, _, _ = world.linked("orphan", {}, {})
    world.b.projects = {u: p for u, p in world.b.projects.items() if not p.backend_id.endswith(orphan)}
    anonymous, _, a_res, _ = world.linked("anonymous", {}, {})
    world.a.resources[a_res.uuid] = evolve(a_res, customer_uuid=None)
    report = world.run()
    skipped = {p.project_uuid: p.skipped for p in report.projects if p.skipped}
    orphan_key = ProjectKey(world.a.projects[orphan].customer_uuid, orphan)
    assert skipped[orphan] == f"no B project {orphan_key.backend_id} yet"
    assert skipped[anonymous] == "no resource of the project shows its customer"
    assert world.b_roles() == SETTLED


def test_a_pair_whose_b_resource_is_gone_or_not_ok_is_skipped() -> None:
    world = seeded()
    del world.b.resources[world.br1.uuid]
    _, _, updating, b_updating = world.linked("busy", {"cpu": 1}, {"cpu": 2})
    world.b.resources[b_updating.uuid] = evolve(b_updating, state=ResourceState.UPDATING)
    report = world.run()
    reasons = {s.a_resource: s.reason for s in report.resources.skipped}
    assert reasons[world.r1.uuid].startswith(f"B has no resource {world.br1.uuid}")
    assert "the B resource is Updating" in reasons[updating.uuid]
    assert report.resources.applied == ()
    assert world.faults.calls["B.get_resource"] == 1  # only the one the listing did not return


# --- failures: every call, transient and permanent --------------------------------------------------------------

READS = ["A.list_offering_users", "A.list_team", "B.find_project", "B.list_members", "B.list_resources"]
WRITES = ["B.push_identity", "B.remove_identity", "B.add_member", "B.remove_member", "B.set_end_date",
          "A.set_limits"]  # fmt: skip
MEMBERSHIP_WRITES = {"B.push_identity", "B.remove_identity", "B.add_member", "B.remove_member"}


def inject(faults: Faults, method: str, *, permanent: bool) -> None:
    (faults.refuse_next if permanent else faults.fail_next)(method)


def written(faults: Faults) -> set[str]:
    return {m for m in (*WRITES, "B.remove_identity") if faults.calls[m]}


@pytest.mark.parametrize("permanent", [False, True], ids=["transient", "permanent"])
def test_a_failed_resource_listing_ends_the_pass_before_any_write(permanent: bool) -> None:
    world = seeded()
    inject(world.faults, "A.list_resources", permanent=permanent)
    with pytest.raises(PermanentError if permanent else TransientError):
        world.run()
    assert world.faults.writes == 0


@pytest.mark.parametrize("permanent", [False, True], ids=["transient", "permanent"])
@pytest.mark.parametrize("method", READS)
def test_a_failed_read_writes_nothing_that_depends_on_it_and_the_next_pass_catches_up(
    method: str, permanent: bool
) -> None:
    world, reference = seeded(), seeded()
    reference.run()
    inject(world.faults, method, permanent=permanent)
    report = world.run()
    if method == "B.list_resources":
        assert [s.transient for s in report.resources.skipped] == [not permanent]
        assert "B's resources could not be listed" in report.resources.skipped[0].reason
        assert written(world.faults) == MEMBERSHIP_WRITES
    else:
        [project] = report.projects
        assert (project.report, project.transient) == (None, not permanent)
        assert "injected" in project.skipped
        assert written(world.faults) == {"B.set_end_date", "A.set_limits"}  # only what the pairs needed
        assert report.removed == ()
    if method in {"A.list_offering_users", "A.list_team"}:
        assert "could not be read" in report.removal_skipped
    world.run()
    assert world.state() == reference.state()


@pytest.mark.parametrize("permanent", [False, True], ids=["transient", "permanent"])
@pytest.mark.parametrize("method", WRITES)
def test_a_failed_write_is_reported_and_stops_nothing_else(method: str, permanent: bool) -> None:
    world, reference = seeded(), seeded()
    reference.run()
    inject(world.faults, method, permanent=permanent)
    report = world.run()
    project = report.projects[0].report
    assert project is not None
    failures: Sequence[object] = {
        "B.push_identity": [m for m in project.matches if m.status is not MatchStatus.MATCHED],
        "B.remove_identity": report.removal_failed if permanent else report.removal_retry,
        "B.add_member": project.failed if permanent else project.retry,
        "B.remove_member": project.failed if permanent else project.retry,
        "B.set_end_date": report.resources.failed if permanent else report.resources.retry,
        "A.set_limits": report.resources.failed if permanent else report.resources.retry,
    }[method]
    assert len(failures) == 1
    assert "injected" in str(failures[0])
    assert written(world.faults) == set(WRITES)  # every other write was still attempted
    world.run()
    if method == "B.remove_identity" and permanent:
        # A refusal is not retried: Cid's roles were revoked, his identity stays.
        assert world.b_roles() == SETTLED
        assert world.b_users.active_sources(world.b_user("cid@cuid")) == {SOURCE}
    else:
        assert world.state() == reference.state()
    world.faults.reset_counts()
    world.run()
    assert world.faults.writes == 2  # settled: only the pushes


def test_a_passing_fault_on_a_release_keeps_the_persons_roles_until_a_later_pass_releases_them() -> None:
    world = seeded()
    world.faults.fail_next("remove_identity")
    report = world.run()
    cid = world.b_user("cid@cuid")
    assert [f.removal.user_uuid for f in report.removal_retry] == [cid]
    assert ("cid@cuid", MEMBER) in world.b_roles()
    second = world.run()
    assert [r.user_uuid for r in second.removed] == [cid]
    assert world.b_roles() == SETTLED


# --- one unreadable team suspends every release -------------------------------------------------------------


class TeamsFailing:
    """A's users where the team of one project cannot be read; everything else is the fake's own behaviour."""

    def __init__(self, inner: MemoryUsers, project: Uuid, error: PortError) -> None:
        self.inner, self.project, self.error = inner, project, error

    def list_offering_users(self, states: Collection[OfferingUserState]) -> Sequence[OfferingUser]:
        return self.inner.list_offering_users(states)

    def offering_users_of(self, user_username: str) -> Sequence[OfferingUser]:
        return self.inner.offering_users_of(user_username)

    def set_offering_user_username(self, offering_user_uuid: Uuid, username: str) -> None:
        self.inner.set_offering_user_username(offering_user_uuid, username)

    def list_team(self, project_uuid: Uuid) -> Sequence[Member]:
        if project_uuid == self.project:
            raise self.error
        return self.inner.list_team(project_uuid)


@pytest.mark.parametrize("error", [TransientError("timed out"), PermanentError("forbidden", status=403)])
def test_one_unreadable_team_suspends_every_release_and_the_revocations_of_those_leaving(error: PortError) -> None:
    world = seeded()
    world.ports = evolve(world.ports, a_users=TeamsFailing(world.a_users, world.p2, error))
    report = world.run()
    assert report.removal_skipped == f"the team of A project {world.p2} could not be read"
    assert report.removed == ()
    assert report.removal_retry == report.removal_failed == ()
    assert "B.remove_identity" not in world.faults.calls
    # P1 is mirrored, but Cid and Eve keep their roles: the next pass must still find them.
    assert world.b_roles() == SETTLED | {("cid@cuid", MEMBER), ("eve@cuid", MEMBER)}
    world.ports = evolve(world.ports, a_users=world.a_users)
    again = world.run()
    assert [r.username for r in again.removed] == ["cid@cuid"]
    assert world.b_roles() == SETTLED
