"""The order lifecycle: a pure decision per A order, in three parts.

- :mod:`~fedcore.lifecycle.steps`: what is known about an order (:class:`OrderView`) and the steps a decision
  returns (reads, writes, ends of the order's turn);
- :mod:`~fedcore.lifecycle.decide`: :func:`decide`, the next step, and :func:`invalid_reason`;
- :mod:`~fedcore.lifecycle.shadow`: :func:`resolve_federated_resource`, Waldur's shadow resources;
- :mod:`~fedcore.lifecycle.keyed`: :func:`choose_keyed`, one winner among B orders sharing a key;
- :mod:`~fedcore.lifecycle.fold`: folding reads and writes back into the view, and what a refusal means.

The service (:mod:`fedcore.services.orders`) reads and writes through ports and calls :func:`decide` until the
order's turn ends.
"""

from fedcore.lifecycle.decide import SUPPORTED, decide, invalid_reason
from fedcore.lifecycle.fold import after_write, describe, on_refusal, with_fact
from fedcore.lifecycle.keyed import choose_keyed
from fedcore.lifecycle.shadow import resolve_federated_resource
from fedcore.lifecycle.steps import (
    KEY_PREFIX,
    UNKNOWN,
    Approve,
    Complete,
    CreateProject,
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
    Retry,
    Step,
    SubmitCreate,
    SubmitTerminate,
    SubmitUpdate,
    Unknown,
    Wait,
    Write,
    a_order_of_key,
    idempotency_key,
)

__all__ = [
    "KEY_PREFIX",
    "SUPPORTED",
    "UNKNOWN",
    "Approve",
    "Complete",
    "CreateProject",
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
    "Retry",
    "Step",
    "SubmitCreate",
    "SubmitTerminate",
    "SubmitUpdate",
    "Unknown",
    "Wait",
    "Write",
    "a_order_of_key",
    "after_write",
    "choose_keyed",
    "decide",
    "describe",
    "idempotency_key",
    "invalid_reason",
    "on_refusal",
    "resolve_federated_resource",
    "with_fact",
]
