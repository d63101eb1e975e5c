"""The private cattrs converters: YAML data -> :mod:`adapters.config.schema` values, and back for dumping.

Structuring is strict with our own input: scalars are never coerced across kinds (``"false"`` is not a
bool, ``5.5`` is not an int), unknown keys are refused, and every key gets its check from
:mod:`adapters.config._checks` through a per-field hook, so cattrs reports all failures in one tree.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from decimal import Decimal, InvalidOperation
from typing import Any, get_args, get_origin

import attrs
import cattrs
from cattrs.cols import homogenous_tuple_structure_factory, mapping_structure_factory
from cattrs.gen import make_dict_structure_fn, override

from adapters.config import _checks as check
from adapters.config._problems import Problems
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
    TargetComponentConfig,
    TargetSettings,
    UsernameManagementBackend,
)
from fedcore.enums import (
    EndDateSyncDirection,
    LimitSyncDirection,
    UserMatchField,
    UserNotFoundAction,
    UserResolveMethod,
)
from fedcore.ids import Uuid, normalize_uuid

ENVIRON: ContextVar[Mapping[str, str]] = ContextVar("fedcore_config_environ")
"""The environment ``${NAME}`` secrets are read from, set by ``parse_config`` for one call."""

_ENV_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_ENUMS: tuple[type[enum.Enum], ...] = (
    AccountingType,
    EndDateSyncDirection,
    LimitPeriod,
    LimitSyncDirection,
    UserMatchField,
    UsernameManagementBackend,
    UserNotFoundAction,
    UserResolveMethod,
)
_CLASSES = (
    FedcoreConfig, HttpTimeouts, LogShippingConfig, OfferingConfig, TargetSettings, ComponentConfig,
    TargetComponentConfig, Periods,
)

_FIELD_CHECKS: dict[type, dict[str, Callable[[Any], Any]]] = {
    FedcoreConfig: {
        "offerings": check.some_offerings,
        "timezone": check.timezone,
        "reporting_periods": check.in_range(1, 12),
        "elastic_apm_server_url": check.plain_url,
        "sentry_dsn": check.secret_url,
        "global_proxy": check.proxy_url,
    },
    LogShippingConfig: {"ship_interval_seconds": check.in_range(10), "buffer_size_mb": check.in_range(1)},
    HttpTimeouts: dict.fromkeys(("connect", "read", "write", "pool"), check.seconds),
    Periods: dict.fromkeys(("order_process", "membership_sync", "report", "username_sync", "duplicate_sweep"),
                           check.optional(check.minutes)),
    OfferingConfig: {
        "name": check.non_empty,
        "waldur_api_url": check.api_url,
        "backend_type": check.backend_type,
        "order_processing_backend": check.backend_name,
        "membership_sync_backend": check.backend_name,
        "reporting_backend": check.backend_name,
        "stomp_ws_host": check.optional(check.ws_host),
        "stomp_ws_port": check.optional(check.in_range(1, 65535)),
        "stomp_ws_path": check.optional(check.ws_path),
        "mqtt_enabled": check.no_mqtt,
        "backend_components": check.component_names,
        "ca_bundle": check.optional(check.non_empty),
    },
    TargetSettings: {
        "target_api_url": check.api_url,
        "identity_bridge_source": check.identity_source,
        "role_mapping": check.role_pairs,
        "default_role": check.optional_non_empty,
        "passthrough_attributes": check.passthrough_keys,
        "order_poll_timeout": check.in_range(1),
        "order_poll_interval": check.in_range(1),
        "target_stomp_ws_host": check.optional(check.ws_host),
        "target_stomp_ws_port": check.optional(check.in_range(1, 65535)),
        "target_stomp_ws_path": check.optional(check.ws_path),
        "target_ca_bundle": check.optional(check.non_empty),
    },
    ComponentConfig: {
        "unit_factor": check.positive_factor,
        "unit_factor_reporting": check.optional(check.positive_factor),
        "limit": check.optional(check.finite),
    },
    TargetComponentConfig: {"factor": check.positive_factor},
}

# The existing agent writes these as null or "" to mean "unset"; fedcore reads both that way.
_EMPTY_MEANS_UNSET = {
    (FedcoreConfig, "sentry_dsn"),
    (FedcoreConfig, "elastic_apm_server_url"),
    (FedcoreConfig, "global_proxy"),
    (OfferingConfig, "order_processing_backend"),
    (OfferingConfig, "membership_sync_backend"),
    (OfferingConfig, "reporting_backend"),
}

_POST_CHECKS: dict[type, Callable[[Any], list[tuple[str, str]]]] = {
    FedcoreConfig: check.config_problems,
    OfferingConfig: check.offering_problems,
    TargetSettings: check.target_problems,
}


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return "a number" if isinstance(value, int | float) else type(value).__name__


def _shown(value: object) -> str:
    return repr(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else _kind(value)


def _structure_str(value: object, _: type) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {_shown(value)}")
    return value


def _structure_bool(value: object, _: type) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {_shown(value)}")
    return value


def _structure_int(value: object, _: type) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"must be a whole number, got {_shown(value)}")


def _structure_float(value: object, _: type) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise ValueError(f"must be a number, got {_shown(value)}")


def _structure_decimal(value: object, _: type) -> Decimal:
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            pass
    raise ValueError(f"must be a number, got {_shown(value)}")


def _structure_uuid(value: object, _: type) -> Uuid:
    if isinstance(value, str):
        try:
            return normalize_uuid(value)
        except ValueError:
            pass
    raise ValueError(f"must be a UUID, got {_shown(value)}")


def _structure_secret(value: object, _: type) -> Secret:
    # Never put ``value`` into a message: it is a credential.
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {_kind(value)} (the value is not shown)")
    reference = _ENV_REFERENCE.fullmatch(value.strip())
    if reference is not None:
        name = reference.group(1)
        resolved = ENVIRON.get({}).get(name)
        if resolved is None:
            raise ValueError(f"environment variable {name} is not set")
        if not resolved.strip():
            raise ValueError(f"environment variable {name} is empty")
        return Secret(resolved.strip())
    if not value.strip():
        raise ValueError("must not be empty")
    return Secret(value.strip())


def _structure_log_level(value: object, _: type) -> LogLevel:
    if isinstance(value, str) and value.upper() in LogLevel.__members__:
        return LogLevel(value.upper())
    raise ValueError(f"must be one of {', '.join(LogLevel)}, got {_shown(value)}")


def _enum_hook(cl: type[enum.Enum]) -> Callable[[object, type], enum.Enum]:
    values = {member.value: member for member in cl}

    def structure(value: object, _: type) -> enum.Enum:
        if isinstance(value, str) and value in values:
            return values[value]
        raise ValueError(f"must be one of {', '.join(map(str, values))}, got {_shown(value)}")

    return structure


def _tuple_hook(tp: type, conv: cattrs.Converter) -> Callable[[object, type], Any]:
    base: Callable[[Any, Any], Any] = homogenous_tuple_structure_factory(tp, conv)

    def structure(value: object, _: type) -> Any:
        if not isinstance(value, list):
            raise ValueError(f"must be a list, got {_kind(value)}")
        return base(value, tp)

    return structure


def _mapping_hook(tp: type, conv: cattrs.Converter) -> Callable[[object, type], Any]:
    base: Callable[[Any, Any], Any] = mapping_structure_factory(tp, conv)

    def structure(value: object, _: type) -> Any:
        if not isinstance(value, Mapping):
            raise ValueError(f"must be a mapping, got {_kind(value)}")
        return base(value, tp)

    return structure


def _field_hook(conv: cattrs.Converter, cl: type, name: str, tp: Any) -> Callable[[object, type], Any]:
    field_check = _FIELD_CHECKS.get(cl, {}).get(name, lambda value: value)
    empty_means_unset = (cl, name) in _EMPTY_MEANS_UNSET

    def structure(value: object, _: type) -> Any:
        if empty_means_unset and (value is None or value == ""):
            return field_check(None)
        return field_check(conv.structure(value, tp))

    return structure


def _class_hook(cl: type, conv: cattrs.Converter) -> Callable[[object, type], Any]:
    attrs.resolve_types(cl)
    overrides: dict[str, Any] = {
        a.name: override(struct_hook=_field_hook(conv, cl, a.name, a.type)) for a in attrs.fields(cl)
    }
    base: Callable[[Any, Any], Any] = make_dict_structure_fn(cl, conv, **overrides)
    post = _POST_CHECKS.get(cl)

    def structure(value: object, _: type) -> Any:
        if not isinstance(value, Mapping):
            raise ValueError(f"must be a mapping, got {_kind(value)}")
        result = base(value, cl)
        if post is not None and (problems := post(result)):
            raise Problems(problems)
        return result

    return structure


def _is_tuple(tp: Any) -> bool:
    args = get_args(tp)
    return get_origin(tp) is tuple and len(args) == 2 and args[1] is Ellipsis


def _is_mapping(tp: Any) -> bool:
    return get_origin(tp) in (Mapping, dict)


@functools.cache
def structurer() -> cattrs.Converter:
    """The converter that builds :class:`FedcoreConfig` from parsed YAML (cached; environment via ``ENVIRON``)."""
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_structure_hook(Uuid, _structure_uuid)
    conv.register_structure_hook(Secret, _structure_secret)
    conv.register_structure_hook(LogLevel, _structure_log_level)
    # Class by class: these are dispatched on the exact class, ahead of the hook for their base ``str``.
    for enum_class in _ENUMS:
        conv.register_structure_hook(enum_class, _enum_hook(enum_class))
    conv.register_structure_hook_factory(_is_tuple, lambda tp: _tuple_hook(tp, conv))
    conv.register_structure_hook_factory(_is_mapping, lambda tp: _mapping_hook(tp, conv))
    conv.register_structure_hook_factory(lambda tp: tp in _CLASSES, lambda tp: _class_hook(tp, conv))
    return conv


def _plain_number(value: Decimal) -> int | float | str:
    if value == value.to_integral_value():
        return int(value)
    as_float = float(value)
    # A float that reads back as the same Decimal stays a YAML number; anything finer stays exact as a string.
    return as_float if Decimal(repr(as_float)) == value else str(value)


def _enum_value(member: enum.Enum) -> Any:
    return member.value


@functools.cache
def unstructurer(*, reveal_secrets: bool) -> cattrs.Converter:
    """The converter that turns a :class:`FedcoreConfig` into plain YAML-ready data."""
    conv = cattrs.Converter()
    conv.register_unstructure_hook(Secret, (lambda s: s.reveal()) if reveal_secrets else (lambda _: "***"))
    conv.register_unstructure_hook(Decimal, _plain_number)
    for enum_class in (*_ENUMS, LogLevel):
        conv.register_unstructure_hook(enum_class, _enum_value)
    conv.register_unstructure_hook_factory(
        _is_tuple, lambda tp: lambda items: [conv.unstructure(i, get_args(tp)[0]) for i in items]
    )
    return conv
