"""The configuration file's schema: one frozen attrs class per level of the YAML, no parsing.

The keys mirror the YAML that waldur-site-agent reads for ``backend_type: waldur`` offerings, so operators
reuse their files unchanged (docs/configuration.md is the operator's reference). This is the file format,
not the domain: it keeps every key the agent accepts, including the ones fedcore does not act on (log
shipping, Sentry, MQTT...). The services take :class:`fedcore.settings.FederationSettings`, which
:func:`adapters.config.federation_settings` builds from an :class:`OfferingConfig`; runners read the
rest (tokens, URLs, STOMP endpoints, which jobs run) from here.

Loading, defaults that need I/O (time zones, environment variables) and every validation with a path live
in :mod:`adapters.config.loader` and its private converter; construct these classes directly only in tests.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from decimal import Decimal

from attrs import Factory, field, frozen

from fedcore.enums import (
    EndDateSyncDirection,
    LimitSyncDirection,
    UserMatchField,
    UserNotFoundAction,
    UserResolveMethod,
)
from fedcore.ids import Uuid, normalize_uuid, optional_uuid
from fedcore.model import ComponentMapping, str_map, str_tuple

DEFAULT_STOMP_WS_PATH = "/rmqws-stomp"
"""Where nginx in front of Waldur proxies RabbitMQ's web-STOMP (EVENTS.md section 2)."""


@frozen(repr=False)
class Secret:
    """A token or other credential. ``repr``/``str`` never show it; :meth:`reveal` does, on purpose."""

    _value: str

    def reveal(self) -> str:
        """The secret itself: call only where it is sent to its peer."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"


def _targets(value: Mapping[str, TargetComponentConfig]) -> Mapping[str, TargetComponentConfig]:
    return dict(value)


def _components(value: Mapping[str, ComponentConfig]) -> Mapping[str, ComponentConfig]:
    return dict(value)


def _offerings(value: Iterable[OfferingConfig]) -> tuple[OfferingConfig, ...]:
    return tuple(value)


class AccountingType(enum.StrEnum):
    """How Waldur bills a component (``backend_components.<name>.accounting_type``)."""

    USAGE = "usage"
    LIMIT = "limit"
    ONE = "one"


class LimitPeriod(enum.StrEnum):
    """The period a limit-type component's limit applies to (``limit_period``)."""

    ANNUAL = "annual"
    MONTH = "month"
    QUARTERLY = "quarterly"
    TOTAL = "total"


class LogLevel(enum.StrEnum):
    """A logging level name, as the existing agent accepts it (upper case)."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


class UsernameManagementBackend(enum.StrEnum):
    """Who manages offering-user usernames: nobody (``base``) or the identity bridge on B."""

    BASE = "base"
    WALDUR_IDENTITY_BRIDGE = "waldur-identity-bridge"


@frozen
class StompEndpoint:
    """Where a STOMP-over-WebSocket connection goes; ``url`` is what the client dials."""

    host: str
    port: int
    path: str
    use_tls: bool

    @property
    def url(self) -> str:
        """``wss://host:port/path`` (``ws://`` without TLS)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'wss' if self.use_tls else 'ws'}://{host}:{self.port}{self.path}"


def api_host(api_url: str) -> str:
    """The host name of a normalised ``http(s)://host[:port]/.../api/`` URL (no port, no brackets)."""
    authority = api_url.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
    if authority.startswith("["):
        return authority[1 : authority.index("]")]
    return authority.split(":", 1)[0]


def stomp_endpoint(api_url: str, host: str | None, port: int | None, path: str | None, use_tls: bool) -> StompEndpoint:
    """Fill the unset parts of a WebSocket endpoint: the API host, 443/80 by ``use_tls``, ``/rmqws-stomp``.

    The port follows the WebSocket scheme, never the REST TLS-verification flag (EVENTS.md pitfall 6).
    """
    return StompEndpoint(
        host=host or api_host(api_url),
        port=port if port is not None else (443 if use_tls else 80),
        path=path or DEFAULT_STOMP_WS_PATH,
        use_tls=use_tls,
    )


@frozen
class TargetComponentConfig:
    """One B component fed by an A component: B value = A value x ``factor``."""

    factor: Decimal = field(default=Decimal(1), converter=Decimal)


