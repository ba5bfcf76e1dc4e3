"""protos/ loads in protobuf clients nobody here wrote, with nothing but the repository.

Before the googleapis files were vendored (third_party/googleapis), both clients failed on
`google/api/annotations.proto`; each test compares every RPC of every service it lists with
the descriptor set, so a file that stops resolving, a service a client cannot see or a
method it reads differently fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from contracts.tooling import BUF, ROOT, Method

# Prints every RPC @grpc/proto-loader found: a service definition maps method names to
# objects with the HTTP/2 `path` ("/package.Service/Method") and the streaming flags.
_LIST_WITH_PROTO_LOADER = """
const loader = require("@grpc/proto-loader");
const definition = loader.loadSync(process.argv.slice(1), {
  includeDirs: ["protos", "third_party/googleapis"],
});
const methods = [];
for (const value of Object.values(definition)) {
  for (const method of Object.values(value)) {
    if (method && typeof method.path === "string") {
      methods.push([method.path.slice(1), method.requestStream, method.responseStream]);
    }
  }
}
console.log(JSON.stringify(methods));
"""


def _proto_files() -> list[str]:
    protos = ROOT / "protos"
    return sorted(str(path.relative_to(protos)) for path in protos.rglob("*.proto"))


@pytest.mark.usefixtures("tools")
def test_buf_curl_lists_every_rpc_from_the_protos_directory(expected_methods: set[Method]) -> None:
    listed = subprocess.run(
        [str(BUF), "curl", "--schema", "protos/", "--list-methods"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert sorted(listed.stdout.split()) == sorted(m.path for m in expected_methods)


def test_grpc_proto_loader_loads_every_rpc(tools: Path, expected_methods: set[Method]) -> None:
    loaded = subprocess.run(
        ["node", "-e", _LIST_WITH_PROTO_LOADER, "--", *_proto_files()],
        cwd=ROOT,
        env={**os.environ, "NODE_PATH": str(tools)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert loaded.returncode == 0, loaded.stderr
    methods = [Method(path, client, server) for path, client, server in json.loads(loaded.stdout)]
    assert len(methods) == len(set(methods))
    assert set(methods) == expected_methods
