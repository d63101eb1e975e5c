"""What the services need to know about one federated offering, and nothing about the file it came from.

The configuration file keeps every key waldur-site-agent accepts; most of them are for runners (tokens,
URLs, event endpoints) or are kept only so that the agent's files load. The domain takes this small value
instead. The configuration adapter builds it (``adapters.config.federation_settings``); tests build it
directly.
"""

from __future__ import annotations

from attrs import Factory, field, frozen

from fedcore.enums import EndDateSyncDirection, LimitSyncDirection, UserResolveMethod
from fedcore.ids import Uuid, normalize_uuid
from fedcore.matching import MatchSettings
from fedcore.memberships import RoleMap
from fedcore.model import ComponentMapping, str_tuple


def _lookup_by_field() -> MatchSettings:
    # The identity bridge, MatchSettings' own default, needs a source; without one users are looked up.
    return MatchSettings(method=UserResolveMethod.USER_FIELD)


@frozen
class FederationSettings:
    """One offering federated from Waldur A to Waldur B: the values the services decide with.

    ``components`` maps A's components onto B's (an empty tuple forwards none); ``match`` says how A users
    are found on B; ``roles`` translates project roles; ``end_date_sync`` and ``limit_sync`` choose which
    way end dates and limits are copied; ``passthrough_attributes`` are the order attribute keys copied
    verbatim into B's orders. The defaults are the configuration file's.
    """

    a_offering_uuid: Uuid = field(converter=normalize_uuid)
    b_offering_uuid: Uuid = field(converter=normalize_uuid)
    b_customer_uuid: Uuid = field(converter=normalize_uuid)
    components: tuple[ComponentMapping, ...] = ()
    match: MatchSettings = Factory(_lookup_by_field)
    roles: RoleMap = Factory(RoleMap)
    end_date_sync: EndDateSyncDirection = EndDateSyncDirection.BIDIRECTIONAL
    limit_sync: LimitSyncDirection = LimitSyncDirection.B_TO_A
    passthrough_attributes: tuple[str, ...] = field(default=(), converter=str_tuple)
