"""The event service's bookkeeping with a scripted registrar and fake streams: one stream per broker login, queues
added to it as offerings register, a catch-up pass on every connect, and the state operators see."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, cast

import attrs
import pytest
from daemon_kit import Worlds, config, daemon

from adapters.config.schema import StompEndpoint
from adapters.memory.events import MemoryEventStream
from adapters.stomp import StompQueue
from fedcore.enums import Side
from fedcore.ids import Uuid
from runners.daemon import Daemon
from runners.events import Access, EventHandler, EventReactor, EventService, Login
from runners.events.service import accesses
from runners.health import Readiness
from runners.registration import OfferingStatus, Registrar, Registration, State
from runners.registration import StompQueue as RegisteredQueue
from runners.wiring import Mode

ENDPOINT = StompEndpoint("127.0.0.1", 15674, "/ws", use_tls=False)


class FakeStream(MemoryEventStream):
    """A memory stream with the life cycle the service drives (start, add_queues, close, connected)."""

    def __init__(self, queues: Sequence[StompQueue], on_connected: Callable[[], None]) -> None:
        super().__init__()
        self.queues = list(queues)
        self.on_connected = on_connected
        self.connected = False
        self.connects = 0
        self.refusals = 0
        self.closed = False

    def start(self) -> FakeStream:
        return self

    def connect(self) -> None:
        self.connected = True
        self.connects += 1
        self.on_connected()

    def add_queues(self, queues: Sequence[StompQueue]) -> None:
        self.queues += [q for q in queues if q not in self.queues]

    def close(self, timeout: float = 10.0) -> None:
        self.closed = True
        self.connected = False


class ScriptedRegistrar:
    """What the service reads of a Registrar, set by the test."""

    def __init__(self, keys: Sequence[tuple[str, Uuid]]) -> None:
        self.state = {k: OfferingStatus(k[0], k[1], State.PENDING) for k in keys}
        self.closed = False
        self.refreshed: list[list[tuple[str, Uuid]]] = []
        self.recreated: list[tuple[Uuid, list[tuple[str, Uuid]]]] = []

    def register(self, side: str, offering: Uuid, types: Sequence[str], *, login: str = "1" * 32) -> None:
        queues = tuple(
            RegisteredQueue(t, f"subscription_{login}_offering_{offering}_{t}", login, "e" * 32, Uuid("9" * 32))
            for t in types)
        registration = Registration(side, offering, Uuid("8" * 32), "e" * 32, queues)
        self.state[(side, offering)] = OfferingStatus(side, offering, State.REGISTERED, registration=registration)

    def fail(self, side: str, offering: Uuid, reason: str) -> None:
        self.state[(side, offering)] = OfferingStatus(side, offering, State.POLLING, reason=reason)

    def status(self) -> Mapping[tuple[str, Uuid], OfferingStatus]:
        return dict(self.state)

    def registrations(self) -> dict[tuple[str, Uuid], Registration]:
        return {k: s.registration for k, s in self.state.items() if s.registration is not None}

    def remove_stale(self) -> list[str]:
        return []

    def refresh(self, keys: Sequence[tuple[str, Uuid]]) -> None:
        self.refreshed.append(sorted(keys))

    def recreate(self, subscription: Uuid, keys: Sequence[tuple[str, Uuid]]) -> str:
        self.recreated.append((subscription, sorted(keys)))
        return "deleted"

    def tick(self) -> int:
        return 0

    def close(self) -> None:
        self.closed = True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def build(*names: str) -> tuple[EventService, ScriptedRegistrar, list[FakeStream], Daemon, Clock, EventReactor]:
    cfg = config(*names)
    d = daemon(cfg, Worlds(), modes=(Mode.ORDER_PROCESS, Mode.MEMBERSHIP_SYNC))
    d.tick()
    served = [(s, o) for s in d.services() for o in cfg.offerings if o.name == s.name]
    handler = EventHandler(served, context=d.context, run_soon=d.run_soon)
    reactor = EventReactor(handler, workers=1)
    keys = [("A", o.waldur_offering_uuid) for o in cfg.offerings]
    keys += list(dict.fromkeys(("B", o.backend_settings.stomp_offering_uuid) for o in cfg.offerings))
    registrar = ScriptedRegistrar(keys)
    streams: list[FakeStream] = []

    def factory(login: Login, access: Access, queues: Sequence[StompQueue], on_connected: Callable[[], None]) -> Any:
        stream = FakeStream(queues, on_connected)
        streams.append(stream)
        return stream

    access = {(Side(k[0]), k[1]): Access(ENDPOINT, "token", None) for k in keys}
    clock = Clock()
    service = EventService(registrar=cast(Registrar, registrar), handler=handler, reactor=reactor, access=access,
                           stream_factory=factory, clock=clock, connect_grace=15.0, refresh_after=120.0)
    return service, registrar, streams, d, clock, reactor


@pytest.fixture
def setup() -> Iterator[tuple[EventService, ScriptedRegistrar, list[FakeStream], Daemon, Clock]]:
    service, registrar, streams, d, clock, reactor = build("hpc")
    yield service, registrar, streams, d, clock
    reactor.close(1.0)


def states(service: EventService) -> list[tuple[str, str]]:
    return [(e.side, e.state) for e in service.status()]


def test_a_stream_per_login_grown_as_offerings_register_and_the_states_operators_see(setup: Any) -> None:
    service, registrar, streams, _, clock = setup
    [a_key, b_key] = list(registrar.state)
    assert states(service) == [("A", "pending"), ("B", "pending")]

    registrar.register("A", a_key[1], ["order"], login="1" * 32)
    registrar.register("B", b_key[1], ["order", "offering_user"], login="2" * 32)
    assert service.attach_ready() == 2
    assert service.attach_ready() == 0  # attached once
    assert len(streams) == 2
    assert [len(s.queues) for s in streams] == [1, 2]  # B's two types share one login here
    assert states(service) == [("A", "pending"), ("B", "pending")]  # connecting, within the grace period

    streams[0].connect()
    assert states(service) == [("A", "events"), ("B", "pending")]
    clock.now += 16  # B's stream never connected: polling, and said so
    assert service.status()[1].state == "polling"
    assert service.ready()[0] is False
    assert "broker not connected" in service.ready()[1][0]
    streams[1].connect()
    assert service.ready() == (True, [])
    streams[0].connected = False  # a drop
    assert service.status()[0].state == "polling"


def test_a_failing_registration_is_polling_with_its_reason(setup: Any) -> None:
    service, registrar, _, _, _ = setup
    [a_key, _b] = list(registrar.state)
    registrar.fail("A", a_key[1], "TransientError (HTTP 503): A GET users/me/: down")
    [a, _] = service.status()
    assert (a.state, a.reason) == ("polling", "TransientError (HTTP 503): A GET users/me/: down")
    assert a.offerings == ("hpc",)


def test_every_connect_asks_for_the_catch_up_passes_of_its_offerings(setup: Any) -> None:
    service, registrar, streams, d, _ = setup
    [a_key, _b] = list(registrar.state)
    registrar.register("A", a_key[1], ["order", "user_role"])
    service.attach_ready()
    streams[0].connect()
    modes = sorted(r.mode for r in d.tick().results)
    assert modes == [Mode.MEMBERSHIP_SYNC, Mode.ORDER_PROCESS]
    streams[0].connect()  # a reconnect
    assert len(d.tick().results) == 2


def test_a_second_offering_on_a_login_joins_its_stream_and_gets_a_catch_up() -> None:
    service, registrar, streams, d, _, reactor = build("hpc", "gpu")
    try:
        [hpc, gpu, _b] = list(registrar.state)
        registrar.register("A", hpc[1], ["order"], login="1" * 32)
        service.attach_ready()
        streams[0].connect()
        d.tick()
        registrar.register("A", gpu[1], ["order"], login="1" * 32)  # the same token: the same subscription
        service.attach_ready()
        assert len(streams) == 1
        assert len(streams[0].queues) == 2
        report = d.tick()  # the catch-up of the offering that just joined, not of the other
        assert sorted((r.offering, r.mode) for r in report.results) == [
            ("gpu", Mode.MEMBERSHIP_SYNC), ("gpu", Mode.ORDER_PROCESS)]
    finally:
        reactor.close(1.0)


def test_close_closes_streams_and_the_registrar(setup: Any) -> None:
    service, registrar, streams, _, _ = setup
    [a_key, _b] = list(registrar.state)
    registrar.register("A", a_key[1], ["order"])
    service.attach_ready()
    service.close(1.0)
    assert streams[0].closed
    assert registrar.closed


def test_readiness_includes_the_event_state() -> None:
    readiness = Readiness(lambda: {"a": (True, 0.0), "b": (True, 0.0)})
    readiness.config_loaded({"hpc": ("a", "b")})
    assert readiness.check() == (True, [])
    readiness.add_check(lambda: (False, ["events for A offering x (hpc): polling: broker not connected"]))
    assert readiness.check() == (False, ["events for A offering x (hpc): polling: broker not connected"])


def test_accesses_take_each_sides_endpoint_and_token_once_per_offering() -> None:
    assert accesses(config("hpc")) == {}
    cfg = config("hpc", "gpu")
    stomp = [attrs.evolve(o, stomp_enabled=True, backend_settings=attrs.evolve(
        o.backend_settings, target_stomp_enabled=True)) for o in cfg.offerings]
    found = accesses(attrs.evolve(cfg, offerings=tuple(stomp)))
    assert sorted((str(side), uuid) for side, uuid in found) == sorted(
        [("A", stomp[0].waldur_offering_uuid), ("A", stomp[1].waldur_offering_uuid),
         ("B", stomp[0].backend_settings.stomp_offering_uuid)])  # B's offering is shared: once
    assert "token" not in repr(found)


def test_a_login_down_for_long_gets_its_offerings_registered_again_once_per_period(setup: Any) -> None:
    service, registrar, streams, _, clock = setup
    [a_key, _b] = list(registrar.state)
    registrar.register("A", a_key[1], ["order"])
    service.attach_ready()
    streams[0].connect()
    assert service.refresh_stuck() == []
    streams[0].connected = False  # its queue was deleted: every reconnect is refused
    assert service.refresh_stuck() == []
    clock.now += 119
    assert service.refresh_stuck() == []
    clock.now += 2
    assert len(service.refresh_stuck()) == 1
    assert registrar.refreshed == [[a_key]]
    clock.now += 60
    assert service.refresh_stuck() == []  # not again within the period
    clock.now += 61
    assert len(service.refresh_stuck()) == 1
    streams[0].connect()
    clock.now += 500
    assert service.refresh_stuck() == []  # up again: nothing to do
    assert len(registrar.refreshed) == 2


def test_a_registration_on_a_new_login_moves_the_offering_and_retires_the_empty_stream(setup: Any) -> None:
    service, registrar, streams, _, _ = setup
    [a_key, _b] = list(registrar.state)
    registrar.register("A", a_key[1], ["order"], login="1" * 32)
    service.attach_ready()
    registrar.register("A", a_key[1], ["order"], login="3" * 32)  # the subscription was replaced
    assert service.attach_ready() == 1
    assert len(streams) == 2
    assert streams[0].closed
    assert not streams[1].closed
    assert service.streams == (streams[1],)


def test_a_login_the_broker_keeps_refusing_gets_its_subscription_recreated_once_per_period(setup: Any) -> None:
    service, registrar, streams, _, clock = setup
    [a_key, _b] = list(registrar.state)
    registrar.register("A", a_key[1], ["order"], login="1" * 32)
    service.attach_ready()
    streams[0].refusals = 2
    assert service.recreate_refused() == []
    streams[0].refusals = 3  # "CONNECT refused: Bad CONNECT" three times: the password is a stale token
    assert len(service.recreate_refused()) == 1
    assert registrar.recreated == [("1" * 32, [a_key])]
    streams[0].refusals = 9
    assert service.recreate_refused() == []  # not again within the period
    clock.now += 121
    assert len(service.recreate_refused()) == 1
