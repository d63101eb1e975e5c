"""fedcore's daemon as a library: every offering of a configuration, in every chosen mode, in one process.

    daemon = Daemon(config, ports=RestPorts(config), modes=["order_process"])
    report = daemon.tick()                  # one pass of every due job (all of them on the first call)
    code = daemon.run_until_stopped()       # passes on schedule until daemon.stop(); returns an ExitCode

A *job* is one offering in one mode. Each job runs on its own schedule (:class:`~runners.schedule.Scheduler`) in
its own thread, so a slow or failing offering never holds up another; the order batches of all offerings (one A
project each) share one bounded worker pool. Orders whose turn ended on a failing call back off exponentially
(:class:`~runners.schedule.OrderBackoff`) while the others go on every pass. Under :meth:`~Daemon.run_until_stopped`
an order pass that submitted B orders comes back to them in follow-up rounds as soon as a worker would idle
(:class:`runners.jobs._Rounds`), so what B finishes at once does not wait a period; :meth:`~Daemon.tick` (tests,
``--once``, ``--dry-run``) runs each pass as one round.

:meth:`Daemon.stop` only sets a flag (signal handlers call it): no new job or order batch starts, the jobs in
flight finish, and :meth:`~Daemon.run_until_stopped` returns once they have, or when ``shutdown_timeout`` runs out.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import attrs
from attrs import frozen

from adapters.config import FedcoreConfig
from runners.exitcodes import ExitCode
from runners.jobs import FOLLOW_UP_ROUNDS, JobContext, JobResult, run_job
from runners.schedule import BackoffPolicy, OrderBackoff, Period, Scheduler, resolve_periods
from runners.sweeps import DEFAULT_SWEEP_MINUTES, SweepSchedule
from runners.telemetry import NullTelemetry, Telemetry
from runners.wiring import Mode, OfferingServices, PortsFactory, build_offering
from runners.wiring.root import takes_part

T = TypeVar("T")

log = logging.getLogger("fedcore.daemon")

DEFAULT_WORKERS = 8
"""Order batches at once. Calls wait on the network: 8 threads keep about 4 requests in flight to each Waldur
(benchmarks/order_burst.py: about 100 orders/s with 8, under 70 with 4, on 2 cores)."""
JOB_THREADS = 64
"""Passes running at once, all offerings and modes together: one thread per job made 2,000 threads for 500 offerings
(benchmarks/many_offerings.py). A due pass waits for a free thread; it never runs twice at once."""
"""Order batches processed at once, across all offerings."""


@frozen(eq=False)
class Job:
    """One offering in one mode (compared by identity)."""

    services: OfferingServices
    mode: Mode

    @property
    def name(self) -> str:
        """``<offering>/<mode>``."""
        return f"{self.services.name}/{self.mode}"


@frozen
class TickReport:
    """What one :meth:`Daemon.tick` ran, and the exit code ``fedcore run --once`` gives for it."""

    results: tuple[JobResult, ...]

    @property
    def exit_code(self) -> ExitCode:
        """``UNREACHABLE`` when a pass could not start, ``PARTIAL`` when one left something undone, else ``OK``."""
        if any(r.unreachable for r in self.results):
            return ExitCode.UNREACHABLE
        if not all(r.ok for r in self.results):
            return ExitCode.PARTIAL
        return ExitCode.OK


class _Inline(cf.Executor):
    """Runs each task at once in the caller's thread (``workers=1``: tests, embedding without threads)."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> cf.Future[T]:
        future: cf.Future[T] = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to whoever reads the future, as a thread pool would
            future.set_exception(exc)
        return future


def modes_in(config: FedcoreConfig) -> tuple[Mode, ...]:
    """The modes at least one offering of ``config`` takes part in."""
    return tuple(m for m in Mode if any(takes_part(o, m) for o in config.offerings))


