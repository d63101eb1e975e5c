"""The REST adapter shared by worker threads: one client, one plan lookup, every order placed once."""

from __future__ import annotations

import threading
from collections import Counter

import httpx
import pytest

from adapters.waldur import RetryPolicy, TargetMarketplace, WaldurHttp, make_client
from fedcore.ids import normalize_uuid
from fedcore.model import NewOrder, ProjectKey
from waldur_emulator import Emulator
from waldur_emulator.federation import build_federation

pytestmark = pytest.mark.contract

THREADS = 8


def test_concurrent_first_calls_share_one_plan_lookup_and_place_every_order_once() -> None:
    a, b = Emulator(staff_token="t-a-" + "0" * 36), Emulator(staff_token="t-b-" + "0" * 36)
    staff = {
        side: httpx.Client(transport=e.transport(), base_url=f"http://{side}.test",
                           headers={"Authorization": f"Token {e.staff.token}"})
        for side, e in (("a", a), ("b", b))
    }
    fed = build_federation(staff["a"], staff["b"])
    paths: Counter[str] = Counter()
    lock = threading.Lock()

    def count(request: httpx.Request) -> None:
        with lock:
            paths[f"{request.method} {request.url.path}"] += 1

    server = b.serve()
    try:
        client = make_client(f"{server.base_url}/api/", fed.b.agent_token, verify=False)
        client.event_hooks["request"].append(count)
        target = TargetMarketplace(WaldurHttp(client, side="B", retry=RetryPolicy.instant()),
                                   normalize_uuid(fed.b.offering_uuid), normalize_uuid(fed.b_customer_uuid))
        project = target.create_project(ProjectKey("1" * 32, "2" * 32), "Shared", "")
        start = threading.Barrier(THREADS)
        errors: list[BaseException] = []
        placed: list[str] = []

        def place(n: int) -> None:
            start.wait()
            try:
                order = target.create_order(NewOrder(project.uuid, f"fedcore-order:{n:032x}", {"cpu_k_hours": n}))
                with lock:
                    placed.append(order.key)
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

        workers = [threading.Thread(target=place, args=(n,)) for n in range(THREADS)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
        assert errors == []
        assert sorted(placed) == sorted(f"fedcore-order:{n:032x}" for n in range(THREADS))
        plan_reads = [p for p in paths if p.endswith("/plans/")]
        assert [paths[p] for p in plan_reads] == [1]
        assert paths["POST /api/marketplace-orders/"] == THREADS
        keys = [o.key for o in target.find_orders(project.uuid, {f"fedcore-order:{n:032x}" for n in range(THREADS)})]
        assert sorted(keys) == sorted(placed)
        client.close()
    finally:
        server.stop()
        for c in staff.values():
            c.close()
