"""U+0000 in any string of any request is a 400 on both backends, never a 500 (PostgreSQL
cannot store it; SQLite can)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import struct_pb2
from p13n.auth.v1 import identity_service_pb2, identity_service_pb2_grpc
from p13n.profile.v1 import profile_pb2
from support.tls import aio_channel

from services.auth import server
from services.common import nul, pki
from services.common.callers import AUTH, GATEWAY
from services.common.config import Settings


def test_a_nul_is_found_in_fields_lists_maps_and_free_json() -> None:
    assert nul.first_nul(identity_service_pb2.CreateSessionRequest(email="a@b.example")) is None
    assert nul.first_nul(identity_service_pb2.CreateSessionRequest(email="a\x00@b")) == "email"
    event = struct_pb2.Struct()
    event.update({"page": {"tags": ["ok", "bad\x00"]}})
    holder = struct_pb2.Value(struct_value=event)
    assert nul.first_nul(holder) == "['page']['tags'][1]"
    keyed = struct_pb2.Struct()
    keyed.update({"k\x00": 1})
    assert nul.first_nul(keyed) == "['k\\x00']"
    assert nul.first_nul(profile_pb2.Profile()) is None
    # Bytes are not text: any byte is fine there, and a zero byte alone proves nothing.
    assert nul.may_hold_nul(struct_pb2.Value(number_value=0).SerializeToString())
    assert nul.first_nul(struct_pb2.Value(number_value=0)) is None


def test_the_refusal_names_the_field() -> None:
    error = nul.refusal("email")
    assert error.message == "Email must not contain the NUL character (U+0000)"
    assert nul.refusal("event['a']").message.startswith("event['a'] must not contain")


@contextlib.asynccontextmanager
async def identity_service(
    tmp_path: Path, env: dict[str, str]
) -> AsyncIterator[identity_service_pb2_grpc.IdentityServiceStub]:
    pki.ensure(tmp_path / "pki")
    settings = Settings.from_env(
        {
            "P13N_DATA_DIR": str(tmp_path),
            "P13N_INTERNAL_KEY": os.urandom(32).hex(),
            "P13N_SECRET_KEY": bytes(range(32)).hex(),
            "P13N_SHUTDOWN_GRACE": "0",
            "P13N_PROFILE_TARGET": "127.0.0.1:9",
            "P13N_OFFERS_TARGET": "127.0.0.1:9",
            **env,
        }
    )
    async with (
        server.lifespan(settings, port=0) as running,
        aio_channel(settings.pki_dir, GATEWAY, running.port, AUTH) as channel,
    ):
        yield identity_service_pb2_grpc.IdentityServiceStub(channel)


async def sign_in_status(stub: identity_service_pb2_grpc.IdentityServiceStub) -> tuple[str, str]:
    request = identity_service_pb2.CreateSessionRequest(
        email="o\x00@shop.example", password="a long enough password"
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.CreateSession(request, timeout=10)
    return refused.value.code().name, refused.value.details() or ""


async def test_signing_in_with_a_nul_in_the_email_is_a_400_on_both_backends(
    tmp_path: Path, database_env: dict[str, str]
) -> None:
    async with identity_service(tmp_path, database_env) as stub:
        assert await sign_in_status(stub) == (
            "INVALID_ARGUMENT",
            "Email must not contain the NUL character (U+0000)",
        )


async def test_text_postgresql_cannot_store_is_a_400_even_past_the_request_check(
    tmp_path: Path, postgres_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The defensive mapping: a NUL that reached the store anyway is still the client's."""
    monkeypatch.setattr(nul, "may_hold_nul", lambda _encoded: False)
    async with identity_service(tmp_path, postgres_env) as stub:
        code, message = await sign_in_status(stub)
    assert (code, message) == (
        "INVALID_ARGUMENT",
        "Text must not contain the NUL character (U+0000)",
    )