@frozen
class ComponentConfig:
    """One A component (``backend_components.<name>``) and how it maps onto B.

    No ``target_components`` means passthrough: the same name on B, factor 1. The offering-component
    fields after ``label`` are the existing agent's, kept typed so its files load.
    """

    measured_unit: str
    accounting_type: AccountingType
    label: str
    unit_factor: Decimal = field(default=Decimal(1), converter=Decimal)
    target_components: Mapping[str, TargetComponentConfig] = field(factory=dict, converter=_targets)
    unit_factor_reporting: Decimal | None = None
    limit: Decimal | None = None
    description: str | None = None
    min_value: int | None = None
    max_value: int | None = None
    max_available_limit: int | None = None
    default_limit: int | None = None
    limit_period: LimitPeriod | None = None
    article_code: str | None = None
    is_boolean: bool | None = None
    is_prepaid: bool | None = None
    min_prepaid_duration: int | None = None
    max_prepaid_duration: int | None = None
    prepaid_duration_step: int | None = None
    min_renewal_duration: int | None = None
    max_renewal_duration: int | None = None
    renewal_duration_step: int | None = None


def component_mappings(components: Mapping[str, ComponentConfig]) -> tuple[ComponentMapping, ...]:
    """``backend_components`` as the domain's mappings: each A component with its B targets and factors."""
    return tuple(
        ComponentMapping(source=name, targets={b: t.factor for b, t in comp.target_components.items()})
        for name, comp in components.items()
    )


def _default_resolve_method(settings: TargetSettings) -> UserResolveMethod:
    # The identity bridge cannot work without a source, so a file without one (seed 001) means lookup by field.
    return UserResolveMethod.IDENTITY_BRIDGE if settings.identity_bridge_source else UserResolveMethod.USER_FIELD


@frozen
class TargetSettings:
    """``backend_settings``: how to reach Waldur B and how A's users, roles and dates map onto it.

    ``role_mapping`` and ``default_role`` become a :class:`fedcore.memberships.RoleMap`, the one place
    that translates roles (:func:`adapters.config.federation_settings`).
    """

    target_api_url: str
    target_api_token: Secret
    target_offering_uuid: Uuid = field(converter=normalize_uuid)
    target_customer_uuid: Uuid = field(converter=normalize_uuid)
    user_match_field: UserMatchField = UserMatchField.CUID
    identity_bridge_source: str = ""
    user_resolve_method: UserResolveMethod = Factory(_default_resolve_method, takes_self=True)
    user_not_found_action: UserNotFoundAction = UserNotFoundAction.WARN
    role_mapping: Mapping[str, str] = field(factory=dict, converter=str_map)
    default_role: str | None = None
    end_date_sync_direction: EndDateSyncDirection = EndDateSyncDirection.BIDIRECTIONAL
    limit_sync_direction: LimitSyncDirection = LimitSyncDirection.B_TO_A
    passthrough_attributes: tuple[str, ...] = field(default=(), converter=str_tuple)
    fetch_consented_users_only: bool = False
    order_poll_timeout: int = 300
    order_poll_interval: int = 5
    target_stomp_enabled: bool = False
    target_stomp_offering_uuid: Uuid | None = field(default=None, converter=optional_uuid)
    target_websocket_use_tls: bool | None = None
    target_stomp_ws_host: str | None = None
    target_stomp_ws_port: int | None = None
    target_stomp_ws_path: str | None = None
    target_verify_ssl: bool = True
    target_ca_bundle: str | None = None

    @property
    def stomp_offering_uuid(self) -> Uuid:
        """The B offering whose events fedcore subscribes to (defaults to ``target_offering_uuid``)."""
        return self.target_stomp_offering_uuid or self.target_offering_uuid

    @property
    def stomp_endpoint(self) -> StompEndpoint:
        """B's WebSocket endpoint; TLS follows ``target_api_url``'s scheme unless set."""
        use_tls = self.target_websocket_use_tls
        if use_tls is None:
            use_tls = self.target_api_url.startswith("https://")
        return stomp_endpoint(
            self.target_api_url,
            self.target_stomp_ws_host,
            self.target_stomp_ws_port,
            self.target_stomp_ws_path,
            use_tls,
        )


