"""Configuration adapter: fedcore's YAML file (waldur-site-agent's format) and what the domain takes from it.

``load_config(path)`` and ``parse_config(text)`` return a :class:`FedcoreConfig` (the file's schema, in
:mod:`adapters.config.schema`) or raise :class:`fedcore.errors.ConfigError` listing every problem with its
path; ``dump_config`` goes the other way; ``notices(config)`` lists the keys that are set but that fedcore
does not act on. ``federation_settings(offering)`` turns one :class:`OfferingConfig` into the
:class:`fedcore.settings.FederationSettings` the services take; a runner reads the rest (tokens, URLs,
STOMP endpoints, which jobs run) from the schema classes. docs/configuration.md is the operator's
reference for the keys.
"""

from adapters.config.federation import federation_settings
from adapters.config.loader import dump_config, load_config, parse_config
from adapters.config.notices import notices
from adapters.config.schema import (
    AccountingType,
    ComponentConfig,
    FedcoreConfig,
    HttpTimeouts,
    LimitPeriod,
    LogLevel,
    LogShippingConfig,
    OfferingConfig,
    Periods,
    Secret,
    StompEndpoint,
    TargetComponentConfig,
    TargetSettings,
    UsernameManagementBackend,
)

__all__ = [
    "AccountingType",
    "ComponentConfig",
    "FedcoreConfig",
    "HttpTimeouts",
    "LimitPeriod",
    "LogLevel",
    "LogShippingConfig",
    "OfferingConfig",
    "Periods",
    "Secret",
    "StompEndpoint",
    "TargetComponentConfig",
    "TargetSettings",
    "UsernameManagementBackend",
    "dump_config",
    "federation_settings",
    "load_config",
    "notices",
    "parse_config",
]
