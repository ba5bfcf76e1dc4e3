"""Where the contract tests find the repository, the npm tools and the descriptor set."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools" / "node_modules"
BUF = TOOLS / ".bin" / "buf"
PROTO_LOADER = TOOLS / "@grpc" / "proto-loader"
DESCRIPTOR_SET = ROOT / "services" / "_gen" / "p13n.binpb"


class Method(NamedTuple):
    """One RPC as a client names it, with its streaming shape."""

    path: str  # "p13n.auth.v1.IdentityService/CreateSession"
    client_streaming: bool
    server_streaming: bool
