"""From the file to the domain: each configuration key lands in the right FederationSettings field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.config import OfferingConfig, federation_settings, parse_config
from fedcore.enums import (
    EndDateSyncDirection,
    LimitSyncDirection,
    UserMatchField,
    UserNotFoundAction,
    UserResolveMethod,
)
from fedcore.matching import DEFAULT_BRIDGE_ATTRIBUTES, MatchSettings
from fedcore.memberships import RoleMap
from fedcore.model import ComponentMapping
from fedcore.settings import FederationSettings

pytestmark = pytest.mark.unit

A_OFFERING = "11111111-2222-4333-8444-555555555555"
B_OFFERING = "66666666-7777-4888-9999-aaaaaaaaaaaa"
B_CUSTOMER = "BBBBBBBB-CCCC-4DDD-8EEE-FFFFFFFFFFFF"
ROLES = ("PROJECT.ADMIN", "PROJECT.MANAGER", "PROJECT.MEMBER", "CUSTOM.ROLE")


def offering(components: dict[str, Any] | None = None, **backend_settings: Any) -> OfferingConfig:
    """One loaded offering with the required keys plus ``backend_components`` and ``backend_settings``."""
    data = {
        "offerings": [
            {
                "name": "hpc",
                "waldur_api_url": "https://a.example.com/api/",
                "waldur_api_token": "a-token",
                "waldur_offering_uuid": A_OFFERING,
                "backend_type": "waldur",
                "backend_settings": {
                    "target_api_url": "https://b.example.com/api/",
                    "target_api_token": "b-token",
                    "target_offering_uuid": B_OFFERING,
                    "target_customer_uuid": B_CUSTOMER,
                    **backend_settings,
                },
                "backend_components": components or {},
            }
        ]
    }
    return parse_config(data).offerings[0]


def test_every_key_lands_in_its_field() -> None:
    node_hours = {
        "measured_unit": "h",
        "accounting_type": "limit",
        "label": "Node hours",
        "target_components": {"cpu_k_hours": {"factor": "0.5"}, "gpu_hours": {"factor": 2}},
    }
    storage = {"measured_unit": "GB", "accounting_type": "limit", "label": "Storage"}
    loaded = offering(
        {"node_hours": node_hours, "storage": storage},
        user_resolve_method="identity_bridge",
        identity_bridge_source="isd:puhuri",
        user_match_field="cuid",
        user_not_found_action="fail",
        role_mapping={"PROJECT.ADMIN": "PROJECT.MANAGER"},
        default_role="PROJECT.MEMBER",
        end_date_sync_direction="a_to_b",
        limit_sync_direction="disabled",
        passthrough_attributes=["partition", "qos"],
    )
    settings = federation_settings(loaded)

    assert settings == FederationSettings(
        a_offering_uuid="11111111222243338444555555555555",
        b_offering_uuid="66666666777748889999aaaaaaaaaaaa",
        b_customer_uuid="bbbbbbbbcccc4ddd8eeeffffffffffff",
        components=(
            ComponentMapping("node_hours", {"cpu_k_hours": Decimal("0.5"), "gpu_hours": Decimal(2)}),
            ComponentMapping("storage"),
        ),
        match=MatchSettings(
            method=UserResolveMethod.IDENTITY_BRIDGE,
            match_field=UserMatchField.CUID,
            not_found=UserNotFoundAction.FAIL,
            source="isd:puhuri",
        ),
        roles=RoleMap({"PROJECT.ADMIN": "PROJECT.MANAGER"}, "PROJECT.MEMBER"),
        end_date_sync=EndDateSyncDirection.A_TO_B,
        limit_sync=LimitSyncDirection.DISABLED,
        passthrough_attributes=("partition", "qos"),
    )


def test_identity_bridge_with_a_source_is_the_default_method() -> None:
    match = federation_settings(offering(identity_bridge_source="isd:egi")).match
    assert (match.method, match.source, match.match_field) == (
        UserResolveMethod.IDENTITY_BRIDGE,
        "isd:egi",
        UserMatchField.CUID,
    )
    assert match.allowed_attributes == DEFAULT_BRIDGE_ATTRIBUTES


def test_user_field_without_a_source() -> None:
    match = federation_settings(offering(user_resolve_method="user_field", user_match_field="email")).match
    assert match == MatchSettings(
        method=UserResolveMethod.USER_FIELD, match_field=UserMatchField.EMAIL, not_found=UserNotFoundAction.WARN
    )
    assert match.identity_field is UserMatchField.EMAIL


def test_remote_eduteams_keeps_its_method() -> None:
    match = federation_settings(offering(user_resolve_method="remote_eduteams")).match
    assert (match.method, match.source) == (UserResolveMethod.REMOTE_EDUTEAMS, "")


def test_the_domain_defaults_are_the_files_defaults() -> None:
    # A file with only the required keys means the same as a FederationSettings with only the UUIDs.
    assert federation_settings(offering()) == FederationSettings(A_OFFERING, B_OFFERING, B_CUSTOMER)


def test_an_unmapped_role_keeps_its_name_from_the_file_to_the_b_project() -> None:
    roles = federation_settings(offering(role_mapping={"PROJECT.ADMIN": "PROJECT.MANAGER"})).roles
    assert roles.b_role("PROJECT.MANAGER") == "PROJECT.MANAGER"
    assert roles.b_role("PROJECT.MEMBER") == "PROJECT.MEMBER"
    assert roles.b_role("PROJECT.ADMIN") == "PROJECT.MANAGER"


@given(
    st.dictionaries(st.sampled_from(ROLES), st.sampled_from(ROLES)),
    st.none() | st.sampled_from(ROLES),
    st.sampled_from(ROLES),
)
def test_the_file_and_the_domain_apply_one_role_rule(mapping: dict[str, str], default: str | None, a_role: str) -> None:
    keys: dict[str, Any] = {"role_mapping": mapping}
    if default is not None:
        keys["default_role"] = default
    roles = federation_settings(offering(**keys)).roles
    assert roles == RoleMap(mapping, default)
    assert roles.b_role(a_role) == mapping.get(a_role, default or a_role)
