"""Configuration errors: behaviours pinned by mutation testing (scripts/mutation, docs/mutation.md)."""

from __future__ import annotations

import pytest

from fedcore.errors import ConfigError

pytestmark = pytest.mark.unit


def test_a_config_error_lists_each_problem_on_its_own_line() -> None:
    error = ConfigError(["a: missing", "b: not a number"])
    assert error.problems == ("a: missing", "b: not a number")
    assert str(error) == "invalid configuration (2 problem(s)):\n  - a: missing\n  - b: not a number"
