"""``fedcore validate``: the file loaded as the daemon loads it, what each offering will do, and (with
``--check-connectivity``) the checklist of :mod:`runners.connectivity` with its exit code.

Without connectivity checks nothing leaves the machine. Output goes through :class:`runners.console.SafeOutput`,
so no token of the file is ever printed.
"""

from __future__ import annotations

import sys

from adapters.config import FedcoreConfig, OfferingConfig, notices
from adapters.waldur import RetryPolicy
from runners.checks import Check, Status, worst
from runners.connectivity import OfferingChecks, bridge_use, check_config
from runners.console import SafeOutput, load, secrets_of
from runners.exitcodes import ExitCode
from runners.wiring import RestPorts

TAGS = {Status.OK: "ok", Status.WARN: "warn", Status.FAIL: "FAIL", Status.UNREACHABLE: "UNREACHABLE",
        Status.SKIP: "skip"}
EXIT = {Status.OK: ExitCode.OK, Status.FAIL: ExitCode.CHECK_FAILED, Status.UNREACHABLE: ExitCode.UNREACHABLE}


def _jobs(offering: OfferingConfig) -> str:
    jobs = [name for name, on in (("order_process", offering.processes_orders),
                                  ("membership_sync", offering.syncs_membership),
                                  ("report", offering.reports_usage),
                                  ("username_sync", offering.username_reconciliation_enabled)) if on]
    return ", ".join(jobs) or "none (not served)"


def describe(config: FedcoreConfig) -> list[str]:
    """What each offering will do, in a few lines per offering (no secrets)."""
    lines = []
    for i, offering in enumerate(config.offerings):
        target = offering.backend_settings
        lines.append(f"offerings[{i}] '{offering.name}'")
        lines.append(f"  A: {offering.waldur_api_url} offering {offering.waldur_offering_uuid}")
        lines.append(f"  B: {target.target_api_url} offering {target.target_offering_uuid}, "
                     f"organisation {target.target_customer_uuid}")
        lines.append(f"  jobs: {_jobs(offering)}")
        bridge = bridge_use(offering)
        source = f" ({target.identity_bridge_source})" if target.identity_bridge_source else ""
        lines.append(f"  users: {target.user_resolve_method}{source}, matched on {target.user_match_field}"
                     + (f"; identity bridge used by {bridge}" if bridge else ""))
        for m in offering.component_mappings:
            targets = ", ".join(f"{b} x{f}" for b, f in sorted(m.targets.items())) or f"{m.source} (passthrough)"
            lines.append(f"  component {m.source} -> {targets}")
    return lines


def tls_warnings(config: FedcoreConfig) -> list[str]:
    """One line per side whose TLS certificates are not verified."""
    lines = []
    for i, offering in enumerate(config.offerings):
        if not offering.verify_ssl and offering.waldur_api_url.startswith("https://"):
            lines.append(f"offerings[{i}].verify_ssl: false: TLS certificates of Waldur A are not verified")
        target = offering.backend_settings
        if not target.target_verify_ssl and target.target_api_url.startswith("https://"):
            lines.append(f"offerings[{i}].backend_settings.target_verify_ssl: false: TLS certificates of Waldur B "
                         "are not verified")
    return lines


def checklist(results: tuple[OfferingChecks, ...]) -> list[str]:
    """The checklist as text: one block per offering, a line per check, then why and what to do."""
    lines = []
    for result in results:
        lines.append(f"offerings[{result.index}] '{result.name}'")
        lines.extend(line for check in result.checks for line in _check_lines(check))
    every = [c for r in results for c in r.checks]
    counts = ", ".join(f"{sum(c.status is s for c in every)} {s}" for s in Status)
    lines.append(f"result: {counts}")
    return lines


def _check_lines(check: Check) -> list[str]:
    lines = [f"  [{TAGS[check.status]}] {check.what}: {check.detail}"]
    if check.where:
        lines.append(f"      checked: {check.where}")
    if check.fix and check.status is not Status.OK:
        lines.append(f"      fix: {check.fix}")
    return lines


def validate(path: str, *, check_connectivity: bool) -> ExitCode:
    """Load and check the file at ``path``; exit 0 (valid), 2 (invalid), 3 (a server unreachable), 4 (a check
    failed)."""
    config = load(path, sys.stderr)
    if config is None:
        return ExitCode.CONFIG
    out = SafeOutput(sys.stdout, secrets_of(config))
    out.line(f"configuration OK: {path} ({len(config.offerings)} offering(s))")
    for line in describe(config):
        out.line(line)
    for line in (*notices(config), *tls_warnings(config)):
        out.line(f"notice: {line}")
    if not check_connectivity:
        return ExitCode.OK
    # A diagnostic reports what it sees: one attempt per call, so a dead server costs one timeout, not four.
    ports = RestPorts(config, retry=RetryPolicy.never())
    try:
        results = check_config(config, ports)
    finally:
        ports.close()
    out.line()
    out.line("connectivity:")
    for line in checklist(results):
        out.line(line)
    code = EXIT[worst([c for r in results for c in r.checks])]
    out.line(f"exit {int(code)} ({code.name})")
    return code
