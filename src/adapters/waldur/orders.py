"""The order and resource ports over Waldur's REST API: A as the offering's service provider, B as a customer.

:class:`SourceMarketplace` implements :class:`~fedcore.ports.SourceOrders` and
:class:`~fedcore.ports.SourceResources` against Waldur A; :class:`TargetMarketplace` implements
:class:`~fedcore.ports.TargetOrders`, :class:`~fedcore.ports.TargetResources` and
:class:`~fedcore.ports.TargetProjects` against Waldur B. Both are safe to share between worker threads.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Collection, Mapping, Sequence

from adapters.waldur.errors import InvalidResponse
from adapters.waldur.http import Params, WaldurHttp, iso_date
from adapters.waldur.wire import (
    KEY_ATTRIBUTE,
    ORDER_FIELDS,
    PROJECT_FIELDS,
    RESOURCE_FIELDS,
    ROLE_USER_FIELDS,
    WireOrder,
    WireProject,
    WireResource,
    WireRoleUser,
    json_object,
    member_to_domain,
    order_to_domain,
    project_to_domain,
    resource_to_domain,
    structure,
    structure_list,
    to_domain,
    uuid_field,
)
from fedcore.enums import OrderState
from fedcore.errors import NotFound, PermanentError, PortError
from fedcore.ids import Uuid
from fedcore.lifecycle import a_order_of_key, choose_project
from fedcore.model import Member, NewOrder, Order, Project, ProjectKey, Resource

log = logging.getLogger(__name__)

OPEN_STATES = (OrderState.PENDING_PROVIDER, OrderState.EXECUTING)
IN_FLIGHT_STATES = (
    OrderState.PENDING_CONSUMER,
    OrderState.PENDING_PROVIDER,
    OrderState.PENDING_PROJECT,
    OrderState.PENDING_START_DATE,
    OrderState.EXECUTING,
)


SAME_LIMITS = "exactly the same"
"""Part of Waldur's 400 for an ``update_limits`` that would not change the limits."""


def _same_limits(exc: PermanentError) -> bool:
    return exc.status == 400 and SAME_LIMITS in exc.detail


def _age(order: Order) -> tuple[dt.datetime, str]:
    return (order.created or dt.datetime.min.replace(tzinfo=dt.UTC), order.uuid)


def _orders(data: object, where: str) -> list[Order]:
    if not isinstance(data, list):
        raise InvalidResponse("a listing must be a JSON array", where=where)
    return [to_domain(where, order_to_domain, w) for w in structure_list(data, WireOrder, where)]


def _order(data: object, where: str) -> Order:
    return to_domain(where, order_to_domain, structure(data, WireOrder, where))


def _resources(data: list[object], where: str) -> list[Resource]:
    return [to_domain(where, resource_to_domain, w) for w in structure_list(data, WireResource, where)]


def _members(http: WaldurHttp, project_uuid: Uuid) -> list[Member]:
    path = f"projects/{project_uuid}/list_users/"
    where = http.where("GET", path)
    rows = structure_list(http.list(path, fields=ROLE_USER_FIELDS), WireRoleUser, where)
    return [to_domain(where, member_to_domain, row) for row in rows]


