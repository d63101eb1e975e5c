"""The membership and report passes: behaviours pinned by mutation testing (scripts/mutation, docs/mutation.md).

What a pass reports about a project or pair it skipped (which one, why, whether a later pass should do better)
is what an operator reads, so the reasons are pinned exactly.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from adapters.memory.faults import Faults
from adapters.memory.orders import MemorySource, MemoryTarget
from adapters.memory.usage import MemoryUsage
from adapters.memory.users import MemoryUsers
from fedcore.conversion import build_conversion
from fedcore.enums import OfferingUserState, ResourceState, UserMatchField, UserResolveMethod
from fedcore.ids import Uuid
from fedcore.matching import MatchSettings
from fedcore.memberships import ChangeKind
from fedcore.model import ProjectKey, Resource, UserUsage
from fedcore.services.membership_pass import MembershipPassReport, MembershipPorts, ProjectOutcome, run_membership_pass
from fedcore.services.report_pass import ReportPassReport, ReportPorts, UsageItem, run_report_pass
from fedcore.services.resource_sync import ResourceSyncReport
from fedcore.settings import FederationSettings

pytestmark = pytest.mark.unit

SOURCE = "isd:puhuri"
A_OFFERING, B_OFFERING, B_CUSTOMER = Uuid(f"{0xA0:032x}"), Uuid(f"{0xB0:032x}"), Uuid(f"{0xBC:032x}")
BRIDGE = FederationSettings(A_OFFERING, B_OFFERING, B_CUSTOMER, match=MatchSettings(source=SOURCE))
BY_EMAIL = FederationSettings(
    A_OFFERING, B_OFFERING, B_CUSTOMER, match=MatchSettings(UserResolveMethod.USER_FIELD, UserMatchField.EMAIL)
)
IDENTITY = build_conversion([])
TODAY = dt.date(2026, 3, 15)
FEB, MAR = dt.date(2026, 2, 1), dt.date(2026, 3, 1)
ADMIN = "PROJECT.ADMIN"


# --- the membership pass ----------------------------------------------------------------------------------------


class Offering:
    def __init__(self, settings: FederationSettings = BRIDGE) -> None:
        self.settings = settings
        self.faults = Faults()
        self.a = MemorySource(A_OFFERING, faults=self.faults)
        self.a_users = MemoryUsers("A", offering_uuid=A_OFFERING, faults=self.faults)
        self.b_users = MemoryUsers("B", offering_uuid=B_OFFERING, managed_sources=[SOURCE], faults=self.faults)
        self.b = MemoryTarget(B_OFFERING, B_CUSTOMER, faults=self.faults, users=self.b_users.registry)
        self.ports = MembershipPorts(self.a, self.a_users, self.b, self.b, self.b_users)

    def linked(self, name: str, *, team: bool = True) -> tuple[Uuid, Uuid, Resource]:
        """An A project with an OK resource (limits cpu 1) linked to a B resource (cpu 2) in its B project."""
        project = self.a.add_project(name)
        if team:
            self.a_users.add_project(project.uuid)
        b_project = self.b.create_project(ProjectKey(project.customer_uuid, project.uuid), name, "")
        b_res = Resource(self.b.new_uuid(), ResourceState.OK, B_OFFERING, b_project.uuid, limits={"cpu": 2},
                         customer_uuid=B_CUSTOMER)  # fmt: skip
        a_res = Resource(self.a.new_uuid(), ResourceState.OK, A_OFFERING, project.uuid, backend_id=b_res.uuid,
                         limits={"cpu": 1}, customer_uuid=project.customer_uuid)  # fmt: skip
        self.a.resources[a_res.uuid] = a_res
        self.b.resources[b_res.uuid] = b_res
        return project.uuid, b_project.uuid, a_res

    def run(self) -> MembershipPassReport:
        return run_membership_pass(self.ports, self.settings, IDENTITY)


def test_an_offering_without_federated_projects_reports_an_empty_resource_sync() -> None:
    report = Offering().run()
    assert report.resources == ResourceSyncReport()
    assert report.removal_skipped == "no federated project"


def test_unreadable_offering_users_skip_every_project_after_the_pairs_were_synced() -> None:
    offering = Offering()
    project, _, a_res = offering.linked("physics")
    offering.faults.fail_next("A.list_offering_users")
    report = offering.run()
    why = "A's offering users could not be read: A.list_offering_users: injected fault"
    assert report.projects == (ProjectOutcome(project, skipped=why, transient=True),)
    assert report.removal_skipped == why
    assert [i.a_resource for i in report.resources.applied] == [a_res.uuid]


def test_projects_whose_team_could_not_be_read_are_skipped_and_suspend_every_release() -> None:
    offering = Offering()
    first, _, _ = offering.linked("physics", team=False)  # A answers 404 for these teams
    second, _, _ = offering.linked("chemistry", team=False)
    report = offering.run()
    assert [(o.project_uuid, o.transient) for o in report.projects] == [(first, False), (second, False)]
    assert all(o.skipped.startswith("the A team could not be read: ") for o in report.projects)
    unread = ", ".join(sorted([first, second]))
    assert report.removal_skipped == f"the team of A project {unread} could not be read"


def test_a_b_project_that_could_not_be_looked_up_skips_its_project_saying_which() -> None:
    offering = Offering()
    project, _, _ = offering.linked("physics")
    [resource] = offering.a.resources.values()
    assert resource.customer_uuid is not None
    offering.faults.fail_next("find_project")
    [outcome] = offering.run().projects
    backend_id = ProjectKey(resource.customer_uuid, project).backend_id
    assert outcome == ProjectOutcome(
        project, skipped=f"the B project {backend_id} could not be looked up: B.find_project: injected fault",
        transient=True,
    )  # fmt: skip


def test_b_members_that_could_not_be_read_skip_their_project_saying_which() -> None:
    offering = Offering()
    project, b_project, _ = offering.linked("physics")
    offering.faults.fail_next("B.list_members")
    [outcome] = offering.run().projects
    assert outcome == ProjectOutcome(
        project, skipped=f"the members of B project {b_project} could not be read: B.list_members: injected fault",
        transient=True,
    )  # fmt: skip


def test_teams_are_mirrored_on_the_federations_identity_field() -> None:
    # Users looked up by email: Dan left the team, and his B account (another username, the same email) loses
    # its role.
    offering = Offering(BY_EMAIL)
    _, b_project, _ = offering.linked("physics")
    offering.a_users.add_offering_user(offering.a_users.add_user("dan-a", "dan@example.org"), OfferingUserState.OK)
    dan_b = offering.b_users.add_user("dan-b", "Dan@Example.org")
    offering.b.add_member(b_project, dan_b.uuid, ADMIN)
    [outcome] = offering.run().projects
    assert outcome.report is not None
    assert [(c.kind, c.user_uuid, c.role) for c in outcome.report.applied] == [(ChangeKind.REMOVE, dan_b.uuid, ADMIN)]


# --- the report pass --------------------------------------------------------------------------------------------


class Reporting:
    def __init__(self, settings: FederationSettings = BRIDGE) -> None:
        self.settings = settings
        self.faults = Faults()
        self.a = MemorySource(A_OFFERING, faults=self.faults)
        self.a_users = MemoryUsers("A", offering_uuid=A_OFFERING, faults=self.faults)
        self.b_users = MemoryUsers("B", offering_uuid=B_OFFERING, faults=self.faults)
        self.a_usage, self.b_usage = MemoryUsage("A", faults=self.faults), MemoryUsage("B", faults=self.faults)
        self.ports = ReportPorts(self.a, self.a_users, self.a_usage, self.b_users, self.b_usage)

    def pair(self) -> tuple[Uuid, Uuid]:
        b = self.b_usage.add_resource(f"{0xB:08x}{1:024x}")
        a = self.a.new_uuid()
        self.a.resources[a] = Resource(a, ResourceState.OK, A_OFFERING, self.a.new_uuid(), backend_id=b)
        self.a_usage.add_resource(a)
        return a, b

    def run(self) -> ReportPassReport:
        return run_report_pass(self.ports, self.settings, IDENTITY, today=TODAY, periods=2)


def test_a_report_pass_without_pairs_still_names_its_periods() -> None:
    report = Reporting().run()
    assert report.periods == (FEB, MAR)
    assert report.items == ()


def test_without_the_username_map_each_pair_and_period_is_skipped_by_name() -> None:
    reporting = Reporting()
    a, b = reporting.pair()
    reporting.faults.fail_next("B.list_offering_users")
    reason = "the username map could not be read: B.list_offering_users: injected fault"
    report = reporting.run()
    assert report.periods == (FEB, MAR)
    assert report.items == (UsageItem(a, b, FEB, None, reason, True), UsageItem(a, b, MAR, None, reason, True))


def test_an_unreadable_period_is_skipped_by_name() -> None:
    reporting = Reporting()
    a, b = reporting.pair()
    reporting.faults.fail_next("B.read_usage")
    first, second = reporting.run().items
    assert first == UsageItem(a, b, FEB, None, "usage could not be read: B.read_usage: injected fault", True)
    assert (second.a_resource, second.b_resource, second.billing_period) == (a, b, MAR)


def test_usage_is_attributed_to_people_joined_on_the_federations_identity_field() -> None:
    reporting = Reporting(BY_EMAIL)
    a, b = reporting.pair()
    reporting.a_users.add_offering_user(reporting.a_users.add_user("ann-a", "ann@example.org"), OfferingUserState.OK,
                                        "ann_a")  # fmt: skip
    reporting.b_users.add_offering_user(reporting.b_users.add_user("ann-b", "ann@example.org"), OfferingUserState.OK,
                                        "ann_b")  # fmt: skip
    reporting.b_usage.report(b, MAR, {"cpu": Decimal(3)}, [UserUsage("cpu", "ann_b", Decimal(3))])
    reporting.run()
    assert reporting.a_usage.user_usages(a, MAR, "cpu") == {"ann_a": Decimal("3.00")}
