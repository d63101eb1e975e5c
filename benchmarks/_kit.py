"""What both benchmarks share: emulators that timestamp their own commits, a ``fedcore run`` subprocess whose
log is read as it comes, percentiles and Markdown tables.

The benchmarks run from the repository root with the project's virtualenv (``.venv/bin/python
benchmarks/<name>.py``); ``src`` is put on ``sys.path`` here so an uninstalled checkout works too.
"""

from __future__ import annotations

import logging
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

import httpx  # noqa: E402

from waldur_emulator import Emulator  # noqa: E402  (after the path set-up above)
from waldur_emulator.federation import Federation, build_federation  # noqa: E402
from waldur_emulator.seeding import Created, Seeder  # noqa: E402
from waldur_emulator.web import Request, Response  # noqa: E402

BROKER_WS = {"websocket_use_tls": False, "stomp_ws_host": "127.0.0.1", "stomp_ws_port": 15674, "stomp_ws_path": "/ws"}
"""The Web-STOMP endpoint of ``scripts/broker``, as configuration keys."""
HOUR = {"order_process": 60, "membership_sync": 60, "report": 60, "username_sync": 60}
"""Every pass period an hour: within a benchmark's minutes, only events (and the first passes) act."""
ORDERS_PATH = "/api/marketplace-orders/"

logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth is 2" on every burst: noise here


def hexid(value: object) -> str:
    """A UUID in one form (32 lowercase hex), whatever form it came in."""
    return str(value).replace("-", "").lower()


class TimedEmulator(Emulator):
    """An emulator that notes, in ``time.perf_counter()`` seconds of this process, when each order was created
    and when it was first seen ``done``, the moment its request's transaction committed (after ``handle``,
    before the answer goes on the wire). It also counts every request it handled and the seconds spent handling
    them (``busy``, summed over the server's threads: it includes each request's wait for the emulator's state
    lock, and whatever the handler does while holding it, such as a ``RabbitEventBus`` management call).

    ``on_created(uuid, attributes, at)`` is called for every order created (on the request's thread).
    """

    def __init__(self, *, on_created: Callable[[str, dict[str, Any], float], None] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.created: dict[str, float] = {}
        self.done: dict[str, float] = {}
        self.requests = 0
        self.busy = 0.0
        self._on_created = on_created
        self._count_lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        began = time.perf_counter()
        response = super().handle(request)
        at = time.perf_counter()
        with self._count_lock:
            self.requests += 1
            self.busy += at - began
        if request.method != "POST" or response.status >= 300 or not request.path.startswith(ORDERS_PATH):
            return response
        if request.path == ORDERS_PATH and isinstance(response.body, dict):
            uuid = hexid(response.body["uuid"])
            with self.core.lock:
                attributes = dict(self.state.orders[uuid].attributes)
            self.created[uuid] = at
            if self._on_created is not None:
                self._on_created(uuid, attributes, at)
            return response
        uuid = hexid(request.path[len(ORDERS_PATH):].split("/", 1)[0])
        with self.core.lock:
            order = self.state.orders.get(uuid)
            state = order.state if order is not None else ""
        if state == "done":
            self.done.setdefault(uuid, at)
        return response


class FedcoreProcess:
    """``python -m runners.cli run …`` as a subprocess; its stderr (the log) read line by line as it comes."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
        self.process = subprocess.Popen([sys.executable, "-m", "runners.cli", "run", *args], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True, env=env)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def count(self, *needles: str) -> int:
        """Lines so far that contain every one of ``needles``."""
        return sum(1 for line in list(self.lines) if all(n in line for n in needles))

    def wait_for(self, check: Callable[[], bool], what: str, deadline: float) -> float:
        """Poll ``check`` every 10 ms; the seconds it took. Raises (with the log's tail) after ``deadline``."""
        start = time.perf_counter()
        while not check():
            if self.process.poll() is not None or time.perf_counter() - start > deadline:
                tail = "".join(self.lines[-20:])
                raise RuntimeError(f"gave up waiting for {what} (exit {self.process.poll()}); log tail:\n{tail}")
            time.sleep(0.01)
        return time.perf_counter() - start

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait (kill after ``timeout``); the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self._reader.join(timeout)
        return self.process.returncode


class HourlyClock:
    """A monotonic clock one hour further on at every reading: every job is due at every tick."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 3600.0
        return self.now


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100.0 * len(ordered))))
    return ordered[rank - 1]


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def broker_up() -> bool:
    """Whether ``scripts/broker``'s Web-STOMP endpoint answers (426: it wants a WebSocket upgrade)."""
    import httpx

    try:
        return httpx.get("http://127.0.0.1:15674/ws", timeout=2).status_code == 426
    except httpx.HTTPError:
        return False


UUID_IN_PATH = re.compile(r"[0-9a-f]{32}|[0-9a-f-]{36}")


class Calls:
    """The RestPorts observer: attempts by server, method and endpoint (UUIDs masked), and retries."""

    def __init__(self) -> None:
        self.by_endpoint: Counter[str] = Counter()
        self.retries = 0
        self._lock = threading.Lock()

    def api_call(self, server: str, method: str, endpoint: str, status: str, seconds: float) -> None:  # noqa: ARG002
        with self._lock:
            self.by_endpoint[f"{server} {method} {UUID_IN_PATH.sub('{uuid}', endpoint)} {status}"] += 1

    def retry(self, server: str, endpoint: str) -> None:  # noqa: ARG002
        with self._lock:
            self.retries += 1

    def take(self) -> Counter[str]:
        with self._lock:
            taken, self.by_endpoint = self.by_endpoint, Counter()
        return taken


def seed_offerings(
    a: TimedEmulator, b: TimedEmulator, tokens: tuple[str, str], count: int
) -> tuple[Federation, list[str]]:
    """Federate ``a`` and ``b`` (in-process, with their staff ``tokens``) and give A ``count`` offerings in all that
    fedcore's A user manages; the federation and the offerings' UUIDs (the federation's own first)."""
    clients = [httpx.Client(transport=e.transport(), base_url="http://emulator",
                            headers={"Authorization": f"Token {t}"}) for e, t in zip((a, b), tokens, strict=True)]
    try:
        fed = build_federation(clients[0], clients[1])
        seeder = Seeder(clients[0])
        provider = Created(fed.a.provider_customer_uuid,
                           clients[0].get(f"/api/customers/{fed.a.provider_customer_uuid}/").json()["url"], {})
        category = seeder.category("Benchmark")
        uuids = [fed.a.offering_uuid]
        for n in range(1, count):
            offering, _ = seeder.offering(provider, category, f"Offering {n}", components=("node_hours", "storage"))
            seeder.role("marketplace-provider-offerings", offering.uuid, fed.a.agent_uuid, "OFFERING.MANAGER")
            uuids.append(offering.uuid)
    finally:
        for client in clients:
            client.close()
    return fed, uuids
