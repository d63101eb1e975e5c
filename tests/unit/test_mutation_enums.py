"""Offering-user state codes: behaviours pinned by mutation testing (scripts/mutation, docs/mutation.md)."""

from __future__ import annotations

import pytest

from fedcore.enums import OfferingUserState

pytestmark = pytest.mark.unit

STATES = list(OfferingUserState)


@pytest.mark.parametrize("state", STATES)
def test_every_state_round_trips_through_its_code(state: OfferingUserState) -> None:
    assert OfferingUserState.from_code(state.code) is state


def test_codes_run_from_one_to_the_number_of_states_in_declaration_order() -> None:
    assert [s.code for s in STATES] == list(range(1, len(STATES) + 1))
    assert OfferingUserState.from_code(1) is STATES[0]
    assert OfferingUserState.from_code(len(STATES)) is STATES[-1]


@pytest.mark.parametrize("code", [0, -1, len(STATES) + 1, 100])
def test_a_code_outside_the_range_is_refused_naming_it(code: int) -> None:
    with pytest.raises(ValueError, match=rf"unknown offering user state code {code}; expected 1-{len(STATES)}"):
        OfferingUserState.from_code(code)
