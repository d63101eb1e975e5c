"""Crash at every write (issue 11, fault-injection suites): ``fedcore run`` as a real daemon against two emulated
Waldurs over HTTP is SIGKILLed right after each distinct write it makes to A or B, for Create, Update and Terminate
orders, then restarted until the order is done. B's provider completes B orders through B's REST API: after the
restarted fedcore's first pass, and also, where the crash left a B order open, while fedcore is down.

The kill comes from a counting front before each emulator (``crash_kit``), never from a change to fedcore. The
writes of each flow are counted first by an uncrashed run (``FLOWS`` lists them; the first test checks the list
against what fedcore really does), and every crash point checks that the killed process made exactly the flow's
first N writes. Afterwards: one B project, one B resource per A resource, one B order per A order, no A order marked
done before its B order was, every order done and every resource in its terminal state.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from crash_kit import FLOWS, CrashWorld, b_in_flight, explain, problems, run_flow

pytestmark = pytest.mark.e2e


@pytest.fixture
def crash(tmp_path: Path) -> Iterator[CrashWorld]:
    made = CrashWorld(tmp_path)
    yield made
    made.close()


CRASH_POINTS = [
    pytest.param(flow, n, down, id=f"{flow}-{n}-{step.name.replace(' ', '_')}-B_{'while_down' if down else 'later'}")
    for flow, steps in FLOWS.items()
    for n, step in enumerate(steps, start=1)
    for down in ((False, True) if b_in_flight(flow, n) else (False,))
]
"""Every write of every flow; where the crash leaves a B order open, once with B's provider finishing it only after
fedcore's restart (fedcore must find its own order still open) and once while fedcore is down."""


@pytest.mark.parametrize("flow", list(FLOWS))
def test_an_uncrashed_flow_makes_exactly_these_writes(crash: CrashWorld, flow: str) -> None:
    outcome = run_flow(crash, flow, None)
    made = [str(w) for w in outcome.crashed]
    assert len(outcome.crashed) == len(FLOWS[flow]), made
    for step, write in zip(FLOWS[flow], outcome.crashed, strict=True):
        assert step.matches(write), f"expected {step.name}, got {write}: {made}"
    found = problems(crash, flow, outcome)
    assert not found, explain(crash, outcome, found)


@pytest.mark.parametrize(("flow", "kill_at", "b_while_down"), CRASH_POINTS)
def test_a_crash_right_after_a_write_leaves_nothing_duplicated_and_every_order_done(
        crash: CrashWorld, flow: str, kill_at: int, b_while_down: bool) -> None:
    outcome = run_flow(crash, flow, kill_at, b_while_down=b_while_down)
    made = [str(w) for w in outcome.crashed]
    assert len(outcome.crashed) == kill_at, made
    for step, write in zip(FLOWS[flow], outcome.crashed, strict=False):
        assert step.matches(write), f"the killed process: expected {step.name}, got {write}: {made}"
    found = problems(crash, flow, outcome)
    assert not found, explain(crash, outcome, found)
