"""What the daemon's unit tests share: a configuration of several offerings, in-memory Waldurs per offering, a
telemetry that records, and a clock that moves only when told to."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from adapters.config import FedcoreConfig, OfferingConfig, parse_config
from fedcore.ids import Uuid
from fedcore.model import Order, Project
from fedcore.ports import SourceOrders
from runners.daemon import Daemon
from runners.sandbox import federation_config
from runners.schedule import BackoffPolicy
from runners.wiring import MemoryWorld, Mode, Ports, memory_world
from waldur_emulator.federation import Federation, Side

TOKENS = ("a-token-" + "1" * 32, "b-token-" + "2" * 32)


def config(*names: str, **top: Any) -> FedcoreConfig:
    """The sandbox configuration with one offering per name (each its own A offering), top-level keys overridden."""
    offerings = []
    for i, name in enumerate(names or ("hpc",)):
        side = Side(f"{i:x}" * 32, "e" * 32, TOKENS[0], "c" * 32, "d" * 32)
        fed = Federation(side, attrs.evolve(side, offering_uuid="b" * 32, agent_token=TOKENS[1]), "f" * 32,
                         "1" * 32, "2" * 32, "consumer", "isd:test")
        data = federation_config(fed, "https://waldur-a.test/api/", "https://waldur-b.test/api/", name=name)
        offerings += data["offerings"]
    return parse_config({"offerings": offerings, **top})


class Worlds:
    """A ports factory over in-memory Waldurs, one world per offering, kept for the test to arrange and inspect."""

    def __init__(self) -> None:
        self.built: dict[str, MemoryWorld] = {}
        self.wrap: dict[str, Callable[[Ports], Ports]] = {}

    def __call__(self, offering: OfferingConfig) -> Ports:
        world = self.built.get(offering.name) or memory_world(offering)
        self.built[offering.name] = world
        ports = world.ports
        wrap = self.wrap.get(offering.name)
        return wrap(ports) if wrap is not None else ports

    def order(self, offering: str, project: Project | None = None, node_hours: int = 1) -> tuple[Order, Project]:
        """A Create order on A of ``offering`` (in a new project unless given)."""
        a = self.built[offering].a
        project = project or a.add_project(f"project {len(a.projects) + 1}")
        return a.order_create(project, {"node_hours": node_hours}), project


class Ticker:
    """A monotonic clock for the daemon: seconds that move only with :meth:`advance`."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Recorder:
    """Telemetry that keeps every call, for assertions."""

    def __init__(self, on_pass: Callable[[Recorder], None] | None = None) -> None:
        self.orders: list[tuple[str, str, str]] = []
        self.calls: list[tuple[str, str, str, str]] = []
        self.retries: list[tuple[str, str]] = []
        self.passes: list[tuple[str, str, bool]] = []
        self.waiting: list[tuple[str, int, float]] = []
        self.servers: list[tuple[str, bool]] = []
        self.repaired: list[tuple[str, str]] = []
        self._on_pass = on_pass

    def order_finished(self, offering: str, order_type: str, outcome: str) -> None:
        self.orders.append((offering, order_type, outcome))

    def api_call(self, server: str, method: str, endpoint: str, status: str, seconds: float) -> None:
        self.calls.append((server, method, endpoint, status))

    def retry(self, server: str, endpoint: str) -> None:
        self.retries.append((server, endpoint))

    def pass_finished(self, offering: str, mode: str, seconds: float, ok: bool, finished_at: float) -> None:
        self.passes.append((offering, mode, ok))
        if self._on_pass is not None:
            self._on_pass(self)

    def orders_waiting(self, offering: str, count: int, oldest_age_seconds: float) -> None:
        self.waiting.append((offering, count, oldest_age_seconds))

    def server_reachable(self, server: str, reachable: bool) -> None:
        self.servers.append((server, reachable))

    def duplicate_repaired(self, offering: str, kind: str) -> None:
        self.repaired.append((offering, kind))


def daemon(
    cfg: FedcoreConfig,
    worlds: Worlds,
    *,
    modes: tuple[Mode, ...] = (Mode.ORDER_PROCESS,),
    ticker: Ticker | None = None,
    telemetry: Recorder | None = None,
    **options: Any,
) -> Daemon:
    """A daemon over ``worlds`` in one thread, with no environment, a fake clock and a 120 s first backoff."""
    options.setdefault("workers", 1)
    options.setdefault("backoff", BackoffPolicy(initial=120.0, maximum=600.0))
    return Daemon(cfg, ports=options.pop("ports", worlds), modes=modes, environ={}, telemetry=telemetry,
                  monotonic=ticker or Ticker(), wall=lambda: 0.0, **options)


class PassingOrders:
    """A's orders passed through to ``real``: subclasses change one call."""

    def __init__(self, real: SourceOrders) -> None:
        self.real = real

    def list_open_orders(self) -> Sequence[Order]:
        return self.real.list_open_orders()

    def get_order(self, order_uuid: Uuid) -> Order:
        return self.real.get_order(order_uuid)

    def approve(self, order_uuid: Uuid) -> None:
        self.real.approve(order_uuid)

    def reject(self, order_uuid: Uuid, reason: str) -> None:
        self.real.reject(order_uuid, reason)

    def set_order_backend_id(self, order_uuid: Uuid, backend_id: str) -> None:
        self.real.set_order_backend_id(order_uuid, backend_id)

    def complete(self, order_uuid: Uuid) -> None:
        self.real.complete(order_uuid)

    def fail(self, order_uuid: Uuid, message: str) -> None:
        self.real.fail(order_uuid, message)
