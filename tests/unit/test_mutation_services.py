"""Usage, username and membership services: behaviours pinned by mutation testing (docs/mutation.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal

import pytest

from adapters.memory.usage import MemoryUsage
from adapters.memory.users import MemoryUsers
from fedcore.enums import OfferingUserState, UserMatchField, UserResolveMethod
from fedcore.errors import PermanentError
from fedcore.ids import Uuid, normalize_uuid
from fedcore.matching import MatchSettings, MatchStatus
from fedcore.memberships import RoleMap, known_identities
from fedcore.model import Member, UserIdentity, UserUsage
from fedcore.services.memberships import MembershipReport, resolve_users, sync_memberships
from fedcore.services.usage import UsageReport, read_username_map, sync_usage
from fedcore.services.usernames import sync_usernames

pytestmark = pytest.mark.unit

S = OfferingUserState
SOURCE = "isd:puhuri"
BRIDGE = MatchSettings(source=SOURCE)
BY_EMAIL = MatchSettings(UserResolveMethod.USER_FIELD, UserMatchField.EMAIL)
PERIOD = dt.date(2026, 2, 1)
A_RES, B_RES = normalize_uuid(f"a{1:031x}"), normalize_uuid(f"b{1:031x}")


# --- usage ----------------------------------------------------------------------------------------------


def same(values: Mapping[str, Decimal]) -> dict[str, Decimal]:
    return dict(values)


def usage_sync(
    totals: dict[str, str], rows: list[tuple[str, str, str]], quantum: Decimal = Decimal("0.01")
) -> tuple[MemoryUsage, UsageReport]:
    a, b = MemoryUsage("A"), MemoryUsage("B")
    a.add_resource(A_RES)
    b.add_resource(B_RES)
    per_user = [UserUsage(c, u, Decimal(n)) for c, u, n in rows]
    b.report(B_RES, PERIOD, {k: Decimal(v) for k, v in totals.items()}, per_user)
    report = sync_usage(
        a_resource=A_RES, b_resource=B_RES, billing_period=PERIOD, source=a, target=b, convert=same,
        usernames={"ann_b": "ann_a"}, quantum=quantum,
    )  # fmt: skip
    return a, report


def test_read_username_map_joins_settled_b_users_to_a_users_of_any_state() -> None:
    a, b = MemoryUsers("A"), MemoryUsers("B")
    ann_a, ann_b, bob_b = a.add_user("ann@cuid"), b.add_user("ann@cuid"), b.add_user("bob@cuid")
    a.add_offering_user(ann_a, S.REQUESTED, "ann_a")
    a.add_offering_user(a.add_user("bob@cuid"), S.OK, "bob_a")
    b.add_offering_user(ann_b, S.OK, "ann_b")
    b.add_offering_user(bob_b, S.CREATING, "bob_b")  # not settled on B: no mapping
    assert read_username_map(a, b) == {"ann_b": "ann_a"}


def test_read_username_map_joins_on_the_given_field() -> None:
    a, b = MemoryUsers("A"), MemoryUsers("B")
    a.add_offering_user(a.add_user("ann-a", "ann@example.org"), S.OK, "ann_a")
    b.add_offering_user(b.add_user("ann-b", "Ann@Example.org"), S.OK, "ann_b")
    assert read_username_map(a, b) == {}
    assert read_username_map(a, b, UserMatchField.EMAIL) == {"ann_b": "ann_a"}


def test_sync_usage_writes_in_the_given_quantum() -> None:
    a, report = usage_sync({"cpu": "10.6"}, [("cpu", "ann_b", "10.6")], Decimal(1))
    assert report.written == ("totals", "users:cpu")
    assert a.totals(A_RES, PERIOD) == {"cpu": Decimal(11)}
    assert a.user_usages(A_RES, PERIOD, "cpu") == {"ann_a": Decimal(11)}


def test_refused_totals_fail_the_user_writes_they_block_saying_why() -> None:
    # A refuses the negative cpu total: the refusal is permanent, so the blocked ram shares fail with it.
    a, report = usage_sync({"cpu": "-1", "ram": "4"}, [("ram", "ann_b", "4")])
    assert report.written == ()
    assert report.retry == ()
    assert [f.step for f in report.failed] == ["totals", "users:ram"]
    assert "negative usage for cpu" in report.failed[0].detail
    assert report.failed[1].detail == "blocked: the totals were not written"
    assert a.user_usages(A_RES, PERIOD, "ram") == {}


def test_totals_to_retry_leave_the_user_writes_they_block_to_retry_saying_why() -> None:
    a, b = MemoryUsage("A"), MemoryUsage("B")
    a.add_resource(A_RES)
    b.add_resource(B_RES)
    b.report(B_RES, PERIOD, {"ram": Decimal(4)}, [UserUsage("ram", "ann_b", Decimal(4))])
    a.faults.fail_next("set_usage")
    report = sync_usage(
        a_resource=A_RES, b_resource=B_RES, billing_period=PERIOD, source=a, target=b, convert=same,
        usernames={"ann_b": "ann_a"},
    )  # fmt: skip
    assert report.failed == ()
    assert [(f.step, f.detail) for f in report.retry][1:] == [("users:ram", "blocked: the totals were not written")]


# --- usernames ------------------------------------------------------------------------------------------


def test_sync_usernames_reports_the_ambiguous_keys_of_its_plan() -> None:
    a, b = MemoryUsers("A"), MemoryUsers("B")
    a.add_offering_user(a.add_user("ann@cuid"), S.REQUESTED)
    b.add_offering_user(b.add_user("ann@cuid"), S.OK, "ann_1")
    b.add_offering_user(b.add_user("ann@cuid"), S.OK, "ann_2")
    report = sync_usernames(a, b)
    assert report.applied == ()
    assert report.ambiguous == ("ann@cuid",)


# --- memberships ----------------------------------------------------------------------------------------


def test_a_user_without_the_lookup_field_is_not_found_by_name_without_a_lookup() -> None:
    b = MemoryUsers("B")
    b.add_user("ann@cuid", "ann@example.org")
    ann = UserIdentity(uuid=f"{1:032x}", username="ann@cuid")  # no email on A
    [outcome] = resolve_users([ann], b, BY_EMAIL)
    assert (outcome.user, outcome.status) == (ann, MatchStatus.NOT_FOUND)
    assert outcome.detail == "the A user has no email to match on"
    assert b.faults.calls["B.find_users"] == 0


def test_a_user_is_looked_up_by_email_even_without_a_username() -> None:
    b = MemoryUsers("B")
    ann_b = b.add_user("ann-b", "ann@example.org")
    ann = UserIdentity(uuid=f"{1:032x}", username="", email="ann@example.org")
    [outcome] = resolve_users([ann], b, BY_EMAIL)
    assert (outcome.status, outcome.target) == (MatchStatus.MATCHED, ann_b.uuid)


def test_each_outcome_names_its_a_user_and_keeps_the_ports_detail() -> None:
    b = MemoryUsers("B", managed_sources=["isd:other"])
    b.eduteams["ann@cuid"] = UserIdentity(uuid=f"{9:032x}", username="ann@cuid")
    ann, bob = UserIdentity(uuid=f"{1:032x}", username="ann@cuid"), UserIdentity(uuid=f"{2:032x}", username="bob@cuid")
    eduteams = MatchSettings(UserResolveMethod.REMOTE_EDUTEAMS)
    found, missing = resolve_users([ann, bob], b, eduteams)
    assert (found.user, found.status) == (ann, MatchStatus.MATCHED)
    assert (missing.user, missing.status, missing.detail) == (
        bob,
        MatchStatus.NOT_FOUND,
        "B POST remote-eduteams: eduTEAMS does not know this CUID",
    )
    [refused] = resolve_users([ann], b, BRIDGE)
    assert (refused.user, refused.status) == (ann, MatchStatus.REFUSED)
    b.faults.fail_next("resolve_eduteams")
    [later] = resolve_users([ann], b, eduteams)
    assert (later.user, later.status, later.detail) == (ann, MatchStatus.RETRY, "B.resolve_eduteams: injected fault")


def test_a_repeated_user_is_resolved_once_and_the_users_after_it_still_are() -> None:
    b = MemoryUsers("B", managed_sources=[SOURCE])
    ann, bob = UserIdentity(uuid=f"{1:032x}", username="ann@cuid"), UserIdentity(uuid=f"{2:032x}", username="bob@cuid")
    outcomes = resolve_users([ann, ann, bob], b, BRIDGE)
    assert [o.user for o in outcomes] == [ann, bob]
    assert b.faults.calls["B.push_identity"] == 2


def memberships(
    settings: MatchSettings, *, a_email: str, b_email: str, protected: Collection[Uuid] = ()
) -> tuple[MembershipReport, Uuid]:
    """A former member (known from A's offering users, no longer in the team) who still has a role on B."""
    a, b = MemoryUsers("A"), MemoryUsers("B", managed_sources=[SOURCE])
    a_project, b_project = a.add_project(), b.add_project()
    former = a.add_offering_user(a.add_user("dan-a", a_email), S.OK, "dan")
    dan_b = b.add_user("dan-b", b_email)
    b.grant(b_project, dan_b, "PROJECT.ADMIN")
    report = sync_memberships(
        a_project=a_project, b_project=b_project, source=a, target=b, members=b, settings=settings, roles=RoleMap(),
        known=known_identities([former]), protected=protected,
    )  # fmt: skip
    return report, dan_b.uuid


def test_sync_memberships_recognises_former_members_on_the_federations_identity_field() -> None:
    report, dan_b = memberships(BY_EMAIL, a_email="dan@example.org", b_email="Dan@Example.org")
    assert [(c.user_uuid, c.role) for c in report.applied] == [(dan_b, "PROJECT.ADMIN")]


def test_sync_memberships_never_revokes_a_protected_user() -> None:
    unprotected, dan_b = memberships(BY_EMAIL, a_email="dan@example.org", b_email="dan@example.org")
    assert [c.user_uuid for c in unprotected.applied] == [dan_b]
    report, _ = memberships(BY_EMAIL, a_email="dan@example.org", b_email="dan@example.org", protected=[dan_b])
    assert report.applied == ()


class RefusingMembers:
    """A B project whose every grant is refused (e.g. the role does not exist on B)."""

    def list_members(self, project_uuid: Uuid) -> Sequence[Member]:
        return []

    def add_member(self, project_uuid: Uuid, user_uuid: Uuid, role: str) -> None:
        raise PermanentError("no such role", where="B POST projects/add_user", status=400)

    def remove_member(self, project_uuid: Uuid, user_uuid: Uuid, role: str) -> None:
        raise AssertionError("nothing to revoke")


def test_sync_memberships_reports_a_refused_change_as_failed() -> None:
    a, b = MemoryUsers("A"), MemoryUsers("B", managed_sources=[SOURCE])
    a_project, b_project = a.add_project(), b.add_project()
    a.grant(a_project, a.add_user("ann@cuid"), "PROJECT.MEMBER")
    report = sync_memberships(
        a_project=a_project, b_project=b_project, source=a, target=b, members=RefusingMembers(), settings=BRIDGE,
        roles=RoleMap(),
    )  # fmt: skip
    assert report.applied == ()
    assert report.retry == ()
    assert [(f.change.role, f.detail) for f in report.failed] == [
        ("PROJECT.MEMBER", "B POST projects/add_user: no such role")
    ]