class SourceMarketplace:
    """Waldur A's orders and resources of one offering, through its service provider's token."""

    def __init__(self, http: WaldurHttp, offering_uuid: Uuid) -> None:
        self._http = http
        self.offering_uuid = offering_uuid

    # SourceOrders ---------------------------------------------------------------------------------------------

    def list_open_orders(self) -> Sequence[Order]:
        """Every pending-provider and executing order of the offering (one paginated listing)."""
        params: Params = [("offering_uuid", self.offering_uuid), *(("state", s.value) for s in OPEN_STATES)]
        data = self._http.list("marketplace-orders/", params, fields=ORDER_FIELDS)
        return _orders(data, self._http.where("GET", "marketplace-orders/"))

    def get_order(self, order_uuid: Uuid) -> Order:
        """``GET marketplace-orders/{uuid}/``: NotFound on 404, and for an order of another offering."""
        path = f"marketplace-orders/{order_uuid}/"
        where = self._http.where("GET", path)
        order = _order(self._http.get(path, fields=ORDER_FIELDS), where)
        if order.offering_uuid != self.offering_uuid:
            raise NotFound(
                f"order {order_uuid} is of offering {order.offering_uuid}, not of {self.offering_uuid}", where=where
            )
        return order

    def approve(self, order_uuid: Uuid) -> None:
        """``approve_by_provider`` (not repeated: a second call is a 409)."""
        self._http.post(f"marketplace-orders/{order_uuid}/approve_by_provider/", {}, idempotent=False)

    def reject(self, order_uuid: Uuid, reason: str) -> None:
        """``reject_by_provider`` with the reason as the provider's comment."""
        body = {"provider_rejection_comment": reason}
        self._http.post(f"marketplace-orders/{order_uuid}/reject_by_provider/", body, idempotent=False)

    def set_order_backend_id(self, order_uuid: Uuid, backend_id: str) -> None:
        """``set_backend_id`` on the order (idempotent: retried)."""
        body = {"backend_id": backend_id}
        self._http.post(f"marketplace-orders/{order_uuid}/set_backend_id/", body, idempotent=True)

    def complete(self, order_uuid: Uuid) -> None:
        """``set_state_done`` (not repeated: after a lost answer the next pass reads the state)."""
        self._http.post(f"marketplace-orders/{order_uuid}/set_state_done/", None, idempotent=False)

    def fail(self, order_uuid: Uuid, message: str) -> None:
        """``set_state_erred`` with both ``error_message`` and ``error_traceback``, as the server reads both."""
        body = {"error_message": message, "error_traceback": ""}
        self._http.post(f"marketplace-orders/{order_uuid}/set_state_erred/", body, idempotent=True)

    # SourceResources ------------------------------------------------------------------------------------------

    def list_resources(self) -> Sequence[Resource]:
        """Every resource of the offering, in any state."""
        path = "marketplace-provider-resources/"
        data = self._http.list(path, [("offering_uuid", self.offering_uuid)], fields=RESOURCE_FIELDS)
        return _resources(data, self._http.where("GET", path))

    def list_project_resources(self, project_uuid: Uuid) -> Sequence[Resource]:
        """The offering's resources in one A project."""
        path = "marketplace-provider-resources/"
        params: Params = [("offering_uuid", self.offering_uuid), ("project_uuid", project_uuid)]
        return _resources(self._http.list(path, params, fields=RESOURCE_FIELDS), self._http.where("GET", path))

    def set_resource_backend_id(self, resource_uuid: Uuid, backend_id: str) -> None:
        """``set_backend_id`` on the provider resource (idempotent: retried)."""
        path = f"marketplace-provider-resources/{resource_uuid}/set_backend_id/"
        self._http.post(path, {"backend_id": backend_id}, idempotent=True)

    def set_end_date(self, resource_uuid: Uuid, end_date: dt.date | None) -> None:
        """``set_end_date_by_provider`` (idempotent: retried)."""
        path = f"marketplace-provider-resources/{resource_uuid}/set_end_date_by_provider/"
        self._http.post(path, {"end_date": iso_date(end_date)}, idempotent=True)

    def set_limits(self, resource_uuid: Uuid, limits: Mapping[str, int]) -> None:
        """``set_limits`` on the provider resource (idempotent: retried)."""
        path = f"marketplace-provider-resources/{resource_uuid}/set_limits/"
        self._http.post(path, {"limits": dict(limits)}, idempotent=True)


