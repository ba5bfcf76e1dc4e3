"""Shared fixtures of the contract tests: the npm tools, the expected RPCs.

The expected RPCs come from the descriptor set `make protos` builds with protoc
(``services/_gen/p13n.binpb``, which Envoy transcodes with): the clients under test must
find in ``protos/`` exactly what the services were generated from.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from contracts.tooling import DESCRIPTOR_SET, Method, installed_tools
from google.protobuf import descriptor_pb2


@pytest.fixture(scope="session")
def tools() -> Path:
    """The pinned npm tools (`make tools`, which `make test` runs first; a no-op then)."""
    return installed_tools()


@pytest.fixture(scope="session")
def expected_methods() -> set[Method]:
    """Every RPC of every p13n service, from the descriptor set protoc built."""
    files = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR_SET.read_bytes()).file
    methods = {
        Method(
            f"{f.package}.{service.name}/{method.name}",
            method.client_streaming,
            method.server_streaming,
        )
        for f in files
        if f.package.startswith("p13n.")
        for service in f.service
        for method in service.method
    }
    assert len(methods) > 50, "the descriptor set lost its services"
    return methods
