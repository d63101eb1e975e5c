"""Services over the in-memory Waldurs: user resolution, memberships, username sync (seed 000 scenarios)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.memory.faults import Faults
from adapters.memory.usage import MemoryUsage
from adapters.memory.users import MemoryUsers
from fedcore.enums import OfferingUserState, UserMatchField, UserNotFoundAction, UserResolveMethod
from fedcore.errors import Conflict, PortError, TransientError
from fedcore.ids import Uuid
from fedcore.matching import MatchSettings, MatchStatus
from fedcore.memberships import ChangeKind, RoleMap, known_identities
from fedcore.model import Member, OfferingUser, UserIdentity
from fedcore.ports.orders import TargetProjects
from fedcore.ports.usage import SourceUsage, TargetUsage
from fedcore.ports.users import SourceUsers, TargetMembers, TargetUsers
from fedcore.services.memberships import resolve_users, sync_memberships
from fedcore.services.usernames import sync_usernames

pytestmark = pytest.mark.unit

S = OfferingUserState
SOURCE = "isd:puhuri"
BRIDGE = MatchSettings(source=SOURCE)


def test_fakes_satisfy_their_ports() -> None:
    # Checked by mypy: each assignment fails type checking when a fake drifts from its Protocol.
    users = MemoryUsers("A")
    ledger = MemoryUsage("A")
    source_users: SourceUsers = users
    target_users: TargetUsers = users
    members: TargetMembers = users
    source_usage: SourceUsage = ledger
    target_usage: TargetUsage = ledger
    assert {id(source_users), id(target_users), id(members)} == {id(users)}
    assert {id(source_usage), id(target_usage)} == {id(ledger)}


def _members_port_of(projects: TargetProjects) -> TargetMembers:
    # Every TargetProjects (ports/orders.py) also serves as TargetMembers: mypy keeps the two in step.
    return projects


# --- user resolution ------------------------------------------------------------------------------------


def b_side() -> MemoryUsers:
    return MemoryUsers("B", managed_sources=[SOURCE])


def test_identity_bridge_creates_then_updates_the_same_b_user() -> None:
    b = b_side()
    ann = UserIdentity(uuid=f"{1:032x}", username="ann@cuid", email="ann@example.org", first_name="Ann")
    first = resolve_users([ann], b, BRIDGE)
    again = resolve_users([ann], b, BRIDGE)
    assert [m.status for m in first] == [MatchStatus.MATCHED]
    assert first[0].target == again[0].target
    created = b.user_by_username("ann@cuid")
    assert created is not None
    assert (created.uuid, created.email, created.first_name) == (first[0].target, "ann@example.org", "Ann")
    assert len(b.users()) == 1


def test_identity_bridge_refusal_is_a_failure_whatever_the_not_found_action() -> None:
    b = MemoryUsers("B", managed_sources=["isd:other"])
    ann = UserIdentity(uuid=f"{1:032x}", username="ann@cuid")
    [outcome] = resolve_users([ann], b, BRIDGE)
    assert outcome.status is MatchStatus.REFUSED
    assert outcome.failed
    assert "not managed" in outcome.detail


def test_identity_bridge_sends_only_allowed_attributes() -> None:
    b = MemoryUsers("B", managed_sources=[SOURCE], bridge_attributes=["email"])
    ann = UserIdentity(uuid=f"{1:032x}", username="ann@cuid", email="a@x.org", organization="Uni")
    settings = MatchSettings(source=SOURCE, allowed_attributes={"email"})
    assert [m.status for m in resolve_users([ann], b, settings)] == [MatchStatus.MATCHED]
    refused = resolve_users([ann], b, BRIDGE)  # default allowed set includes organization: B refuses it
    assert refused[0].status is MatchStatus.REFUSED


def test_remote_eduteams_unknown_cuid_is_not_found_and_judged_by_the_action() -> None:
    b = b_side()
    b.eduteams["known@cuid"] = UserIdentity(uuid=f"{9:032x}", username="known@cuid", email="k@x.org")
    known = UserIdentity(uuid=f"{1:032x}", username="known@cuid")
    stranger = UserIdentity(uuid=f"{2:032x}", username="nobody@cuid")
    warn = MatchSettings(UserResolveMethod.REMOTE_EDUTEAMS)
    fail = MatchSettings(UserResolveMethod.REMOTE_EDUTEAMS, not_found=UserNotFoundAction.FAIL)
    outcomes = resolve_users([known, stranger], b, warn)
    assert [(m.status, m.failed) for m in outcomes] == [(MatchStatus.MATCHED, False), (MatchStatus.NOT_FOUND, False)]
    assert [m.failed for m in resolve_users([stranger], b, fail)] == [True]


def test_user_field_email_lookup_picks_the_exact_match_among_substring_hits() -> None:
    b = b_side()
    b.add_user("jo", "joann@example.org")
    ann_b = b.add_user("ann-b", "Ann@Example.org")
    ann = UserIdentity(uuid=f"{1:032x}", username="ann@cuid", email="ann@example.org")
    settings = MatchSettings(UserResolveMethod.USER_FIELD, UserMatchField.EMAIL)
    [outcome] = resolve_users([ann], b, settings)
    assert (outcome.status, outcome.target) == (MatchStatus.MATCHED, ann_b.uuid)


def test_one_users_transient_failure_does_not_stop_the_batch() -> None:
    b = b_side()
    users = [UserIdentity(uuid=f"{n:032x}", username=f"u{n}@cuid") for n in range(1, 4)]
    b.faults.fail_next("push_identity")
    outcomes = resolve_users(users, b, BRIDGE)
    assert [m.status for m in outcomes] == [MatchStatus.RETRY, MatchStatus.MATCHED, MatchStatus.MATCHED]
    assert not outcomes[0].failed
    assert b.faults.calls["B.push_identity"] == 3


# --- memberships ----------------------------------------------------------------------------------------


def test_sync_memberships_grants_revokes_and_leaves_unmappable_members() -> None:
    a, b = MemoryUsers("A"), b_side()
    a_project, b_project = a.add_project(), b.add_project()
    ann, bob = a.add_user("ann@cuid"), a.add_user("bob@cuid")
    a.grant(a_project, ann, "PROJECT.MANAGER")
    bob_offering = a.add_offering_user(bob, S.OK, "bob")
    bot, local, bob_b = b.add_user("fedcore-bot"), b.add_user("local-admin"), b.add_user("bob@cuid")
    for who in (bot, local, bob_b):
        b.grant(b_project, who, "PROJECT.ADMIN")
    report = sync_memberships(
        a_project=a_project, b_project=b_project, source=a, target=b, members=b, settings=BRIDGE,
        roles=RoleMap({"PROJECT.MANAGER": "PROJECT.MANAGER"}), known=known_identities([bob_offering]),
        protected=[bot.uuid],
    )  # fmt: skip
    ann_b = b.user_by_username("ann@cuid")
    assert ann_b is not None
    assert b.roles_in(b_project) == {
        (bot.uuid, "PROJECT.ADMIN"),
        (local.uuid, "PROJECT.ADMIN"),
        (ann_b.uuid, "PROJECT.MANAGER"),
    }
    assert [(c.kind, c.user_uuid) for c in report.applied] == [
        (ChangeKind.ADD, ann_b.uuid),
        (ChangeKind.REMOVE, bob_b.uuid),
    ]
    assert report.retry == report.failed == ()


def test_sync_memberships_reports_each_failed_change_and_continues() -> None:
    a, b = MemoryUsers("A"), b_side()
    a_project, b_project = a.add_project(), b.add_project()
    for name in ("ann@cuid", "bob@cuid", "cid@cuid"):
        a.grant(a_project, a.add_user(name), "PROJECT.MEMBER")
    b.faults.fail_next("add_member")
    settings = MatchSettings(source=SOURCE)
    report = sync_memberships(
        a_project=a_project, b_project=b_project, source=a, target=b, members=b, settings=settings, roles=RoleMap()
    )
    assert len(report.applied) == 2
    assert len(report.retry) == 1
    assert "injected" in report.retry[0].detail
    second = sync_memberships(
        a_project=a_project, b_project=b_project, source=a, target=b, members=b, settings=settings, roles=RoleMap()
    )
    assert [c.user_uuid for c in second.applied] == [report.retry[0].change.user_uuid]
    assert len(b.roles_in(b_project)) == 3


def test_sync_memberships_keeps_b_roles_of_a_member_whose_lookup_failed() -> None:
    a, b = MemoryUsers("A"), b_side()
    a_project, b_project = a.add_project(), b.add_project()
    bob = a.add_user("bob@cuid")
    a.grant(a_project, bob, "PROJECT.MEMBER")
    b.grant(b_project, b.add_user("bob@cuid"), "PROJECT.MANAGER")
    b.faults.fail_next("push_identity")
    report = sync_memberships(
        a_project=a_project, b_project=b_project, source=a, target=b, members=b, settings=BRIDGE, roles=RoleMap(),
        known=[bob],
    )  # fmt: skip
    assert [m.status for m in report.matches] == [MatchStatus.RETRY]
    assert report.applied == ()
    assert len(b.roles_in(b_project)) == 1


def test_a_failing_team_listing_raises_instead_of_emptying_the_b_project() -> None:
    a, b = MemoryUsers("A"), b_side()
    a_project, b_project = a.add_project(), b.add_project()
    a.faults.fail_next("list_team")
    with pytest.raises(TransientError):
        sync_memberships(
            a_project=a_project, b_project=b_project, source=a, target=b, members=b, settings=BRIDGE, roles=RoleMap()
        )


# --- username sync: seed 000 scenarios ------------------------------------------------------------------


def seeded(placeholder: str | None, b_username: str) -> tuple[MemoryUsers, MemoryUsers, Uuid]:
    """Offering A and B with one subject user; A holds a placeholder username, B the real one (tests 01-03)."""
    shared = Faults()
    a, b = MemoryUsers("A", faults=shared), MemoryUsers("B", managed_sources=["isd:integration-test"], faults=shared)
    subject_a, subject_b = a.add_user("subject@cuid"), b.add_user("subject@cuid")
    a_record = a.add_offering_user(subject_a, S.REQUESTED)
    if placeholder is not None:
        a.set_offering_user_username(a_record.uuid, placeholder)  # test_02: A moves to OK
    b_record = b.add_offering_user(subject_b, S.REQUESTED)
    b.set_offering_user_username(b_record.uuid, b_username)  # test_03: the target username on B
    shared.reset_counts()
    return a, b, a_record.uuid


@pytest.mark.parametrize(
    ("suite", "b_username"), [("suite1", "inttest-sync-5f1c"), ("suite3", "reconcile-5f1c")]
)  # fmt: skip
def test_seed000_sync_then_idempotent_second_sync(suite: str, b_username: str) -> None:
    a, b, a_uuid = seeded("placeholder", b_username)
    # test_04: one listing on B (state OK), one on A (OK/Creating/Requested), one PATCH.
    report = sync_usernames(a, b)
    assert [(p.previous, p.username) for p in report.applied] == [("placeholder", b_username)]
    assert (a.offering_user(a_uuid).username, a.offering_user(a_uuid).state) == (b_username, S.OK)
    assert a.faults.calls == {"B.list_offering_users": 1, "A.list_offering_users": 1, "A.set_offering_user_username": 1}
    # test_05: the usernames match, so the second pass reads both sides and patches nothing.
    a.faults.reset_counts()
    second = sync_usernames(a, b)
    assert second.applied == ()
    assert second.complete
    assert "A.set_offering_user_username" not in a.faults.calls


def test_requested_a_user_without_username_is_patched_and_moves_to_ok() -> None:
    a, b, a_uuid = seeded(None, "inttest-sync-9")
    assert sync_usernames(a, b).complete
    assert (a.offering_user(a_uuid).username, a.offering_user(a_uuid).state) == ("inttest-sync-9", S.OK)


def test_a_refused_patch_is_recorded_as_failed() -> None:
    a, b, _ = seeded("placeholder", "x1")
    a.faults.fail_next("set_offering_user_username")
    report = sync_usernames(a, b)
    assert [f.patch.username for f in report.retry] == ["x1"]
    assert not report.complete


class FlakyPatches:
    """A's users where chosen PATCHes (by call order) fail; everything else is the fake's own behaviour."""

    def __init__(self, inner: MemoryUsers, failing: Collection[int], error: Callable[[], PortError]) -> None:
        self.inner, self.failing, self.error, self.count = inner, failing, error, 0

    def list_offering_users(self, states: Collection[OfferingUserState]) -> Sequence[OfferingUser]:
        return self.inner.list_offering_users(states)

    def offering_users_of(self, user_username: str) -> Sequence[OfferingUser]:
        return self.inner.offering_users_of(user_username)

    def list_team(self, project_uuid: Uuid) -> Sequence[Member]:
        return self.inner.list_team(project_uuid)

    def set_offering_user_username(self, offering_user_uuid: Uuid, username: str) -> None:
        self.count += 1
        if self.count - 1 in self.failing:
            raise self.error()
        self.inner.set_offering_user_username(offering_user_uuid, username)


@given(n_users=st.integers(1, 6), failing=st.sets(st.integers(0, 5)), permanent=st.booleans())
def test_each_patch_stands_alone_under_injected_failures(n_users: int, failing: set[int], permanent: bool) -> None:
    a, b = MemoryUsers("A"), MemoryUsers("B")
    for i in range(n_users):
        a.add_offering_user(a.add_user(f"u{i}"), S.REQUESTED)
        b.add_offering_user(b.add_user(f"u{i}"), S.OK, f"name{i}")
    failures = {i for i in failing if i < n_users}
    error: Callable[[], PortError] = (lambda: Conflict("wrong state")) if permanent else (lambda: TransientError("t/o"))
    report = sync_usernames(FlakyPatches(a, failures, error), b)
    assert len(report.applied) == n_users - len(failures)
    assert len(report.failed if permanent else report.retry) == len(failures)
    assert {u.user_username for u in a.offering_users() if u.state is S.OK} == {p.cuid for p in report.applied}
    assert sync_usernames(a, b).complete
    assert all(u.username == f"name{u.user_username[1:]}" for u in a.offering_users())
    assert sync_usernames(a, b).applied == ()
