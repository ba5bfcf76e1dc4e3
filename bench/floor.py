"""Trivial gRPC servers for the bench's floors, each run as its own uvloop process.

``python -m bench.floor offers --port N`` serves ``PersonalizeService.PublicPersonalize``
with one constant answer; ``python -m bench.floor authz --port N`` is an ext_authz server
that allows everything (echoing the Origin as CORS, as the real one does);
``python -m bench.floor relay --port N --profile-target H:P --parent-segment ID`` hands
each event to the real profile service's Track first (``P13N_INTERNAL_KEY`` signs it).
``bench/floor_envoy.py`` puts them behind Envoy; ``bench/floors.py`` runs them.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import grpc
import uvloop
from envoy.config.core.v3 import base_pb2
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc
from google.api import httpbody_pb2
from google.rpc import code_pb2, status_pb2
from p13n.offers.v1 import personalize_service_pb2_grpc
from p13n.profile.v1 import internal_service_pb2, internal_service_pb2_grpc
from typing_extensions import override

from services.common import tls
from services.common.clients import as_service, open_channel


class TrivialPersonalize(personalize_service_pb2_grpc.PersonalizeServiceServicer):
    """One constant answer, built once: the cheapest handler grpc.aio can run.

    It is JSON in a ``google.api.HttpBody``, as the real PublicPersonalize answers, so that
    the gateway does for the floor what it does for P: copy the body, not print protobuf.
    """

    def __init__(self) -> None:
        self._reply = httpbody_pb2.HttpBody(
            content_type="application/json",
            data=b'{"offers":{"hero":{"attributes":{"title":"Hello"}}}}',
        )

    @override
    async def PublicPersonalize(self, request: Any, context: Any) -> Any:
        return self._reply


class TrackRelay(TrivialPersonalize):
    """Hands each event to the real profile service's Track, then answers the constant.

    Everything the offers service would do except evaluating personalizations: one server
    hop, one client hop to the profile service (signed as a service, as offers signs), and
    the profile's stitching, attributes and durable write.
    """

    def __init__(
        self, profile_target: str, parent_segment_id: str, key: bytes, tls_dir: str | None
    ) -> None:
        super().__init__()
        # As offers calls it: mutual TLS with offers' certificate (plain only without it).
        credentials = tls.channel_credentials(Path(tls_dir)) if tls_dir else None
        channel = open_channel(profile_target, "profile", credentials)
        self._track = internal_service_pb2_grpc.InternalProfileServiceStub(channel).Track
        self._parent_segment_id = parent_segment_id
        self._key = key
        self._signed: tuple[float, Any] = (0.0, ())

    def _metadata(self) -> Any:
        # A signed identity lives 3 to 4 s (services.common.identity); re-sign every second
        # rather than per call.
        made, metadata = self._signed
        if time.monotonic() - made > 1:
            metadata = as_service("offers", self._key)
            self._signed = (time.monotonic(), metadata)
        return metadata

    @override
    async def PublicPersonalize(self, request: Any, context: Any) -> Any:
        await self._track(
            internal_service_pb2.TrackRequest(
                parent_segment_id=self._parent_segment_id,
                database=request.database,
                table=request.table,
                event=request.event,
            ),
            metadata=self._metadata(),
            timeout=5,
        )
        return self._reply


class AllowAll(external_auth_pb2_grpc.AuthorizationServicer):  # type: ignore[misc]
    """Allows every request; echoes the Origin as the real service does for a good token."""

    @override
    async def Check(self, request: Any, context: Any) -> Any:
        origin = request.attributes.request.http.headers.get("origin", "")
        headers = [
            base_pb2.HeaderValueOption(
                header=base_pb2.HeaderValue(key="access-control-allow-origin", value=origin)
            )
        ]
        return external_auth_pb2.CheckResponse(
            status=status_pb2.Status(code=code_pb2.OK),
            ok_response=external_auth_pb2.OkHttpResponse(response_headers_to_add=headers),
        )


async def _serve(args: argparse.Namespace) -> None:
    server = grpc.aio.server()
    if args.kind == "offers":
        personalize_service_pb2_grpc.add_PersonalizeServiceServicer_to_server(
            TrivialPersonalize(), server
        )
    elif args.kind == "relay":
        key = bytes.fromhex(os.environ["P13N_INTERNAL_KEY"])
        relay = TrackRelay(args.profile_target, args.parent_segment, key, args.tls_dir)
        personalize_service_pb2_grpc.add_PersonalizeServiceServicer_to_server(relay, server)
    else:
        external_auth_pb2_grpc.add_AuthorizationServicer_to_server(AllowAll(), server)
    server.add_insecure_port(f"127.0.0.1:{args.port}")
    await server.start()
    await server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser(description="trivial servers for the bench's floors")
    parser.add_argument("kind", choices=("offers", "authz", "relay"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--profile-target", help="relay: the profile service")
    parser.add_argument("--parent-segment", help="relay: the parent segment's id")
    parser.add_argument("--tls-dir", help="relay: the certificate it calls profile with")
    uvloop.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
