"""Linked resource pairs kept in step, and who leaves the offering: behaviours pinned by mutation testing
(scripts/mutation, docs/mutation.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

import pytest

from adapters.memory.faults import Faults
from adapters.memory.orders import MemorySource, MemoryTarget
from fedcore.conversion import Conversion, build_conversion
from fedcore.enums import EndDateSyncDirection, LimitSyncDirection, ResourceState
from fedcore.ids import Uuid
from fedcore.model import Resource, UserIdentity
from fedcore.passes import identities_to_remove
from fedcore.policies import limits_as_source
from fedcore.services.resource_sync import PairSkip, ResourceSyncReport, sync_resources
from fedcore.settings import FederationSettings

pytestmark = pytest.mark.unit

A_OFFERING, B_OFFERING, B_CUSTOMER = Uuid(f"{0xA0:032x}"), Uuid(f"{0xB0:032x}"), Uuid(f"{0xBC:032x}")
IDENTITY = build_conversion([])
JAN, FEB = dt.date(2026, 1, 31), dt.date(2026, 2, 28)
OK = ResourceState.OK


def settings(end_date: EndDateSyncDirection, limits: LimitSyncDirection) -> FederationSettings:
    return FederationSettings(A_OFFERING, B_OFFERING, B_CUSTOMER, end_date_sync=end_date, limit_sync=limits)


class HidingTarget(MemoryTarget):
    """B whose resource listing misses the resources in ``hidden`` (a paging race); single reads find them."""

    hidden: frozenset[Uuid] = frozenset()

    def list_resources(self) -> Sequence[Resource]:
        return [r for r in super().list_resources() if r.uuid not in self.hidden]


class Pairs:
    def __init__(self) -> None:
        self.faults = Faults()
        self.a = MemorySource(A_OFFERING, faults=self.faults)
        self.b = HidingTarget(B_OFFERING, B_CUSTOMER, faults=self.faults)

    def pair(
        self, a_state: ResourceState = OK, *, a_end: dt.date | None = None, b_end: dt.date | None = None,
        a_limits: dict[str, int] | None = None, b_limits: dict[str, int] | None = None,
    ) -> tuple[Resource, Resource]:  # fmt: skip
        b = Resource(self.b.new_uuid(), OK, B_OFFERING, self.b.new_uuid(), limits=b_limits or {}, end_date=b_end)
        a = Resource(self.a.new_uuid(), a_state, A_OFFERING, self.a.new_uuid(), backend_id=b.uuid,
                     limits=a_limits or {}, end_date=a_end)  # fmt: skip
        self.a.resources[a.uuid] = a
        self.b.resources[b.uuid] = b
        return a, b

    def sync(self, the_settings: FederationSettings, conversion: Conversion = IDENTITY) -> ResourceSyncReport:
        linked = list(self.a.resources.values())
        return sync_resources(linked, source=self.a, target=self.b, settings=the_settings, conversion=conversion)


def test_limits_are_synced_when_only_the_end_date_direction_is_disabled() -> None:
    world = Pairs()
    a, _ = world.pair(a_limits={"cpu": 1}, b_limits={"cpu": 2})
    report = world.sync(settings(EndDateSyncDirection.DISABLED, LimitSyncDirection.B_TO_A))
    assert [i.name for i in report.applied] == [f"limits on A resource {a.uuid}"]
    assert world.a.resources[a.uuid].limits == {"cpu": 2}


def test_b_to_a_end_dates_are_written_on_a_and_limits_stay_when_their_direction_is_disabled() -> None:
    world = Pairs()
    a, b = world.pair(a_end=JAN, b_end=FEB, a_limits={"cpu": 1}, b_limits={"cpu": 2})
    report = world.sync(settings(EndDateSyncDirection.B_TO_A, LimitSyncDirection.DISABLED))
    assert [i.name for i in report.applied] == [f"end_date on A resource {a.uuid}"]
    assert world.a.resources[a.uuid].end_date == FEB
    assert world.b.resources[b.uuid].end_date == FEB
    assert world.a.resources[a.uuid].limits == {"cpu": 1}


def test_a_b_resource_the_listing_missed_is_read_on_its_own() -> None:
    world = Pairs()
    a, b = world.pair(a_limits={"cpu": 1}, b_limits={"cpu": 2})
    world.b.hidden = frozenset({b.uuid})
    report = world.sync(settings(EndDateSyncDirection.BIDIRECTIONAL, LimitSyncDirection.B_TO_A))
    assert report.skipped == ()
    assert world.a.resources[a.uuid].limits == {"cpu": 2}


def test_skipped_pairs_name_both_resources_and_why() -> None:
    world = Pairs()
    gone_a, gone_b = world.pair()
    busy_a, busy_b = world.pair(ResourceState.UPDATING)
    del world.b.resources[gone_b.uuid]
    report = world.sync(settings(EndDateSyncDirection.BIDIRECTIONAL, LimitSyncDirection.B_TO_A))
    assert [(s.a_resource, s.b_resource, s.transient) for s in report.skipped] == [
        (gone_a.uuid, gone_b.uuid, False),
        (busy_a.uuid, busy_b.uuid, False),
    ]
    assert report.skipped[0].reason.startswith(f"B has no resource {gone_b.uuid}: ")
    assert report.skipped[1].reason == (
        "the A resource is Updating and the B resource is OK: pairs are synced when both are OK"
    )


def test_a_pair_after_one_that_cannot_be_synced_is_still_synced() -> None:
    world = Pairs()
    world.pair(ResourceState.UPDATING)
    a, _ = world.pair(a_limits={"cpu": 1}, b_limits={"cpu": 2})
    report = world.sync(settings(EndDateSyncDirection.BIDIRECTIONAL, LimitSyncDirection.B_TO_A))
    assert len(report.skipped) == 1
    assert world.a.resources[a.uuid].limits == {"cpu": 2}


def test_a_b_resource_that_could_not_be_read_skips_its_pair_as_transient() -> None:
    world = Pairs()
    a, b = world.pair(a_limits={"cpu": 1}, b_limits={"cpu": 2})
    world.b.hidden = frozenset({b.uuid})
    world.faults.fail_next("get_resource")
    report = world.sync(settings(EndDateSyncDirection.BIDIRECTIONAL, LimitSyncDirection.B_TO_A))
    assert report.skipped == (
        PairSkip(a.uuid, b.uuid, "the B resource could not be read: B.get_resource: injected fault", True),
    )


def test_a_failed_b_listing_skips_every_pair_naming_both_resources() -> None:
    world = Pairs()
    a, b = world.pair()
    world.faults.fail_next("list_resources")
    report = world.sync(settings(EndDateSyncDirection.BIDIRECTIONAL, LimitSyncDirection.B_TO_A))
    assert report.skipped == (
        PairSkip(a.uuid, b.uuid, "B's resources could not be listed: B.list_resources: injected fault", True),
    )


def test_an_unlinked_resource_is_refused_naming_it() -> None:
    world = Pairs()
    world.pair()
    lonely = Resource(world.a.new_uuid(), OK, A_OFFERING, world.a.new_uuid())
    with pytest.raises(ValueError, match=rf"^A resource {lonely.uuid} is not linked to a B resource$"):
        sync_resources(
            [lonely], source=world.a, target=world.b, conversion=IDENTITY,
            settings=settings(EndDateSyncDirection.BIDIRECTIONAL, LimitSyncDirection.B_TO_A),
        )  # fmt: skip


def test_a_fan_in_pair_in_step_converts_back_to_as_own_shares() -> None:
    # cpu and gpu both feed vcpu: A's 1 + 3 already make B's 4, so A keeps 1 and 3 (not equal shares of 2).
    conversion = Conversion({"cpu": {"vcpu": Decimal(1)}, "gpu": {"vcpu": Decimal(1)}})
    assert limits_as_source(conversion, {"vcpu": 4}, {"cpu": 1, "gpu": 3}) == {"cpu": 1, "gpu": 3}


def person(n: int, username: str) -> UserIdentity:
    return UserIdentity(uuid=f"{n:032x}", username=username)


def test_people_without_a_cuid_are_never_released() -> None:
    nameless_a, nameless_b = person(1, ""), person(2, " ")
    assert identities_to_remove(team=[], b_members=[nameless_b], known=[nameless_a]) == ()
