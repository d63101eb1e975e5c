"""What the demo shows: both Waldurs read with their staff tokens, and plain-text tables of what they hold.

Reads go through the public REST API (the view a person with ``curl`` has); nothing here touches the emulators'
internals. The tables are ASCII, so they read the same in any terminal, a pipe or a log file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import httpx
from attrs import frozen

from fedcore.conversion import Conversion
from runners.demo_agent import amount, short, values
from runners.demo_world import DemoWorld, call

Json = dict[str, Any]


def limits_of(thing: Json | None) -> str:
    """An order's or resource's limits as ``a=1, b=2``."""
    return values((thing or {}).get("limits") or {})


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    """An ASCII table: a header, a rule, the rows, each column as wide as its widest cell."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]

    def line(cells: Sequence[str]) -> str:
        return (indent + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True))).rstrip()

    return [line(headers), indent + "-+-".join("-" * w for w in widths), *(line(r) for r in rows)]


class Reader:
    """Staff reads of both Waldurs, by the objects the demo follows."""

    def __init__(self, a: httpx.Client, b: httpx.Client) -> None:
        self.a = a
        self.b = b

    @staticmethod
    def _get(client: httpx.Client, path: str) -> Any:
        return call(client, "GET", path)

    def a_order(self, uuid: str) -> Json:
        """An order on A."""
        result: Json = self._get(self.a, f"/api/marketplace-orders/{uuid}/")
        return result

    def b_order(self, uuid: str) -> Json:
        """An order on B."""
        result: Json = self._get(self.b, f"/api/marketplace-orders/{uuid}/")
        return result

    def a_resource(self, uuid: str) -> Json:
        """A resource on A."""
        result: Json = self._get(self.a, f"/api/marketplace-resources/{uuid}/")
        return result

    def b_resource(self, uuid: str) -> Json:
        """A resource on B."""
        result: Json = self._get(self.b, f"/api/marketplace-resources/{uuid}/")
        return result

    def a_orders(self, resource_uuid: str) -> list[Json]:
        """The orders of an A resource, oldest first."""
        return sorted(self._get(self.a, f"/api/marketplace-orders/?resource_uuid={resource_uuid}&page_size=300"),
                      key=lambda o: o["created"])

    def members(self, side: str, project_uuid: str) -> dict[str, str]:
        """A project's people on ``side`` (``"A"`` or ``"B"``): username -> role."""
        client = self.a if side == "A" else self.b
        rows = self._get(client, f"/api/projects/{project_uuid}/list_users/?page_size=300")
        return {row["user_username"]: row["role_name"] for row in rows}

    def offering_users(self, side: str, offering_uuid: str) -> dict[str, Json]:
        """The offering users of an offering on ``side``: the person's username (CUID) -> record."""
        client = self.a if side == "A" else self.b
        rows = self._get(client, f"/api/marketplace-offering-users/?offering_uuid={offering_uuid}&page_size=300")
        return {row["user_username"]: row for row in rows}

    def usage(self, side: str, resource_uuid: str, period: dt.date) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
        """A resource's usage in a month: component totals, and ``component username`` -> amount per user."""
        client = self.a if side == "A" else self.b
        month = period.replace(day=1).isoformat()
        rows = self._get(client, f"/api/marketplace-component-usages/?resource_uuid={resource_uuid}"
                                 f"&billing_period={month}&page_size=300")
        totals = {row["type"]: Decimal(str(row["usage"])) for row in rows}
        users = self._get(client, f"/api/marketplace-component-user-usages/?resource_uuid={resource_uuid}"
                                  f"&component_usage__billing_period={month}&page_size=300")
        per_user = {f"{row['component_type']} {row['username']}": Decimal(str(row["usage"])) for row in users}
        return totals, per_user


@frozen
class Followed:
    """The objects the story made: the A resource and every A order placed on it, oldest first."""

    a_resource: str
    b_resource: str
    b_project: str
    period: dt.date


def final_tables(world: DemoWorld, reader: Reader, followed: Followed, conversion: Conversion) -> list[str]:
    """The side-by-side summary: resources, orders, people and usernames, usage."""
    fed = world.fed
    a_res, b_res = reader.a_resource(followed.a_resource), reader.b_resource(followed.b_resource)
    lines = ["Resources", *table(
        ("A resource", "state", "limits on A", "B resource", "state", "limits on B"),
        [(f"{a_res['name']} {short(a_res['uuid'])}", a_res["state"], limits_of(a_res),
          short(b_res["uuid"]), b_res["state"], limits_of(b_res))])]
    rows: list[tuple[str, ...]] = []
    for order in reader.a_orders(followed.a_resource):
        b_order = reader.b_order(order["backend_id"]) if order.get("backend_id") else None
        rows.append((short(order["uuid"]), order["type"], order["state"], limits_of(order),
                     short(b_order["uuid"]) if b_order else "-", b_order["state"] if b_order else "-",
                     limits_of(b_order) if b_order else "-"))
    lines += ["", "Orders", *table(("A order", "type", "state", "limits", "B order", "state", "limits"), rows)]
    a_users = reader.offering_users("A", fed.a.offering_uuid)
    b_users = reader.offering_users("B", fed.b.offering_uuid)
    a_team = reader.members("A", fed.consumer_project_uuid)
    b_team = reader.members("B", followed.b_project)
    rows = []
    for person in world.people.values():
        a_rec, b_rec = a_users.get(person.cuid, {}), b_users.get(person.cuid, {})
        rows.append((person.cuid, a_team.get(person.cuid, "-"), _account(a_rec), b_team.get(person.cuid, "-"),
                     _account(b_rec)))
    lines += ["", "People (A project team -> B project team; offering-user usernames B -> A)", *table(
        ("person (CUID)", "role on A", "username on A", "role on B", "username on B"), rows)]
    a_totals, a_users_usage = reader.usage("A", followed.a_resource, followed.period)
    b_totals, b_users_usage = reader.usage("B", followed.b_resource, followed.period)
    usage = _usage_rows(conversion, b_totals, b_users_usage, a_totals, a_users_usage)
    lines += ["", f"Usage in {followed.period:%Y-%m} (B -> A; with fan-out, A gets the largest of its estimates)",
              *table(("on B", "amount", "estimate for A", "on A", "amount"), usage)]
    return lines


def _account(record: Mapping[str, Any]) -> str:
    if not record:
        return "-"
    return f"{record.get('username') or '(none)'} ({record.get('state')})"


def _usage_rows(
    conversion: Conversion, b_totals: Mapping[str, Decimal], b_users: Mapping[str, Decimal],
    a_totals: Mapping[str, Decimal], a_users: Mapping[str, Decimal],
) -> list[tuple[str, str, str, str, str]]:
    """One row per B amount, totals first, then per user (each user's components together)."""
    factors = {b: (a, f) for a, targets in conversion.factors.items() for b, f in targets.items()}
    totals = [(f"{b} total", v, a_totals) for b, v in sorted(b_totals.items())]
    users = sorted(((k, v, a_users) for k, v in b_users.items()), key=lambda row: row[0].split(" ", 1)[::-1])
    rows = []
    for b_key, b_value, a_values in [*totals, *users]:
        b_name, label = b_key.split(" ", 1)
        a_name, factor = factors.get(b_name, (b_name, Decimal(1)))
        estimate = f"{amount(b_value)} / {amount(factor)} = {amount(b_value / factor)}"
        a_value = a_values.get(a_name if label == "total" else f"{a_name} {label}")
        rows.append((b_key, amount(b_value), estimate, f"{a_name} {label}",
                     "-" if a_value is None else amount(a_value)))
    return rows
