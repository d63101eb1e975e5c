"""What a periodic pass covers: projects and pairs, identities to release, billing periods (pure decisions)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedcore.enums import ResourceState, UserMatchField
from fedcore.matching import match_key
from fedcore.model import ProjectKey, Resource, UserIdentity
from fedcore.passes import billing_periods, identities_to_remove, linked_resources, offering_projects

pytestmark = pytest.mark.unit

R = ResourceState
OFFERING = f"{0xAAAA:032x}"


def uuid(n: int) -> str:
    return f"{n:032x}"


def resource(n: int, project: int, state: ResourceState = R.OK, *, link: int | None = None, customer: int | None = 9
             ) -> Resource:  # fmt: skip
    return Resource(
        uuid(n), state, OFFERING, uuid(project), backend_id=uuid(link) if link else "",
        customer_uuid=uuid(customer) if customer else None,
    )  # fmt: skip


# --- projects and pairs -----------------------------------------------------------------------------------


def test_projects_group_live_resources_and_only_linked_ones_federate() -> None:
    resources = [
        resource(1, 100, link=501),
        resource(2, 100),  # not on B yet: keeps the project in the offering, is not a pair
        resource(3, 200, R.CREATING),  # a project whose only resource is being created: in the offering
        resource(4, 300, R.TERMINATED, link=504),  # gone: neither the project nor the pair counts
        resource(5, 100, R.TERMINATED, link=505),
    ]
    projects = offering_projects(resources)
    assert [(p.project_uuid, p.federated) for p in projects] == [(uuid(100), True), (uuid(200), False)]
    assert [r.uuid for r in projects[0].linked] == [uuid(1)]
    assert projects[0].key == ProjectKey(uuid(9), uuid(100))
    assert [r.uuid for r in linked_resources(resources)] == [uuid(1)]


def test_a_project_whose_resources_do_not_show_one_customer_has_no_key() -> None:
    unknown = offering_projects([resource(1, 100, link=501, customer=None)])
    disagree = offering_projects([resource(1, 100, link=501, customer=7), resource(2, 100, customer=8)])
    partial = offering_projects([resource(1, 100, link=501, customer=None), resource(2, 100, customer=8)])
    assert unknown[0].key is None
    assert disagree[0].key is None
    assert partial[0].key == ProjectKey(uuid(8), uuid(100))


states = st.sampled_from(list(R))
resources_strategy = st.lists(
    st.builds(resource, st.integers(1, 40), st.integers(100, 104), states, link=st.none() | st.integers(500, 540)),
    max_size=12,
    unique_by=lambda r: r.uuid,
)


@given(resources_strategy)
def test_every_live_linked_resource_is_a_pair_in_exactly_one_federated_project(resources: list[Resource]) -> None:
    projects = offering_projects(resources)
    pairs = linked_resources(resources)
    assert [p.project_uuid for p in projects] == sorted({r.project_uuid for r in resources if r.state != R.TERMINATED})
    assert sorted(r.uuid for p in projects for r in p.linked) == [r.uuid for r in pairs]
    assert all(r.state != R.TERMINATED and r.link is not None for r in pairs)
    assert all(p.federated == any(r.project_uuid == p.project_uuid for r in pairs) for p in projects)
    assert offering_projects(reversed(resources)) == projects


# --- identities to release ---------------------------------------------------------------------------------


def person(n: int, cuid: str) -> UserIdentity:
    return UserIdentity(uuid(n), cuid)


def test_only_known_people_in_no_team_are_released() -> None:
    ann, bob, cid = person(1, "ann@cuid"), person(2, "bob@cuid"), person(3, "cid@cuid")
    b_ann, b_cid, b_bot, b_local = person(11, "ann@cuid"), person(13, "CID@cuid"), person(14, "fedcore"), person(
        15, "local")
    released = identities_to_remove(team=[ann, bob], b_members=[b_ann, b_cid, b_bot, b_local], known=[ann, bob, cid])
    assert released == (b_cid,)  # the CUID compares without case; hand-added and fedcore's own user never


def test_a_known_person_still_in_a_team_by_uuid_or_cuid_stays() -> None:
    ann = person(1, "ann@cuid")
    renamed = person(1, "ann-renamed@cuid")  # the same A user, seen with another CUID in the team
    assert identities_to_remove(team=[renamed], b_members=[person(11, "ann@cuid")], known=[ann]) == ()
    twin = person(2, "Ann@CUID")  # another A account with the same CUID, in a team
    assert identities_to_remove(team=[twin], b_members=[person(11, "ann@cuid")], known=[ann]) == ()


cuids = st.sampled_from(["ann@cuid", "Ann@CUID", "bob@cuid", "cid@cuid", " cid@cuid", "dan", ""])
people = st.lists(st.builds(person, st.integers(1, 30), cuids), max_size=8)
b_people = st.lists(st.builds(person, st.integers(31, 60), cuids), max_size=8, unique_by=lambda u: u.uuid)


def cuid_key(user: UserIdentity) -> str:
    return match_key(user.username, UserMatchField.CUID)


@given(team=people, b_members=b_people, known=people, extra=people)
def test_release_is_safe_and_monotonic(
    team: list[UserIdentity], b_members: list[UserIdentity], known: list[UserIdentity], extra: list[UserIdentity]
) -> None:
    released = identities_to_remove(team=team, b_members=b_members, known=known)
    staying = {cuid_key(u) for u in team}
    known_keys = {cuid_key(u) for u in known}
    for user in released:
        assert user in b_members
        assert cuid_key(user) in known_keys - {""}
        assert cuid_key(user) not in staying
    assert len({u.uuid for u in released}) == len(released)
    # More people in the teams never releases more; fewer known people never releases more.
    assert set(identities_to_remove(team=team + extra, b_members=b_members, known=known)) <= set(released)
    assert set(identities_to_remove(team=team, b_members=b_members, known=known[:1])) <= set(released)
    assert identities_to_remove(team=team, b_members=list(reversed(b_members)), known=known) == released


# --- billing periods ---------------------------------------------------------------------------------------


def test_billing_periods_end_with_todays_month_oldest_first() -> None:
    assert billing_periods(dt.date(2026, 3, 31), 1) == (dt.date(2026, 3, 1),)
    assert billing_periods(dt.date(2026, 1, 15), 3) == (dt.date(2025, 11, 1), dt.date(2025, 12, 1),
                                                         dt.date(2026, 1, 1))  # fmt: skip


@pytest.mark.parametrize("periods", [0, -1])
def test_a_report_covers_at_least_one_period(periods: int) -> None:
    with pytest.raises(ValueError, match="at least 1 billing period"):
        billing_periods(dt.date(2026, 1, 1), periods)


@given(today=st.dates(dt.date(2000, 1, 1), dt.date(2100, 12, 31)), periods=st.integers(1, 24))
def test_billing_periods_are_consecutive_months(today: dt.date, periods: int) -> None:
    chosen = billing_periods(today, periods)
    assert len(chosen) == periods
    assert chosen[-1] == today.replace(day=1)
    assert all(p.day == 1 for p in chosen)
    for earlier, later in itertools.pairwise(chosen):
        assert (later - dt.timedelta(days=1)).replace(day=1) == earlier
    assert billing_periods(today, periods + 1)[1:] == chosen
