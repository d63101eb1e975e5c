"""Bad input: every configuration key with a wrong value, named by its path in one exit-2 answer, no traceback.

The keys are enumerated from the schema (``adapters.config.schema``'s attrs classes, recursively), and a wrong
value is generated from each key's type: a list for a string or a token, a word for a number or a flag, an unknown
choice for an enum, a string for a mapping, a mapping for a list, a non-UUID for a UUID. ``fedcore validate`` and
``fedcore run --once`` must both exit 2 and name every key path with the reason.
"""

from __future__ import annotations

import enum
import types
import typing
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml
from storm_kit import Fedcore

from adapters.config import schema
from fedcore.ids import Uuid
from runners.sandbox import federation_config
from waldur_emulator.federation import Federation, Side

pytestmark = pytest.mark.e2e

U = "0" * 31


def valid_config() -> dict[str, Any]:
    """A valid file (servers that are never reached: nothing runs past the validation)."""
    def side(n: str) -> Side:
        return Side(U + n, U + n, f"token-{n}-" * 6, U + n, U + n)
    fed = Federation(side("1"), side("2"), U + "3", U + "4", U + "5", "consumer-token", "isd:x")
    config = federation_config(fed, "http://127.0.0.1:9/api/", "http://127.0.0.1:9/api/")
    config.update(http_timeouts={}, periods={}, log_shipping={})
    return config


def _plain(tp: Any) -> list[Any]:
    """The types a (possibly optional) annotation admits, without None."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return [t for t in typing.get_args(tp) if t is not type(None)]
    return [tp]


def wrong_value(tp: Any) -> Any:
    """A value of the wrong type (or an impossible value) for a key of type ``tp``."""
    [kind] = _plain(tp)
    origin = typing.get_origin(kind) or kind
    if kind is schema.Secret:
        return ["not", "a", "token"]
    if kind is Uuid:
        return "not-a-uuid"
    if isinstance(origin, type) and issubclass(origin, enum.Enum):
        return "no-such-choice"
    if origin is bool:
        return "perhaps"
    if origin in (int, float, Decimal):
        return "lots"
    if origin is str:
        return ["a", "list"]
    if origin is tuple:
        return {"not": "a list"}
    if typing.get_origin(kind) is not None:  # a Mapping
        return "not a mapping"
    raise AssertionError(f"no wrong value for {tp}")


def leaves(cls: type, prefix: str) -> list[tuple[str, Any]]:
    """Every key of ``cls`` that is not itself a section, with its path; sections are walked into."""
    hints = typing.get_type_hints(cls, vars(schema))
    found: list[tuple[str, Any]] = []
    for field in attrs.fields(cls):
        [kind] = _plain(hints[field.name])
        path = f"{prefix}{field.name}"
        if attrs.has(kind) and kind is not schema.Secret:
            found += leaves(kind, f"{path}.")
        elif field.name == "offerings":
            found += leaves(schema.OfferingConfig, f"{path}[0].")
        elif field.name == "backend_components":
            found.append((path, hints[field.name]))
            found += leaves(schema.ComponentConfig, f"{path}.storage.")
        elif field.name == "target_components":
            found.append((path, hints[field.name]))
            found += leaves(schema.TargetComponentConfig, f"{path}.cpu_k_hours.")
        else:
            found.append((path, hints[field.name]))
    return found


def put(config: dict[str, Any], path: str, value: Any) -> None:
    """Set ``config`` at a dotted path (``offerings[0].backend_settings.x``), making sections on the way."""
    node: Any = config
    parts = path.replace("[0]", ".0").split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    node[parts[-1]] = value


def broken(keys: list[tuple[str, Any]]) -> dict[str, Any]:
    config = valid_config()
    config["offerings"][0]["backend_components"]["storage"]["target_components"] = {"cpu_k_hours": {"factor": 2}}
    for path, tp in keys:
        put(config, path, wrong_value(tp))
    return config


KEYS = leaves(schema.FedcoreConfig, "")
SECTIONS = {"backend_components", "target_components"}
"""Keys whose wrong value would hide the keys inside them: checked in a second file."""


def check_named(tmp_path: Path, config: dict[str, Any], paths: list[str]) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(yaml.safe_dump(config), "utf-8")
    for args in (["validate"], ["run", "--once"]):
        result = Fedcore().run(*args, "-c", str(file))
        out = result.stdout + result.stderr
        assert result.returncode == 2, (args, out)
        assert "Traceback" not in out, out
        lines = out.splitlines()
        missing = [p for p in paths if not any(f"- {p}: must" in line or f"- {p}: " in line for line in lines)]
        assert not missing, f"{args}: keys not named: {missing}\n{out}"
        assert "token-1-" not in out
        assert "token-2-" not in out


def test_the_schema_has_keys_of_every_kind() -> None:
    assert len(KEYS) > 80
    kinds = {type(wrong_value(tp)).__name__ + ":" + str(wrong_value(tp)) for _, tp in KEYS}
    assert len(kinds) >= 7, kinds


def test_every_key_with_a_wrong_value_is_named_with_why(tmp_path: Path) -> None:
    keys = [(p, tp) for p, tp in KEYS if p.rsplit(".", 1)[-1] not in SECTIONS]
    check_named(tmp_path, broken(keys), [p for p, _ in keys])


def test_every_section_with_a_wrong_value_is_named(tmp_path: Path) -> None:
    keys = [(p, tp) for p, tp in KEYS if p.rsplit(".", 1)[-1] in SECTIONS]
    sections = ["http_timeouts", "periods", "log_shipping", "offerings[0].backend_settings"]
    config = broken([k for k in keys if "target_components" in k[0]])
    for section in sections:
        put(config, section, "not a section")
    check_named(tmp_path, config, [*sections, *(p for p, _ in keys if "target_components" in p)])
    components = broken([k for k in keys if k[0].endswith("backend_components")])
    check_named(tmp_path, components, ["offerings[0].backend_components"])
    check_named(tmp_path, {"offerings": "none"}, ["offerings"])


# --- bad answers from Waldur ------------------------------------------------------------------------------------

BAD_ANSWERS: dict[str, tuple[int, str, bytes]] = {
    "html": (502, "text/html", b"<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"),
    "truncated": (201, "application/json", b'{"uuid": "0123456789abcdef0123456789abcdef", "state": "pend'),
    "wrong type": (201, "application/json", b'{"uuid": 12345, "state": ["pending-provider"], "type": 7}'),
    "missing fields": (201, "application/json", b'{"detail": "created"}'),
}


PROBLEM = {
    "html": "HTTP 502 (text/html): 502 Bad Gateway",
    "truncated": "the body is not JSON",
    "wrong type": "expected str @ $.uuid",
    "missing fields": "required field missing @ $.uuid",
}
"""What fedcore's log line says about each bad answer (besides the call, ``B POST marketplace-orders/``)."""


