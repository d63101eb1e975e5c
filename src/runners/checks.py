"""The connectivity checklist of ``fedcore validate --check-connectivity``: values and judgements.

Each :class:`Check` says what was checked, where (the call, or the answer it was judged from), the outcome, why
(Waldur's own detail on a failure) and what to do. The judgements here are pure: they take what the reads
returned (a value, or the :class:`~fedcore.errors.PortError` the read raised) and the configuration; the reads
and their concurrency are in :mod:`runners.connectivity`.

The rights come from API.md §4: on A, provider access to the offering (OFFERING.MANAGER on it, or owner/manager
of its organisation); on B, CUSTOMER.OWNER of ``target_customer_uuid``, and an ISD identity manager of
``identity_bridge_source`` when the identity bridge is used.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence

from attrs import frozen

from adapters.waldur.errors import InvalidResponse
from adapters.waldur.identity import CustomerInfo, Me, OfferingInfo
from fedcore.errors import NotFound, PortError, TransientError
from fedcore.ids import Uuid

SLURM = "Marketplace.Slurm"
PROVIDER_ROLES = frozenset({"CUSTOMER.OWNER", "CUSTOMER.MANAGER"})
OFFERING_MANAGER = frozenset({"OFFERING.MANAGER"})
CUSTOMER_OWNER = frozenset({"CUSTOMER.OWNER"})


class Status(enum.StrEnum):
    """A check's outcome. ``warn`` and ``skip`` do not fail validation; ``unreachable`` means no usable answer."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    UNREACHABLE = "unreachable"
    SKIP = "skip"


@frozen
class Check:
    """One line of the checklist: ``what`` on ``side`` ("A" or "B"), judged from ``where``."""

    side: str
    what: str
    where: str
    status: Status
    detail: str
    fix: str = ""


@frozen
class SideKeys:
    """The configuration keys of one side, named in the fixes (``offerings[0].waldur_api_token``)."""

    side: str
    url_key: str
    token_key: str
    tls_keys: str
    url: str


def failure(keys: SideKeys, what: str, where: str, exc: PortError, *, not_found: str, fix: str) -> Check:
    """The check line for a read that raised ``exc``: unreachable, refused, not found, or not Waldur."""
    side = keys.side
    if isinstance(exc, InvalidResponse):
        return Check(side, what, where, Status.FAIL, f"the answer is not what Waldur 8.0.5 sends: {exc.detail}",
                     f"check that {keys.url_key} ({keys.url}) is Waldur's API")
    if isinstance(exc, TransientError):
        why = f"no answer: {exc.detail}" if exc.status is None else f"Waldur answered {exc.status}: {exc.detail}"
        return Check(side, what, where, Status.UNREACHABLE, why,
                     f"check {keys.url_key} ({keys.url}), that Waldur {side} is up and reachable from here, "
                     f"and the TLS settings ({keys.tls_keys})")
    if exc.status == 401:
        return Check(side, what, where, Status.FAIL, f"the token was refused: {exc.detail}",
                     f"check {keys.token_key}: the token may be mistyped, expired or its user deactivated")
    if isinstance(exc, NotFound):
        return Check(side, what, where, Status.FAIL, f"{not_found} (Waldur: {exc.detail})", fix)
    code = f" ({exc.status})" if exc.status is not None else ""
    return Check(side, what, where, Status.FAIL, f"Waldur refused the request{code}: {exc.detail}", fix)


def skipped(side: str, what: str, where: str, reason: str) -> Check:
    """A check that could not run because an earlier one failed."""
    return Check(side, what, where, Status.SKIP, reason)


def token_check(keys: SideKeys, where: str, me: Me | PortError, role: str) -> Check:
    """``users/me/`` answered for the token: who it is (and when it expires, if Waldur says)."""
    what = f"{keys.side} token"
    if isinstance(me, PortError):
        return failure(keys, what, where, me, not_found="users/me/ does not exist here",
                       fix=f"check that {keys.url_key} ({keys.url}) is Waldur's API")
    expiry = f", expires {me.token_expires_at}" if me.token_expires_at else ""
    staff = " (staff)" if me.is_staff else ""
    return Check(keys.side, what, where, Status.OK, f"accepted: user '{me.username}'{staff}{expiry}; {role}")