class Daemon:
    """Every offering of ``config`` that takes part in ``modes`` (default: every mode one does), on schedule.

    ``ports`` builds each offering's ports (:class:`~runners.wiring.RestPorts` for real Waldurs); ``telemetry``
    hears of every pass and order; ``periods`` (seconds per mode) default to the configuration's ``periods``,
    then the agent's environment variables in ``environ``, then fedcore's defaults. ``workers=1`` runs every job
    and order in the calling thread. ``monotonic`` and ``wall`` are the clocks (tests pass fakes). ``follow_ups``:
    the follow-up rounds an order pass may add, in :meth:`tick` and :meth:`run_until_stopped` alike; by default
    :data:`~runners.jobs.FOLLOW_UP_ROUNDS` under :meth:`run_until_stopped` with a pool, none otherwise.
    """

    def __init__(
        self,
        config: FedcoreConfig,
        *,
        ports: PortsFactory,
        modes: Iterable[Mode | str] | None = None,
        telemetry: Telemetry | None = None,
        periods: Mapping[Mode, float] | None = None,
        environ: Mapping[str, str] | None = None,
        workers: int = DEFAULT_WORKERS,
        backoff: BackoffPolicy | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        follow_ups: int | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.config = config
        self.modes = tuple(Mode(m) for m in modes) if modes is not None else modes_in(config)
        self.periods: dict[Mode, Period] = resolve_periods(config.periods, os.environ if environ is None else environ)
        if periods is not None:
            self.periods.update({m: Period(m, s / 60.0, "given") for m, s in periods.items()})
        self.telemetry: Telemetry = telemetry or NullTelemetry()
        self.backoff = OrderBackoff(backoff)
        self.jobs = self._wire(config, ports)
        self._monotonic = monotonic
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._closed = False
        self._lock = threading.RLock()  # re-entered when an inline job finishes inside _start
        self._scheduler = Scheduler({job: self.periods[job.mode].seconds for job in self.jobs})
        self._running: dict[Job, cf.Future[JobResult]] = {}
        self._requested: dict[Job, cf.Future[JobResult]] = {}
        self._by_name = {(job.services.name, job.mode): job for job in self.jobs}
        threaded = workers > 1
        job_threads = max(1, min(len(self.jobs), JOB_THREADS))
        self._job_pool: cf.Executor = (
            cf.ThreadPoolExecutor(max_workers=job_threads, thread_name_prefix="fedcore-job") if threaded else _Inline()
        )  # fmt: skip
        order_pool = cf.ThreadPoolExecutor(workers, thread_name_prefix="fedcore-orders") if threaded else _Inline()
        self._order_pool = order_pool
        sweep_minutes = config.periods.duplicate_sweep or DEFAULT_SWEEP_MINUTES
        self._context = JobContext(
            self.telemetry, self.backoff, order_pool, self._stop.is_set, timezone=config.timezone,
            reporting_periods=config.reporting_periods, monotonic=monotonic, wall=wall, follow_ups=follow_ups or 0,
            sweeps=SweepSchedule(sweep_minutes * 60),
        )  # fmt: skip
        rolling = (FOLLOW_UP_ROUNDS if threaded else 0) if follow_ups is None else follow_ups
        self._rolling = attrs.evolve(self._context, follow_ups=rolling)  # the same locks, links and backoff

    def _wire(self, config: FedcoreConfig, ports: PortsFactory) -> tuple[Job, ...]:
        jobs: list[Job] = []
        for offering in config.offerings:
            chosen = [m for m in self.modes if takes_part(offering, m)]
            if chosen:
                services = build_offering(offering, ports=ports)
                jobs.extend(Job(services, mode) for mode in chosen)
        return tuple(jobs)

    @property
    def context(self) -> JobContext:
        """What the jobs share (the event handlers share it too: locks, the B-order index, backoff, telemetry)."""
        return self._context

    def services(self) -> tuple[OfferingServices, ...]:
        """Every wired offering, once each."""
        return tuple({id(job.services): job.services for job in self.jobs}.values())

    def runs(self, offering: str, mode: Mode) -> bool:
        """Whether the daemon runs ``mode`` passes for ``offering``."""
        return (offering, mode) in self._by_name

    def run_soon(self, offering: str, mode: Mode) -> cf.Future[JobResult] | None:
        """Ask for a pass of ``mode`` for ``offering`` that *starts* after this call, at once or as soon as the
        one running ends; the future gives its result. Requests made before that pass starts share it (many
        events, one pass). None when the daemon does not run that job. Needs :meth:`run_until_stopped` (or a
        later :meth:`tick`) to run it; after :meth:`close` the future is cancelled."""
        job = self._by_name.get((offering, mode))
        if job is None:
            return None
        with self._lock:
            future = self._requested.get(job)
            if future is None:
                future = self._requested[job] = cf.Future()
                if self._closed:
                    future.cancel()
                    return future
                self._scheduler.hurry(job)
        self._wake.set()
        return future

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stop.is_set()

    def stop(self) -> None:
        """Ask the daemon to stop: no new pass or order batch starts. Safe from a signal handler or any thread."""
        self._stop.set()
        self._wake.set()

    def tick(self) -> TickReport:
        """Run every job that is due (every job on the first call) once, and wait for them all."""
        with self._lock:
            started = [(job, self._start(job, self._context)) for job in self._scheduler.due(self._monotonic())]
        results = tuple(future.result() for _, future in started)
        for job, future in started:  # its done-callback may still be on its way: the next tick must see it ended
            self._finished(job, future)
        return TickReport(results)

    def run_until_stopped(self, *, shutdown_timeout: float = 30.0) -> ExitCode:
        """Run each job on its schedule until :meth:`stop`; then let the passes in flight finish.

        Returns ``OK`` once they did, or ``INTERRUPTED`` when ``shutdown_timeout`` seconds were not enough: their
        threads are still working, so the caller should end the process at once (``os._exit``).
        """
        while not self._stop.is_set():
            with self._lock:
                for job in self._scheduler.due(self._monotonic()):
                    self._start(job, self._rolling)
                wait = self._scheduler.seconds_to_next(self._monotonic())
            self._wake.wait(wait)
            self._wake.clear()
        with self._lock:
            running = list(self._running.values())
        log.info("stopping: %d pass(es) in flight, waiting up to %g s for them", len(running), shutdown_timeout)
        _, pending = cf.wait(running, timeout=shutdown_timeout)
        return ExitCode.INTERRUPTED if pending else ExitCode.OK

    def close(self) -> None:
        """Stop the worker pools (without waiting for work still running)."""
        self._stop.set()
        with self._lock:
            self._closed = True
            requested, self._requested = list(self._requested.values()), {}
        for future in requested:
            future.cancel()
        self._job_pool.shutdown(wait=False, cancel_futures=True)
        self._order_pool.shutdown(wait=False, cancel_futures=True)

    def _start(self, job: Job, context: JobContext) -> cf.Future[JobResult]:
        """Start ``job`` (the caller holds the lock)."""
        self._scheduler.started(job, self._monotonic())
        future = self._job_pool.submit(run_job, job.services, job.mode, context)
        self._running[job] = future
        requested = self._requested.pop(job, None)
        if requested is not None:
            future.add_done_callback(lambda f, r=requested: _chain(f, r))  # type: ignore[misc]
        future.add_done_callback(lambda f, j=job: self._finished(j, f))  # type: ignore[misc]
        return future

    def _finished(self, job: Job, future: cf.Future[JobResult]) -> None:
        """``future``, a pass of ``job``, ended (once: a later call, or one for an older pass, does nothing)."""
        with self._lock:
            if self._running.get(job) is not future:
                return
            self._scheduler.finished(job)
            self._running.pop(job, None)
        self._wake.set()


def _chain(source: cf.Future[JobResult], target: cf.Future[JobResult]) -> None:
    """Hand a finished pass's result to a :meth:`Daemon.run_soon` future."""
    if not target.set_running_or_notify_cancel():
        return
    if source.cancelled():
        target.set_exception(cf.CancelledError())
    elif (error := source.exception()) is not None:
        target.set_exception(error)
    else:
        target.set_result(source.result())
