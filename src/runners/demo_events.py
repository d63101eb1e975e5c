"""fedcore as the demo runs it when a broker is there: ``fedcore run -m event_process`` in-process, told as lines.

The real :class:`~runners.daemon.Daemon` runs every mode in background threads with the event service beside it
(:func:`runners.events.wiring.start_events`): the order, membership and username passes are due only hourly, so
what happens during the story is the work of events (and of the in-flight watch of B's orders, every second);
usage, for which Waldur sends no event, is polled every ``report_seconds``. :meth:`EventDemoAgent.tick` runs
nothing itself: it hands over what fedcore logged since the last call, as sentences.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time

from runners.daemon import Daemon
from runners.demo_agent import short
from runners.demo_world import DemoWorld
from runners.events import EventService
from runners.events.wiring import start_events
from runners.exitcodes import ExitCode
from runners.wiring import Mode

HOUR = 3600.0
_DID = {
    "membership_sync": re.compile(r"(\d+)/(\d+) role change\(s\) applied, (\d+) identity release\(s\), (\d+) pair"),
    "username_sync": re.compile(r"^(\d+) username\(s\) copied"),
    "report": re.compile(r"(\d+) write\(s\)"),
}


class _Passes:
    """Telemetry that only counts passes (the demo's closing line says how many ran)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def pass_finished(self, offering: str, mode: str, seconds: float, ok: bool, finished_at: float) -> None:  # noqa: ARG002
        with self._lock:
            self.count += 1

    def order_finished(self, offering: str, order_type: str, outcome: str) -> None:
        pass

    def api_call(self, server: str, method: str, endpoint: str, status: str, seconds: float) -> None:
        pass

    def retry(self, server: str, endpoint: str) -> None:
        pass

    def orders_waiting(self, offering: str, count: int, oldest_age_seconds: float) -> None:
        pass

    def server_reachable(self, server: str, reachable: bool) -> None:
        pass

    def duplicate_repaired(self, offering: str, kind: str) -> None:
        pass


class _Narrator(logging.Handler):
    """fedcore's INFO lines (and the event handler's DEBUG "handled" lines) worth telling, as sentences."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: queue.SimpleQueue[str] = queue.SimpleQueue()

    def emit(self, record: logging.LogRecord) -> None:
        line = _sentence(record)
        if line is not None:
            self.lines.put(line)


def _sentence(record: logging.LogRecord) -> str | None:
    if record.levelno >= logging.WARNING:
        return None  # the demo shows warnings on its own
    message = record.getMessage()
    if record.name == "fedcore.orders":
        return f"A order {short(getattr(record, 'a_order', ''))}: {message}"
    if record.name == "fedcore.events":
        if " handled: " in message:
            what, _, detail = message.partition(" handled: ")
            return f"event: {what} -> {detail}"
        if message.endswith(": on events") or "registering events" in message:
            return message
        return None
    if record.name == "fedcore.daemon" and " pass done: " in message:
        mode, _, summary = message.partition(" pass done: ")
        pattern = _DID.get(mode)
        found = pattern.search(summary) if pattern is not None else None
        if found is not None and any(int(n) for n in found.groups()[1 if mode == "membership_sync" else 0:]):
            return f"{mode}: {summary}"
    return None


class EventDemoAgent:
    """The daemon and the event service over the demo's world; see the module doc."""

    def __init__(self, world: DemoWorld, *, report_seconds: float = 1.0, watch_seconds: float = 1.0) -> None:
        self._passes = _Passes()
        periods = {Mode.ORDER_PROCESS: HOUR, Mode.MEMBERSHIP_SYNC: HOUR, Mode.USERNAME_SYNC: HOUR,
                   Mode.REPORT: report_seconds}
        self._narrator = _Narrator()
        self._loggers = [logging.getLogger(name) for name in ("fedcore.orders", "fedcore.events", "fedcore.daemon")]
        self._levels = [lg.level for lg in self._loggers]
        for lg in self._loggers:
            lg.addHandler(self._narrator)
            lg.setLevel(logging.DEBUG if lg.name == "fedcore.events" else logging.INFO)
        self.daemon = Daemon(world.config, ports=world.ports, periods=periods, environ={}, telemetry=self._passes,
                             workers=4)
        service = start_events(world.config, self.daemon, world.ports, watch_seconds=watch_seconds)
        if service is None:  # pragma: no cover - the demo's configuration always enables events
            raise RuntimeError("the demo's configuration enables no events")
        self.service: EventService = service
        self._code: ExitCode | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="fedcore-demo-daemon", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self._code = self.daemon.run_until_stopped(shutdown_timeout=10.0)

    @property
    def passes(self) -> int:
        """Passes the daemon ran so far."""
        return self._passes.count

    def on_events(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until every offering and side is on events."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.service.ready()[0]:
                return True
            time.sleep(0.05)
        return self.service.ready()[0]

    def tick(self) -> list[str]:
        """What fedcore did since the last call (it runs on its own)."""
        lines = []
        while True:
            try:
                lines.append(self._narrator.lines.get_nowait())
            except queue.Empty:
                return lines

    def close(self) -> None:
        """Stop the daemon and the event service (queues removed), and put the loggers back (once)."""
        if self._closed:
            return
        self._closed = True
        self.daemon.stop()
        self._thread.join(15.0)
        self.service.close()
        self.daemon.close()
        for lg, level in zip(self._loggers, self._levels, strict=True):
            lg.removeHandler(self._narrator)
            lg.setLevel(level)
