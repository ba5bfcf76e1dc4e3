"""Channels and servers that present one component's certificate, as the suite's own do.

Tests reach a service port as a named component (mutual TLS is the only way in): as the
``gateway`` when they stand for a request the gateway forwards, as ``offers`` or
``profile`` for an internal call, as ``cli`` for the direct import path.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import grpc

from services.common import pki, tls
from services.common.callers import GATEWAY, Callers
from services.common.clients import open_channel
from services.common.config import Settings


def component_channel(settings: Settings, caller: str, port: int, server: str) -> grpc.Channel:
    """A blocking channel to component ``server`` on ``port``, as ``caller``."""
    return grpc.secure_channel(
        f"127.0.0.1:{port}",
        tls.channel_credentials(settings.tls_dir(caller)),
        options=tls.target_options(server),
    )


def aio_channel(pki_dir: Path, caller: str, port: int, server: str) -> grpc.aio.Channel:
    """An asyncio channel to component ``server`` on ``port``, as ``caller``."""
    credentials = tls.channel_credentials(pki_dir / caller)
    return open_channel(f"127.0.0.1:{port}", server, credentials)


def server_credentials(pki_dir: Path, component: str) -> grpc.ServerCredentials:
    """``component``'s server credentials, making the PKI under ``pki_dir`` if needed."""
    pki.ensure(pki_dir)
    return tls.server_credentials(pki_dir / component)


def also_from_gateway(callers: Callers) -> Mapping[str, frozenset[str]]:
    """``callers`` with the gateway added to every method.

    A unit harness reaches a service over one channel, as the gateway, also for the
    internal RPCs its tests exercise (Track); which component may call what is tested
    with the real lists in tests/e2e/test_internal_mtls.py.
    """
    return {method: names | {GATEWAY} for method, names in callers.items()}
