"""The configuration loader: the agent's files load, defaults hold, every problem is reported with its path."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from adapters.config import (
    AccountingType,
    ComponentConfig,
    FedcoreConfig,
    HttpTimeouts,
    LogLevel,
    OfferingConfig,
    Secret,
    TargetComponentConfig,
    TargetSettings,
    UsernameManagementBackend,
    dump_config,
    federation_settings,
    load_config,
    notices,
    parse_config,
)
from fedcore.enums import (
    EndDateSyncDirection,
    LimitSyncDirection,
    UserMatchField,
    UserNotFoundAction,
    UserResolveMethod,
)
from fedcore.errors import ConfigError
from fedcore.model import ComponentMapping

pytestmark = pytest.mark.unit

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "config.yaml"
TOKEN_A = "a-token-0123456789abcdef"
TOKEN_B = "b-token-fedcba9876543210"
UUID_A = "11111111-2222-4333-8444-555555555555"
UUID_B = "66666666-7777-4888-9999-aaaaaaaaaaaa"
UUID_C = "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff"

# The "Configuration Template" of seed 001, verbatim except for its placeholders.
SEED_001_TEMPLATE = """
timezone: "UTC"
offerings:
  - name: "Federation E2E"
    waldur_api_url: "https://waldur-a.example.com/api/"
    waldur_api_token: "<token-for-A>"
    waldur_offering_uuid: "<offering-uuid-on-A>"
    backend_type: "waldur"
    order_processing_backend: "waldur"
    reporting_backend: "waldur"
    membership_sync_backend: "waldur"

    # For STOMP tests (optional)
    stomp_enabled: true
    websocket_use_tls: true

    backend_settings:
      target_api_url: "https://waldur-b.example.com/"
      target_api_token: "<token-for-B>"
      target_offering_uuid: "<offering-uuid-on-B>"
      target_customer_uuid: "<customer-uuid-on-B>"
      user_match_field: "cuid"
      order_poll_timeout: 300
      order_poll_interval: 5
      user_not_found_action: "warn"
      # For target STOMP tests (optional); same UUID as target_offering_uuid
      # since the target offering is Marketplace.Slurm
      target_stomp_enabled: true
      target_stomp_offering_uuid: "<offering-uuid-on-B>"

    backend_components:
      # Example: passthrough (1:1) or with conversion factors
      component_a:
        measured_unit: "Units"
        unit_factor: 1.0
        accounting_type: "limit"
        label: "Component A"
        target_components:
          target_component_a:
            factor: 128.0
