"""From the file's schema to the domain: the :class:`~fedcore.settings.FederationSettings` of one offering.

This is the one place where configuration keys become domain values; the services never see the schema.
"""

from __future__ import annotations

from adapters.config.schema import OfferingConfig
from fedcore.matching import MatchSettings
from fedcore.memberships import RoleMap
from fedcore.settings import FederationSettings


def federation_settings(offering: OfferingConfig) -> FederationSettings:
    """What the services need to serve ``offering``: UUIDs, component mappings, user matching, roles, syncs.

    ``user_resolve_method``, ``user_match_field``, ``user_not_found_action`` and ``identity_bridge_source``
    become ``match``; ``role_mapping`` and ``default_role`` become ``roles`` (an unmapped role keeps its
    name unless ``default_role`` is set). A loaded file already passed every check these values make, so
    this raises only for an :class:`OfferingConfig` built by hand with contradicting keys (``ValueError``).
    """
    target = offering.backend_settings
    return FederationSettings(
        a_offering_uuid=offering.waldur_offering_uuid,
        b_offering_uuid=target.target_offering_uuid,
        b_customer_uuid=target.target_customer_uuid,
        components=offering.component_mappings,
        match=MatchSettings(
            method=target.user_resolve_method,
            match_field=target.user_match_field,
            not_found=target.user_not_found_action,
            source=target.identity_bridge_source,
        ),
        roles=RoleMap(target.role_mapping, target.default_role),
        end_date_sync=target.end_date_sync_direction,
        limit_sync=target.limit_sync_direction,
        passthrough_attributes=target.passthrough_attributes,
    )
