"""ValidatingTransport: every exchange of an httpx client checked as it happens."""

from __future__ import annotations

import threading
from collections import Counter

import httpx

from contract.openapi_check._checker import SchemaChecker
from contract.openapi_check._spec import SKIP_REQUEST_CHECK, SchemaViolation


class ValidatingTransport(httpx.BaseTransport):
    """An httpx transport that checks every request and response passing through it.

    ``problems`` collects request and response problems, ``undocumented`` the error statuses the schema does not
    declare (informational), ``calls`` the exchanges per operation id. ``strict`` raises :class:`SchemaViolation`
    at the first problem. Requests carrying the :data:`SKIP_REQUEST_CHECK` extension are sent unchecked.
    """

    def __init__(self, inner: httpx.BaseTransport, checker: SchemaChecker, *, strict: bool = False) -> None:
        self.inner = inner
        self.checker = checker
        self.strict = strict
        self.problems: list[str] = []
        self.undocumented: list[str] = []
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Check the request, forward it, read and check the response, and return it unchanged."""
        routed = self.checker.operation_for(request)
        with self._lock:
            self.calls[routed[0].operation_id if routed else f"<no operation: {request.method}>"] += 1
        if request.extensions.get(SKIP_REQUEST_CHECK) is not True:
            self._record(self.checker.check_request(request))
        response = self.inner.handle_request(request)
        response.read()
        if routed is not None:
            self._record(self.checker.check_response(response, request))
            undocumented = self.checker.undocumented_status(response, request)
            if undocumented is not None:
                with self._lock:
                    self.undocumented.append(undocumented)
        return response

    def close(self) -> None:
        """Close the wrapped transport."""
        self.inner.close()

    def assert_clean(self) -> None:
        """Fail listing every recorded problem, one per line."""
        if self.problems:
            raise SchemaViolation(f"{len(self.problems)} schema problems:\n" + "\n".join(self.problems))

    def _record(self, found: list[str]) -> None:
        with self._lock:
            self.problems.extend(found)
        if found and self.strict:
            raise SchemaViolation("\n".join(found))
