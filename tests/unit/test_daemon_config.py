"""Every configuration key is acted on by ``fedcore run`` or named at start-up with the reason it is not."""

from __future__ import annotations

import datetime as dt

import pytest
from attrs import evolve
from daemon_kit import Recorder, Worlds, config, daemon

from adapters.config import Periods, notices, parse_config
from adapters.config.loader import dump_config
from fedcore.enums import ResourceState
from fedcore.errors import ConfigError
from fedcore.model import Resource
from runners.wiring import Mode

pytestmark = pytest.mark.unit


def test_the_keys_fedcore_run_acts_on_raise_no_notice() -> None:
    cfg = config("hpc", timezone="Pacific/Kiritimati", log_level="debug", reporting_periods=3,
                 expose_backend_error_details=False, periods={"order_process": 0.5},
                 http_timeouts={"connect": 1})
    offering = cfg.offerings[0]
    off = evolve(offering, verify_ssl=False,
                 backend_settings=evolve(offering.backend_settings, target_verify_ssl=False))
    assert notices(evolve(cfg, offerings=(off,))) == ()


def test_b_order_polling_settings_are_named_with_the_reason_they_do_nothing() -> None:
    cfg = config("hpc")
    offering = cfg.offerings[0]
    noisy = evolve(offering, stomp_enabled=True, backend_settings=evolve(
        offering.backend_settings, target_stomp_enabled=True, order_poll_timeout=600, order_poll_interval=10))
    assert notices(evolve(cfg, offerings=(noisy,))) == (
        "offerings[0].backend_settings.order_poll_timeout: 600, but fedcore never waits on a B order inside a "
        "pass; it reads each B order again on every order_process pass",
        "offerings[0].backend_settings.order_poll_interval: 10, but fedcore never waits on a B order inside a "
        "pass; it reads each B order again on every order_process pass",
    )


def test_periods_load_survive_a_dump_and_refuse_what_is_not_a_positive_number() -> None:
    cfg = config("hpc", periods={"order_process": 0.25, "report": 60})
    assert cfg.periods == Periods(order_process=0.25, report=60.0)
    assert parse_config(dump_config(cfg, reveal_secrets=True)) == cfg
    with pytest.raises(ConfigError) as caught:
        config("hpc", periods={"report": 0, "membership_sync": True, "username_sync": "5", "orders": 1})
    assert caught.value.problems == (
        "periods.membership_sync: must be a number, got true/false",
        "periods.report: must be a positive number of minutes, got 0.0",
        "periods.username_sync: must be a number, got '5'",
        "periods.orders: unknown key (did you mean 'order_process'?); known keys here: duplicate_sweep, "
        "membership_sync, order_process, report, username_sync",
    )


def test_the_duplicate_sweep_runs_every_ten_minutes_unless_configured() -> None:
    assert daemon(config("hpc"), Worlds()).context.sweeps.period == 600
    configured = config("hpc", periods={"duplicate_sweep": 0.5})
    assert configured.periods.duplicate_sweep == 0.5
    assert daemon(configured, Worlds()).context.sweeps.period == 30
    with pytest.raises(ConfigError) as caught:
        config("hpc", periods={"duplicate_sweep": -1})
    assert caught.value.problems == ("periods.duplicate_sweep: must be a positive number of minutes, got -1.0",)


def test_the_report_pass_covers_reporting_periods_months_of_the_configured_timezone() -> None:
    worlds = Worlds()
    # 2026-01-01 00:00 UTC is still 31 December in Honolulu: three periods end with December.
    cfg = config("hpc", timezone="Pacific/Honolulu", reporting_periods=3)
    runner = daemon(cfg, worlds, modes=(Mode.REPORT,), telemetry=Recorder())
    world = worlds.built["hpc"]
    project = world.a.add_project("physics")
    b_resource = world.b.new_uuid()
    a_resource = Resource(world.a.new_uuid(), ResourceState.OK, world.a.offering_uuid, project.uuid,
                          backend_id=b_resource, customer_uuid=project.customer_uuid)
    world.a.resources[a_resource.uuid] = a_resource
    world.a_usage.add_resource(a_resource.uuid)
    world.b_usage.add_resource(b_resource)
    [result] = runner.tick().results
    assert result.ok, result.summary
    assert "(2025-10, 2025-11, 2025-12)" in result.summary
    assert world.clock.now() == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
