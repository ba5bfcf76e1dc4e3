"""A cluster of one fixed endpoint on this machine: Envoy's own admin, a local socket."""

from __future__ import annotations

from typing import Any


def one_endpoint(name: str, address: dict[str, Any], connect_timeout: str) -> dict[str, Any]:
    """A STATIC cluster ``name`` whose one endpoint is ``address`` (an Envoy address:
    ``{"socket_address": ...}`` or ``{"pipe": ...}``)."""
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": connect_timeout,
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": address}}]}],
        },
    }
