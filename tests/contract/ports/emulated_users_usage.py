"""The user and usage contract worlds over two emulated Waldurs, bound to fedcore's REST adapter.

Both sides act with the agents' tokens, as fedcore's configuration does: on A the OFFERING.MANAGER of A's
offering, on B the owner of fedcore's B organisation who is an identity manager of the managed sources. What the
worlds arrange behind the ports' back they do with each side's staff token, as operators and users would:

- Users are made by the identity bridge (a username, an optional email), so a user without an email exists too;
  on B they come from the first managed source, so fedcore's token sees their offering users (Waldur's ISD rule).
- The emulator, like Waldur, shows a non-staff token only the users who share a customer or project with it:
  B users are given a role in a "directory" project of fedcore's B organisation, so ``users/`` lists them.
- A's agent reads a project's team as the offering's provider (``marketplace-provider-resources/{uuid}/team/``),
  so every A project the world makes holds a resource of the offering, as the projects fedcore serves do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from adapters.waldur import SourceUsage, SourceUsers, TargetMarketplace, TargetUsage, TargetUsers
from adapters.waldur.wire_usage import amount
from contract.ports.emulated import Federated, Staff, federate
from fedcore.enums import OfferingUserState
from fedcore.ids import Uuid, normalize_uuid
from fedcore.model import OfferingUser, UserIdentity, UserUsage

S = OfferingUserState
_FROM_REQUESTED: dict[OfferingUserState, tuple[str, ...]] = {
    S.REQUESTED: (),
    S.CREATING: ("begin_creating",),
    S.OK: ("set_ok",),
    S.PENDING_ACCOUNT_LINKING: ("begin_creating", "set_pending_account_linking"),
    S.PENDING_ADDITIONAL_VALIDATION: ("begin_creating", "set_pending_additional_validation"),
    S.ERROR_CREATING: ("set_error_creating",),
    S.REQUESTED_DELETION: ("set_ok", "request_deletion"),
    S.DELETING: ("set_ok", "request_deletion", "set_deleting"),
    S.DELETED: ("set_ok", "request_deletion", "set_deleting", "set_deleted"),
    S.ERROR_DELETING: ("set_ok", "request_deletion", "set_error_deleting"),
}
"""The offering-user actions that take a new (Requested) record to each state."""
A_SOURCE = "isd:world-a"
"""The identity source A's users come from (nothing on A depends on it)."""


def _project(staff: Staff, customer_uuid: str, name: str) -> Uuid:
    body = {"name": name, "customer": staff.url(f"customers/{customer_uuid}/")}
    return normalize_uuid(staff.call("POST", "/api/projects/", body, expect=201)["uuid"])


def _grant(staff: Staff, scope: str, scope_uuid: str, user_uuid: str, role: str) -> None:
    staff.call("POST", f"/api/{scope}/{scope_uuid}/add_user/", {"role": role, "user": user_uuid}, expect=201)


