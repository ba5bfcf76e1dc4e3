"""Where the contract tests find the repository, the npm tools and the descriptor set."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools" / "node_modules"
BUF = TOOLS / ".bin" / "buf"
PROTO_LOADER = TOOLS / "@grpc" / "proto-loader"
DESCRIPTOR_SET = ROOT / "services" / "_gen" / "p13n.binpb"


def installed_tools() -> Path:
    """The pinned npm tools (`make tools`, which `make test` runs first; a no-op then)."""
    if not (BUF.exists() and PROTO_LOADER.exists()):
        if shutil.which("npm") is None:
            pytest.fail("npm is needed to install the contract tools: run `make tools`")
        subprocess.run(["make", "--no-print-directory", "tools"], cwd=ROOT, check=True)
    return TOOLS


class Method(NamedTuple):
    """One RPC as a client names it, with its streaming shape."""

    path: str  # "p13n.auth.v1.IdentityService/CreateSession"
    client_streaming: bool
    server_streaming: bool
