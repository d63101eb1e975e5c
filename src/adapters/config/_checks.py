"""Value checks for single configuration keys and for keys that depend on each other.

Field checks take an already typed value and return it (possibly normalised) or raise ``ValueError``
with a message that never repeats a secret. Cross checks return ``(relative path, message)`` pairs.
"""

from __future__ import annotations

import re
import zoneinfo
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TypeVar
from urllib.parse import SplitResult, urlsplit

from adapters.config._problems import Problems
from adapters.config.schema import (
    ComponentConfig,
    FedcoreConfig,
    OfferingConfig,
    Secret,
    TargetSettings,
    component_mappings,
)
from fedcore.conversion import mapping_problems
from fedcore.enums import UserResolveMethod
from fedcore.ids import IDENTITY_SOURCE_PATTERN, is_identity_source

T = TypeVar("T")

_HOST = re.compile(r"^[A-Za-z0-9.\-]+$|^\[?[0-9A-Fa-f:.]+\]?$")
_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


def api_url(value: str) -> str:
    """Normalise a Waldur URL to ``scheme://host[:port][/prefix]/api/``.

    ``https://waldur.example.com``, ``.../`` and ``.../api`` all become ``https://waldur.example.com/api/``,
    so A's ``waldur_api_url`` and B's ``target_api_url`` can be written either way (seed 001 uses both).
    """
    parts = _http_url(value)
    if parts.query or parts.fragment:
        raise ValueError(f"must not have a query or fragment, got {value!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"has an invalid port: {value!r}") from None
    host = (parts.hostname or "").lower()
    authority = f"[{host}]" if ":" in host else host
    if port is not None:
        authority = f"{authority}:{port}"
    path = parts.path.rstrip("/")
    if not path.endswith("/api"):
        path = f"{path}/api"
    return f"{parts.scheme.lower()}://{authority}{path}/"


def _http_url(value: str) -> SplitResult:
    # Credentials are checked first so that no later message can quote them.
    if "@" in value:
        raise ValueError("must not contain credentials (user:password@); the value is not shown")
    parts = urlsplit(value.strip())
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
    if not parts.hostname:
        raise ValueError(f"has no host name: {value!r}")
    return parts


def plain_url(value: str | None) -> str | None:
    """An optional http(s) URL; ``""`` means unset."""
    if not value:
        return None
    _http_url(value)
    return value


def secret_url(value: Secret | None) -> Secret | None:
    """An optional http(s) URL that may hold a key (``sentry_dsn``); ``""`` means unset; never echoed."""
    if value is None or not value.reveal():
        return None
    parts = urlsplit(value.reveal())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL (the value is not shown)")
    return value


def proxy_url(value: Secret | None) -> Secret | None:
    """An optional proxy URL (http, https, socks5, socks5h); ``""`` means unset; never echoed."""
    if value is None or not value.reveal():
        return None
    parts = urlsplit(value.reveal())
    if parts.scheme.lower() not in _PROXY_SCHEMES or not parts.hostname:
        raise ValueError(f"must be a proxy URL with a scheme of {', '.join(_PROXY_SCHEMES)} (the value is not shown)")
    return value


def some_offerings(value: tuple[T, ...]) -> tuple[T, ...]:
    """``offerings``: a file that serves nothing is a mistake."""
    if not value:
        raise ValueError("must list at least one offering")
    return value


def timezone(value: str) -> str:
    """An IANA time zone name that this machine knows."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


def non_empty(value: str) -> str:
    """A string with something in it."""
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def optional_non_empty(value: str | None) -> str | None:
    """Unset, or a string with something in it."""
    return None if value is None else non_empty(value)


def in_range(low: int, high: int | None = None) -> Callable[[int], int]:
    """A check that an int lies in ``[low, high]`` (no upper bound when ``high`` is None)."""

    def check(value: int) -> int:
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise ValueError(f"must be {bound}, got {value}")
        return value

    return check


def optional(check: Callable[[T], T]) -> Callable[[T | None], T | None]:
    """``check`` for a value that may be unset."""

    def run(value: T | None) -> T | None:
        return None if value is None else check(value)

    return run


def positive_factor(value: Decimal) -> Decimal:
    """A conversion factor: positive and finite."""
    if not value.is_finite() or value <= 0:
        raise ValueError(f"must be a positive finite number, got {value}")
    return value


def seconds(value: float) -> float:
    """A positive, finite number of seconds."""
    if not (0 < value < float("inf")):
        raise ValueError(f"must be a positive number of seconds, got {value!r}")
    return value


def minutes(value: float) -> float:
    """A positive, finite number of minutes."""
    if not (0 < value < float("inf")):
        raise ValueError(f"must be a positive number of minutes, got {value!r}")
    return value


def finite(value: Decimal) -> Decimal:
    """A number that is not infinite or NaN."""
    if not value.is_finite():
        raise ValueError(f"must be a finite number, got {value}")
    return value


def ws_host(value: str) -> str:
    """A bare host name for a WebSocket endpoint (no scheme, port or path)."""
    if not _HOST.fullmatch(value):
        raise ValueError(f"must be a bare host name (no scheme, port or path), got {value!r}")
    return value


def ws_path(value: str) -> str:
    """A WebSocket path: starts with ``/``."""
    if not value.startswith("/"):
        raise ValueError(f"must start with '/', got {value!r}")
    return value


def backend_name(value: str | None) -> str:
    """An ``*_backend`` selector: ``waldur`` (fedcore serves it) or empty (off)."""
    if value is None or value == "":
        return ""
    if value.lower() != "waldur":
        raise ValueError(f"fedcore only provides the 'waldur' backend; set 'waldur' or leave it empty, got {value!r}")
    return "waldur"


def backend_type(value: str) -> str:
    """``backend_type``: fedcore is the ``waldur`` (Waldur-to-Waldur) backend and nothing else."""
    if value.lower() != "waldur":
        raise ValueError(f"fedcore serves only backend_type 'waldur' (Waldur-to-Waldur), got {value!r}")
    return "waldur"


def no_mqtt(value: bool) -> bool:
    """``mqtt_enabled``: MQTT event processing does not exist in fedcore."""
    if value:
        raise ValueError("MQTT is not supported by fedcore; use stomp_enabled (STOMP over WebSocket)")
    return value


def identity_source(value: str) -> str:
    """An identity-bridge source such as ``isd:puhuri`` (Waldur's own pattern), or empty."""
    if value and not is_identity_source(value):
        raise ValueError(f"must look like 'isd:name' (pattern {IDENTITY_SOURCE_PATTERN.pattern}), got {value!r}")
    return value


def passthrough_keys(value: tuple[str, ...]) -> tuple[str, ...]:
    """Order attribute keys to forward: non-empty and listed once."""
    if any(not key.strip() for key in value):
        raise ValueError("must not contain empty keys")
    repeated = sorted(key for key, count in Counter(value).items() if count > 1)
    if repeated:
        raise ValueError(f"lists {', '.join(map(repr, repeated))} more than once")
    return value


def role_pairs(value: Mapping[str, str]) -> Mapping[str, str]:
    """``role_mapping``: every A role name and B role name is non-empty."""
    problems = [f"{a!r} maps to {b!r}" for a, b in value.items() if not a.strip() or not b.strip()]
    if problems:
        raise ValueError(f"role names must not be empty ({'; '.join(problems)})")
    return value


def component_names(value: Mapping[str, ComponentConfig]) -> Mapping[str, ComponentConfig]:
    """``backend_components`` as a whole: the domain's own mapping checks (names, factors, repeats)."""
    problems = mapping_problems(component_mappings(value))
    if problems:
        # mapping_problems paths start with "backend_components"; the caller's path already ends there.
        pairs = [problem.removeprefix("backend_components").partition(": ") for problem in problems]
        raise Problems([(rel, message) for rel, _, message in pairs])
    return value


def target_problems(settings: TargetSettings) -> list[tuple[str, str]]:
    """Keys of ``backend_settings`` that contradict each other."""
    problems = []
    if settings.user_resolve_method is UserResolveMethod.IDENTITY_BRIDGE and not settings.identity_bridge_source:
        problems.append(("identity_bridge_source", "required when user_resolve_method is 'identity_bridge'"))
    if settings.order_poll_interval > settings.order_poll_timeout:
        problems.append(
            (
                "order_poll_interval",
                f"must not exceed order_poll_timeout ({settings.order_poll_interval} > {settings.order_poll_timeout})",
            )
        )
    return problems


def offering_problems(offering: OfferingConfig) -> list[tuple[str, str]]:
    """Keys of one offering that contradict each other."""
    settings = offering.backend_settings
    if (offering.waldur_api_url, offering.waldur_offering_uuid) == (
        settings.target_api_url,
        settings.target_offering_uuid,
    ):
        return [("backend_settings.target_offering_uuid", "is the source offering itself (same URL and UUID as A)")]
    return []


def config_problems(config: FedcoreConfig) -> list[tuple[str, str]]:
    """Problems across offerings: repeated names or A offering UUIDs."""
    problems: list[tuple[str, str]] = []
    problems.extend(_repeats(config.offerings, "name", lambda o: o.name))
    problems.extend(_repeats(config.offerings, "waldur_offering_uuid", lambda o: o.waldur_offering_uuid))
    return problems


def _repeats(
    offerings: Sequence[OfferingConfig], key: str, value: Callable[[OfferingConfig], str]
) -> list[tuple[str, str]]:
    first: dict[str, int] = {}
    problems = []
    for i, offering in enumerate(offerings):
        seen = first.setdefault(value(offering), i)
        if seen != i:
            problems.append((f"offerings[{i}].{key}", f"repeats offerings[{seen}].{key} ({value(offering)!r})"))
    return problems
