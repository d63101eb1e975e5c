"""A configuration for a federation of two emulated Waldurs (``waldur_emulator.federation``).

The demo, the end-to-end tests and anyone exploring with ``fedcore emulator`` get the same file an operator
would write for real servers: a fan-out conversion (1 node-hour on A = 128 core-hours and 512 GB-hours of memory
on B), storage passed through, users pushed with the identity bridge and matched on the CUID, usernames reconciled.
"""

from __future__ import annotations

from typing import Any

from waldur_emulator.federation import Federation


def federation_config(
    fed: Federation, a_api_url: str, b_api_url: str, *, name: str = "HPC via Waldur B"
) -> dict[str, Any]:
    """The configuration (parsed YAML) for ``fed`` whose APIs answer at ``a_api_url`` and ``b_api_url``."""
    return {
        "offerings": [
            {
                "name": name,
                "waldur_api_url": a_api_url,
                "waldur_api_token": fed.a.agent_token,
                "waldur_offering_uuid": fed.a.offering_uuid,
                "backend_type": "waldur",
                "order_processing_backend": "waldur",
                "membership_sync_backend": "waldur",
                "reporting_backend": "waldur",
                "username_management_backend": "waldur-identity-bridge",
                "username_reconciliation_enabled": True,
                "verify_ssl": a_api_url.startswith("https://"),
                "backend_settings": {
                    "target_api_url": b_api_url,
                    "target_api_token": fed.b.agent_token,
                    "target_offering_uuid": fed.b.offering_uuid,
                    "target_customer_uuid": fed.b_customer_uuid,
                    "target_verify_ssl": b_api_url.startswith("https://"),
                    "user_resolve_method": "identity_bridge",
                    "identity_bridge_source": fed.isd_source,
                    "user_match_field": "cuid",
                    "end_date_sync_direction": "a_to_b",
                    "limit_sync_direction": "b_to_a",
                },
                "backend_components": {
                    "node_hours": {
                        "measured_unit": "Node-hours", "accounting_type": "limit", "label": "Node hours",
                        "unit_factor": 1,
                        "target_components": {"cpu_k_hours": {"factor": 128}, "mem_gb_hours": {"factor": 512}},
                    },
                    "storage": {
                        "measured_unit": "TB", "accounting_type": "limit", "label": "Storage", "unit_factor": 1,
                    },
                },
            }
        ],
    }


WEB_STOMP = {"websocket_use_tls": False, "stomp_ws_host": "127.0.0.1", "stomp_ws_port": 15674, "stomp_ws_path": "/ws"}
"""The local broker's Web-STOMP endpoint as ``scripts/broker`` sets it up (no ``/rmqws-stomp`` proxy)."""


def with_events(data: dict[str, Any], *, target: bool = True,
                endpoint: dict[str, Any] | None = None) -> dict[str, Any]:
    """``data`` (a :func:`federation_config`) with STOMP events on A, and on B unless ``target`` is False, over
    ``endpoint`` (default :data:`WEB_STOMP`). Changes ``data`` in place and returns it."""
    keys = endpoint if endpoint is not None else WEB_STOMP
    for offering in data["offerings"]:
        offering.update(stomp_enabled=True, **keys)
        if target:
            target_keys = {f"target_{k}": v for k, v in keys.items()}
            offering["backend_settings"].update(target_stomp_enabled=True, **target_keys)
    return data
