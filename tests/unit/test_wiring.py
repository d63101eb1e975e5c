"""The composition root: configuration in, services out, wired to the in-memory fakes through a ports factory."""

from __future__ import annotations

from pathlib import Path

import pytest
from attrs import evolve

from adapters.config import FedcoreConfig, OfferingConfig, load_config
from fedcore.enums import OfferingUserState, OrderState, UserMatchField, UserResolveMethod
from fedcore.lifecycle import idempotency_key
from runners.wiring import MODES, MemoryWorld, Mode, build_mode, build_offering, memory_world

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
