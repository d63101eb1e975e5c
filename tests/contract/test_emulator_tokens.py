"""Token rotation on the emulator (``POST users/{uuid}/refresh_token/``): the new token works, the old one is
refused, the answer honours Waldur's schema, and only staff or the user may rotate it."""

from __future__ import annotations

import httpx
import pytest

from contract.openapi_check import SchemaChecker, ValidatingTransport
from waldur_emulator import Emulator
from waldur_emulator.seeding import Seeder

pytestmark = pytest.mark.contract

STAFF = "staff-token-rotation"


def test_a_refreshed_token_replaces_the_old_one(schema_checker: SchemaChecker) -> None:
    emulator = Emulator(staff_token=STAFF, seed=5)
    transport = ValidatingTransport(emulator.transport(), schema_checker)
    headers = {"Authorization": f"Token {STAFF}"}
    with httpx.Client(transport=transport, base_url="http://waldur.test", headers=headers) as staff:
        seed = Seeder(staff, staff)
        ann, old = seed.user("ann")
        _bob, bob_token = seed.user("bob")
        as_bob = {"Authorization": f"Token {bob_token}"}
        assert staff.post(f"/api/users/{ann.uuid}/refresh_token/", headers=as_bob).status_code in (403, 404)

        answer = staff.post(f"/api/users/{ann.uuid}/refresh_token/", headers={"Authorization": f"Token {old}"})

        assert answer.status_code == 200
        new = answer.json()["token"]
        assert new != old
        assert answer.json()["user_username"] == "ann"
        assert staff.get("/api/users/me/", headers={"Authorization": f"Token {old}"}).status_code == 401
        assert staff.get("/api/users/me/", headers={"Authorization": f"Token {new}"}).json()["username"] == "ann"
        assert staff.post(f"/api/users/{ann.uuid}/refresh_token/").status_code == 200  # staff may, too
