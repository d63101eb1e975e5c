"""Shared test configuration: hypothesis profiles, and what happens to broker tests without a broker.

``ci`` (the default of ``scripts/test``) runs enough examples to find real bugs; ``dev`` is quick.
"""

from __future__ import annotations

import os

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
