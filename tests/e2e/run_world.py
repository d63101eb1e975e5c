"""Two emulated Waldurs over real HTTP and ``fedcore run`` as a real process: the kit of the ``test_run_*`` suites.

The emulators run in the test process (``Emulator.serve()`` on 127.0.0.1:0) and are set up through their REST APIs
(``build_federation``); the configuration is the sandbox's (``runners.sandbox.federation_config``) written to a YAML
file. Tests wait for what they expect by polling the emulators' REST APIs against a deadline, never by sleeping.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

from runners.sandbox import federation_config, with_events
from waldur_emulator import Emulator
from waldur_emulator.events import EventBusError, RabbitEventBus
from waldur_emulator.faults import FaultRule
from waldur_emulator.federation import Federation, build_federation, place_order

T = TypeVar("T")

DEADLINE = 20.0
"""Seconds a test waits for something it expects before failing."""

WRITES = ("POST", "PUT", "PATCH", "DELETE")


def until(check: Callable[[], T | None], what: str, deadline: float = DEADLINE) -> T:
    """Call ``check`` until it returns something other than None (or False); fail after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while True:
        value = check()
        if value is not None and value is not False:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"gave up after {deadline} s waiting for {what}")
        time.sleep(0.02)  # polling interval, not synchronisation: the condition above decides