class EmulatorUsersWorld:
    """:class:`~contract.ports.test_users_contract.UsersWorld` over the emulators (``socket``: over TCP)."""

    def __init__(self, managed: Sequence[str], *, socket: bool = False) -> None:
        self.fed: Federated = federate(components=("cpu", "ram"), socket=socket, isd_source=managed[0])
        self.managed = tuple(managed)
        fed, b = self.fed.federation, self.fed.staff["B"]
        b.call("PATCH", f"/api/users/{fed.b.agent_uuid}/", {"managed_isds": list(managed)})
        self._directory = _project(b, fed.b_customer_uuid, "Directory")
        self.source = SourceUsers(self.fed.http["A"], self.fed.offering("A"))
        self.target = TargetUsers(self.fed.http["B"], self.fed.offering("B"))
        b_customer = normalize_uuid(fed.b_customer_uuid)
        self.members = TargetMarketplace(self.fed.http["B"], self.fed.offering("B"), b_customer)

    def close(self) -> None:
        """Release the emulators; fail on schema problems in the adapter's traffic."""
        self.fed.close()

    def add_user(self, side: str, username: str, email: str = "") -> UserIdentity:
        """A user pushed in by the identity bridge; on B also visible to fedcore's token."""
        staff = self.fed.staff[side]
        body = {"username": username, "source": self.managed[0] if side == "B" else A_SOURCE}
        if email:
            body["email"] = email
        uuid = staff.call("POST", "/api/identity-bridge/", body)["uuid"]
        if side == "B":
            _grant(staff, "projects", self._directory, uuid, "PROJECT.MEMBER")
        return UserIdentity(uuid=uuid, username=username, email=email)

    def add_offering_user(
        self, side: str, user: UserIdentity, state: OfferingUserState, username: str | None = None,
        *, restricted: bool = False,
    ) -> OfferingUser:  # fmt: skip
        """An offering user made by staff, then taken to ``state`` through Waldur's own actions."""
        staff, offering = self.fed.staff[side], self.fed.offering(side)
        path = "/api/marketplace-offering-users/"
        record = staff.call("POST", path, {"user_uuid": user.uuid, "offering_uuid": offering}, expect=201)
        for action in _FROM_REQUESTED[state]:
            staff.call("POST", f"{path}{record['uuid']}/{action}/")
        if username is not None:
            assert state is S.OK, "Waldur moves a record to OK when its username is set"
            staff.call("PATCH", f"{path}{record['uuid']}/", {"username": username})
        if restricted:
            staff.call("POST", f"{path}{record['uuid']}/update_restricted/", {"is_restricted": True})
        return OfferingUser(record["uuid"], user.uuid, user.username, offering, state, username, restricted, user.email)

    def add_project(self, side: str) -> Uuid:
        """An empty project: on A in the consumer organisation, on B in fedcore's organisation."""
        fed = self.fed.federation
        customer = fed.consumer_customer_uuid if side == "A" else fed.b_customer_uuid
        project = _project(self.fed.staff[side], customer, "Team")
        if side == "A":  # fedcore serves projects holding the offering's resources: their team is the provider's
            body = {"offering": self.fed.offering("A"), "project": project, "name": "res"}
            self.fed.staff["A"].call("POST", "/api/emulator/resources/", body, expect=201)
        return project

    def grant(self, side: str, project: Uuid, user: UserIdentity, role: str) -> None:
        """``add_user`` by staff."""
        _grant(self.fed.staff[side], "projects", project, user.uuid, role)

    def eduteams_knows(self, cuid: str, email: str) -> None:
        """Teach B's remote eduTEAMS the CUID (the emulator's admin API)."""
        body = {"cuid": cuid, "attributes": {"email": email}}
        self.fed.staff["B"].call("POST", "/api/emulator/known-cuids/", body, expect=201)

    def b_profile(self, username: str) -> UserIdentity | None:
        """The B user with exactly this username, as B's staff sees it."""
        found = self.fed.staff["B"].call("GET", "/api/users/", params={"username": username})
        exact = [u for u in found if u["username"] == username]
        if not exact:
            return None
        user = exact[0]
        return UserIdentity(uuid=user["uuid"], username=username, email=user.get("email") or "",
                            first_name=user.get("first_name") or "", last_name=user.get("last_name") or "")

    def unknown_uuid(self) -> Uuid:
        """A UUID the emulators never hand out (theirs are random)."""
        return Uuid("f" * 32)


class EmulatorUsageWorld:
    """:class:`~contract.ports.test_usage_contract.UsageWorld` over the emulators (``socket``: over TCP)."""

    def __init__(self, *, socket: bool = False) -> None:
        self.fed: Federated = federate(components=("cpu", "ram"), socket=socket)
        fed = self.fed.federation
        self._projects = {"A": fed.consumer_project_uuid,
                          "B": _project(self.fed.staff["B"], fed.b_customer_uuid, "Federated")}
        self.source = SourceUsage(self.fed.http["A"])
        self.target = TargetUsage(self.fed.http["B"])

    def close(self) -> None:
        """Release the emulators; fail on schema problems in the adapter's traffic."""
        self.fed.close()

    def add_resource(self, side: str) -> Uuid:
        """An OK resource of that side's offering (the emulator's admin API: Waldur's tests use the ORM)."""
        body = {"offering": self.fed.offering(side), "project": self._projects[side], "name": "res"}
        return normalize_uuid(self.fed.staff[side].call("POST", "/api/emulator/resources/", body, expect=201)["uuid"])

    def report(
        self,
        side: str,
        resource: Uuid,
        period: dt.date,
        totals: Mapping[str, Decimal],
        per_user: Iterable[UserUsage] = (),
    ) -> None:
        """Staff reports as the provider: ``set_usage`` in the period, then ``set_user_usages`` per component."""
        staff = self.fed.staff[side]
        moment = dt.datetime.combine(period.replace(day=1), dt.time(12), tzinfo=dt.UTC).isoformat()
        usages = [{"type": c, "amount": amount(v)} for c, v in totals.items()]
        staff.call("POST", "/api/marketplace-component-usages/set_usage/",
                   {"resource": resource, "date": moment, "usages": usages}, expect=201)
        rows = staff.call("GET", "/api/marketplace-component-usages/",
                          params={"resource_uuid": resource, "billing_period": period.replace(day=1).isoformat()})
        parents = {row["type"]: row["uuid"] for row in rows}
        by_component: dict[str, list[dict[str, str]]] = {}
        for row in per_user:
            by_component.setdefault(row.component, []).append({"username": row.username, "usage": amount(row.amount)})
        for component, items in by_component.items():
            staff.call("POST", f"/api/marketplace-component-usages/{parents[component]}/set_user_usages/",
                       {"usages": items}, expect=201)

    def unknown_uuid(self) -> Uuid:
        """A UUID the emulators never hand out."""
        return Uuid("f" * 32)