@frozen
class OfferingConfig:
    """One entry of ``offerings``: an offering on Waldur A that fedcore serves from Waldur B."""

    name: str
    waldur_api_url: str
    waldur_api_token: Secret
    waldur_offering_uuid: Uuid = field(converter=normalize_uuid)
    backend_settings: TargetSettings
    backend_type: str = "waldur"
    backend_components: Mapping[str, ComponentConfig] = field(factory=dict, converter=_components)
    order_processing_backend: str = ""
    membership_sync_backend: str = ""
    reporting_backend: str = ""
    username_management_backend: UsernameManagementBackend = UsernameManagementBackend.BASE
    stomp_enabled: bool = False
    websocket_use_tls: bool = True
    stomp_ws_host: str | None = None
    stomp_ws_port: int | None = None
    stomp_ws_path: str | None = None
    stomp_membership_sync_enabled: bool | None = None
    username_reconciliation_enabled: bool = False
    resource_import_enabled: bool = False
    preserve_unmanaged_backend_users: bool = False
    verify_ssl: bool = True
    ca_bundle: str | None = None
    omit_anomalous_usage_components: bool = False
    mqtt_enabled: bool = False

    @property
    def component_mappings(self) -> tuple[ComponentMapping, ...]:
        """Every A component with its B targets and factors (empty targets: passthrough)."""
        return component_mappings(self.backend_components)

    @property
    def processes_orders(self) -> bool:
        """True when ``order_processing_backend`` is ``waldur``: fedcore forwards this offering's orders."""
        return self.order_processing_backend == "waldur"

    @property
    def syncs_membership(self) -> bool:
        """True when ``membership_sync_backend`` is ``waldur``: fedcore mirrors project teams onto B."""
        return self.membership_sync_backend == "waldur"

    @property
    def reports_usage(self) -> bool:
        """True when ``reporting_backend`` is ``waldur``: fedcore copies B's usage back to A."""
        return self.reporting_backend == "waldur"

    @property
    def membership_events_enabled(self) -> bool:
        """Whether membership changes come from STOMP (``stomp_membership_sync_enabled``, else ``stomp_enabled``)."""
        if self.stomp_membership_sync_enabled is None:
            return self.stomp_enabled
        return self.stomp_membership_sync_enabled and self.stomp_enabled

    @property
    def stomp_endpoint(self) -> StompEndpoint:
        """A's WebSocket endpoint: the API host, 443/80 by ``websocket_use_tls``, ``/rmqws-stomp``, unless set."""
        return stomp_endpoint(
            self.waldur_api_url, self.stomp_ws_host, self.stomp_ws_port, self.stomp_ws_path, self.websocket_use_tls
        )


@frozen
class LogShippingConfig:
    """``log_shipping``: the existing agent's log shipping to Waldur (kept so its files load)."""

    enabled: bool = False
    ship_interval_seconds: int = 60
    buffer_size_mb: int = 1
    log_level: LogLevel = LogLevel.WARNING


@frozen
class HttpTimeouts:
    """``http_timeouts``: seconds fedcore waits on Waldur's REST APIs (both sides)."""

    connect: float = 5.0
    read: float = 30.0
    write: float = 30.0
    pool: float = 10.0


@frozen
class Periods:
    """``periods``: minutes between two passes of each mode of ``fedcore run`` (a fedcore addition).

    Unset: the existing agent's environment variable for that mode, else fedcore's default (docs/running.md).
    """

    order_process: float | None = None
    membership_sync: float | None = None
    report: float | None = None
    username_sync: float | None = None
    duplicate_sweep: float | None = None
    """Minutes between two duplicate sweeps of an offering, within its order passes (docs/scaling.md)."""


@frozen
class FedcoreConfig:
    """A whole configuration file: the offerings fedcore serves plus the agent-wide settings."""

    offerings: tuple[OfferingConfig, ...] = field(converter=_offerings)
    timezone: str = "UTC"
    log_level: LogLevel = LogLevel.INFO
    reporting_periods: int = 2
    sentry_dsn: Secret | None = None
    elastic_apm_server_url: str | None = None
    global_proxy: Secret | None = None
    expose_backend_error_details: bool = True
    log_shipping: LogShippingConfig = LogShippingConfig()
    http_timeouts: HttpTimeouts = HttpTimeouts()
    periods: Periods = Periods()

    def offering(self, name: str) -> OfferingConfig:
        """The offering called ``name``; ``KeyError`` naming the known ones otherwise."""
        for offering in self.offerings:
            if offering.name == name:
                return offering
        raise KeyError(f"no offering named {name!r}; known: {', '.join(o.name for o in self.offerings)}")