class Fedcore:
    """``python -m runners.cli`` as a subprocess, with the environment a test gives it."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}

    def run(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run to the end; exit code, stdout and stderr."""
        return subprocess.run([sys.executable, "-m", "runners.cli", *args], capture_output=True, text=True,
                              env=self.env, timeout=timeout, check=False)

    def run_all(self, *commands: list[str], timeout: float = 60.0) -> list[subprocess.CompletedProcess[str]]:
        """Run several command lines at once (each its own process); their results, in order."""
        started = [(args, self.start(*args)) for args in commands]
        done = []
        for args, process in started:
            out, err = process.communicate(timeout=timeout)
            done.append(subprocess.CompletedProcess(args, process.returncode, out, err))
        return done

    def start(self, *args: str) -> subprocess.Popen[str]:
        """Start in the background (stdout and stderr to pipes)."""
        return subprocess.Popen([sys.executable, "-m", "runners.cli", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env)


def stop(process: subprocess.Popen[str], sig: int = signal.SIGTERM, timeout: float = DEADLINE) -> tuple[int, str]:
    """Send ``sig`` and wait for the exit; the exit code and everything it wrote to stderr."""
    process.send_signal(sig)
    _, err = process.communicate(timeout=timeout)
    return process.returncode, err


class Running:
    """A ``fedcore`` process whose stderr is read line by line as it comes, so a test can wait for a line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        assert process.stderr is not None
        self._reader = threading.Thread(target=self._read, args=(process.stderr,), daemon=True)
        self._reader.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line)

    def saw(self, text: str) -> bool:
        """Whether a line so far contains ``text``."""
        return any(text in line for line in list(self.lines))

    def signal(self, sig: int) -> None:
        """Send a signal."""
        self.process.send_signal(sig)

    def wait(self, timeout: float = DEADLINE) -> tuple[int, str]:
        """Wait for the exit; the exit code and the whole of stderr."""
        code = self.process.wait(timeout)
        self._reader.join(timeout)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return code, "".join(self.lines)

    def kill(self) -> None:
        """End it, if it still runs (test clean-up)."""
        if self.process.poll() is None:
            self.process.kill()
            self.wait()


class World:
    """Waldur A and Waldur B served over HTTP as a federation, with staff clients and a config file."""

    def __init__(self, directory: Path, *, events: bool = False) -> None:
        """``events``: both emulators publish through RabbitMQ (``scripts/broker``), and B lets its consumers
        receive their orders' events (the rule EVENTS.md §4 describes for newer Waldurs)."""
        tokens = f"staff-a-{secrets.token_hex(16)}", f"staff-b-{secrets.token_hex(16)}"
        self.buses = (RabbitEventBus(), RabbitEventBus()) if events else None
        self.a = Emulator(staff_token=tokens[0], event_bus=self.buses[0] if self.buses else None)
        self.b = Emulator(staff_token=tokens[1], event_bus=self.buses[1] if self.buses else None,
                          consumer_event_access=events)
        self.handles = self.a.serve(), self.b.serve()
        self.staff_a, self.staff_b = (
            httpx.Client(base_url=h.base_url, headers={"Authorization": f"Token {t}"}, timeout=10)
            for h, t in zip(self.handles, tokens, strict=True))
        self.fed: Federation = build_federation(self.staff_a, self.staff_b)
        self.a_api, self.b_api = (f"{h.base_url}/api/" for h in self.handles)
        self.directory = directory

    def config(self, **top: Any) -> dict[str, Any]:
        """The sandbox configuration of this federation, with top-level keys overridden."""
        return {**federation_config(self.fed, self.a_api, self.b_api), **top}

    def event_config(self, *, target_stomp: bool = True, **top: Any) -> dict[str, Any]:
        """:meth:`config` with STOMP enabled on A (and on B unless ``target_stomp`` is False), over the broker's
        Web-STOMP endpoint (``ws://127.0.0.1:15674/ws``)."""
        return with_events(self.config(**top), target=target_stomp)

    def consumer(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A call to A as the consumer (who placed the orders); the JSON answer."""
        answer = self.staff_a.request(method, path, headers={"Authorization": f"Token {self.fed.consumer_token}"},
                                      **kwargs)
        assert answer.status_code < 300, answer.text
        body: dict[str, Any] = answer.json() if answer.content else {}
        return body

    def a_resource_of(self, a_order: str) -> str:
        """The A resource an A order is about."""
        return str(self.a_order(a_order)["marketplace_resource_uuid"])

    def write_config(self, data: dict[str, Any] | None = None, name: str = "config.yaml") -> str:
        """``data`` (default: :meth:`config`) as a YAML file; its path."""
        path = self.directory / name
        path.write_text(yaml.safe_dump(data if data is not None else self.config(), sort_keys=False), "utf-8")
        return str(path)

    @property
    def tokens(self) -> tuple[str, str]:
        """fedcore's tokens on A and B: never to be seen in any output."""
        return self.fed.a.agent_token, self.fed.b.agent_token

    def order(self, limits: dict[str, int], name: str = "sim") -> str:
        """A Create order placed on A by the consumer; its UUID."""
        return str(place_order(self.staff_a, self.fed, limits, name)["uuid"])

    def a_order(self, uuid: str) -> dict[str, Any]:
        """An order as A shows it."""
        answer: dict[str, Any] = self.staff_a.get(f"/api/marketplace-orders/{uuid}/").json()
        return answer

    def b_orders(self) -> list[dict[str, Any]]:
        """Every order on B."""
        answer: list[dict[str, Any]] = self.staff_b.get("/api/marketplace-orders/").json()
        return answer

    def b_done(self, b_order: str) -> None:
        """B's provider approves and completes a B order."""
        for action in ("approve_by_provider", "set_state_done"):
            answer = self.staff_b.post(f"/api/marketplace-orders/{b_order}/{action}/")
            assert answer.status_code == 200, answer.text

    def tripwire(self) -> None:
        """From now on, every write to either Waldur is refused (503) and counted in ``faults.injected``."""
        for emulator in (self.a, self.b):
            for method in WRITES:
                emulator.add_fault(FaultRule(path="^/api/(?!emulator/)", method=method, kind="error", status=503))

    @property
    def writes_refused(self) -> int:
        """Writes that reached either Waldur since :meth:`tripwire`."""
        return self.a.faults.injected + self.b.faults.injected

    def close(self) -> None:
        """Stop both servers, close the clients, and remove the broker users and vhosts the subscriptions made (left
        behind, they pile up in RabbitMQ, and every vhost slows down its start, the broker restart test's too)."""
        for client in (self.staff_a, self.staff_b):
            client.close()
        for handle in self.handles:
            handle.stop()
        for emulator, bus in zip((self.a, self.b), self.buses or (), strict=False):
            for subscription in list(emulator.core.state.subscriptions.values()):
                with contextlib.suppress(EventBusError):  # clean-up only: the test has passed or failed already
                    bus.remove_subscription(user_uuid=subscription.user_uuid, subscription_uuid=subscription.uuid,
                                            delete_vhost=True)
            bus.close()
