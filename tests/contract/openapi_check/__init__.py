"""Check real HTTP traffic against Waldur 8.0.5's published OpenAPI schema.

Contract tests wrap :class:`ValidatingTransport` around any httpx transport (the emulator's, or the one under
fedcore's REST adapter) so that every request sent and every response returned is checked against
``../shared/waldur/openapi-8.0.5.json``. Bodies are validated with openapi-schema-validator's OAS 3.0 read/write
validators; routing, parameters, headers, status codes and Waldur's error shape are checked here.
docs/contract-testing.md explains the rules and the decisions behind them.
"""

from contract.openapi_check._checker import SchemaChecker
from contract.openapi_check._spec import (
    DEFAULT_SPEC_PATH,
    SKIP_REQUEST_CHECK,
    Operation,
    Problem,
    QueryParam,
    SchemaViolation,
    Spec,
    SpecNotFoundError,
    load_spec,
)
from contract.openapi_check._transport import ValidatingTransport
from contract.openapi_check._validate import ERROR_SHAPE, link_problems

__all__ = [
    "DEFAULT_SPEC_PATH",
    "ERROR_SHAPE",
    "SKIP_REQUEST_CHECK",
    "Operation",
    "Problem",
    "QueryParam",
    "SchemaChecker",
    "SchemaViolation",
    "Spec",
    "SpecNotFoundError",
    "ValidatingTransport",
    "link_problems",
    "load_spec",
]
