"""``fedcore run``: load the configuration, set up logging, metrics and signals, run the :class:`Daemon`.

Order of start-up: logging without secrets (nothing secret is known yet), the configuration (exit 2 on any
problem), logging again with every secret of the file to keep out of the output, the start-up notices, metrics,
the ports and the daemon. Order of shutdown: the first SIGTERM/SIGINT only sets the daemon's stop flag; passes in
flight finish (or ``--shutdown-timeout`` runs out: exit 130); a second signal ends the process at once (130).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from adapters.config import FedcoreConfig, load_config, notices
from fedcore.errors import ConfigError
from runners.commands.run import EVENT_MODE
from runners.daemon import Daemon, modes_in
from runners.daemon_ports import CallReporter, daemon_ports
from runners.dryrun import WriteJournal
from runners.events import EventService
from runners.events.wiring import start_events
from runners.exitcodes import ExitCode
from runners.logs import configure_logging
from runners.metrics import start_telemetry
from runners.schedule import BackoffPolicy
from runners.signals import stop_on_signals
from runners.wiring import Mode, RestPorts
from runners.wiring.root import takes_part

log = logging.getLogger("fedcore.daemon")


def config_secrets(config: FedcoreConfig) -> list[str]:
    """Every secret of the configuration: the values that must never appear in a log line."""
    secrets = [s.reveal() for s in (config.sentry_dsn, config.global_proxy) if s is not None]
    for offering in config.offerings:
        secrets += [offering.waldur_api_token.reveal(), offering.backend_settings.target_api_token.reveal()]
    return secrets


def _modes(config: FedcoreConfig, asked: list[str] | None) -> tuple[Mode, ...] | str:
    """The polling modes to run, or why there is nothing to run (``event_process`` alone: every mode)."""
    asked = [m for m in asked or () if m != EVENT_MODE]
    if not asked:
        chosen = modes_in(config)
        return chosen or "no offering of the configuration takes part in any mode (see the notices above)"
    modes = tuple(dict.fromkeys(Mode(m) for m in asked))
    for mode in modes:
        if not any(takes_part(o, mode) for o in config.offerings):
            log.warning("no offering of the configuration takes part in %s", mode)
    if not any(takes_part(o, m) for o in config.offerings for m in modes):
        return f"no offering of the configuration takes part in {', '.join(modes)}"
    return modes


def run_daemon(args: argparse.Namespace) -> int:
    """The whole of ``fedcore run``; returns the exit code (or ends the process at once, see the module doc)."""
    configure_logging(args.log_level or "INFO", args.log_format)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"fedcore run: {exc}", file=sys.stderr)
        return ExitCode.CONFIG
    configure_logging(args.log_level or str(config.log_level), args.log_format, secrets=config_secrets(config))
    for note in notices(config):
        log.warning("configuration: %s", note)
    modes = _modes(config, args.modes)
    if isinstance(modes, str):
        log.error("%s", modes)
        return ExitCode.CONFIG
    try:
        telemetry, metrics = start_telemetry(args, config=config, modes=[str(m) for m in modes])
    except OSError as exc:
        log.error("the metrics server could not start on port %s: %s", args.metrics_port, exc)
        return ExitCode.CONFIG
    rest = RestPorts(config, observer=CallReporter(telemetry))
    journal = WriteJournal() if args.dry_run else None
    try:
        daemon = Daemon(config, ports=daemon_ports(config, rest, journal=journal), modes=modes, telemetry=telemetry,
                        workers=args.workers, backoff=BackoffPolicy(args.backoff_initial, args.backoff_max))
    except ConfigError as exc:  # a period variable of the environment that is not a number
        log.error("%s", exc)
        rest.close()
        metrics.close()
        return ExitCode.CONFIG
    events: EventService | None = None
    if EVENT_MODE in (args.modes or ()) and not (args.once or journal is not None):
        events = start_events(config, daemon, rest, telemetry=telemetry, readiness=metrics.readiness,
                              transport=args.stomp_transport, workers=args.event_workers,
                              watch_seconds=args.event_watch_seconds)
    elif EVENT_MODE in (args.modes or ()):
        log.info("event_process: --once and --dry-run run one pass by REST, without events")
    elif any(o.stomp_enabled or o.backend_settings.target_stomp_enabled for o in config.offerings):
        log.info("the configuration enables STOMP events, but event_process is not among the modes: "
                 "fedcore polls (add -m event_process to react to events)")
    try:
        return _run(daemon, args, journal, rest)
    finally:
        if events is not None:
            events.close()
        daemon.close()
        rest.close()
        metrics.close()


def _run(daemon: Daemon, args: argparse.Namespace, journal: WriteJournal | None, rest: RestPorts) -> int:
    offerings = sorted({job.services.name for job in daemon.jobs})
    log.info("fedcore serving %d offering(s) (%s) in %s%s", len(offerings), ", ".join(offerings),
             ", ".join(daemon.modes), " (dry run: nothing is written)" if journal is not None else "")
    with stop_on_signals(daemon.stop):
        if args.once or journal is not None:
            report = daemon.tick()
            if journal is not None:
                _print_journal(journal)
            log.info("one pass done: exit code %d (%s)", report.exit_code, report.exit_code.name)
            return report.exit_code
        for server, problem in rest.probe().items():
            if problem is None:
                log.info("Waldur %s answers", server)
            else:
                log.warning("Waldur %s does not answer yet: %s", server, problem)
        for mode in daemon.modes:
            period = daemon.periods[mode]
            log.info("%s every %g minute(s) (%s)", mode, period.minutes, period.source)
        code = daemon.run_until_stopped(shutdown_timeout=args.shutdown_timeout)
    if code == ExitCode.INTERRUPTED:
        log.error("passes still running after %g s; exiting without waiting for them", args.shutdown_timeout)
        logging.shutdown()
        os._exit(code)  # worker threads are still in a call: do not wait for them at interpreter exit
    log.info("stopped")
    return code


def _print_journal(journal: WriteJournal) -> None:
    writes = journal.writes
    if not writes:
        print("dry run: no write would be made", flush=True)
        return
    print(f"dry run: {len(writes)} write(s) would be made:", flush=True)
    for write in writes:
        print(f"  {write}", flush=True)
