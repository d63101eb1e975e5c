"""The in-memory fakes' single reads: A's order (NotFound for another offering's) and B's offering user by UUID."""

from __future__ import annotations

import pytest
from attrs import evolve

from adapters.memory.orders import MemorySource
from adapters.memory.users import MemoryUsers
from fedcore.enums import OfferingUserState
from fedcore.errors import NotFound, PermanentError, TransientError
from fedcore.ids import Uuid

pytestmark = pytest.mark.unit

OFFERING = Uuid("a" * 32)


def test_get_order_of_another_offering_is_not_found_and_says_why() -> None:
    a = MemorySource(OFFERING)
    order = a.order_create(a.add_project(), {"cpu": 1})
    a.orders[order.uuid] = evolve(order, offering_uuid=Uuid("d" * 32))
    with pytest.raises(NotFound, match=f"of offering {'d' * 32}, not of {OFFERING}"):
        a.get_order(order.uuid)


def test_get_order_honours_the_fault_plan_and_counts_calls() -> None:
    a = MemorySource(OFFERING)
    order = a.order_create(a.add_project(), {"cpu": 1})
    a.faults.fail_next("get_order")
    with pytest.raises(TransientError):
        a.get_order(order.uuid)
    a.faults.refuse_next("A.get_order")
    with pytest.raises(PermanentError):
        a.get_order(order.uuid)
    assert a.get_order(order.uuid) == order
    assert a.faults.calls["A.get_order"] == 3


def test_get_offering_user_shows_the_users_current_email_and_honours_faults() -> None:
    b = MemoryUsers("B")
    ann = b.add_user("ann@cuid", "old@example.org")
    record = b.add_offering_user(ann, OfferingUserState.OK, "ann01")
    b.registry[ann.uuid] = evolve(ann, email="new@example.org")
    seen = b.get_offering_user(record.uuid)
    assert (seen.user_username, seen.username, seen.user_email) == ("ann@cuid", "ann01", "new@example.org")
    b.faults.fail_next("get_offering_user")
    with pytest.raises(TransientError):
        b.get_offering_user(record.uuid)
    with pytest.raises(NotFound):
        b.get_offering_user(Uuid("f" * 32))
    assert b.faults.calls["B.get_offering_user"] == 3
