"""Username sync: the calls and the time of one ``username_sync`` pass over many offering users.

Method. Two emulated Waldurs are federated through their REST APIs (``build_federation``), then seeded directly in
their in-process state (the REST API would take minutes for 20,000 records): ``--users`` users on each side whose
username is their CUID, each with an offering user of the federation's offering in state OK. B's offering user
carries the account name B's provider chose; A's carries the same name except for ``--mismatched`` percent of them,
whose A name is stale. Both are served over real HTTP from this process with ``--latency-ms`` added to every
request (a latency ``FaultRule``). One pass runs through the library, exactly as ``fedcore run -m username_sync``
runs it: ``runners.wiring.build_offering`` over ``RestPorts``, then ``OfferingServices.sync_usernames()``. Calls are
counted by the RestPorts observer. The target from issue 11: ``2 x ceil(N / 300) + M`` calls (two paginated
listings, one PATCH per mismatch) and under 5 s; reported, never asserted. A second pass checks that nothing is left.

Chart (``--chart PATH``, ``_charts``): the calls of one pass against the budget, and its time against the 5 s
target, at ``--users`` and at the smaller sizes of ``--sweep`` (each on freshly seeded Waldurs).

Run from the repository root: ``.venv/bin/python benchmarks/username_sync.py [--users N] [--mismatched PCT]
[--sweep N,N,...] [--chart PATH]``.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import secrets
import time
from collections import Counter
from typing import Any

import _charts
import httpx
import yaml
from _kit import HOUR, Calls, TimedEmulator, table

from adapters.config import parse_config
from runners.sandbox import federation_config
from runners.wiring import RestPorts
from runners.wiring.root import build_offering
from waldur_emulator.faults import FaultRule
from waldur_emulator.federation import build_federation
from waldur_emulator.records import User
from waldur_emulator.records_market import OfferingUser

HEX = re.compile(r"[0-9a-f]{32}|[0-9a-f-]{36}")
PAGE = 300
TARGET_SECONDS = 5.0


def seed_users(emulator: TimedEmulator, offering_uuid: str, names: list[tuple[str, str]], isds: list[str]) -> None:
    """One user (username = CUID, in ``isds``) and one OK offering user (``account``) of ``offering_uuid`` per
    pair. On B the users are in the federation's ISD, as the identity bridge leaves them: that is what lets
    fedcore's B user (an identity manager of that ISD, not the offering's provider) see their offering users."""
    core = emulator.core
    with core.lock:
        now = core.now()
        for cuid, account in names:
            user = User(uuid=core.new_uuid(), username=cuid, token=secrets.token_hex(20), created=now,
                        email=f"{cuid.split('@')[0]}@example.org", first_name="Bench", last_name=cuid[:8],
                        active_isds=list(isds))
            emulator.state.add_user(user)
            emulator.state.add(OfferingUser(uuid=core.new_uuid(), user_uuid=user.uuid, offering_uuid=offering_uuid,
                                            created=now, modified=now, username=account, state="OK"))


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=10_000, help="offering users per side (default 10000)")
    parser.add_argument("--mismatched", type=float, default=1.0, help="percent with a stale A username (default 1)")
    parser.add_argument("--latency-ms", type=float, default=5.0,
                        help="added to every request on both emulators (default 5)")
    parser.add_argument("--sweep", default="",
                        help="smaller sizes also measured, for the chart (default: a tenth, a quarter and half of "
                             "--users; 'none' for none)")
    _charts.add_option(parser, "username_sync")
    return parser.parse_args(argv)


def budget(users: int, mismatched: int) -> int:
    """The issue's call budget: two paginated listings and one PATCH per mismatch."""
    return 2 * math.ceil(users / PAGE) + mismatched


def measure(users: int, mismatched: float, latency_ms: float) -> dict[str, Any]:
    """Two freshly seeded Waldurs with ``users`` offering users per side, ``mismatched`` percent of A's stale; two
    ``sync_usernames()`` passes over REST. What was measured, by name."""
    tokens = f"staff-a-{secrets.token_hex(16)}", f"staff-b-{secrets.token_hex(16)}"
    a, b = TimedEmulator(staff_token=tokens[0]), TimedEmulator(staff_token=tokens[1])
    clients = [httpx.Client(transport=e.transport(), base_url="http://emulator",
                            headers={"Authorization": f"Token {t}"}) for e, t in zip((a, b), tokens, strict=True)]
    fed = build_federation(clients[0], clients[1])
    for client in clients:
        client.close()
    start = time.perf_counter()
    every = max(1, round(100 / mismatched)) if mismatched > 0 else 0
    cuids = [f"{secrets.token_hex(16)}@myaccessid.org" for _ in range(users)]
    b_names = [(cuid, f"acct{n:06d}") for n, cuid in enumerate(cuids)]
    stale = {n for n in range(users) if every and n % every == 0}
    a_names = [(cuid, f"old{n:06d}" if n in stale else account) for n, (cuid, account) in enumerate(b_names)]
    seed_users(a, fed.a.offering_uuid, a_names, [])
    seed_users(b, fed.b.offering_uuid, b_names, [fed.isd_source])
    seeding = time.perf_counter() - start
    if latency_ms > 0:
        for emulator in (a, b):
            emulator.add_fault(FaultRule(latency=latency_ms / 1000.0))
    handles = a.serve(), b.serve()

    data = federation_config(fed, f"{handles[0].base_url}/api/", f"{handles[1].base_url}/api/")
    config = parse_config(yaml.safe_dump({**data, "periods": HOUR}, sort_keys=False))
    calls = Calls()
    rest = RestPorts(config, observer=calls)
    try:
        services = build_offering(config.offerings[0], ports=rest)
        began, cpu = time.perf_counter(), time.thread_time()
        report = services.sync_usernames()
        seconds, cpu = time.perf_counter() - began, time.thread_time() - cpu
        first: Counter[str] = calls.take()
        began = time.perf_counter()
        again = services.sync_usernames()
        seconds_again = time.perf_counter() - began
        second = calls.take()
    finally:
        rest.close()
        for handle in handles:
            handle.stop()
    with a.core.lock:
        in_step = sum(1 for o in a.state.offering_users.values()
                      if o.offering_uuid == fed.a.offering_uuid and o.username and o.username.startswith("acct"))
    return {"users": users, "mismatched": len(stale), "seeding": seeding, "seconds": seconds, "cpu": cpu,
            "report": report, "first": first, "again": again, "second": second, "seconds_again": seconds_again,
            "in_step": in_step, "retries": calls.retries}


