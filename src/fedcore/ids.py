"""One normalised form for Waldur UUIDs: 32 lowercase hex characters, no hyphens.

Waldur renders UUIDs without hyphens; the generated SDK adds them; operators paste both. Every UUID
that enters the domain goes through :func:`normalize_uuid`, so comparisons never depend on the form.
"""

from __future__ import annotations

import uuid as _uuid
from typing import NewType

Uuid = NewType("Uuid", str)
"""A UUID in normalised form (32 lowercase hex characters)."""


def normalize_uuid(value: str | _uuid.UUID) -> Uuid:
    """Return ``value`` as 32 lowercase hex characters.

    Accepts the hyphenated and the bare hex forms, in any case, and :class:`uuid.UUID` objects.
    Raises ``ValueError`` naming the offending value for anything else (including the empty string).
    """
    if isinstance(value, _uuid.UUID):
        return Uuid(value.hex)
    if not isinstance(value, str):
        raise ValueError(f"not a UUID: {value!r} (a {type(value).__name__})")
    try:
        return Uuid(_uuid.UUID(value.strip()).hex)
    except ValueError:
        raise ValueError(f"not a UUID: {value!r}") from None


def optional_uuid(value: str | _uuid.UUID | None) -> Uuid | None:
    """Like :func:`normalize_uuid`, but ``None`` and ``""`` mean "no UUID" (Waldur's empty links)."""
    if value is None or value == "":
        return None
    return normalize_uuid(value)


def is_uuid(value: str) -> bool:
    """True when ``value`` parses as a UUID in either form."""
    try:
        normalize_uuid(value)
    except ValueError:
        return False
    return True
