"""Fixtures for the contract suites: Waldur 8.0.5's schema is parsed and indexed once per test session."""

from __future__ import annotations

import pytest

from contract.openapi_check import SchemaChecker, load_spec


@pytest.fixture(scope="session")
def schema_checker() -> SchemaChecker:
    """The checker every contract test shares: closed (undeclared properties are problems), not complete."""
    return SchemaChecker(load_spec())
