"""Which B resource an Update or Terminate order acts on, resolving Waldur's shadow resources.

Waldur A sometimes points an Update or Terminate order at a *shadow*: a fresh, nameless resource with an empty
``backend_id`` instead of the real one (seed 001, known issues). The order must still reach the right B
resource, and must never reach a wrong one.
"""

from __future__ import annotations

from collections.abc import Sequence

from fedcore.enums import ResourceState
from fedcore.ids import Uuid
from fedcore.lifecycle.steps import Fail
from fedcore.model import Order, Resource

_POSSIBLE_TARGETS = (ResourceState.OK, ResourceState.ERRED, ResourceState.UPDATING)
"""States of a resource a user can have just ordered a change for (Waldur refuses changes of the others)."""


def resolve_federated_resource(order: Order, project_resources: Sequence[Resource]) -> Uuid | Fail:
    """The B resource UUID an Update/Terminate order acts on.

    The order's own A resource answers when it carries a link. A named resource without one was never created
    on B, and the order fails saying so (resolving it elsewhere could change the wrong resource). A shadow
    (nameless, no ``backend_id``, or absent from the listing) is resolved only when exactly one resource of the
    offering in the same A project could have been meant (narrowed by name when the order names its resource)
    and that resource is federated. Every resource a change could target counts, federated or not: if the
    project also holds a resource that never reached B, the shadow might mean that one, and guessing the
    federated one would change the wrong resource. None or several candidates fail the order with the reason.
    """
    own = next((r for r in project_resources if r.uuid == order.resource_uuid), None)
    if own is not None and own.backend_id:
        return _linked(own)
    where = f"A resource {order.resource_uuid} (project {order.project_uuid})"
    if own is not None and own.name:
        return Fail(f"{where} has no link to B: it was never created there, so there is nothing to {order.type}")
    candidates = [
        r
        for r in project_resources
        if r.uuid != order.resource_uuid and r.state in _POSSIBLE_TARGETS and (r.backend_id or r.name)
    ]
    if order.resource_name:
        candidates = [r for r in candidates if r.name == order.resource_name]
    if len(candidates) == 1:
        [meant] = candidates
        if not meant.backend_id:
            return Fail(f"{where} is a shadow of A resource {meant.uuid}, which has no link to B: it was never "
                        f"created there, so there is nothing to {order.type}")
        return _linked(meant)
    if not candidates:
        return Fail(f"{where} is a shadow with no link to B, and no federated resource in its project to resolve")
    listed = ", ".join(sorted(r.uuid for r in candidates))
    count = len(candidates)
    return Fail(f"{where} is a shadow with no link to B; {count} resources could be meant: {listed}")


def _linked(resource: Resource) -> Uuid | Fail:
    if resource.link is None:
        found = resource.backend_id
        return Fail(f"A resource {resource.uuid} has backend_id {found!r}, which is not a B resource UUID")
    return resource.link
