"""How ``fedcore status`` prints (runners.statusview): the documented JSON keys, tables, the summary line."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from adapters.config import parse_config
from fedcore.enums import OrderState, OrderType, ResourceState
from fedcore.model import Order, Resource
from runners.drift import Comparison, Drift, DriftKind, OrderRow, ResourceRow
from runners.statusview import OfferingStatus, status_json, status_lines, table

pytestmark = pytest.mark.unit

DOCS = Path(__file__).parents[2] / "docs" / "commands.md"
CONFIG = {"offerings": [{
    "name": "hpc", "waldur_api_url": "https://a.example.com", "waldur_api_token": "token-a-123456789",
    "waldur_offering_uuid": "a" * 32, "backend_type": "waldur", "order_processing_backend": "waldur",
    "backend_settings": {"target_api_url": "https://b.example.com", "target_api_token": "token-b-123456789",
                         "target_offering_uuid": "b" * 32, "target_customer_uuid": "c" * 32},
}]}
NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


def _statuses() -> list[OfferingStatus]:
    offering = parse_config(CONFIG).offerings[0]
    a = Resource("1" * 32, ResourceState.OK, "a" * 32, "d" * 32, name="alloc", backend_id="2" * 32,
                 limits={"cpu": 4}, end_date=dt.date(2030, 1, 1))
    b = Resource("2" * 32, ResourceState.ERRED, "b" * 32, "e" * 32, name="alloc", limits={"cpu": 4})
    order = Order("3" * 32, OrderType.UPDATE, OrderState.EXECUTING, "a" * 32, "d" * 32, "f" * 32,
                  backend_id="4" * 32, resource_name="alloc", created=NOW - dt.timedelta(minutes=90))
    b_order = Order("4" * 32, OrderType.UPDATE, OrderState.ERRED, "b" * 32, "e" * 32, "c" * 32,
                    error_message="limit above the allocation")
    comparison = Comparison(
        (ResourceRow(a, b, {"cpu": 4}, {"cpu": 4}, [Drift(DriftKind.STATE, "A is OK but B is Erred")]),),
        (OrderRow(order, b_order, "B is erred: ..."),),
    )
    return [OfferingStatus(0, offering, comparison),
            OfferingStatus(1, offering, None, "A GET marketplace-provider-resources/: ConnectError", True)]


def test_the_json_document_has_exactly_the_documented_keys() -> None:
    document = status_json(_statuses())
    assert list(document) == ["format", "offerings", "summary", "events"]
    assert document["events"] == []
    first, second = document["offerings"]
    assert list(first) == ["index", "name", "a", "b", "error", "resources", "orders", "drift_count"]
    assert list(first["a"]) == ["api_url", "offering_uuid"]
    assert list(first["b"]) == ["api_url", "offering_uuid", "customer_uuid"]
    [row] = first["resources"]
    assert list(row) == ["a", "b", "a_limits_as_b", "b_limits_as_a", "in_transition", "drift"]
    assert list(row["a"]) == ["uuid", "name", "state", "project_uuid", "backend_id", "limits", "end_date"]
    assert row["a"]["end_date"] == "2030-01-01"
    assert row["drift"] == [{"kind": "state", "message": "A is OK but B is Erred"}]
    [order] = first["orders"]
    assert list(order) == ["a", "b", "note", "drift"]
    assert list(order["a"]) == ["uuid", "type", "state", "resource_uuid", "resource_name", "project_uuid",
                                "backend_id", "error_message", "created", "modified"]
    assert order["b"]["error_message"] == "limit above the allocation"
    assert second["error"] == {"message": "A GET marketplace-provider-resources/: ConnectError", "unreachable": True}
    assert (second["resources"], second["orders"], second["drift_count"]) == ([], [], 0)
    assert document["summary"] == {"offerings": 2, "unreadable": 1, "resources": 1, "drift": 1,
                                   "orders_in_flight": 1}
    json.dumps(document)  # plain JSON all the way down


def test_every_json_key_is_documented() -> None:
    documented = set(re.findall(r"`([a-z_]+)`", DOCS.read_text(encoding="utf-8")))
    document = status_json(_statuses())
    keys: set[str] = set()

    def walk(value: object, parent: str = "") -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if parent not in ("limits", "a_limits_as_b", "b_limits_as_a"):
                    keys.add(key)
                walk(inner, key)
        elif isinstance(value, list):
            for inner in value:
                walk(inner, parent)

    walk(document)
    assert keys - documented == set()


def test_tables_align_their_columns() -> None:
    lines = table(("A", "LONGER"), [("wide cell", "x"), ("y", "")])
    assert lines == ["A          LONGER", "wide cell  x", "y"]
    assert table(("ONLY",), []) == ["ONLY"]


def test_the_text_output_shows_both_sides_drift_orders_and_a_summary() -> None:
    lines = status_lines(_statuses(), NOW)
    text = "\n".join(lines)
    assert lines[0] == "== offerings[0] 'hpc' =="
    row = next(line for line in lines if line.startswith("  alloc 11111111"))
    assert row.split() == ["alloc", "11111111", "OK", "22222222", "Erred", "cpu=4", "cpu=4", "cpu=4", "2030-01-01",
                           "-", "state"]
    assert f"  ! alloc ({'1' * 32}): state: A is OK but B is Erred" in lines
    order = next(line for line in lines if line.startswith("  33333333"))
    assert order.split()[:7] == ["33333333", "Update", "executing", "alloc", "1h", "44444444", "erred"]
    assert "limit above the allocation" in order
    assert "unreachable: A GET marketplace-provider-resources/: ConnectError" in text
    assert lines[-1] == ("summary: 2 offering(s), 1 unreadable, 1 resource row(s), 1 drift, 1 order(s) in flight")