def _roles_of(me: Me) -> str:
    held = sorted({r.name for r in me.roles})
    return ", ".join(held) if held else "no roles at all"


def source_offering_check(keys: SideKeys, where: str, me: Me, offering_uuid: Uuid,
                          offering: OfferingInfo | PortError, *, uuid_key: str) -> Check:
    """A's offering is visible to the token; it should be an Active ``Marketplace.Slurm`` offering."""
    what = "A offering"
    if isinstance(offering, PortError):
        return failure(keys, what, where, offering,
                       not_found=f"offering {offering_uuid} does not exist or is not visible to user '{me.username}'",
                       fix=f"check {uuid_key}, and that the user is OFFERING.MANAGER of the offering on A")
    found = f"'{offering.name}' ({offering.type}, {offering.state}) of '{offering.customer_name}'"
    if offering.type != SLURM:
        return Check("A", what, where, Status.WARN, f"{found}: not {SLURM}",
                     f"fedcore fails A orders with set_state_erred, which Waldur allows only on {SLURM} "
                     "offerings (API.md §3.1)")
    if offering.state not in ("Active", "Paused"):
        return Check("A", what, where, Status.WARN, f"{found}: users cannot order it while it is {offering.state}",
                     "activate the offering on A")
    return Check("A", what, where, Status.OK, found)


def provider_rights_check(where: str, me: Me, offering_uuid: Uuid, offering: OfferingInfo | PortError) -> Check:
    """The token has provider access to A's offering (staff, OFFERING.MANAGER, or owner/manager of its organisation)."""
    what = "A provider rights"
    if me.is_staff:
        return Check("A", what, where, Status.OK, f"user '{me.username}' is staff")
    if me.holds(OFFERING_MANAGER, offering_uuid):
        return Check("A", what, where, Status.OK, f"user '{me.username}' is OFFERING.MANAGER of the offering")
    customer = offering.customer_uuid if isinstance(offering, OfferingInfo) else None
    if me.holds(PROVIDER_ROLES, customer):
        return Check("A", what, where, Status.OK,
                     f"user '{me.username}' is owner or manager of the offering's organisation")
    return Check("A", what, where, Status.FAIL,
                 f"user '{me.username}' has no provider access to offering {offering_uuid} (holds: {_roles_of(me)})",
                 f"on A, make user '{me.username}' OFFERING.MANAGER of offering {offering_uuid} (API.md §4)")


def components_check(side: str, where: str, offering: OfferingInfo | PortError, wanted: Iterable[str],
                     components_key: str) -> Check:
    """The offering has every component the configuration names on this side."""
    what = f"{side} components"
    needed = sorted(set(wanted))
    if isinstance(offering, PortError):
        return skipped(side, what, where, f"the {side} offering could not be read")
    missing = [c for c in needed if c not in offering.components]
    has = ", ".join(sorted(offering.components)) or "none"
    if missing:
        return Check(side, what, where, Status.FAIL,
                     f"offering '{offering.name}' has no component {', '.join(missing)} (it has: {has})",
                     f"correct {components_key}, or add the components to the offering on {side}")
    return Check(side, what, where, Status.OK, f"{', '.join(needed) or 'no components configured'} present")


def target_customer_check(keys: SideKeys, where: str, me: Me, customer_uuid: Uuid,
                          customer: CustomerInfo | PortError, *, uuid_key: str) -> Check:
    """B's organisation is visible and open for new projects."""
    what = "B customer"
    if isinstance(customer, PortError):
        return failure(keys, what, where, customer,
                       not_found=f"organisation {customer_uuid} does not exist or is not visible to user "
                                 f"'{me.username}'",
                       fix=f"check {uuid_key}, and that the user is CUSTOMER.OWNER of it on B")
    for flag, set_ in (("blocked", customer.blocked), ("archived", customer.archived)):
        if set_:
            return Check("B", what, where, Status.FAIL, f"organisation '{customer.name}' is {flag}",
                         f"Waldur refuses new projects and orders under a {flag} organisation: unblock or "
                         f"unarchive it on B, or choose another ({uuid_key})")
    return Check("B", what, where, Status.OK, f"organisation '{customer.name}'")


