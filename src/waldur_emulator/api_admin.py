"""The emulator's own admin API under ``/api/emulator/`` (staff only; never fault-injected).

- ``GET|POST|DELETE /api/emulator/faults/``: list, add (a FaultRule as JSON), clear fault rules;
  ``POST /api/emulator/faults/seed/`` ``{"seed": n}`` restarts the random sequence.
- ``GET|PUT|POST|DELETE /api/emulator/offerings/{uuid}/provider-simulation/``: the offering's SimulationRule;
  ``POST /api/emulator/provider-simulation/tick/`` applies due steps at once.
- ``POST /api/emulator/resources/``: create a resource directly (what Waldur's tests do through the Django ORM).
- ``POST /api/emulator/known-cuids/`` ``{"cuid": ..., "attributes": {...}}``: teach remote-eduteams a CUID.
"""

from __future__ import annotations

from typing import Any

from . import effects, render_market
from .core import Core, caller, limits_of, slugify, text
from .faults import FaultInjector, FaultRule
from .records_market import Resource
from .simulation import ProviderSimulation, SimulationRule
from .web import ApiError, Request, Response, Router, bad_request, forbidden, not_found

RESOURCE_STATES = ("Creating", "OK", "Erred", "Updating", "Terminating", "Terminated")


def _staff(request: Request) -> None:
    if not caller(request).is_staff:
        raise forbidden()


def _rule_error(exc: Exception) -> ApiError:
    return ApiError(400, {"non_field_errors": [str(exc)]})


class AdminApi:
    """Handlers for the emulator's own admin routes (fault rules, provider simulation, direct set-up)."""

    def __init__(self, core: Core, faults: FaultInjector, simulation: ProviderSimulation) -> None:
        self.core = core
        self.state = core.state
        self.faults = faults
        self.simulation = simulation

    # faults -------------------------------------------------------------------------------------------------

    def list_faults(self, request: Request) -> Response:
        _staff(request)
        return Response(200, {"rules": [r.to_json() for r in self.faults.rules], "injected": self.faults.injected})

    def add_fault(self, request: Request) -> Response:
        _staff(request)
        try:
            rule = FaultRule.from_json(request.json())
        except (TypeError, ValueError) as exc:
            raise _rule_error(exc) from exc
        self.faults.add(rule)
        return Response(201, rule.to_json())

    def clear_faults(self, request: Request) -> Response:
        _staff(request)
        self.faults.clear()
        return Response(204)

    def seed_faults(self, request: Request) -> Response:
        _staff(request)
        seed = request.json().get("seed")
        if not isinstance(seed, int):
            raise bad_request("seed", "An integer is required.")
        self.faults.reseed(seed)
        return Response(200, {"seed": seed})

    # provider simulation ------------------------------------------------------------------------------------

    def _offering_key(self, request: Request) -> str:
        _staff(request)
        return self.core.get(self.state.offerings, request.params["uuid"]).uuid

    def simulation_get(self, request: Request) -> Response:
        rule = self.simulation.rules.get(self._offering_key(request))
        if rule is None:
            raise not_found()
        return Response(200, rule.to_json())

    def simulation_set(self, request: Request) -> Response:
        key = self._offering_key(request)
        try:
            rule = SimulationRule.from_json(request.json())
        except (TypeError, ValueError) as exc:
            raise _rule_error(exc) from exc
        self.core.defer(lambda: self.simulation.configure(key, rule))
        return Response(200, rule.to_json())

    def simulation_delete(self, request: Request) -> Response:
        key = self._offering_key(request)
        self.core.defer(lambda: self.simulation.configure(key, None))
        return Response(204)

    def simulation_tick(self, request: Request) -> Response:
        _staff(request)
        self.core.defer(self._tick)
        return Response(200, {"status": "scheduled"})

    def _tick(self) -> None:
        self.simulation.tick()

    # direct set-up --------------------------------------------------------------------------------------------

    def create_resource(self, request: Request) -> Response:
        _staff(request)
        state = self.state
        body: dict[str, Any] = request.json()
        offering = self.core.ref(body, "offering", state.offerings)
        project = self.core.ref(body, "project", state.projects)
        plan = self.core.ref(body, "plan", state.plans, required=False)
        assert offering is not None
        assert project is not None
        resource_state = body.get("state", "OK")
        if resource_state not in RESOURCE_STATES:
            raise bad_request("state", f'"{resource_state}" is not a valid choice.')
        name, limits, backend_id = text(body, "name"), limits_of(body), text(body, "backend_id")
        attributes = body.get("attributes") or {}
        if not isinstance(attributes, dict):
            raise bad_request("attributes", "Expected a dictionary.")
        now = self.core.now()
        resource = Resource(
            uuid=self.core.new_uuid(),
            name=name,
            offering_uuid=offering.uuid,
            project_uuid=project.uuid,
            plan_uuid=plan.uuid if plan else None,
            created=now,
            modified=now,
            state=resource_state,
            limits=limits,
            backend_id=backend_id,
            attributes=dict(attributes),
            slug=slugify(name, "resource"),
        )
        state.add(resource)
        if body.get("sync_offering_users", False):
            for assignment in state.roles_in(project.uuid):
                effects.ensure_offering_users(self.core, assignment.user_uuid, project.uuid)
        return Response(201, render_market.resource(state, request.base_url, resource))

    def sync_offering_users(self, request: Request) -> Response:
        _staff(request)
        project = self.core.get(self.state.projects, request.params["uuid"])
        created = []
        for assignment in self.state.roles_in(project.uuid):
            created += effects.ensure_offering_users(self.core, assignment.user_uuid, project.uuid)
        return Response(200, {"created": [r.uuid for r in created]})

    def add_cuid(self, request: Request) -> Response:
        _staff(request)
        body = request.json()
        cuid = text(body, "cuid")
        if not cuid:
            raise bad_request("cuid", "This field is required.")
        attributes = body.get("attributes") or {}
        if not isinstance(attributes, dict):
            raise bad_request("attributes", "Expected a dictionary.")
        self.state.learn_cuid(cuid, dict(attributes))
        return Response(201, {"cuid": cuid})

    def register(self, router: Router) -> None:
        """Wire every admin route."""
        e = "/api/emulator/"
        router.add("GET", e + "faults/", self.list_faults)
        router.add("POST", e + "faults/", self.add_fault)
        router.add("DELETE", e + "faults/", self.clear_faults)
        router.add("POST", e + "faults/seed/", self.seed_faults)
        router.add("GET", e + "offerings/{uuid}/provider-simulation/", self.simulation_get)
        router.add("PUT", e + "offerings/{uuid}/provider-simulation/", self.simulation_set)
        router.add("POST", e + "offerings/{uuid}/provider-simulation/", self.simulation_set)
        router.add("DELETE", e + "offerings/{uuid}/provider-simulation/", self.simulation_delete)
        router.add("POST", e + "provider-simulation/tick/", self.simulation_tick)
        router.add("POST", e + "resources/", self.create_resource)
        router.add("POST", e + "projects/{uuid}/sync-offering-users/", self.sync_offering_users)
        router.add("POST", e + "known-cuids/", self.add_cuid)
