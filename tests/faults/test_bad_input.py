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
