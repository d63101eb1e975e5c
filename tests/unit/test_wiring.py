"""The composition root: configuration in, services out, wired to the in-memory fakes through a ports factory."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from attrs import evolve

from adapters.config import FedcoreConfig, OfferingConfig, load_config
from adapters.memory.clock import FakeClock
from fedcore.enums import OfferingUserState, OrderState, UserMatchField, UserResolveMethod
from fedcore.lifecycle import idempotency_key
from runners.wiring import MODES, MemoryWorld, Mode, build_mode, build_offering, local_today, memory_world

pytestmark = pytest.mark.unit

EXAMPLE = Path(__file__).parents[2] / "examples" / "config.yaml"
ENV = {"WALDUR_A_TOKEN": "a-token", "WALDUR_B_TOKEN": "b-token"}


@pytest.fixture
def config() -> FedcoreConfig:
    return load_config(EXAMPLE, environ=ENV)


class Worlds:
    """A ports factory that keeps the fakes it built, by offering name."""

    def __init__(self) -> None:
        self.built: dict[str, MemoryWorld] = {}

    def __call__(self, offering: OfferingConfig) -> object:
        world = memory_world(offering)
        self.built[offering.name] = world
        return world.ports


def test_every_mode_wires_the_offerings_that_take_part(config: FedcoreConfig) -> None:
    offering = config.offerings[0]
    silent = evolve(offering, name="silent", order_processing_backend="", membership_sync_backend="",
                    reporting_backend="", username_reconciliation_enabled=False)
    both = evolve(config, offerings=(offering, silent))
    for mode in MODES:
        services = build_mode(both, mode, ports=lambda o: memory_world(o).ports)
        assert [s.name for s in services] == [offering.name], mode


def test_an_unknown_mode_names_the_known_ones(config: FedcoreConfig) -> None:
    with pytest.raises(ValueError, match="unknown mode 'event_processing'; known: order_process, membership_sync"):
        build_mode(config, "event_processing", ports=lambda o: memory_world(o).ports)


def test_an_order_pass_uses_the_configured_conversion_and_passthrough(config: FedcoreConfig) -> None:
    worlds = Worlds()
    [services] = build_mode(config, Mode.ORDER_PROCESS, ports=worlds)  # type: ignore[arg-type]
    world = worlds.built[services.name]
    project = world.a.add_project("physics")
    order = world.a.order_create(project, {"node_hours": 3, "cpu": 5}, name="sim")
    world.a.orders[order.uuid] = evolve(order, attributes={"name": "sim", "storage_request": "10T", "x": 1})
    services.orders.run_pass()
    [b_order] = world.b.orders_with_key(idempotency_key(order.uuid))
    assert b_order.limits == {"cpu_k_hours": 384, "cpu": 5}
    assert b_order.attributes == {"name": "sim", "storage_request": "10T"}
    world.b.provider_finish(b_order.uuid, OrderState.DONE)
    services.orders.run_pass()
    assert world.a.orders[order.uuid].state == OrderState.DONE


def test_username_sync_joins_on_the_configured_identity_field(config: FedcoreConfig) -> None:
    offering = config.offerings[0]
    target = evolve(offering.backend_settings, user_resolve_method=UserResolveMethod.USER_FIELD,
                    user_match_field=UserMatchField.EMAIL, identity_bridge_source="")
    by_email = evolve(offering, backend_settings=target)
    world = memory_world(by_email)
    services = build_offering(by_email, ports=lambda _: world.ports)
    a_user = world.a_users.add_user("cuid-on-a", "Ann@Example.org")
    b_user = world.b_users.add_user("local-b-name", "ann@example.org")
    a_record = world.a_users.add_offering_user(a_user)
    world.b_users.add_offering_user(b_user, OfferingUserState.OK, "ann01")
    report = services.sync_usernames()
    assert [p.username for p in report.applied] == ["ann01"]
    assert world.a_users.offering_user(a_record.uuid).username == "ann01"


def test_the_periodic_passes_of_an_offering_run_on_its_ports(config: FedcoreConfig) -> None:
    worlds = Worlds()
    [services] = build_mode(config, Mode.MEMBERSHIP_SYNC, ports=worlds)  # type: ignore[arg-type]
    world = worlds.built[services.name]
    project = world.a.add_project("physics")
    order = world.a.order_create(project, {"node_hours": 3, "cpu": 5}, name="sim")
    services.orders.run_pass()
    [b_order] = world.b.orders_with_key(idempotency_key(order.uuid))
    world.b.provider_finish(b_order.uuid, OrderState.DONE)
    services.orders.run_pass()
    a_resource, b_resource = order.resource_uuid, b_order.resource_uuid
    assert a_resource is not None
    assert b_resource is not None
    world.a_users.add_project(project.uuid)
    world.a_users.grant(project.uuid, world.a_users.add_user("ann@cuid"), "PROJECT.MANAGER")
    world.b.resources[b_resource] = evolve(world.b.resources[b_resource], limits={"cpu_k_hours": 640, "cpu": 5})
    report = services.membership_pass()
    assert [(m.user.username, m.role) for m in world.b.members[b_order.project_uuid]] == [
        ("ann@cuid", "PROJECT.MANAGER")
    ]
    assert world.a.resources[a_resource].limits == {"node_hours": 5, "cpu": 5}
    assert report.removal_skipped == ""
    world.a_usage.add_resource(a_resource)
    world.b_usage.add_resource(b_resource)
    world.b_usage.report(b_resource, dt.date(2026, 1, 1), {"cpu_k_hours": Decimal(256)}, [])
    today = local_today(world.clock, config.timezone)
    usage = services.report_pass(today, config.reporting_periods)
    assert usage.periods == (dt.date(2025, 12, 1), dt.date(2026, 1, 1))
    assert world.a_usage.totals(a_resource, today) == {"node_hours": Decimal(2)}


def test_today_is_the_date_in_the_configured_time_zone() -> None:
    clock = FakeClock(dt.datetime(2026, 1, 31, 22, 30, tzinfo=dt.UTC))
    assert local_today(clock, "UTC") == dt.date(2026, 1, 31)
    assert local_today(clock, "Europe/Tallinn") == dt.date(2026, 2, 1)  # already February there
