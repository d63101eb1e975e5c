"""One normalised form for Waldur UUIDs: 32 lowercase hex characters, no hyphens.

Waldur renders UUIDs without hyphens; the generated SDK adds them; operators paste both. Every UUID
that enters the domain goes through :func:`normalize_uuid`, so comparisons never depend on the form.
Identity-bridge source names (``isd:puhuri``) are identifiers too; :func:`is_identity_source` is their
one check.
"""

from __future__ import annotations

import re
import uuid as _uuid
from typing import NewType

Uuid = NewType("Uuid", str)
"""A UUID in normalised form (32 lowercase hex characters)."""

IDENTITY_SOURCE_PATTERN = re.compile(r"^[a-z]+:[a-zA-Z0-9._-]+$")
"""Waldur's pattern for an identity-bridge source: a lowercase kind, a colon, a name (``isd:puhuri``)."""


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


def normalize_link(value: str) -> str:
    """A ``backend_id`` link as stored: a UUID in normalised form, anything else stripped but kept as it is.

    Waldur's UI and the existing agent write links with hyphens; fedcore writes them bare. Normalising at the
    boundary makes both spellings of one link compare equal, while a value that is not a UUID at all stays
    visible (and quotable in an error) instead of being lost.
    """
    text = value.strip()
    try:
        return normalize_uuid(text)
    except ValueError:
        return text


def link_uuid(value: str) -> Uuid | None:
    """The UUID a ``backend_id`` link holds, or None when it is empty or not a UUID."""
    try:
        return normalize_uuid(value) if value.strip() else None
    except ValueError:
        return None


def is_identity_source(value: str) -> bool:
    """True when ``value`` is a well-formed identity-bridge source (:data:`IDENTITY_SOURCE_PATTERN`)."""
    return IDENTITY_SOURCE_PATTERN.fullmatch(value) is not None
