"""The in-memory view of tokens, keys and sessions that ``authz`` decides from.

Until the auth issue lands it knows no credentials, so every request needing one is refused.
"""

from __future__ import annotations

from p13n.auth.v1 import identity_pb2


class MemoryDirectory:
    """Answers ``authz.Directory`` questions without touching a database."""

    def identify_token(self, token: str) -> identity_pb2.Identity | None:
        return None

    def token_allows_origin(self, identity: identity_pb2.Identity, origin: str) -> bool:
        return False

    def token_allows_ip(self, identity: identity_pb2.Identity, ip: str) -> bool:
        return False

    def identify_credentials(self, authorization: str) -> identity_pb2.Identity | None:
        return None

    def preflight_allows(self, origin: str, database: str, table: str) -> bool:
        return False

    def rate_limited(self, identity: identity_pb2.Identity | None, ip: str) -> bool:
        return False
