"""Measure the emulator over loopback: simple GETs per second, and list speed with 10,000 orders and offering users.

Usage: .venv/bin/python scripts/bench_emulator.py [--seconds 5] [--threads 2] [--records 10000]
"""

from __future__ import annotations

import argparse
import http.client
import signal
import subprocess
import sys
import time
from multiprocessing import Process, Queue

import httpx

from waldur_emulator import Emulator
from waldur_emulator.seeding import Seeder
from waldur_emulator.store import OfferingUser, Order, Resource

TOKEN = "bench-token"


def _worker(url: str, seconds: float, out: Queue[int]) -> None:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port))
    count, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        connection.request("GET", "/api/users/me/", headers={"Authorization": f"Token {TOKEN}"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"unexpected status {response.status}")
        count += 1
    out.put(count)


def hammer(url: str, seconds: float, workers: int) -> float:
    """GET /api/users/me/ from ``workers`` keep-alive client processes for ``seconds``; requests per second."""
    results: Queue[int] = Queue()
    processes = [Process(target=_worker, args=(url, seconds, results)) for _ in range(workers)]
    for p in processes:
        p.start()
    total = sum(results.get(timeout=seconds + 30) for _ in processes)
    for p in processes:
        p.join()
    return total / seconds


def fill(emulator: Emulator, seeder: Seeder, records: int) -> tuple[str, str]:
    """Insert ``records`` orders and offering users directly (set-up only; the timing is on the reads)."""
    cat = seeder.category()
    owner = seeder.customer("Bench")
    seeder.service_provider(owner)
    project = seeder.project(owner, "bench")
    offering, plan = seeder.offering(owner, cat, "Bench offering")
    core = emulator.core
    with core.lock:
        now = core.now()
        for i in range(records):
            user = core.state.users[emulator.staff.uuid]
            resource = Resource(core.new_uuid(), f"r{i}", offering.uuid, project.uuid, plan.uuid, now, now, state="OK")
            core.state.add_resource(resource)
            core.state.add_order(Order(core.new_uuid(), "Create", "done" if i % 2 else "executing", offering.uuid,
                                       project.uuid, resource.uuid, user.uuid, now, now, plan_uuid=plan.uuid))
            core.state.add_offering_user(OfferingUser(core.new_uuid(), user.uuid, offering.uuid, now, now,
                                                      username=f"u{i}", state="OK"))
    return offering.uuid, project.uuid


Params = list[tuple[str, str | int | float | bool | None]]


def timed(client: httpx.Client, path: str, params: Params, repeat: int = 20) -> float:
    """Mean milliseconds of a list call."""
    start = time.perf_counter()
    for _ in range(repeat):
        response = client.get(path, params=params)
        response.raise_for_status()
    return (time.perf_counter() - start) / repeat * 1000


def separate_process_rate(seconds: float, threads: int) -> float:
    """The same GET load against ``python -m waldur_emulator`` in its own process (no shared GIL)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "waldur_emulator", "--listen", "127.0.0.1:0", "--staff-token", TOKEN, "--no-events"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = ""
        while not url.startswith("http://127.0.0.1:") or url.endswith("/api/"):
            url = server.stdout.readline().strip()
            url = url if url.startswith("http") else url.rsplit(" ", 1)[-1]
        return hammer(url, seconds, threads)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=2, help="client processes")
    parser.add_argument("--records", type=int, default=10_000)
    args = parser.parse_args()
    rate = separate_process_rate(args.seconds, args.threads)
    print(f"GET /api/users/me/, server in its own process: {rate:.0f} requests/s "
          f"({args.threads} keep-alive client processes, {args.seconds:.0f} s)")
    emulator = Emulator(staff_token=TOKEN, seed=1)
    handle = emulator.serve("127.0.0.1", 0, threads=8)
    try:
        rate = hammer(handle.base_url, args.seconds, args.threads)
        print(f"GET /api/users/me/, server in the client's process: {rate:.0f} requests/s")
        with httpx.Client(base_url=handle.base_url, headers={"Authorization": f"Token {TOKEN}"}) as client:
            offering_uuid, _ = fill(emulator, Seeder(client), args.records)
            cases: list[tuple[str, Params]] = [
                ("/api/marketplace-orders/", [("offering_uuid", offering_uuid), ("state", "executing")]),
                ("/api/marketplace-orders/", [("page_size", "300")]),
                ("/api/marketplace-offering-users/", [("offering_uuid", offering_uuid), ("state", "OK")]),
                ("/api/marketplace-offering-users/", [("offering_uuid", offering_uuid), ("user_username", "nobody")]),
            ]
            for path, params in cases:
                print(f"GET {path}?{'&'.join(f'{k}={v}' for k, v in params)} with {args.records} records: "
                      f"{timed(client, path, params):.1f} ms")
    finally:
        handle.stop()


if __name__ == "__main__":
    main()