class RewritingProxy:
    """An HTTP proxy in front of an emulator that answers chosen requests with a bad body of its own, once each,
    after forwarding them (so the change is made on the emulator: the answer alone is bad)."""

    def __init__(self, upstream: str, choose: Any, answers: dict[str, tuple[int, str, bytes]] = BAD_ANSWERS) -> None:
        import http.server
        import threading

        import httpx

        self.upstream = httpx.Client(base_url=upstream, timeout=10)
        self.rewritten: list[str] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("content-length", "connection")}
                answer = proxy.upstream.request(self.command, self.path, content=body, headers=headers)
                bad = choose(self.command, self.path, body)
                status, kind, payload = (answers[bad] if bad else
                                         (answer.status_code, answer.headers.get("content-type", ""), answer.content))
                if bad:
                    proxy.rewritten.append(bad)
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                for name in ("link", "x-result-count"):
                    if name in answer.headers and not bad:
                        self.send_header(name, answer.headers[name])
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.upstream.close()


@pytest.fixture
def world(tmp_path: Path) -> Any:
    from storm_kit import World

    made = World(tmp_path)
    yield made
    made.close()


def test_bad_answers_from_b_name_the_call_and_other_orders_go_on(world: Any) -> None:
    import json

    from storm_kit import Running, until

    simulated = world.staff_b.put(f"/api/emulator/offerings/{world.fed.b.offering_uuid}/provider-simulation/",
                                  json={"delay": 0, "outcome": "done"})
    assert simulated.status_code < 300, simulated.text
    orders = [world.order({"node_hours": 1, "storage": 1}, name=f"bad-{i}") for i in range(len(BAD_ANSWERS) + 1)]
    victims = dict(zip(orders, BAD_ANSWERS, strict=False))  # the last order gets only good answers
    served: set[str] = set()

    def choose(method: str, path: str, body: bytes) -> str | None:
        if method != "POST" or path.split("?", maxsplit=1)[0] != "/api/marketplace-orders/":
            return None
        key = str(json.loads(body or b"{}").get("attributes", {}).get("fedcore_order_key", ""))
        bad: str | None = victims.get(key.removeprefix("fedcore-order:"))
        if bad is None or bad in served:
            return None
        served.add(bad)
        return bad

    proxy = RewritingProxy(world.handles[1].base_url, choose)
    config = world.config(periods={"order_process": 0.005})
    config["offerings"][0]["backend_settings"]["target_api_url"] = f"{proxy.url}/api/"
    running = Running(Fedcore().start("run", "-c", world.write_config(config), "-m", "order_process",
                                      "--workers", "1", "--backoff-initial", "0.05", "--backoff-max", "0.2"))
    try:
        good = orders[-1]
        until(lambda: world.a_order(good)["state"] == "done", "the order with good answers done")
        until(lambda: len(served) == len(BAD_ANSWERS), "every bad answer served")
        # the bad answers hid B orders that were made: the next passes find them by their key and finish
        until(lambda: all(world.a_order(o)["state"] == "done" for o in orders), "every order done", 30)
    finally:
        running.signal(15)
        code, log = running.wait(30)
        proxy.close()
    assert code == 0, log[-3000:]
    assert "Traceback" not in log, log[-5000:]
    lines = [line for line in log.splitlines() if "marketplace-orders" in line and "POST" in line]
    assert len(lines) >= len(BAD_ANSWERS), log[-5000:]
    by_order = {b: [line for line in lines if a in line] for a, b in victims.items()}
    assert all(by_order.values()), f"a bad answer not logged with its A order: {by_order}\n{log[-5000:]}"
    for bad, found in by_order.items():
        assert any(PROBLEM[bad] in line for line in found), (bad, found)
    b_keys = [o["attributes"].get("fedcore_order_key") for o in world.b_orders()]
    assert sorted(b_keys) == sorted(f"fedcore-order:{o}" for o in orders), "one B order per A order"


