"""UUIDs and links: behaviours pinned by mutation testing (scripts/mutation, docs/mutation.md)."""

from __future__ import annotations

import uuid

import pytest

from fedcore.ids import is_uuid, link_uuid, normalize_link, normalize_uuid, optional_uuid

pytestmark = pytest.mark.unit

HEX = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("value", [HEX, HEX.upper(), str(uuid.UUID(HEX)), f"  {HEX}  "])
def test_is_uuid_accepts_either_form_in_any_case(value: str) -> None:
    assert is_uuid(value)


@pytest.mark.parametrize("value", ["", "   ", "not-a-uuid", HEX[:-1], "isd:puhuri"])
def test_is_uuid_rejects_anything_else(value: str) -> None:
    assert not is_uuid(value)


@pytest.mark.parametrize("value", ["", "   ", "\t\n"])
def test_link_uuid_of_an_empty_or_blank_link_is_none(value: str) -> None:
    assert link_uuid(value) is None


def test_link_uuid_reads_either_spelling_of_a_link() -> None:
    assert link_uuid(str(uuid.UUID(HEX)).upper()) == HEX
    assert link_uuid("not-a-uuid") is None


def test_a_uuid_object_is_normalised_to_bare_lowercase_hex() -> None:
    assert normalize_uuid(uuid.UUID(HEX)) == HEX


def test_a_value_that_is_not_a_string_is_refused_naming_its_type() -> None:
    with pytest.raises(ValueError, match=r"^not a UUID: 5 \(a int\)$"):
        normalize_uuid(5)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [None, ""])
def test_optional_uuid_reads_none_and_the_empty_string_as_no_uuid(value: str | None) -> None:
    assert optional_uuid(value) is None


def test_a_uuid_link_is_stored_in_normalised_form_and_anything_else_stripped() -> None:
    assert normalize_link(f" {str(uuid.UUID(HEX)).upper()} ") == HEX
    assert normalize_link("  local-42 ") == "local-42"