"""


def seed_text() -> str:
    replacements = {
        "<token-for-A>": TOKEN_A,
        "<token-for-B>": TOKEN_B,
        "<offering-uuid-on-A>": UUID_A,
        "<offering-uuid-on-B>": UUID_B,
        "<customer-uuid-on-B>": UUID_C,
    }
    text = SEED_001_TEMPLATE
    for placeholder, value in replacements.items():
        text = text.replace(placeholder, value)
    return text


def minimal() -> dict[str, Any]:
    """The smallest valid configuration, as parsed YAML."""
    return {
        "offerings": [
            {
                "name": "hpc",
                "waldur_api_url": "https://a.example.com/api/",
                "waldur_api_token": TOKEN_A,
                "waldur_offering_uuid": UUID_A,
                "backend_type": "waldur",
                "backend_settings": {
                    "target_api_url": "https://b.example.com/api/",
                    "target_api_token": TOKEN_B,
                    "target_offering_uuid": UUID_B,
                    "target_customer_uuid": UUID_C,
                },
            }
        ]
    }


def problems(data: object, **kwargs: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, **kwargs)  # type: ignore[arg-type]
    return list(info.value.problems)


def with_value(path: str, value: object) -> dict[str, Any]:
    """The minimal configuration with the dotted ``path`` (``offerings.0.name``) set to ``value``."""
    data = minimal()
    *parents, last = path.split(".")
    node: Any = data
    for step in parents:
        node = node[int(step)] if isinstance(node, list) else node.setdefault(step, {})
    node[last] = value
    return data


def without(path: str) -> dict[str, Any]:
    data = minimal()
    *parents, last = path.split(".")
    node: Any = data
    for step in parents:
        node = node[int(step)] if isinstance(node, list) else node[step]
    del node[last]
    return data


# --- Real files load ----------------------------------------------------------------------------


def test_seed_001_template_loads() -> None:
    config = parse_config(seed_text())

    offering = config.offerings[0]
    settings = offering.backend_settings
    assert config.timezone == "UTC"
    assert offering.name == "Federation E2E"
    assert offering.waldur_api_url == "https://waldur-a.example.com/api/"
    assert offering.waldur_api_token.reveal() == TOKEN_A
    assert offering.waldur_offering_uuid == "11111111222243338444555555555555"
    assert (offering.processes_orders, offering.syncs_membership, offering.reports_usage) == (True, True, True)
    assert offering.stomp_enabled
    assert settings.target_api_url == "https://waldur-b.example.com/api/"
    assert settings.target_api_token.reveal() == TOKEN_B
    assert settings.target_customer_uuid == "bbbbbbbbcccc4ddd8eeeffffffffffff"
    assert settings.stomp_offering_uuid == settings.target_offering_uuid == "66666666777748889999aaaaaaaaaaaa"
    assert settings.target_stomp_enabled
    assert (settings.order_poll_timeout, settings.order_poll_interval) == (300, 5)
    assert offering.component_mappings == (
        ComponentMapping(source="component_a", targets={"target_component_a": Decimal(128)}),
    )
    assert offering.backend_components["component_a"].accounting_type is AccountingType.LIMIT


def test_example_file_loads_with_tokens_from_the_environment() -> None:
    config = load_config(EXAMPLE, environ={"WALDUR_A_TOKEN": TOKEN_A, "WALDUR_B_TOKEN": TOKEN_B})

    offering = config.offerings[0]
    settings = offering.backend_settings
    assert offering.waldur_api_token == Secret(TOKEN_A)
    assert settings.target_api_token == Secret(TOKEN_B)
    assert settings.user_resolve_method is UserResolveMethod.IDENTITY_BRIDGE
    assert settings.identity_bridge_source == "isd:puhuri"
    assert offering.username_management_backend is UsernameManagementBackend.WALDUR_IDENTITY_BRIDGE
    assert dict(offering.component_mappings[0].targets) == {}
    assert offering.component_mappings[0].is_passthrough
    assert offering.component_mappings[1] == ComponentMapping("node_hours", {"cpu_k_hours": Decimal(128)})
    assert offering.stomp_endpoint.url == "wss://waldur-a.example.com:443/rmqws-stomp"
    assert settings.stomp_endpoint.url == "wss://waldur-b.example.com:443/rmqws-stomp"
    assert notices(config) == ()


def test_example_file_without_its_environment_names_both_variables() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(EXAMPLE, environ={})
    assert info.value.problems == (
        "offerings[0].waldur_api_token: environment variable WALDUR_A_TOKEN is not set",
        "offerings[0].backend_settings.target_api_token: environment variable WALDUR_B_TOKEN is not set",
    )


# --- Defaults -----------------------------------------------------------------------------------


def test_defaults() -> None:
    config = parse_config(minimal())

    assert (config.timezone, config.log_level, config.reporting_periods) == ("UTC", LogLevel.INFO, 2)
    assert (config.sentry_dsn, config.global_proxy, config.elastic_apm_server_url) == (None, None, None)
    assert config.expose_backend_error_details is True
    assert config.log_shipping.enabled is False
    offering = config.offerings[0]
    assert offering.backend_components == {}
    assert (offering.order_processing_backend, offering.membership_sync_backend, offering.reporting_backend) == (
        "",
        "",
        "",
    )
    assert offering.username_management_backend is UsernameManagementBackend.BASE
    assert (offering.stomp_enabled, offering.websocket_use_tls, offering.verify_ssl) == (False, True, True)
    assert (offering.stomp_ws_host, offering.stomp_ws_port, offering.stomp_ws_path) == (None, None, None)
    assert offering.username_reconciliation_enabled is False
    assert offering.stomp_endpoint.url == "wss://a.example.com:443/rmqws-stomp"
    settings = offering.backend_settings
    assert settings.user_match_field is UserMatchField.CUID
    assert settings.user_resolve_method is UserResolveMethod.USER_FIELD
    assert settings.user_not_found_action is UserNotFoundAction.WARN
    assert settings.end_date_sync_direction is EndDateSyncDirection.BIDIRECTIONAL
    assert settings.limit_sync_direction is LimitSyncDirection.B_TO_A
    assert (settings.role_mapping, settings.default_role, settings.passthrough_attributes) == ({}, None, ())
    assert (settings.order_poll_timeout, settings.order_poll_interval) == (300, 5)
    assert settings.fetch_consented_users_only is False
    assert settings.target_stomp_enabled is False
    assert settings.stomp_offering_uuid == settings.target_offering_uuid
    assert settings.stomp_endpoint.url == "wss://b.example.com:443/rmqws-stomp"


def test_identity_bridge_is_the_default_method_once_a_source_is_set() -> None:
    config = parse_config(with_value("offerings.0.backend_settings.identity_bridge_source", "isd:puhuri"))
    assert config.offerings[0].backend_settings.user_resolve_method is UserResolveMethod.IDENTITY_BRIDGE


def test_websocket_port_follows_the_websocket_scheme_not_ssl_verification() -> None:
    data = with_value("offerings.0.verify_ssl", False)
    assert parse_config(data).offerings[0].stomp_endpoint.port == 443
    data["offerings"][0]["websocket_use_tls"] = False
    endpoint = parse_config(data).offerings[0].stomp_endpoint
    assert (endpoint.port, endpoint.url) == (80, "ws://a.example.com:80/rmqws-stomp")


def test_explicit_websocket_settings_win() -> None:
    data = minimal()
    data["offerings"][0].update(stomp_ws_host="localhost", stomp_ws_port=15674, stomp_ws_path="/ws")
    data["offerings"][0]["websocket_use_tls"] = False
    data["offerings"][0]["backend_settings"].update(
        target_api_url="http://127.0.0.1:8001", target_stomp_ws_port=15675, target_stomp_ws_path="/ws"
    )
    offering = parse_config(data).offerings[0]
    assert offering.stomp_endpoint.url == "ws://localhost:15674/ws"
    assert offering.backend_settings.stomp_endpoint.url == "ws://127.0.0.1:15675/ws"


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("https://waldur-b.example.com/", "https://waldur-b.example.com/api/"),
        ("https://waldur-b.example.com", "https://waldur-b.example.com/api/"),
        ("https://waldur-b.example.com/api", "https://waldur-b.example.com/api/"),
        ("https://waldur-b.example.com/api/", "https://waldur-b.example.com/api/"),
        ("HTTP://Waldur.Example.com:8000/api//", "http://waldur.example.com:8000/api/"),
        ("https://example.com/waldur/", "https://example.com/waldur/api/"),
    ],
)
def test_api_urls_are_normalised(given: str, normalised: str) -> None:
    data = with_value("offerings.0.backend_settings.target_api_url", given)
    data["offerings"][0]["waldur_api_url"] = given
    offering = parse_config(data).offerings[0]
    assert offering.backend_settings.target_api_url == offering.waldur_api_url == normalised


def test_role_mapping_with_a_default_role() -> None:
    data = with_value("offerings.0.backend_settings.role_mapping", {"PROJECT.ADMIN": "PROJECT.MANAGER"})
    roles = federation_settings(parse_config(data).offerings[0]).roles
    assert (roles.b_role("PROJECT.ADMIN"), roles.b_role("PROJECT.MEMBER")) == ("PROJECT.MANAGER", "PROJECT.MEMBER")
    data["offerings"][0]["backend_settings"]["default_role"] = "PROJECT.MEMBER"
    roles = federation_settings(parse_config(data).offerings[0]).roles
    assert (roles.b_role("PROJECT.ADMIN"), roles.b_role("CUSTOM")) == ("PROJECT.MANAGER", "PROJECT.MEMBER")


def test_the_agent_top_level_keys_are_kept_typed() -> None:
    data = minimal()
    data.update(
        log_level="debug",
        reporting_periods=3,
        sentry_dsn="https://key@sentry.example.com/1",
        elastic_apm_server_url="",
        global_proxy="",
        expose_backend_error_details=False,
        log_shipping={"enabled": True, "ship_interval_seconds": 30},
    )
    config = parse_config(data)
    assert (config.log_level, config.reporting_periods, config.expose_backend_error_details) == (
        LogLevel.DEBUG,
        3,
        False,
    )
    assert config.sentry_dsn == Secret("https://key@sentry.example.com/1")
    assert (config.elastic_apm_server_url, config.global_proxy) == (None, None)
    assert config.log_shipping.ship_interval_seconds == 30
    assert notices(config) == (
        "sentry_dsn: set, but fedcore does not act on it",
        "log_shipping.enabled: set, but fedcore does not act on it",
        "offerings[0]: none of order_processing_backend, membership_sync_backend, reporting_backend is 'waldur';"
        " fedcore will not serve this offering",
    )


def test_empty_or_null_backend_selectors_mean_off() -> None:
    data = with_value("offerings.0.order_processing_backend", None)
    data["offerings"][0]["reporting_backend"] = ""
    data["offerings"][0]["membership_sync_backend"] = "WALDUR"
    offering = parse_config(data).offerings[0]
    assert (offering.processes_orders, offering.reports_usage, offering.syncs_membership) == (False, False, True)


def test_factors_keep_exact_decimals() -> None:
    data = with_value(
        "offerings.0.backend_components",
        {
            "gpu": {
                "measured_unit": "h",
                "accounting_type": "usage",
                "label": "GPU",
                "target_components": {
                    "gpu_min": {"factor": 60},
                    "gpu_k": {"factor": 0.001},
                    "gpu_third": {"factor": "0.3333333333333333333"},
                },
            }
        },
    )
    (mapping,) = parse_config(data).offerings[0].component_mappings
    assert dict(mapping.targets) == {
        "gpu_min": Decimal(60),
        "gpu_k": Decimal("0.001"),
        "gpu_third": Decimal("0.3333333333333333333"),
    }
    assert all(isinstance(f, Decimal) for f in mapping.targets.values())


# --- Every error, with its path -----------------------------------------------------------------

BS = "offerings[0].backend_settings"
COMPONENT = {"measured_unit": "h", "accounting_type": "limit", "label": "CPU"}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (without("offerings"), "offerings: required"),
        ({"offerings": "hpc"}, "offerings: must be a list, got a string"),
        ({"offerings": []}, "offerings: must list at least one offering"),
        (without("offerings.0.name"), "offerings[0].name: required"),
        (with_value("offerings.0.name", " "), "offerings[0].name: must not be empty"),
        (with_value("offerings.0.name", 7), "offerings[0].name: must be a string, got 7"),
        (without("offerings.0.backend_settings.target_api_url"), f"{BS}.target_api_url: required"),
        (
            with_value("offerings.0.waldur_api_url", "ftp://a.example.com/"),
            "offerings[0].waldur_api_url: must be an http:// or https:// URL, got 'ftp://a.example.com/'",
        ),
        (
            with_value("offerings.0.waldur_api_url", "https://a.example.com/api/?x=1"),
            "offerings[0].waldur_api_url: must not have a query or fragment, got 'https://a.example.com/api/?x=1'",
        ),
        (
            with_value("offerings.0.waldur_offering_uuid", "<offering-uuid-on-A>"),
            "offerings[0].waldur_offering_uuid: must be a UUID, got '<offering-uuid-on-A>'",
        ),
        (
            with_value("offerings.0.backend_type", "slurm"),
            "offerings[0].backend_type: fedcore serves only backend_type 'waldur' (Waldur-to-Waldur), got 'slurm'",
        ),
        (
            with_value("offerings.0.order_processing_backend", "slurm"),
            "offerings[0].order_processing_backend: fedcore only provides the 'waldur' backend;"
            " set 'waldur' or leave it empty, got 'slurm'",
        ),
        (
            with_value("offerings.0.username_management_backend", "ldap"),
            "offerings[0].username_management_backend: must be one of base, waldur-identity-bridge, got 'ldap'",
        ),
        (
            with_value("offerings.0.stomp_enabled", "yes please"),
            "offerings[0].stomp_enabled: must be true or false, got 'yes please'",
        ),
        (
            with_value("offerings.0.stomp_ws_port", 70000),
            "offerings[0].stomp_ws_port: must be between 1 and 65535, got 70000",
        ),
        (with_value("offerings.0.stomp_ws_path", "ws"), "offerings[0].stomp_ws_path: must start with '/', got 'ws'"),
        (
            with_value("offerings.0.stomp_ws_host", "wss://h/"),
            "offerings[0].stomp_ws_host: must be a bare host name (no scheme, port or path), got 'wss://h/'",
        ),
        (
            with_value("offerings.0.mqtt_enabled", True),
            "offerings[0].mqtt_enabled: MQTT is not supported by fedcore; use stomp_enabled (STOMP over WebSocket)",
        ),
        (
            with_value("offerings.0.oidc_client_secret", "s"),
            "offerings[0].oidc_client_secret: OIDC client credentials are not supported by fedcore;"
            " set waldur_api_token",
        ),
        (with_value("offerings.0.waldur_api_token", ""), "offerings[0].waldur_api_token: must not be empty"),
        (
            with_value("offerings.0.backend_settings.user_match_field", "cuidd"),
            f"{BS}.user_match_field: must be one of cuid, email, username, got 'cuidd'",
        ),
        (
            with_value("offerings.0.backend_settings.user_resolve_method", "identity_bridge"),
            f"{BS}.identity_bridge_source: required when user_resolve_method is 'identity_bridge'",
        ),
        (
            with_value("offerings.0.backend_settings.identity_bridge_source", "puhuri"),
            f"{BS}.identity_bridge_source: must look like 'isd:name' (pattern ^[a-z]+:[a-zA-Z0-9._-]+$), got 'puhuri'",
        ),
        (
            with_value("offerings.0.backend_settings.user_not_found_action", "ignore"),
            f"{BS}.user_not_found_action: must be one of warn, fail, got 'ignore'",
        ),
        (
            with_value("offerings.0.backend_settings.end_date_sync_direction", "both"),
            f"{BS}.end_date_sync_direction: must be one of a_to_b, b_to_a, bidirectional, disabled, got 'both'",
        ),
        (
            with_value("offerings.0.backend_settings.limit_sync_direction", "a_to_b"),
            f"{BS}.limit_sync_direction: must be one of b_to_a, disabled, got 'a_to_b'",
        ),
        (
            with_value("offerings.0.backend_settings.order_poll_interval", 0),
            f"{BS}.order_poll_interval: must be at least 1, got 0",
        ),
        (
            with_value("offerings.0.backend_settings.order_poll_timeout", 2.5),
            f"{BS}.order_poll_timeout: must be a whole number, got 2.5",
        ),
        (
            with_value("offerings.0.backend_settings.order_poll_interval", 600),
            f"{BS}.order_poll_interval: must not exceed order_poll_timeout (600 > 300)",
        ),
        (
            with_value("offerings.0.backend_settings.role_mapping", {"PROJECT.ADMIN": ""}),
            f"{BS}.role_mapping: role names must not be empty ('PROJECT.ADMIN' maps to '')",
        ),
        (
            with_value("offerings.0.backend_settings.role_mapping", {"PROJECT.ADMIN": 3}),
            f"{BS}.role_mapping['PROJECT.ADMIN']: must be a string, got 3",
        ),
        (
            with_value("offerings.0.backend_settings.passthrough_attributes", ["a", "a"]),
            f"{BS}.passthrough_attributes: lists 'a' more than once",
        ),
        (
            with_value("offerings.0.backend_settings.passthrough_attributes", ["a", 1]),
            f"{BS}.passthrough_attributes[1]: must be a string, got 1",
        ),
        (
            with_value("offerings.0.backend_settings.target_customer_uuid", 12),
            f"{BS}.target_customer_uuid: must be a UUID, got 12",
        ),
        (
            with_value(
                "offerings.0.backend_components", {"cpu": {**COMPONENT, "target_components": {"x": {"factor": -1}}}}
            ),
            "offerings[0].backend_components.cpu.target_components.x.factor: must be a positive finite number, got -1",
        ),
        (
            with_value(
                "offerings.0.backend_components", {"cpu": {**COMPONENT, "target_components": {"x": {"factor": "many"}}}}
            ),
            "offerings[0].backend_components.cpu.target_components.x.factor: must be a number, got 'many'",
        ),
        (
            with_value("offerings.0.backend_components", {"cpu": {**COMPONENT, "unit_factor": float("nan")}}),
            "offerings[0].backend_components.cpu.unit_factor: must be a positive finite number, got NaN",
        ),
        (
            with_value("offerings.0.backend_components", {"cpu": {**COMPONENT, "accounting_type": "fixed"}}),
            "offerings[0].backend_components.cpu.accounting_type: must be one of usage, limit, one, got 'fixed'",
        ),
        (
            with_value("offerings.0.backend_components", {"cpu": {"label": "CPU", "accounting_type": "limit"}}),
            "offerings[0].backend_components.cpu.measured_unit: required",
        ),
        (
            with_value("offerings.0.backend_components", {"": COMPONENT}),
            "offerings[0].backend_components['']: component name must not be empty",
        ),
        (
            with_value("offerings.0.backend_components", {"cpu": "x"}),
            "offerings[0].backend_components.cpu: must be a mapping, got a string",
        ),
        (with_value("timezone", "Mars/Olympus"), "timezone: unknown time zone 'Mars/Olympus'"),
        (
            with_value("log_level", "loud"),
            "log_level: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'loud'",
        ),
        (with_value("reporting_periods", 13), "reporting_periods: must be between 1 and 12, got 13"),
        (
            with_value("sentry_dsn", "not a url"),
            "sentry_dsn: must be an http:// or https:// URL (the value is not shown)",
        ),
        (
            with_value("global_proxy", "ftp://proxy"),
            "global_proxy: must be a proxy URL with a scheme of http, https, socks5, socks5h (the value is not shown)",
        ),
        (
            with_value("log_shipping", {"ship_interval_seconds": 5}),
            "log_shipping.ship_interval_seconds: must be at least 10, got 5",
        ),
    ],
)
def test_each_error_names_its_path(data: dict[str, Any], expected: str) -> None:
    assert problems(data) == [expected]


def test_the_top_level_must_be_a_mapping() -> None:
    assert problems("- a\n- b\n") == ["(top level): must be a mapping with an 'offerings' list"]


def test_an_unknown_key_lists_the_known_keys_of_its_level() -> None:
    (problem,) = problems(with_value("offerings.0.backend_settings.target_url", "https://b.example.com/"))
    assert problem.startswith(f"{BS}.target_url: unknown key (did you mean 'target_api_url'?); known keys here: ")
    listed = problem.split("known keys here: ")[1].split(", ")
    assert listed == sorted(a.name for a in TargetSettings.__attrs_attrs__)
    (problem,) = problems(with_value("colour", "blue"))
    assert problem.startswith("colour: unknown key; known keys here: elastic_apm_server_url, expose_backend_error_")


def test_every_problem_is_reported_at_once() -> None:
    data = minimal()
    data["offerings"].append(copy.deepcopy(data["offerings"][0]))
    first, second = data["offerings"]
    del first["backend_settings"]["target_api_url"]
    first["backend_components"] = {"cpu": {**COMPONENT, "target_components": {"x": {"factor": -1}}}}
    first["stomp_ws_port"] = "443"
    second["backend_settings"]["user_match_field"] = "nickname"
    second["surprise"] = True
    data["reporting_periods"] = 0

    assert problems(data) == [
        f"{BS}.target_api_url: required",
        "offerings[0].backend_components.cpu.target_components.x.factor: must be a positive finite number, got -1",
        "offerings[0].stomp_ws_port: must be a whole number, got '443'",
        "offerings[1].backend_settings.user_match_field: must be one of cuid, email, username, got 'nickname'",
        "offerings[1].surprise: unknown key; known keys here: "
        + ", ".join(sorted(a.name for a in OfferingConfig.__attrs_attrs__)),
        "reporting_periods: must be between 1 and 12, got 0",
    ]


def test_repeated_offering_names_and_uuids() -> None:
    data = minimal()
    data["offerings"].append(copy.deepcopy(data["offerings"][0]))
    assert problems(data) == [
        "offerings[1].name: repeats offerings[0].name ('hpc')",
        "offerings[1].waldur_offering_uuid: repeats offerings[0].waldur_offering_uuid"
        " ('11111111222243338444555555555555')",
    ]


def test_an_offering_cannot_target_itself() -> None:
    data = minimal()
    data["offerings"][0]["backend_settings"].update(target_api_url="https://a.example.com", target_offering_uuid=UUID_A)
    assert problems(data) == [f"{BS}.target_offering_uuid: is the source offering itself (same URL and UUID as A)"]


def test_yaml_syntax_errors_name_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(f'offerings:\n  - name: "hpc"\n    waldur_api_token: "{TOKEN_A}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (problem,) = info.value.problems
    assert problem.startswith(f"{path}:4:1: invalid YAML: ")
    assert TOKEN_A not in str(info.value)


def test_repeated_yaml_keys_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text("offerings:\n  - name: a\n    name: b\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == (f"{path}:3:5: key 'name' appears twice in one mapping",)


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "missing.yaml")
    assert info.value.problems == (f"{tmp_path / 'missing.yaml'}: cannot read: No such file or directory",)


# --- Tokens: from the environment, and never shown -----------------------------------------------


def test_tokens_come_from_the_environment() -> None:
    data = with_value("offerings.0.waldur_api_token", "${FEDCORE_A}")
    data["offerings"][0]["backend_settings"]["target_api_token"] = " ${FEDCORE_B} "
    config = parse_config(data, environ={"FEDCORE_A": TOKEN_A, "FEDCORE_B": TOKEN_B})
    assert config.offerings[0].waldur_api_token.reveal() == TOKEN_A
    assert config.offerings[0].backend_settings.target_api_token.reveal() == TOKEN_B


def test_a_missing_or_empty_variable_names_path_and_variable() -> None:
    data = with_value("offerings.0.waldur_api_token", "${FEDCORE_A}")
    data["offerings"][0]["backend_settings"]["target_api_token"] = "${FEDCORE_B}"
    assert problems(data, environ={"FEDCORE_B": "  "}) == [
        "offerings[0].waldur_api_token: environment variable FEDCORE_A is not set",
        f"{BS}.target_api_token: environment variable FEDCORE_B is empty",
    ]


def test_secret_hides_its_value() -> None:
    secret = Secret(TOKEN_A)
    assert repr(secret) == "Secret('***')"
    assert str(secret) == f"{secret}" == "***"
    assert secret.reveal() == TOKEN_A
    assert secret == Secret(TOKEN_A)
    assert secret != Secret(TOKEN_B)


def test_tokens_never_appear_in_reprs_dumps_or_errors() -> None:
    config = parse_config(seed_text())
    assert TOKEN_A not in repr(config)
    assert TOKEN_B not in repr(config)
    assert TOKEN_A not in str(config)
    assert TOKEN_B not in str(config)
    assert TOKEN_A not in yaml.safe_dump(dump_config(config))

    broken = yaml.safe_load(seed_text())
    broken["offerings"][0]["waldur_offering_uuid"] = "nope"
    broken["offerings"][0]["backend_settings"]["target_api_token"] = {"token": TOKEN_B}
    broken["offerings"][0]["waldur_api_url"] = f"https://user:{TOKEN_A}@a.example.com/"
    broken["sentry_dsn"] = f"sentry:{TOKEN_A}"
    broken["elastic_apm_server_url"] = f"ftp://apm:{TOKEN_B}@apm.example.com"
    broken["global_proxy"] = f"gopher://{TOKEN_B}@proxy"
    with pytest.raises(ConfigError) as info:
        parse_config(broken)
    assert len(info.value.problems) == 6
    assert TOKEN_A not in str(info.value)
    assert TOKEN_B not in str(info.value)


# --- Dump and load --------------------------------------------------------------------------------


def test_dump_masks_secrets_unless_asked() -> None:
    config = parse_config(minimal())
    assert dump_config(config)["offerings"][0]["waldur_api_token"] == "***"
    assert dump_config(config, reveal_secrets=True)["offerings"][0]["waldur_api_token"] == TOKEN_A


def test_the_example_survives_dump_and_load() -> None:
    config = load_config(EXAMPLE, environ={"WALDUR_A_TOKEN": TOKEN_A, "WALDUR_B_TOKEN": TOKEN_B})
    assert parse_config(yaml.safe_dump(dump_config(config, reveal_secrets=True))) == config


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
uuids = st.uuids().map(lambda u: u.hex)
urls = st.sampled_from(["https://a.example.com/api/", "http://10.0.0.1:8000/api/", "https://h.example.org/w/api/"])
factors = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(10**6), places=3).filter(lambda d: d > 0)
tokens = st.text(alphabet="abcdefABCDEF0123456789-", min_size=1, max_size=20)

components = st.builds(
    ComponentConfig,
    measured_unit=names,
    accounting_type=st.sampled_from(AccountingType),
    label=names,
    unit_factor=factors,
    target_components=st.dictionaries(names, st.builds(TargetComponentConfig, factor=factors), max_size=3),
    limit=st.none() | factors,
    min_value=st.none() | st.integers(0, 10),
)
settings = st.builds(
    TargetSettings,
    target_api_url=urls,
    target_api_token=tokens.map(Secret),
    target_offering_uuid=uuids,
    target_customer_uuid=uuids,
    user_match_field=st.sampled_from(UserMatchField),
    identity_bridge_source=st.sampled_from(["", "isd:puhuri"]),
    user_not_found_action=st.sampled_from(UserNotFoundAction),
    role_mapping=st.dictionaries(names, names, max_size=3),
    default_role=st.none() | names,
    end_date_sync_direction=st.sampled_from(EndDateSyncDirection),
    limit_sync_direction=st.sampled_from(LimitSyncDirection),
    passthrough_attributes=st.lists(names, unique=True, max_size=3).map(tuple),
    order_poll_timeout=st.integers(10, 1000),
    order_poll_interval=st.integers(1, 10),
    target_stomp_enabled=st.booleans(),
    target_stomp_offering_uuid=st.none() | uuids,
    target_stomp_ws_port=st.none() | st.integers(1, 65535),
)


@st.composite
def configs(draw: st.DrawFn) -> FedcoreConfig:
    count = draw(st.integers(1, 2))
    offering_names = draw(st.lists(names, min_size=count, max_size=count, unique=True))
    offering_uuids = draw(st.lists(uuids, min_size=count, max_size=count, unique=True))
    offerings = [
        OfferingConfig(
            name=name,
            waldur_api_url=draw(urls),
            waldur_api_token=Secret(draw(tokens)),
            waldur_offering_uuid=uuid,
            backend_settings=draw(settings),
            backend_components=draw(st.dictionaries(names, components, max_size=3)),
            order_processing_backend=draw(st.sampled_from(["", "waldur"])),
            username_management_backend=draw(st.sampled_from(UsernameManagementBackend)),
            stomp_enabled=draw(st.booleans()),
            websocket_use_tls=draw(st.booleans()),
            stomp_ws_path=draw(st.none() | st.just("/ws")),
            stomp_membership_sync_enabled=draw(st.none() | st.booleans()),
        )
        for name, uuid in zip(offering_names, offering_uuids, strict=True)
    ]
    return FedcoreConfig(
        offerings=tuple(offerings),
        timezone=draw(st.sampled_from(["UTC", "Europe/Tallinn"])),
        log_level=draw(st.sampled_from(LogLevel)),
        reporting_periods=draw(st.integers(1, 12)),
    )


@given(configs())
def test_any_valid_config_survives_dump_and_load(config: FedcoreConfig) -> None:
    text = yaml.safe_dump(dump_config(config, reveal_secrets=True))
    assert parse_config(text) == config


DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


@pytest.mark.parametrize(
    "cl",
    [FedcoreConfig, OfferingConfig, TargetSettings, ComponentConfig, TargetComponentConfig, HttpTimeouts],
    ids=lambda c: c.__name__,
)
def test_every_key_is_documented(cl: type) -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [a.name for a in cl.__attrs_attrs__ if f"`{a.name}`" not in text]  # type: ignore[attr-defined]
    assert missing == []


def test_http_timeouts_and_ca_bundles_load_and_bad_values_name_their_path() -> None:
    base = minimal()
    good = {**base, "http_timeouts": {"connect": 2, "read": 12.5}}
    good["offerings"] = [{**base["offerings"][0], "ca_bundle": "/etc/ssl/a.pem"}]
    good["offerings"][0]["backend_settings"] = {**base["offerings"][0]["backend_settings"],
                                                "target_verify_ssl": False, "target_ca_bundle": "/etc/ssl/b.pem"}
    config = parse_config(good)
    assert config.http_timeouts == HttpTimeouts(connect=2, read=12.5)
    assert config.offerings[0].ca_bundle == "/etc/ssl/a.pem"
    assert config.offerings[0].backend_settings.target_verify_ssl is False
    bad = {**good, "http_timeouts": {"read": 0, "pool": -1}}
    with pytest.raises(ConfigError) as caught:
        parse_config(bad)
    assert any("http_timeouts.read" in p for p in caught.value.problems)
    assert any("http_timeouts.pool" in p for p in caught.value.problems)
