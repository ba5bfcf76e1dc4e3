"""Channels that present one component's certificate, as the suite's own clients do.

Tests reach a service port as a named component (mutual TLS is the only way in): as the
``gateway`` when they stand for a request the gateway forwards, as ``offers`` or
``profile`` for an internal call, as ``cli`` for the direct import path.
"""

from __future__ import annotations

import grpc

from services.common import tls
from services.common.config import Settings


def component_channel(settings: Settings, caller: str, port: int, server: str) -> grpc.Channel:
    """A blocking channel to component ``server`` on ``port``, as ``caller``."""
    return grpc.secure_channel(
        f"127.0.0.1:{port}",
        tls.channel_credentials(settings.tls_dir(caller)),
        options=tls.target_options(server),
    )
