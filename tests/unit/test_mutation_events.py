"""Malformed frames: behaviours pinned by mutation testing (scripts/mutation, docs/mutation.md)."""

from __future__ import annotations

import pytest

from fedcore.enums import Side
from fedcore.events import MAX_EXCERPT, Malformed

pytestmark = pytest.mark.unit


def malformed(body: str) -> Malformed:
    return Malformed(Side.A, "queue", "not JSON", body)


def test_a_body_up_to_the_limit_is_kept_whole() -> None:
    body = "x" * MAX_EXCERPT
    assert malformed(body).excerpt == body


def test_a_longer_body_is_cut_to_the_limit_ending_in_an_ellipsis() -> None:
    body = "".join(chr(ord("a") + i % 26) for i in range(MAX_EXCERPT + 50))
    excerpt = malformed(body).excerpt
    assert len(excerpt) == MAX_EXCERPT
    assert excerpt == body[: MAX_EXCERPT - 1] + "…"