class TargetMarketplace:
    """Waldur B's offering, projects and orders as fedcore's customer owner sees them.

    B's plan for Create orders is looked up once per offering and remembered (a lock keeps threads from
    looking it up twice).
    """

    def __init__(self, http: WaldurHttp, offering_uuid: Uuid, customer_uuid: Uuid) -> None:
        self._http = http
        self.offering_uuid = offering_uuid
        self.customer_uuid = customer_uuid
        self._plan_url: str | None = None
        self._plan_lock = threading.Lock()

    # TargetProjects -------------------------------------------------------------------------------------------

    def find_project(self, key: ProjectKey) -> Project | None:
        """The project of fedcore's customer whose ``backend_id`` names the key's A project: fedcore's spelling
        first, then (one more listing, only when the first finds none) the existing agent's hyphenated one."""
        path = "projects/"
        where = self._http.where("GET", path)
        for spelling in key.spellings:
            params: Params = [("backend_id", spelling), ("customer", self.customer_uuid)]
            found = structure_list(self._http.list(path, params, fields=PROJECT_FIELDS), WireProject, where)
            named = [to_domain(where, project_to_domain, p) for p in found if key.names(p.backend_id or "")]
            if named:
                return choose_project(named)
        return None

    def create_project(self, key: ProjectKey, name: str, description: str) -> Project:
        """``POST projects/`` under fedcore's customer (never repeated: the caller looks first)."""
        path = "projects/"
        body = {"name": name, "customer": self._http.url(f"customers/{self.customer_uuid}/"),
                "backend_id": key.backend_id, "description": description}
        data = self._http.post(path, body, idempotent=False)
        where = self._http.where("POST", path)
        return to_domain(where, project_to_domain, structure(data, WireProject, where))

    def projects_with_backend_id(self, backend_id: str) -> Sequence[Project]:
        """``GET projects/?backend_id=…&customer=…``."""
        return self._projects([("backend_id", backend_id), ("customer", self.customer_uuid)])

    def projects_created_after(self, created_after: dt.datetime) -> Sequence[Project]:
        """``GET projects/?customer=…&created=…`` (Waldur's ``created`` means "after")."""
        return self._projects([("customer", self.customer_uuid),
                               ("created", created_after.astimezone(dt.UTC).isoformat())])

    def _projects(self, params: Params) -> list[Project]:
        path = "projects/"
        where = self._http.where("GET", path)
        found = structure_list(self._http.list(path, params, fields=PROJECT_FIELDS), WireProject, where)
        return [to_domain(where, project_to_domain, p) for p in found]

    def delete_project(self, project_uuid: Uuid) -> None:
        """``DELETE projects/{uuid}/`` (Waldur refuses it, 409, while the project holds resources)."""
        self._http.delete(f"projects/{project_uuid}/")

    def list_members(self, project_uuid: Uuid) -> Sequence[Member]:
        """Every role of every user in the project (all pages)."""
        return _members(self._http, project_uuid)

    def add_member(self, project_uuid: Uuid, user_uuid: Uuid, role: str) -> None:
        """``add_user`` (not repeated: a second grant is a 400)."""
        body = {"role": role, "user": user_uuid}
        self._http.post(f"projects/{project_uuid}/add_user/", body, idempotent=False)

    def remove_member(self, project_uuid: Uuid, user_uuid: Uuid, role: str) -> None:
        """``delete_user`` (not repeated)."""
        body = {"role": role, "user": user_uuid}
        self._http.post(f"projects/{project_uuid}/delete_user/", body, idempotent=False)

    # TargetOrders ---------------------------------------------------------------------------------------------

    def _plan(self) -> str:
        with self._plan_lock:
            if self._plan_url is None:
                path = f"marketplace-public-offerings/{self.offering_uuid}/plans/"
                where = self._http.where("GET", path)
                answer = self._http.get(path)  # an action without page parameters: one bare array
                if not isinstance(answer, list):
                    raise InvalidResponse("the plans must be a JSON array", where=where)
                plans = [json_object(p, where) for p in answer]
                usable = [p for p in plans if not p.get("archived") and isinstance(p.get("url"), str)]
                if not usable:
                    raise InvalidResponse(f"B offering {self.offering_uuid} has no active plan to order", where=where)
                self._plan_url = str(usable[0]["url"])
            return self._plan_url

    def create_order(self, order: NewOrder) -> Order:
        """``POST marketplace-orders/`` with the key in ``attributes`` (never repeated blindly)."""
        path = "marketplace-orders/"
        body = {
            "offering": self._http.url(f"marketplace-public-offerings/{self.offering_uuid}/"),
            "project": self._http.url(f"projects/{order.project_uuid}/"),
            "plan": self._plan(),
            "limits": dict(order.limits),
            "attributes": {**order.attributes, KEY_ATTRIBUTE: order.key},
            "type": "Create",
            "accepting_terms_of_service": True,
        }
        return _order(self._http.post(path, body, idempotent=False), self._http.where("POST", path))

    def request_update(self, resource_uuid: Uuid, limits: Mapping[str, int], key: str) -> Uuid:
        """``update_limits``; the new Update order's UUID, with the key then written into its ``attributes``.

        Waldur 8.0.5 drops ``update_limits``' ``request_comment`` (sent anyway) and gives the order the attributes
        ``{old_limits}``, so the key is added by a second call while the order is pending (best effort: the A
        order's link, written next, is what records the B order; the key only speeds recovery from a lost answer).
        When B answers 400 because the resource's limits already are exactly these, a submission whose answer was
        lost has been applied: the resource's newest Update order with these limits is returned.
        """
        path = f"marketplace-resources/{resource_uuid}/update_limits/"
        try:
            data = self._http.post(path, {"limits": dict(limits), "request_comment": key}, idempotent=False)
        except PermanentError as exc:
            applied = self._applied_update(resource_uuid, limits) if _same_limits(exc) else None
            if applied is None:
                raise
            return applied
        uuid = uuid_field(data, "order_uuid", self._http.where("POST", path))
        self._stamp(uuid, key)
        return uuid

    def _stamp(self, order_uuid: Uuid, key: str) -> None:
        path = f"marketplace-orders/{order_uuid}/"
        try:
            answer = json_object(self._http.get(path, fields=("attributes",)), self._http.where("GET", path))
            kept = answer.get("attributes")
            self._http.patch(path, {"attributes": {**(kept if isinstance(kept, dict) else {}), KEY_ATTRIBUTE: key}})
        except PortError as exc:
            log.warning("B Update order %s keeps no idempotency key (%s); the A order's link will record it",
                        order_uuid, exc)

    def _applied_update(self, resource_uuid: Uuid, limits: Mapping[str, int]) -> Uuid | None:
        path = "marketplace-orders/"
        params: Params = [("offering_uuid", self.offering_uuid), ("resource_uuid", resource_uuid), ("type", "Update")]
        found = _orders(self._http.list(path, params, fields=ORDER_FIELDS), self._http.where("GET", path))
        same = [o for o in found if dict(o.limits) == dict(limits)]
        return max(same, key=_age).uuid if same else None

    def request_termination(self, resource_uuid: Uuid, key: str) -> Uuid:
        """``terminate`` with the key in ``attributes``; the new Terminate order's UUID."""
        path = f"marketplace-resources/{resource_uuid}/terminate/"
        data = self._http.post(path, {"attributes": {KEY_ATTRIBUTE: key}}, idempotent=False)
        return uuid_field(data, "order_uuid", self._http.where("POST", path))

    def find_orders(self, project_uuid: Uuid, keys: Collection[str]) -> Sequence[Order]:
        """Orders of the B offering in one project carrying one of ``keys``, oldest first (one listing)."""
        if not keys:
            return []
        path = "marketplace-orders/"
        params: Params = [("offering_uuid", self.offering_uuid), ("project_uuid", project_uuid)]
        found = _orders(self._http.list(path, params, fields=ORDER_FIELDS), self._http.where("GET", path))
        wanted = set(keys)
        keyed = [o for o in found if o.key in wanted]
        return sorted(keyed, key=lambda o: (o.created is None, o.created or dt.datetime.min.replace(tzinfo=dt.UTC),
                                            o.uuid))

    def get_orders(self, order_uuids: Collection[Uuid]) -> Mapping[Uuid, Order]:
        """The in-flight orders of the B offering among ``order_uuids`` (one listing; finished ones are read alone
        by the caller).

        A single UUID is read directly instead (one call either way, and it finds the order finished too, so the
        caller's single read is not needed: the last order of a quiet pass costs one call, not two).
        """
        if not order_uuids:
            return {}
        if len(order_uuids) == 1:
            [uuid] = order_uuids
            try:
                return {uuid: self.get_order(uuid)}
            except NotFound:
                return {}
        path = "marketplace-orders/"
        params: Params = [("offering_uuid", self.offering_uuid), *(("state", s.value) for s in IN_FLIGHT_STATES)]
        found = _orders(self._http.list(path, params, fields=ORDER_FIELDS), self._http.where("GET", path))
        wanted = set(order_uuids)
        return {o.uuid: o for o in found if o.uuid in wanted}

    def get_order(self, order_uuid: Uuid) -> Order:
        """One B order; NotFound on 404."""
        path = f"marketplace-orders/{order_uuid}/"
        return _order(self._http.get(path, fields=ORDER_FIELDS), self._http.where("GET", path))

    def list_keyed_creates(self, modified_after: dt.datetime) -> Sequence[Order]:
        """``GET marketplace-orders/?offering_uuid=…&type=Create&modified=…`` (Waldur's ``modified`` means "after"),
        keeping the orders whose attributes carry fedcore's key."""
        path = "marketplace-orders/"
        params: Params = [("offering_uuid", self.offering_uuid), ("type", "Create"),
                          ("modified", modified_after.astimezone(dt.UTC).isoformat())]
        found = _orders(self._http.list(path, params, fields=ORDER_FIELDS), self._http.where("GET", path))
        return [o for o in found if a_order_of_key(o.key) is not None]

    def delete_order(self, order_uuid: Uuid) -> None:
        """``DELETE marketplace-orders/{uuid}/``: allowed to the consumer while the order is ``pending-*``."""
        self._http.delete(f"marketplace-orders/{order_uuid}/")

    # TargetResources ------------------------------------------------------------------------------------------

    def get_resource(self, resource_uuid: Uuid) -> Resource:
        """One B resource; NotFound on 404."""
        path = f"marketplace-resources/{resource_uuid}/"
        where = self._http.where("GET", path)
        data = self._http.get(path, fields=RESOURCE_FIELDS)
        return to_domain(where, resource_to_domain, structure(data, WireResource, where))

    def list_resources(self) -> Sequence[Resource]:
        """Every resource of the B offering under fedcore's customer."""
        path = "marketplace-resources/"
        params: Params = [("offering_uuid", self.offering_uuid), ("customer_uuid", self.customer_uuid)]
        return _resources(self._http.list(path, params, fields=RESOURCE_FIELDS), self._http.where("GET", path))

    def set_end_date(self, resource_uuid: Uuid, end_date: dt.date | None) -> None:
        """``PATCH end_date`` as the resource's consumer (idempotent: retried)."""
        self._http.patch(f"marketplace-resources/{resource_uuid}/", {"end_date": iso_date(end_date)})
