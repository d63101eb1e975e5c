"""Shared test configuration: hypothesis profiles, what happens to broker tests without a broker, and the broker
lock that lets broker tests run in parallel (pytest-xdist workers, or other test runs on this machine) while a test
that stops RabbitMQ runs alone.

``ci`` (the default of ``scripts/test``) runs enough examples to find real bugs; ``dev`` is quick.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=300,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


# --- the broker -------------------------------------------------------------------------------------------------

_BROKER: list[str | None] = []


def _broker_problem() -> str | None:
    """Why the local RabbitMQ (management 15672, Web-STOMP 15674, STOMP 61613) cannot serve the tests, or None."""
    if not _BROKER:
        import socket

        problem = None
        for port, what in ((15672, "management API"), (15674, "Web-STOMP"), (61613, "STOMP")):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError as exc:
                problem = f"RabbitMQ's {what} does not answer on 127.0.0.1:{port} ({type(exc).__name__})"
                break
        _BROKER.append(problem)
    return _BROKER[0]


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked ``broker`` need RabbitMQ with its STOMP plugins (``scripts/broker`` installs, starts and
    configures it). Without one they are skipped with the reason, except under ``CI``, where they must run: there a
    missing broker fails them, saying what to do."""
    if item.get_closest_marker("broker") is None:
        return
    problem = _broker_problem()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{problem}; CI must run the broker suites: scripts/broker starts RabbitMQ", pytrace=False)
    pytest.skip(f"{problem}: start it with scripts/broker (it installs RabbitMQ and its STOMP plugins when missing)")


# --- the broker lock --------------------------------------------------------------------------------------------

BROKER_LOCK = Path(tempfile.gettempdir()) / "fedcore-tests-broker.lock"
"""One RabbitMQ serves every test run on this machine: broker tests hold this file's lock shared, a test marked
``broker_restart`` (it stops RabbitMQ) holds it exclusively. ``.gate`` beside it gives the exclusive holder its turn:
it takes the gate first, so no new shared holder enters while it waits for the running ones to finish."""

_shared: list[IO[str]] = []
"""This process's shared hold (one open lock file while held) and how deep: ``len`` is the nesting."""


@contextmanager
def broker_lock(*, exclusive: bool) -> Iterator[None]:
    """Hold the machine-wide broker lock (see ``BROKER_LOCK``) for the ``with`` block. A shared hold is re-entrant
    within this process (a module's fixture and its tests), so a waiting exclusive holder cannot deadlock it."""
    if not exclusive and _shared:
        _shared.append(_shared[-1])
        try:
            yield
        finally:
            _shared.pop()
        return
    if exclusive and _shared:  # flock would wait for this very process's shared hold for ever
        raise RuntimeError("the exclusive broker lock was asked for while this process holds it shared")
    with BROKER_LOCK.with_suffix(".gate").open("a") as gate, BROKER_LOCK.open("a") as lock:
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        finally:
            if not exclusive:
                fcntl.flock(gate, fcntl.LOCK_UN)
        if not exclusive:
            _shared.append(lock)
        try:
            yield
        finally:
            if not exclusive:
                _shared.pop()
            fcntl.flock(lock, fcntl.LOCK_UN)
            fcntl.flock(gate, fcntl.LOCK_UN)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``broker_restart`` go first: under pytest-xdist the other workers meanwhile start on the tests
    after them instead of waiting for the exclusive broker lock near the end of the run."""
    items.sort(key=lambda item: item.get_closest_marker("broker_restart") is None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    """A test marked ``broker`` runs (set-up to teardown) under the shared broker lock, one marked ``broker_restart``
    under the exclusive one. A test that uses the broker only when it is up takes the ``broker_shared`` fixture; a
    module-scoped fixture that keeps broker connections from one test to the next, ``broker_shared_module``."""
    if item.get_closest_marker("broker_restart") is not None:
        with broker_lock(exclusive=True):
            yield
    elif item.get_closest_marker("broker") is not None:
        with broker_lock(exclusive=False):
            yield
    else:
        yield


@pytest.fixture
def broker_shared() -> Iterator[None]:
    """The shared broker lock for a test that is not marked ``broker`` but uses RabbitMQ when it runs."""
    with broker_lock(exclusive=False):
        yield


@pytest.fixture(scope="module")
def broker_shared_module() -> Iterator[None]:
    """The shared broker lock for as long as a module-scoped fixture keeps connections to RabbitMQ."""
    with broker_lock(exclusive=False):
        yield
