"""The emulator's own admin API under ``/api/emulator/`` (staff only; never fault-injected).

- ``GET|POST|DELETE /api/emulator/faults/``: list, add (a FaultRule as JSON), clear fault rules;
  ``POST /api/emulator/faults/seed/`` ``{"seed": n}`` restarts the random sequence.
- ``GET|PUT|POST|DELETE /api/emulator/offerings/{uuid}/provider-simulation/``: the offering's SimulationRule;
  ``POST /api/emulator/provider-simulation/tick/`` applies due steps at once.
- ``POST /api/emulator/resources/``: create a resource directly (what Waldur's tests do through the Django ORM).
- ``POST /api/emulator/known-cuids/`` ``{"cuid": ..., "attributes": {...}}``: teach remote-eduteams a CUID.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import effects, render_market
from .core import Core, caller, limits_of, slugify, text
from .faults import FaultInjector, FaultRule
from .simulation import ProviderSimulation, SimulationRule
from .store import Resource
from .web import ApiError, Request, Response, Router, bad_request, forbidden, not_found

RESOURCE_STATES = ("Creating", "OK", "Erred", "Updating", "Terminating", "Terminated")


def _staff(request: Request) -> None:
    if not caller(request).is_staff:
        raise forbidden()


def _rule_error(exc: Exception) -> ApiError:
    return ApiError(400, {"non_field_errors": [str(exc)]})


def _ticker(simulation: ProviderSimulation) -> Callable[[], None]:
    def tick() -> None:
        simulation.tick()

    return tick


def register(router: Router, core: Core, faults: FaultInjector, simulation: ProviderSimulation) -> None:  # noqa: PLR0915
    """Wire the admin routes."""
    state = core.state

    def list_faults(request: Request) -> Response:
        _staff(request)
        return Response(200, {"rules": [r.to_json() for r in faults.rules], "injected": faults.injected})

    def add_fault(request: Request) -> Response:
        _staff(request)
        try:
            rule = FaultRule.from_json(request.json())
        except (TypeError, ValueError) as exc:
            raise _rule_error(exc) from exc
        faults.add(rule)
        return Response(201, rule.to_json())

    def clear_faults(request: Request) -> Response:
        _staff(request)
        faults.clear()
        return Response(204)

    def seed_faults(request: Request) -> Response:
        _staff(request)
        seed = request.json().get("seed")
        if not isinstance(seed, int):
            raise bad_request("seed", "An integer is required.")
        faults.reseed(seed)
        return Response(200, {"seed": seed})

    def simulation_get(request: Request) -> Response:
        _staff(request)
        key = core.get(state.offerings, request.params["uuid"]).uuid
        rule = simulation.rules.get(key)
        if rule is None:
            raise not_found()
        return Response(200, rule.to_json())

    def simulation_set(request: Request) -> Response:
        _staff(request)
        key = core.get(state.offerings, request.params["uuid"]).uuid
        try:
            rule = SimulationRule.from_json(request.json())
        except (TypeError, ValueError) as exc:
            raise _rule_error(exc) from exc
        core.defer(lambda: simulation.configure(key, rule))
        return Response(200, rule.to_json())

    def simulation_delete(request: Request) -> Response:
        _staff(request)
        key = core.get(state.offerings, request.params["uuid"]).uuid
        core.defer(lambda: simulation.configure(key, None))
        return Response(204)

    def simulation_tick(request: Request) -> Response:
        _staff(request)
        core.defer(_ticker(simulation))
        return Response(200, {"status": "scheduled"})

    def create_resource(request: Request) -> Response:
        _staff(request)
        body: dict[str, Any] = request.json()
        offering = core.ref(body, "offering", state.offerings)
        project = core.ref(body, "project", state.projects)
        plan = core.ref(body, "plan", state.plans, required=False)
        assert offering is not None
        assert project is not None
        resource_state = body.get("state", "OK")
        if resource_state not in RESOURCE_STATES:
            raise bad_request("state", f'"{resource_state}" is not a valid choice.')
        now = core.now()
        resource = Resource(
            uuid=core.new_uuid(),
            name=text(body, "name"),
            offering_uuid=offering.uuid,
            project_uuid=project.uuid,
            plan_uuid=plan.uuid if plan else None,
            created=now,
            modified=now,
            state=resource_state,
            limits=limits_of(body),
            backend_id=text(body, "backend_id"),
        )
        attributes = body.get("attributes") or {}
        if not isinstance(attributes, dict):
            raise bad_request("attributes", "Expected a dictionary.")
        resource.attributes = dict(attributes)
        resource.slug = slugify(resource.name, "resource")
        state.add_resource(resource)
        if body.get("sync_offering_users", False):
            for assignment in state.roles_in(project.uuid):
                effects.ensure_offering_users(core, assignment.user_uuid, project.uuid)
        return Response(201, render_market.resource(state, request.base_url, resource))

    def sync_offering_users(request: Request) -> Response:
        _staff(request)
        project = core.get(state.projects, request.params["uuid"])
        created = []
        for assignment in state.roles_in(project.uuid):
            created += effects.ensure_offering_users(core, assignment.user_uuid, project.uuid)
        return Response(200, {"created": [r.uuid for r in created]})

    def add_cuid(request: Request) -> Response:
        _staff(request)
        body = request.json()
        cuid = text(body, "cuid")
        if not cuid:
            raise bad_request("cuid", "This field is required.")
        attributes = body.get("attributes") or {}
        if not isinstance(attributes, dict):
            raise bad_request("attributes", "Expected a dictionary.")
        state.known_cuids[cuid] = dict(attributes)
        return Response(201, {"cuid": cuid})

    e = "/api/emulator/"
    router.add("GET", e + "faults/", list_faults)
    router.add("POST", e + "faults/", add_fault)
    router.add("DELETE", e + "faults/", clear_faults)
    router.add("POST", e + "faults/seed/", seed_faults)
    router.add("GET", e + "offerings/{uuid}/provider-simulation/", simulation_get)
    router.add("PUT", e + "offerings/{uuid}/provider-simulation/", simulation_set)
    router.add("POST", e + "offerings/{uuid}/provider-simulation/", simulation_set)
    router.add("DELETE", e + "offerings/{uuid}/provider-simulation/", simulation_delete)
    router.add("POST", e + "provider-simulation/tick/", simulation_tick)
    router.add("POST", e + "resources/", create_resource)
    router.add("POST", e + "projects/{uuid}/sync-offering-users/", sync_offering_users)
    router.add("POST", e + "known-cuids/", add_cuid)
