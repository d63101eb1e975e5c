"""Running the connectivity checklist: the REST reads behind each check, both sides of every offering at once.

Each side of each offering is one task in a bounded thread pool, so a server that does not answer costs its own
timeouts and never delays or hides the other servers' results. Within a side the reads run in order, because
later checks judge what earlier ones returned (the rights come from ``users/me/``'s permissions).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

from attrs import frozen

from adapters.config import FedcoreConfig, OfferingConfig, UsernameManagementBackend
from adapters.waldur import WaldurHttp
from adapters.waldur.identity import Me, read_customer, read_me, read_provider_offering, read_public_offering
from fedcore.enums import UserResolveMethod
from fedcore.errors import PortError, TransientError
from runners.checks import (
    Check,
    SideKeys,
    Status,
    components_check,
    customer_owner_check,
    identity_manager_check,
    provider_rights_check,
    skipped,
    source_offering_check,
    target_customer_check,
    target_offering_check,
    token_check,
)

T = TypeVar("T")
MAX_WORKERS = 8
"""At most this many sides are checked at the same time."""

SOURCE_CHECKS = ("A offering", "A provider rights", "A components")
TARGET_CHECKS = ("B customer", "B customer owner", "B offering", "B components", "B identity manager")


class HttpSource(Protocol):
    """Where the checks get a client for one server and token (:class:`runners.wiring.RestPorts` is one)."""

    def http(self, side: str, api_url: str, token: str, *, verify: bool, ca_bundle: str | None) -> WaldurHttp:
        """The client for ``api_url`` acting with ``token``, named ``side`` in errors."""
        ...


@frozen
class OfferingChecks:
    """The checklist of one offering of the configuration (``index`` is its place in ``offerings``)."""

    index: int
    name: str
    checks: tuple[Check, ...]


def _attempt(read: Callable[[], T]) -> T | PortError:
    try:
        return read()
    except PortError as exc:
        return exc


def _skip_rest(side: str, names: tuple[str, ...], first: Check) -> list[Check]:
    reason = (f"Waldur {side} did not answer" if first.status is Status.UNREACHABLE
              else f"the {side} token check failed")
    return [skipped(side, name, "", reason) for name in names]


def _connect(source: HttpSource, keys: SideKeys, token: str, *, verify: bool, ca_bundle: str | None,
             names: tuple[str, ...]) -> WaldurHttp | list[Check]:
    try:
        return source.http(keys.side, keys.url, token, verify=verify, ca_bundle=ca_bundle)
    except OSError as exc:  # an unreadable CA bundle (ssl.SSLError is an OSError too)
        first = Check(keys.side, f"{keys.side} token", keys.url, Status.FAIL,
                      f"cannot set up TLS: {exc.strerror or exc}", f"check {keys.tls_keys}")
        return [first, *_skip_rest(keys.side, names, first)]


def _sign_in(
    source: HttpSource, keys: SideKeys, token: str, *, verify: bool, ca_bundle: str | None,
    names: tuple[str, ...], role: str,
) -> tuple[WaldurHttp, Me, str, Check] | list[Check]:
    """Connect and read ``users/me``: the client, who the token is, where that was read, and the token check; or
    the whole side's checklist when either step failed (the later checks then say they were skipped)."""
    http = _connect(source, keys, token, verify=verify, ca_bundle=ca_bundle, names=names)
    if isinstance(http, list):
        return http
    me_where = f"GET {http.url('users/me/')}"
    me = _attempt(lambda: read_me(http))
    first = token_check(keys, me_where, me, role)
    if isinstance(me, PortError):
        return [first, *_skip_rest(keys.side, names, first)]
    return http, me, me_where, first


