"""What a service provider sees of its consumers: the projects and SSH keys of service-provider customers, an
offering's project service accounts, course accounts and user attribute configuration; and ``/api/version/``.

Service accounts, course accounts and SSH keys are not modelled, so those lists are empty (paginated like every
other list). The attribute configuration is the default Waldur applies when an offering has none of its own.
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from . import perms, render
from .core import Core, caller, normalize
from .records import ServiceProvider
from .records_market import Offering
from .web import Request, Response, Router, forbidden, order_items, paginate, retrieve

VERSION = "8.0.5"
EXPOSABLE_ATTRIBUTES = (
    "username",
    "full_name",
    "email",
    "phone_number",
    "organization",
    "job_title",
    "affiliations",
    "gender",
    "personal_title",
    "place_of_birth",
    "country_of_residence",
    "nationality",
    "nationalities",
    "organization_country",
    "organization_type",
    "organization_registry_code",
    "eduperson_assurance",
    "civil_number",
    "birth_date",
    "identity_source",
    "active_isds",
)
DEFAULT_EXPOSED = ("username", "full_name", "email")


class ProviderApi:
    """Handlers for the service-provider sub-lists, the provider offering account lists and ``version``."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.state = core.state

    def _visible_offering(self, request: Request) -> Offering:
        """The path's provider offering, 404 unless the caller sees it from the provider side (as listings do)."""
        viewer = caller(request)
        return self.core.get(
            self.state.offerings, request.params["uuid"], lambda o: perms.can_see_offering(self.state, viewer, o)
        )

    # service providers ------------------------------------------------------------------------------------

    def _provider(self, request: Request) -> ServiceProvider:
        """The path's service provider (404 when unknown); 403 unless the caller may list its consumers."""
        record = self.core.get(self.state.service_providers, request.params["service_provider_uuid"])
        user = caller(request)
        roles = perms.roles_in_scope(self.state, user, record.customer_uuid)
        if not (perms.sees_everything(user) or roles & {perms.CUSTOMER_OWNER, perms.CUSTOMER_MANAGER}):
            raise forbidden()
        return record

    def provider_projects(self, request: Request) -> Response:
        """Projects with a live resource of one of the provider's shared offerings."""
        provider = self._provider(request)
        state = self.state
        offerings = [o for o in state.offerings.values() if o.customer_uuid == provider.customer_uuid and o.shared]
        used = {
            state.resources[r].project_uuid
            for o in offerings
            for r in state.resources_by_offering.get(o.uuid)
            if state.resources[r].state != "Terminated"
        }
        items = [p for p in state.projects.values() if p.uuid in used and not p.is_removed]
        q = request.query
        if (v := q.one("name")) is not None:
            items = [p for p in items if v.lower() in p.name.lower()]
        if (v := q.one("name_exact")) is not None:
            items = [p for p in items if p.name == v]
        if (v := q.one("backend_id")) is not None:
            items = [p for p in items if p.backend_id == v]
        if customers := q.comma("customer"):
            keys = {normalize(c) for c in customers}
            items = [p for p in items if p.customer_uuid in keys]
        items = order_items(request, items, {"name": lambda p: p.name, "created": lambda p: p.created})
        base = request.base_url
        return paginate(request, items, lambda p: render.project(state, base, p))

    def provider_keys(self, request: Request) -> Response:
        """SSH keys of the provider's consumers: none are modelled."""
        self._provider(request)
        return paginate(request, [], lambda _: {})

    # provider offerings -----------------------------------------------------------------------------------

    def project_service_accounts(self, request: Request) -> Response:
        self._visible_offering(request)
        return paginate(request, [], lambda _: {})

    def course_accounts(self, request: Request) -> Response:
        self._visible_offering(request)
        return paginate(request, [], lambda _: {})

    def user_attribute_config(self, request: Request) -> Response:
        """The default configuration (``is_default``): username, full name and e-mail are exposed."""
        offering = self._visible_offering(request)
        created = render.iso(offering.created)
        out: dict[str, Any] = {
            "uuid": uuidlib.uuid5(uuidlib.UUID(offering.uuid), "user-attribute-config").hex,
            "created": created,
            "modified": created,
            "offering_uuid": offering.uuid,
            "offering_name": offering.name,
        }
        out.update({f"expose_{name}": name in DEFAULT_EXPOSED for name in EXPOSABLE_ATTRIBUTES})
        out.update(exposed_fields=list(DEFAULT_EXPOSED), is_default=True)
        return retrieve(request, out)

    # version ----------------------------------------------------------------------------------------------

    def version(self, request: Request) -> Response:
        """Staff or support only in 8.0.5 (API.md section 3.14)."""
        if not perms.sees_everything(caller(request)):
            raise forbidden()
        return retrieve(request, {"version": VERSION})

    def register(self, router: Router) -> None:
        """Wire every route of this module."""
        sp = "/api/marketplace-service-providers/{service_provider_uuid}/"
        router.add("GET", sp + "projects/", self.provider_projects)
        router.add("GET", sp + "keys/", self.provider_keys)
        po = "/api/marketplace-provider-offerings/{uuid}/"
        router.add("GET", po + "list_project_service_accounts/", self.project_service_accounts)
        router.add("GET", po + "list_course_accounts/", self.course_accounts)
        router.add("GET", po + "user-attribute-config/", self.user_attribute_config)
        router.add("GET", "/api/version/", self.version)
