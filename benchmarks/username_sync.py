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

Run from the repository root: ``.venv/bin/python benchmarks/username_sync.py [--users N] [--mismatched PCT]``.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import secrets
import time

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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    load_before = ", ".join(f"{x:.2f}" for x in os.getloadavg())

    tokens = f"staff-a-{secrets.token_hex(16)}", f"staff-b-{secrets.token_hex(16)}"
    a, b = TimedEmulator(staff_token=tokens[0]), TimedEmulator(staff_token=tokens[1])
    clients = [httpx.Client(transport=e.transport(), base_url="http://emulator",
                            headers={"Authorization": f"Token {t}"}) for e, t in zip((a, b), tokens, strict=True)]
    fed = build_federation(clients[0], clients[1])
    for client in clients:
        client.close()
    start = time.perf_counter()
    every = max(1, round(100 / args.mismatched)) if args.mismatched > 0 else 0
    cuids = [f"{secrets.token_hex(16)}@myaccessid.org" for _ in range(args.users)]
    b_names = [(cuid, f"acct{n:06d}") for n, cuid in enumerate(cuids)]
    stale = {n for n in range(args.users) if every and n % every == 0}
    a_names = [(cuid, f"old{n:06d}" if n in stale else account) for n, (cuid, account) in enumerate(b_names)]
    seed_users(a, fed.a.offering_uuid, a_names, [])
    seed_users(b, fed.b.offering_uuid, b_names, [fed.isd_source])
    seeding = time.perf_counter() - start
    if args.latency_ms > 0:
        for emulator in (a, b):
            emulator.add_fault(FaultRule(latency=args.latency_ms / 1000.0))
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
        first = calls.take()
        began = time.perf_counter()
        again = services.sync_usernames()
        seconds_again = time.perf_counter() - began
        second = calls.take()
    finally:
        rest.close()
        for handle in handles:
            handle.stop()
    load_after = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    with a.core.lock:
        in_step = sum(1 for o in a.state.offering_users.values()
                      if o.offering_uuid == fed.a.offering_uuid and o.username and o.username.startswith("acct"))

    m = len(stale)
    expected = 2 * math.ceil(args.users / PAGE) + m
    total = sum(first.values())
    print(f"## Username sync: {args.users} offering users per side, {m} mismatched, "
          f"{args.latency_ms:g} ms added per request\n")
    print(table(["Figure", "Value"], [
        ["load average before / after (1, 5, 15 min)", f"{load_before} / {load_after}"],
        ["seeding (in-process state, both sides)", f"{seeding:.1f} s"],
        ["calls of one pass (target 2 x ceil(N/300) + M)",
         f"{total} (target {expected}: {'met' if total <= expected else 'NOT met'})"],
        ["time of one pass (target < 5 s)",
         f"{seconds:.2f} s ({'met' if seconds < TARGET_SECONDS else 'NOT met'})"],
        ["fedcore CPU of that pass (thread_time; the emulators answer on other threads)", f"{cpu:.2f} s"],
        ["usernames copied / not", f"{len(report.applied)} / {len(report.retry) + len(report.failed)}"],
        ["ambiguous keys", len(report.ambiguous)],
        ["A offering users in step afterwards", f"{in_step} / {args.users}"],
        ["retries", calls.retries],
        ["second pass: calls, time, copied", f"{sum(second.values())}, {seconds_again:.2f} s, {len(again.applied)}"],
    ]))
    print()
    print(table(["Call of the first pass (RestPorts observer)", "Count"],
                [[f"`{k}`", v] for k, v in first.most_common()]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
