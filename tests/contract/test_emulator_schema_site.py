"""Operations an unmodified Waldur client (the site agent with its Waldur plugin) calls and the emulator used to
answer with 404: site-agent services and processors, per-user usage limits, the service provider's consumer
lists, the provider offering's account lists and user attribute configuration, and ``/api/version/``.

Each write operation has a driver (success and error paths) like the other schema suites; the reads are also
driven generically by ``test_emulator_schema_reads.py`` (pages, HEAD counts, retrieves, ``field=``). Every
exchange passes the schema-validating transport.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from contract.conftest import EmulatorWorld

pytestmark = pytest.mark.contract

Driver = Callable[[EmulatorWorld], None]
DRIVERS: dict[str, Driver] = {}
UNKNOWN = "0123456789abcdef0123456789abcdef"
IDENTITIES = "/marketplace-site-agent-identities/"
SERVICES = "/marketplace-site-agent-services/"
PROCESSORS = "/marketplace-site-agent-processors/"


def drives(operation_id: str) -> Callable[[Driver], Driver]:
    """Register a function as the driver of an operation."""

    def register(driver: Driver) -> Driver:
        DRIVERS[operation_id] = driver
        return driver

    return register


def ensure_agent_objects(w: EmulatorWorld) -> None:
    """Give the world a registered service (``service``) with one processor (``processor``), as the agent does."""
    if "service" not in w.objects:
        w.objects["service"] = w.call("POST", f"{IDENTITIES}{w.uuid('identity')}/register_service/", expect=201,
                                      body={"name": "order_processing", "mode": "pull"})
    if "processor" not in w.objects:
        w.objects["processor"] = w.call("POST", f"{SERVICES}{w.uuid('service')}/register_processor/", expect=201,
                                        body={"name": "slurm", "backend_type": "SLURM", "backend_version": "23.02"})


# --- writes ----------------------------------------------------------------------------------------------------


@drives("marketplace_site_agent_services_register_processor")
def _register_processor(w: EmulatorWorld) -> None:
    ensure_agent_objects(w)
    path = f"{SERVICES}{w.uuid('service')}/register_processor/"
    again = w.call("POST", path, expect=200, body={"name": "slurm", "backend_type": "SLURM", "backend_version": "24"})
    assert (again["uuid"], again["backend_version"]) == (w.uuid("processor"), "24")
    other = w.call("POST", path, expect=201, body={"name": "membership", "backend_type": "SLURM"})
    assert other["service"] == w.uuid("service")
    assert other["last_run"] is not None
    w.call("POST", path, expect=400, invalid=True, body={"name": "no-backend-type"})
    w.call("POST", path, expect=(403, 404), body={"name": "x", "backend_type": "SLURM"}, as_user="alice")
    w.call("POST", f"{SERVICES}{UNKNOWN}/register_processor/", expect=404, body={"name": "x", "backend_type": "y"})


@drives("marketplace_site_agent_services_set_statistics")
def _set_statistics(w: EmulatorWorld) -> None:
    ensure_agent_objects(w)
    path = f"{SERVICES}{w.uuid('service')}/set_statistics/"
    service = w.call("POST", path, expect=200, body={"statistics": {"orders": 3, "last": "2026-01-01"}})
    assert service["statistics"] == {"orders": 3, "last": "2026-01-01"}
    assert [p["uuid"] for p in service["processors"]] == [w.uuid("processor")]
    w.call("POST", path, expect=400, invalid=True, body={})
    w.call("POST", path, expect=(403, 404), body={"statistics": {}}, as_user="alice")
    w.call("POST", f"{SERVICES}{UNKNOWN}/set_statistics/", expect=404, body={"statistics": {}})


@pytest.mark.parametrize("operation_id", sorted(DRIVERS))
def test_operation_traffic_conforms(emulator_world: EmulatorWorld, operation_id: str) -> None:
    DRIVERS[operation_id](emulator_world)
    assert emulator_world.transport.calls[operation_id] > 0, f"the driver never called {operation_id}"
    emulator_world.transport.assert_clean()


# --- the agent's cycle -----------------------------------------------------------------------------------------


def test_agent_registration_cycle_is_served(emulator_world: EmulatorWorld) -> None:
    """What each cycle of the site agent does before processing: register service and processor, report."""
    w = emulator_world
    ensure_agent_objects(w)
    for _ in range(2):  # a second cycle finds both again
        service = w.call("POST", f"{IDENTITIES}{w.uuid('identity')}/register_service/", expect=200,
                         body={"name": "order_processing", "mode": "pull"})
        processor = w.call("POST", f"{SERVICES}{service['uuid']}/register_processor/", expect=200,
                           body={"name": "slurm", "backend_type": "SLURM", "backend_version": "23.02"})
        w.call("POST", f"{SERVICES}{service['uuid']}/set_statistics/", expect=200, body={"statistics": {"ok": 1}})
        assert processor["uuid"] == w.uuid("processor")
    listed = w.call("GET", SERVICES, expect=200, params={"identity_uuid": w.uuid("identity")})
    assert [s["uuid"] for s in listed] == [w.uuid("service")]
    assert listed[0]["processors"][0]["name"] == "slurm"
    assert w.call("GET", PROCESSORS, expect=200, params={"service_uuid": UNKNOWN}) == []
    identity = w.call("GET", f"{IDENTITIES}{w.uuid('identity')}/", expect=200)
    assert [s["uuid"] for s in identity["services"]] == [w.uuid("service")]
    w.user("stranger")
    assert w.call("GET", SERVICES, expect=200, as_user="stranger") == []
    w.call("GET", f"{PROCESSORS}{w.uuid('processor')}/", expect=404, as_user="stranger")
    w.call("DELETE", f"{IDENTITIES}{w.uuid('identity')}/", expect=204)
    assert w.call("GET", PROCESSORS, expect=200) == []
    w.transport.assert_clean()


# --- reads that answered 404 -----------------------------------------------------------------------------------


def _listed(w: EmulatorWorld, path: str, **kwargs: Any) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = w.call("GET", path, expect=200, **kwargs)
    return body


def test_component_user_usage_limits_list_is_empty_not_404(emulator_world: EmulatorWorld) -> None:
    w = emulator_world
    assert _listed(w, "/component-user-usage-limits/", params={"resource_uuid": w.uuid("resource")}) == []
    assert _listed(w, "/component-user-usage-limits/", as_user="alice") == []
    w.call("GET", "/component-user-usage-limits/", expect=401, as_user="anonymous")
    w.transport.assert_clean()


def test_version_is_staff_or_support_only(emulator_world: EmulatorWorld) -> None:
    w = emulator_world
    assert w.call("GET", "/version/", expect=200) == {"version": "8.0.5"}
    w.call("GET", "/version/", expect=403, as_user="manager")
    w.user("helpdesk", is_support=True)
    assert w.call("GET", "/version/", expect=200, as_user="helpdesk")["version"] == "8.0.5"
    w.transport.assert_clean()


def test_service_provider_projects_and_keys(emulator_world: EmulatorWorld) -> None:
    w = emulator_world
    sp = f"/marketplace-service-providers/{w.uuid('provider')}/"
    assert [p["uuid"] for p in _listed(w, sp + "projects/")] == [w.uuid("project")]
    assert _listed(w, sp + "projects/", params={"name_exact": "elsewhere"}) == []
    assert _listed(w, sp + "keys/") == []
    for path in ("projects/", "keys/"):
        w.call("GET", sp + path, expect=403, as_user="alice")
        w.call("GET", f"/marketplace-service-providers/{UNKNOWN}/{path}", expect=404)
    w.call("POST", f"/marketplace-resources/{w.uuid('resource')}/terminate/", expect=200)
    terminate = w.call("GET", "/marketplace-orders/", expect=200, params={"type": "Terminate"})[0]
    w.call("POST", f"/marketplace-orders/{terminate['uuid']}/approve_by_provider/", expect=200)
    w.call("POST", f"/marketplace-orders/{terminate['uuid']}/set_state_done/", expect=200)
    assert _listed(w, sp + "projects/") == []  # only projects with a live resource of the provider
    w.transport.assert_clean()


def test_provider_offering_account_lists_and_attribute_config(emulator_world: EmulatorWorld) -> None:
    w = emulator_world
    po = f"/marketplace-provider-offerings/{w.uuid('offering')}/"
    for action in ("list_project_service_accounts/", "list_course_accounts/"):
        assert _listed(w, po + action, as_user="manager") == []
        w.call("GET", f"/marketplace-provider-offerings/{UNKNOWN}/{action}", expect=404)
    config = w.call("GET", po + "user-attribute-config/", expect=200, as_user="manager")
    assert (config["offering_uuid"], config["is_default"]) == (w.uuid("offering"), True)
    assert config["exposed_fields"] == ["username", "full_name", "email"]
    assert (config["expose_email"], config["expose_civil_number"]) == (True, False)
    assert w.call("GET", po + "user-attribute-config/", expect=200)["uuid"] == config["uuid"]  # stable
    w.call("GET", f"/marketplace-provider-offerings/{UNKNOWN}/user-attribute-config/", expect=404)
    w.transport.assert_clean()