def sweep_sizes(args: argparse.Namespace) -> list[int]:
    """The smaller sizes measured for the chart."""
    if args.sweep == "none" or args.chart is None:
        return []
    if args.sweep:
        return sorted({int(n) for n in args.sweep.split(",") if n.strip()} - {args.users})
    return sorted({n for n in (args.users // 10, args.users // 4, args.users // 2) if n > 0} - {args.users})


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    load_before = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    run = measure(args.users, args.mismatched, args.latency_ms)
    load_after = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    report, first, second = run["report"], run["first"], run["second"]

    m = run["mismatched"]
    expected = budget(args.users, m)
    total = sum(first.values())
    seconds = run["seconds"]
    print(f"## Username sync: {args.users} offering users per side, {m} mismatched, "
          f"{args.latency_ms:g} ms added per request\n")
    print(table(["Figure", "Value"], [
        ["load average before / after (1, 5, 15 min)", f"{load_before} / {load_after}"],
        ["seeding (in-process state, both sides)", f"{run['seeding']:.1f} s"],
        ["calls of one pass (target 2 x ceil(N/300) + M)",
         f"{total} (target {expected}: {'met' if total <= expected else 'NOT met'})"],
        ["time of one pass (target < 5 s)",
         f"{seconds:.2f} s ({'met' if seconds < TARGET_SECONDS else 'NOT met'})"],
        ["fedcore CPU of that pass (thread_time; the emulators answer on other threads)", f"{run['cpu']:.2f} s"],
        ["usernames copied / not", f"{len(report.applied)} / {len(report.retry) + len(report.failed)}"],
        ["ambiguous keys", len(report.ambiguous)],
        ["A offering users in step afterwards", f"{run['in_step']} / {args.users}"],
        ["retries", run["retries"]],
        ["second pass: calls, time, copied",
         f"{sum(second.values())}, {run['seconds_again']:.2f} s, {len(run['again'].applied)}"],
    ]))
    print()
    print(table(["Call of the first pass (RestPorts observer)", "Count"],
                [[f"`{k}`", v] for k, v in first.most_common()]))
    runs = [measure(n, args.mismatched, args.latency_ms) for n in sweep_sizes(args)]
    if runs:
        runs.append(run)
        print()
        print(table(["Offering users per side (fresh Waldurs each)", "Mismatched", "Calls (budget)", "Time",
                     "Second pass calls"],
                    [[r["users"], r["mismatched"],
                      f"{sum(r['first'].values())} ({budget(r['users'], r['mismatched'])})",
                      f"{r['seconds']:.2f} s", sum(r["second"].values())] for r in runs]))
    chart(args, runs or [run])
    return 0


def chart(args: argparse.Namespace, runs: list[dict[str, Any]]) -> None:
    """Calls of a pass against the budget, and its time against the target, by number of offering users."""
    sizes = [r["users"] for r in runs]

    def calls(axis: Any) -> None:
        axis.plot(sizes, [sum(r["first"].values()) for r in runs], "o-", label="first pass (copies the stale names)")
        axis.plot(sizes, [budget(r["users"], r["mismatched"]) for r in runs], label="budget 2 x ceil(N/300) + M",
                  **_charts.TARGET)
        axis.plot(sizes, [sum(r["second"].values()) for r in runs], "s-", label="second pass (nothing to copy)")
        axis.set_ylim(bottom=0)
        axis.set_xlabel("offering users per side (N)")
        axis.set_ylabel("HTTP calls of one pass")
        axis.set_title(f"calls per pass ({args.mismatched:g}% stale: M = N / {round(100 / args.mismatched)})"
                       if args.mismatched > 0 else "calls per pass", fontsize="medium")

    def seconds(axis: Any) -> None:
        axis.plot(sizes, [r["seconds"] for r in runs], "o-", label="first pass, wall time")
        axis.plot(sizes, [r["seconds_again"] for r in runs], "s-", label="second pass, wall time")
        axis.plot(sizes, [r["cpu"] for r in runs], "^-", label="first pass, fedcore CPU")
        axis.axhline(TARGET_SECONDS, label=f"target: < {TARGET_SECONDS:g} s", **_charts.TARGET)
        axis.set_ylim(bottom=0)
        axis.set_xlabel("offering users per side (N)")
        axis.set_ylabel("seconds")
        axis.set_title("time of one pass", fontsize="medium")

    _charts.draw(args.chart, "Username sync, one pass", [calls, seconds],
                 note=f"{args.latency_ms:g} ms added per request, pages of {PAGE}")


if __name__ == "__main__":
    raise SystemExit(main())