def customer_owner_check(where: str, me: Me, customer_uuid: Uuid, customer: CustomerInfo | PortError) -> Check:
    """The token is CUSTOMER.OWNER of B's organisation (it creates projects and orders there)."""
    what = "B customer owner"
    name = f"'{customer.name}'" if isinstance(customer, CustomerInfo) else customer_uuid
    if me.is_staff:
        return Check("B", what, where, Status.OK, f"user '{me.username}' is staff")
    if me.holds(CUSTOMER_OWNER, customer_uuid):
        return Check("B", what, where, Status.OK, f"user '{me.username}' owns organisation {name}")
    return Check("B", what, where, Status.FAIL,
                 f"user '{me.username}' is not CUSTOMER.OWNER of organisation {name} (holds: {_roles_of(me)})",
                 f"on B, make user '{me.username}' CUSTOMER.OWNER of organisation {customer_uuid}: fedcore creates "
                 "projects and orders there (API.md §4)")


def target_offering_check(keys: SideKeys, where: str, me: Me, offering_uuid: Uuid,
                          offering: OfferingInfo | PortError, *, uuid_key: str) -> Check:
    """B's offering can be ordered: visible, Active, with a plan; ``Marketplace.Slurm`` for B's events."""
    what = "B offering"
    if isinstance(offering, PortError):
        return failure(keys, what, where, offering,
                       not_found=f"offering {offering_uuid} does not exist, is not Active or Paused, or is not "
                                 f"visible to user '{me.username}'",
                       fix=f"check {uuid_key}, and that the offering is Active and orderable by the organisation")
    found = f"'{offering.name}' ({offering.type}, {offering.state}) of '{offering.customer_name}'"
    if not offering.active_plans:
        return Check("B", what, where, Status.FAIL, f"{found} has no active plan",
                     "add a plan to the offering on B: fedcore's Create orders name one")
    if offering.state != "Active":
        return Check("B", what, where, Status.WARN, f"{found}: Waldur accepts no new orders while it is "
                     f"{offering.state}", "activate the offering on B")
    if offering.type != SLURM:
        return Check("B", what, where, Status.WARN, f"{found}: not {SLURM}",
                     f"B sends order events only for {SLURM} offerings (API.md §4); fedcore then polls")
    return Check("B", what, where, Status.OK, found)


def identity_manager_check(where: str, me: Me, source: str, used_by: str, source_key: str) -> Check:
    """The token is an ISD identity manager of ``source`` on B (when the identity bridge is used)."""
    what = "B identity manager"
    if not used_by:
        return skipped("B", what, where, "the identity bridge is not used by this offering")
    if not source:
        return Check("B", what, where, Status.FAIL, f"the identity bridge is used ({used_by}) but no source is set",
                     f"set {source_key} (e.g. isd:puhuri)")
    if me.is_identity_manager is None or me.managed_isds is None:
        return Check("B", what, where, Status.WARN,
                     f"Waldur did not show is_identity_manager/managed_isds for user '{me.username}'",
                     f"ask B's staff to confirm the user manages {source}")
    fix = (f"B's staff: PATCH users/{me.uuid}/ with is_identity_manager: true and {source} in managed_isds "
           "(API.md §3.7)")
    if not me.is_identity_manager:
        return Check("B", what, where, Status.FAIL,
                     f"user '{me.username}' is not an identity manager ({used_by})", fix)
    if source not in me.managed_isds:
        managed = ", ".join(me.managed_isds) or "none"
        return Check("B", what, where, Status.FAIL,
                     f"user '{me.username}' manages {managed}, not {source} ({used_by})", fix)
    return Check("B", what, where, Status.OK, f"user '{me.username}' manages {source} ({used_by})")


def worst(checks: Sequence[Check]) -> Status:
    """The outcome that decides the exit code: unreachable, else fail, else ok (warnings and skips pass)."""
    statuses = {c.status for c in checks}
    if Status.UNREACHABLE in statuses:
        return Status.UNREACHABLE
    if Status.FAIL in statuses:
        return Status.FAIL
    return Status.OK
