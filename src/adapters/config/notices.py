"""Start-up notices: configuration keys that are set but that fedcore does not act on."""

from __future__ import annotations

from adapters.config.schema import FedcoreConfig, OfferingConfig


def notices(config: FedcoreConfig) -> tuple[str, ...]:
    """Lines about settings that are set but that fedcore does not act on; a runner logs them at start-up.

    fedcore keeps every key the existing agent accepts, typed, instead of dropping it silently; these lines
    make the ones it does not use visible. Update the lists here when a runner starts acting on a key.

    Acted on by ``fedcore run`` (so never listed): ``timezone`` (the report pass's "today"), ``log_level``,
    ``reporting_periods``, ``expose_backend_error_details`` (what A's failed orders say), ``periods``,
    ``http_timeouts``, and ``verify_ssl`` / ``ca_bundle`` and their ``target_`` forms (the REST clients).
    """
    notes = [f"{key}: set, but fedcore does not act on it" for key in _set_inert_top_keys(config)]
    for i, offering in enumerate(config.offerings):
        where = f"offerings[{i}]"
        inert = _set_inert_offering_keys(offering)
        notes.extend(f"{where}.{key}: set, but fedcore does not act on it" for key in inert)
        if not (offering.processes_orders or offering.syncs_membership or offering.reports_usage):
            notes.append(
                f"{where}: none of order_processing_backend, membership_sync_backend, reporting_backend is "
                "'waldur'; fedcore will not serve this offering"
            )
        if offering.stomp_membership_sync_enabled and not offering.stomp_enabled:
            notes.append(f"{where}.stomp_membership_sync_enabled: true has no effect while stomp_enabled is false")
        notes.extend(f"{where}.{note}" for note in _polling_notes(offering))
    return tuple(notes)


def _polling_notes(offering: OfferingConfig) -> list[str]:
    """fedcore never waits on a B order inside a pass (the STOMP flags are for ``-m event_process``, whose runner
    says when they are set and not used)."""
    target = offering.backend_settings
    notes = []
    for key, value, default in (("order_poll_timeout", target.order_poll_timeout, 300),
                                ("order_poll_interval", target.order_poll_interval, 5)):
        if value != default:
            notes.append(f"backend_settings.{key}: {value}, but fedcore never waits on a B order inside a pass; "
                         "it reads each B order again on every order_process pass")
    return notes


def _set_inert_top_keys(config: FedcoreConfig) -> list[str]:
    keys = []
    if config.sentry_dsn is not None:
        keys.append("sentry_dsn")
    if config.elastic_apm_server_url is not None:
        keys.append("elastic_apm_server_url")
    if config.global_proxy is not None:
        keys.append("global_proxy")
    if config.log_shipping.enabled:
        keys.append("log_shipping.enabled")
    return keys


_INERT_COMPONENT_FIELDS = (
    "unit_factor_reporting",
    "limit",
    "min_value",
    "max_value",
    "max_available_limit",
    "default_limit",
    "limit_period",
    "article_code",
    "is_boolean",
    "is_prepaid",
    "min_prepaid_duration",
    "max_prepaid_duration",
    "prepaid_duration_step",
    "min_renewal_duration",
    "max_renewal_duration",
    "renewal_duration_step",
)


def _set_inert_offering_keys(offering: OfferingConfig) -> list[str]:
    keys = [
        key
        for key in ("resource_import_enabled", "preserve_unmanaged_backend_users", "omit_anomalous_usage_components")
        if getattr(offering, key)
    ]
    for name, comp in offering.backend_components.items():
        if comp.unit_factor != 1:
            keys.append(f"backend_components.{name}.unit_factor")
        keys.extend(
            f"backend_components.{name}.{key}" for key in _INERT_COMPONENT_FIELDS if getattr(comp, key) is not None
        )
    return keys
