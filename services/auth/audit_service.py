"""``GET /v1/audit_log``: the account's admin changes, merged from every service.

The auth service keeps the entries of its own changes (services, tokens, users, API keys);
the profile and offers services keep theirs and return them through their internal
``ListAuditEntries``. A service that cannot answer fails the request (503) rather than
leaving its changes out of a page that looks complete.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import grpc
from p13n.auth.v1 import audit_pb2, audit_pb2_grpc
from typing_extensions import override

from services.auth import audit_merge
from services.common import audit
from services.common import identity as identities
from services.common.callers import AUTH
from services.common.clients import as_service
from services.common.errors import Unauthenticated
from services.common.paging import page_size
from services.common.remote_errors import translate, unavailable

# The entries of one service: (which, after its number, at most limit), oldest first.
Source = Callable[[audit.Filter, int, int], Awaitable[list[audit_pb2.AuditEntry]]]
TIMEOUT = 5.0


def local(log: audit.AuditLog) -> Source:
    """The entries this process's own database keeps."""

    async def read(which: audit.Filter, after: int, limit: int) -> list[audit_pb2.AuditEntry]:
        return audit.to_messages(await log.entries(which, after, limit), log.source)

    return read


def remote(stub: Any, request_type: Any, name: str, key: bytes) -> Source:
    """Another service's entries, through its internal ``ListAuditEntries`` (signed as auth)."""
    outage = unavailable(f"The {name} service cannot answer; retry shortly")

    async def read(which: audit.Filter, after: int, limit: int) -> list[audit_pb2.AuditEntry]:
        request = request_type(
            account_id=which.account_id,
            resource_type=which.resource_type,
            resource_id=which.resource_id,
            after=after,
            limit=limit,
        )
        try:
            reply = await stub.ListAuditEntries(
                request, metadata=as_service(AUTH, key), timeout=TIMEOUT
            )
        except grpc.aio.AioRpcError as error:
            raise translate(error, outage=outage, otherwise=outage) from None
        return list(reply.entries)

    return read


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    def __init__(self, sources: Mapping[str, Source]) -> None:
        self._sources = dict(sources)

    @override
    async def ListAuditEntries(
        self, request: audit_pb2.ListAuditEntriesRequest, context: Any
    ) -> audit_pb2.ListAuditEntriesResponse:
        size = min(page_size(request.page_size), audit.MAX_PAGE)
        places = audit_merge.decode(request.page_token, sorted(self._sources))
        caller = identities.current.get()
        if caller is None or not caller.account_id:
            raise Unauthenticated("Credentials are required")
        which = audit.Filter(caller.account_id, request.resource_type, request.resource_id)
        names = sorted(self._sources)
        found = await asyncio.gather(
            *(self._sources[name](which, places[name], size + 1) for name in names)
        )
        page, token = audit_merge.merge(dict(zip(names, found, strict=True)), places, size)
        return audit_pb2.ListAuditEntriesResponse(entries=page, next_page_token=token)