def source_checks(index: int, offering: OfferingConfig, source: HttpSource) -> list[Check]:
    """Waldur A: the token, the offering, provider rights on it, its components."""
    where = f"offerings[{index}]"
    keys = SideKeys("A", f"{where}.waldur_api_url", f"{where}.waldur_api_token",
                    f"{where}.verify_ssl, {where}.ca_bundle", offering.waldur_api_url)
    signed = _sign_in(source, keys, offering.waldur_api_token.reveal(), verify=offering.verify_ssl,
                      ca_bundle=offering.ca_bundle, names=SOURCE_CHECKS, role="needs provider access to the offering")
    if isinstance(signed, list):
        return signed
    http, me, me_where, first = signed
    uuid = offering.waldur_offering_uuid
    offering_where = f"GET {http.url(f'marketplace-provider-offerings/{uuid}/')}"
    found = _attempt(lambda: read_provider_offering(http, uuid))
    rights = (skipped("A", "A provider rights", me_where, "the A offering could not be read")
              if isinstance(found, TransientError)
              else provider_rights_check(f"{me_where} (permissions)", me, uuid, found))
    return [
        first,
        source_offering_check(keys, offering_where, me, uuid, found, uuid_key=f"{where}.waldur_offering_uuid"),
        rights,
        components_check("A", offering_where, found, (m.source for m in offering.component_mappings),
                         f"{where}.backend_components"),
    ]


def bridge_use(offering: OfferingConfig) -> str:
    """Which settings make this offering use B's identity bridge ("" when none does)."""
    target = offering.backend_settings
    uses = []
    if target.user_resolve_method is UserResolveMethod.IDENTITY_BRIDGE:
        uses.append("user_resolve_method: identity_bridge")
    if offering.username_management_backend is UsernameManagementBackend.WALDUR_IDENTITY_BRIDGE:
        uses.append("username_management_backend: waldur-identity-bridge")
    return ", ".join(uses)


def _b_components(offering: OfferingConfig) -> list[str]:
    return [b for m in offering.component_mappings for b in (m.targets or [m.source])]


def target_checks(index: int, offering: OfferingConfig, source: HttpSource) -> list[Check]:
    """Waldur B: the token, fedcore's organisation and ownership of it, the offering, components, the bridge."""
    where = f"offerings[{index}].backend_settings"
    target = offering.backend_settings
    keys = SideKeys("B", f"{where}.target_api_url", f"{where}.target_api_token",
                    f"{where}.target_verify_ssl, {where}.target_ca_bundle", target.target_api_url)
    signed = _sign_in(source, keys, target.target_api_token.reveal(), verify=target.target_verify_ssl,
                      ca_bundle=target.target_ca_bundle, names=TARGET_CHECKS,
                      role="needs CUSTOMER.OWNER of the organisation")
    if isinstance(signed, list):
        return signed
    http, me, me_where, first = signed
    customer_uuid, offering_uuid = target.target_customer_uuid, target.target_offering_uuid
    customer_where = f"GET {http.url(f'customers/{customer_uuid}/')}"
    customer = _attempt(lambda: read_customer(http, customer_uuid))
    offering_where = f"GET {http.url(f'marketplace-public-offerings/{offering_uuid}/')}"
    found = _attempt(lambda: read_public_offering(http, offering_uuid))
    return [
        first,
        target_customer_check(keys, customer_where, me, customer_uuid, customer,
                              uuid_key=f"{where}.target_customer_uuid"),
        customer_owner_check(f"{me_where} (permissions)", me, customer_uuid, customer),
        target_offering_check(keys, offering_where, me, offering_uuid, found,
                              uuid_key=f"{where}.target_offering_uuid"),
        components_check("B", offering_where, found, _b_components(offering),
                         f"offerings[{index}].backend_components (target_components)"),
        identity_manager_check(f"{me_where} (is_identity_manager, managed_isds)", me,
                               target.identity_bridge_source, bridge_use(offering),
                               f"{where}.identity_bridge_source"),
    ]


def check_config(
    config: FedcoreConfig, source: HttpSource, *, workers: int = MAX_WORKERS
) -> tuple[OfferingChecks, ...]:
    """Every offering's checklist, in the configuration's order; both sides of all offerings run concurrently."""
    with ThreadPoolExecutor(max_workers=max(1, min(workers, 2 * len(config.offerings))),
                            thread_name_prefix="fedcore-check") as pool:
        futures = [
            (pool.submit(source_checks, i, offering, source), pool.submit(target_checks, i, offering, source))
            for i, offering in enumerate(config.offerings)
        ]
        return tuple(
            OfferingChecks(i, offering.name, (*a.result(), *b.result()))
            for i, (offering, (a, b)) in enumerate(zip(config.offerings, futures, strict=True))
        )
