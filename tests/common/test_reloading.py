"""A service's client channel follows its certificate when it is renewed on disk."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common import pki, tls
from services.common.clients import open_channel
from services.common.reloading import CHECK_SECONDS, ReloadingChannel
from services.common.server import serving


class PeerSerials(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Records the serial of the client certificate each call came with."""

    def __init__(self) -> None:
        self.serials: list[int] = []

    async def intercept_service(self, continuation: Any, details: Any) -> Any:
        handler = await continuation(details)
        behavior = handler.unary_unary

        async def recorded(request: Any, context: Any) -> Any:
            [pem] = context.auth_context()["x509_pem_cert"]
            self.serials.append(x509.load_pem_x509_certificate(pem).serial_number)
            return await behavior(request, context)

        return grpc.unary_unary_rpc_method_handler(
            recorded, handler.request_deserializer, handler.response_serializer
        )


def _serial(directory: Path) -> int:
    return x509.load_pem_x509_certificate((directory / pki.CERT_FILE).read_bytes()).serial_number


async def test_calls_move_to_the_renewed_certificate_after_the_next_check(
    pki_dir: Path, tmp_path: Path
) -> None:
    directory = tmp_path / "gateway"
    shutil.copytree(pki_dir / "gateway", directory)
    seen = PeerSerials()
    now = [0.0]
    async with serving(
        [],
        host="127.0.0.1",
        port=0,
        key=os.urandom(32),
        rules={},
        callers={},
        credentials=tls.server_credentials(pki_dir / "auth"),
        grace=0,
        extra_interceptors=[seen],
    ) as server:
        channel = ReloadingChannel(
            lambda credentials: open_channel(f"127.0.0.1:{server.port}", "auth", credentials),
            directory,
            clock=lambda: now[0],
        )
        health = health_pb2_grpc.HealthStub(channel)
        try:
            await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
            old = _serial(directory)
            pki.Authority.load(pki_dir / "ca").issue("gateway", directory)
            await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
            now[0] += CHECK_SECONDS
            await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
        finally:
            await channel.close()
    assert seen.serials == [old, old, _serial(directory)]
    assert _serial(directory) != old
