"""The Ingest API: 1 to 500 events for one table, all or nothing, answered once durable.

The caller is the API key's signed identity the gateway forwarded, for the HTTP path and
for a native gRPC call alike (docs/design.md#grpc-clients). Records are decoded and
checked before the transaction (JSON object, nesting, 1 MiB each); that every record has a
usable identifier in every parent segment it goes to is checked inside it, against the
configuration of that moment, before anything is written.

Only a master key is trusted with verified identifiers (services/profile/proofs.py): a
write-only key may sit in a page beside the public token, so its records' verified values are
left out, as a public token's are without a proof. Each record's ``p13n_proofs`` field is
removed before storing, whoever sent it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from p13n.profile.v1 import ingest_service_pb2 as api
from p13n.profile.v1 import ingest_service_pb2_grpc
from typing_extensions import override

from services.common import events
from services.common import identity as identities
from services.common.errors import InvalidArgument, PermissionDenied
from services.profile import config_rules, proofs
from services.profile.profile_store import ProfileStore

MAX_RECORDS = 500


class IngestServicer(ingest_service_pb2_grpc.IngestServiceServicer):
    def __init__(self, store: ProfileStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    @override
    async def IngestRecords(
        self, request: api.IngestRecordsRequest, context: Any
    ) -> api.IngestRecordsResponse:
        caller = identities.current.get()
        if caller is None or not caller.api_key_type or not caller.account_id:
            raise PermissionDenied(
                "The Ingest API takes an API key: Authorization: TD1 <API key>",
                reason="API_KEY_REQUIRED",
            )
        config_rules.check_table_name("Database", request.database, "database")
        config_rules.check_table_name("Table", request.table, "table")
        count = len(request.records)
        if not 1 <= count <= MAX_RECORDS:
            raise InvalidArgument(
                f"A request carries 1 to {MAX_RECORDS} records (got {count}); split larger batches",
                reason="RECORD_COUNT",
                field="records",
            )
        records = [
            proofs.take(events.checked(record, f"records[{index}]"), f"records[{index}]")[0]
            for index, record in enumerate(request.records)
        ]
        received = await self._store.ingest(
            caller.account_id,
            request.database,
            request.table,
            records,
            self._clock(),
            remaining=context.time_remaining(),
            proven=None if proofs.trusted(caller) else proofs.UNPROVABLE,
        )
        return api.IngestRecordsResponse(received=received)