LISTING_ANSWERS: dict[str, tuple[int, str, bytes]] = {
    "html": BAD_ANSWERS["html"],
    "truncated": (200, "application/json", b'[{"uuid": "0123456789abcdef0123456789abcdef", "sta'),
    "wrong type": (200, "application/json", b'[{"uuid": 12345, "state": ["executing"], "type": 7}]'),
    "missing fields": (200, "application/json", b'[{"detail": "an order"}]'),
    "not a listing": (200, "application/json", b'{"results": []}'),
}
LISTING_PROBLEM = {
    "html": "HTTP 502 (text/html): 502 Bad Gateway",
    "truncated": "the body is not JSON",
    "wrong type": "expected str @ $[0].uuid",
    "missing fields": "required field missing @ $[0].uuid",
    "not a listing": "a listing must be a JSON array, got dict",
}


def bad_listing_run(world: Any, bad: list[str]) -> str:
    """A's listing of open orders answered badly once for each of ``bad`` (in turn), then well; the daemon's log
    once the one order it carries is done."""
    from storm_kit import Running, until

    simulated = world.staff_b.put(f"/api/emulator/offerings/{world.fed.b.offering_uuid}/provider-simulation/",
                                  json={"delay": 0, "outcome": "done"})
    assert simulated.status_code < 300, simulated.text
    pending = list(bad)

    def choose(method: str, path: str, body: bytes) -> str | None:
        listing = path.split("?", maxsplit=1)[0] == "/api/marketplace-orders/" and "state=" in path
        if method == "GET" and listing and pending:
            return pending.pop(0)
        return None

    proxy = RewritingProxy(world.handles[0].base_url, choose, LISTING_ANSWERS)
    config = world.config(periods={"order_process": 0.005})
    config["offerings"][0]["waldur_api_url"] = f"{proxy.url}/api/"
    order = world.order({"node_hours": 1, "storage": 1})
    running = Running(Fedcore().start("run", "-c", world.write_config(config), "-m", "order_process"))
    try:
        until(lambda: world.a_order(order)["state"] == "done", "the order done after A's bad answers")
    finally:
        running.signal(15)
        code, log = running.wait(30)
        proxy.close()
    assert not pending
    assert code == 0, log[-3000:]
    assert "Traceback" not in log, log[-5000:]
    return str(log)


def test_bad_answers_to_a_listing_of_a_name_the_call_and_the_daemon_goes_on(world: Any) -> None:
    bad = ["truncated", "wrong type", "missing fields", "not a listing"]
    log = bad_listing_run(world, bad)
    calls = [line for line in log.splitlines() if "A GET marketplace-orders/" in line]
    for each in bad:
        assert any(LISTING_PROBLEM[each] in line for line in calls), f"{each}: {calls}\n{log[-5000:]}"


def test_a_retried_bad_answer_is_logged_with_the_call_and_the_problem(world: Any) -> None:
    log = bad_listing_run(world, ["html"])
    retried = [line for line in log.splitlines() if "after a passing fault" in line]
    assert retried, log
    assert all("A GET marketplace-orders/" in line and "502" in line for line in retried), retried
    assert "stamina.retry_scheduled" not in log
