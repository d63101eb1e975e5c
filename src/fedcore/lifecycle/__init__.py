"""The order lifecycle: a pure decision per A order, in three parts.

- :mod:`~fedcore.lifecycle.steps`: what is known about an order (:class:`OrderView`) and the steps a decision
  returns (reads, writes, ends of the order's turn);
- :mod:`~fedcore.lifecycle.decide`: :func:`decide`, the next step, and :func:`invalid_reason`;
- :mod:`~fedcore.lifecycle.shadow`: :func:`resolve_federated_resource`, Waldur's shadow resources;
- :mod:`~fedcore.lifecycle.keyed`: :func:`choose_keyed` and :func:`choose_project`, one winner among B orders
  sharing a key and among B projects sharing a ``backend_id``, the same on every replica;
- :mod:`~fedcore.lifecycle.fold`: folding reads and writes back into the view, and what a refusal means.

The service (:mod:`fedcore.services.orders`) reads and writes through ports and calls :func:`decide` until the
order's turn ends.
"""

from fedcore.lifecycle.decide import SUPPORTED, decide, invalid_reason
from fedcore.lifecycle.fold import after_write, describe, on_refusal, with_fact, with_moved_duplicate
from fedcore.lifecycle.keyed import choose_keyed, choose_project
from fedcore.lifecycle.shadow import resolve_federated_resource
from fedcore.lifecycle.steps import (
    DISCARD_PREFIX,
    KEY_PREFIX,
    UNKNOWN,
    Approve,
    Complete,
    CreateProject,
    DeleteDuplicate,
    DeleteProject,
    Fact,
    Fail,
    Final_,
    Finish,
    Gone,
    KeyedMatch,
    LimitConverter,
    LinkOrder,
    LinkResource,
    NeedBOrder,
    NeedBProject,
    NeedBResource,
    NeedKeyedOrder,
    NeedProjectResources,
    OrderView,
    Read,
    Reject,
    Repair,
    Retry,
    Step,
    SubmitCreate,
    SubmitTerminate,
    SubmitUpdate,
    TerminateDuplicate,
    Unknown,
    Wait,
    Write,
    a_order_of_key,
    discard_key,
    idempotency_key,
)

__all__ = [
    "DISCARD_PREFIX",
    "KEY_PREFIX",
    "SUPPORTED",
    "UNKNOWN",
    "Approve",
    "Complete",
    "CreateProject",
    "DeleteDuplicate",
    "DeleteProject",
    "Fact",
    "Fail",
    "Final_",
    "Finish",
    "Gone",
    "KeyedMatch",
    "LimitConverter",
    "LinkOrder",
    "LinkResource",
    "NeedBOrder",
    "NeedBProject",
    "NeedBResource",
    "NeedKeyedOrder",
    "NeedProjectResources",
    "OrderView",
    "Read",
    "Reject",
    "Repair",
    "Retry",
    "Step",
    "SubmitCreate",
    "SubmitTerminate",
    "SubmitUpdate",
    "TerminateDuplicate",
    "Unknown",
    "Wait",
    "Write",
    "a_order_of_key",
    "after_write",
    "choose_keyed",
    "choose_project",
    "decide",
    "describe",
    "discard_key",
    "idempotency_key",
    "invalid_reason",
    "on_refusal",
    "resolve_federated_resource",
    "with_fact",
    "with_moved_duplicate",
]
