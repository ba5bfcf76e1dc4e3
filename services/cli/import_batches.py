"""Sending an import's rows in batches the admin API takes, and learning which it refused.

The admin API validates a batch whole and writes nothing when one record is bad: it
answers 400 with a field violation naming the first bad one (``records[7].value``,
``values[3]``). ``send`` takes that record out, notes the server's reason for it, and sends
the rest again, so one bad row costs a resend, not the batch.

Bounds (the server's): at most 10,000 records or values per request
(``services/common/limits.py``) and 5 MiB of body (the admin listener's buffer,
gateway/envoy.yaml.tmpl). A batch is also kept under 1 MiB: the auth service checks a body
over 64 KiB in one worker process, one body at a time (about a second per 5 MiB), so
smaller batches keep that worker shared with everyone else's admin calls.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from services.admin_client import AdminClient, AdminError
from services.cli.import_files import Row

MAX_BATCH_ROWS = 10_000
MAX_BATCH_BYTES = 1 << 20
DEFAULT_BATCH_ROWS = 1000
# A suite that is restarting or briefly overloaded answers 503 (or nothing): wait and send
# the same batch again, about 15 s in all, before giving up (the checkpoint keeps the place).
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)
_RETRIED = frozenset({0, 429, 502, 503, 504})


@dataclass(frozen=True)
class Target:
    """Where a batch goes: ``POST path`` with ``{"key": key, field: [payloads]}``."""

    path: str
    key: str
    field: str  # "records" for attribute values, "values" for segment members

    def body(self, payloads: Sequence[Any]) -> dict[str, Any]:
        return {"key": self.key, self.field: list(payloads)}


def batches(
    rows: Iterable[Row], size: int, max_bytes: int = MAX_BATCH_BYTES
) -> Iterator[list[Row]]:
    """``rows`` in groups of at most ``size`` payloads and ``max_bytes`` of them encoded;
    rejected rows ride in the group they fall in (so a checkpoint passes them too)."""
    group: list[Row] = []
    count = used = 0
    for row in rows:
        if row.payload is not None:
            cost = len(json.dumps(row.payload)) + 2
            if cost > max_bytes:
                row = replace(
                    row,
                    payload=None,
                    reason=f"the row is over {max_bytes // 1024} KiB as JSON, more than a batch",
                )
            else:
                if count == size or used + cost > max_bytes:
                    yield group
                    group, count, used = [], 0, 0
                count += 1
                used += cost
        group.append(row)
    if group:
        yield group


def send(
    client: AdminClient,
    target: Target,
    rows: Sequence[Row],
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[int, list[Row]]:
    """Sends the rows with payloads until the API takes what is left; returns how many it
    took and the rows it refused (each with the server's reason). Raises ``AdminError``
    when it refuses the batch as a whole (a wrong key, a missing segment, no permission)."""
    pending = [row for row in rows if row.payload is not None]
    refused: list[Row] = []
    while pending:
        status, data = _post(client, target, [row.payload for row in pending], sleep)
        if status == 200:
            break
        index = refused_index(data, target.field) if status == 400 else None
        if index is None or index >= len(pending):
            message = data.get("message", "") if isinstance(data, dict) else ""
            raise AdminError("POST", target.path, status, message or "no message")
        reason = _reason(str(data.get("message", "")), target.field)
        refused.append(replace(pending.pop(index), payload=None, reason=reason))
    return len(pending), refused


def refused_index(data: Any, field: str) -> int | None:
    """The index of the record a 400 names (``records[7]...``), from its field violation,
    else from its message; None when it names none (the batch as a whole is refused)."""
    if not isinstance(data, dict):
        return None
    places = [
        str(violation.get("field", ""))
        for detail in data.get("details", [])
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith(".BadRequest")
        for violation in detail.get("field_violations", [])
        if isinstance(violation, dict)
    ]
    places.append(str(data.get("message", "")))
    for place in places:
        found = re.match(rf"{field}\[(\d+)\]", place, re.IGNORECASE)
        if found:
            return int(found.group(1))
    return None


def _reason(message: str, field: str) -> str:
    """The server's message without the batch index, which means nothing in the file."""
    stripped = re.sub(rf"^{field}\[\d+\]\.?", "", message, flags=re.IGNORECASE).lstrip(": ")
    return f"refused by the server: {stripped or message}"


def _post(
    client: AdminClient, target: Target, payloads: list[Any], sleep: Callable[[float], None]
) -> tuple[int, Any]:
    for delay in (*RETRY_DELAYS, None):
        try:
            status, data = client.call("POST", target.path, target.body(payloads))
        except AdminError as error:  # unreachable
            if delay is None:
                raise
            status, data = error.status, {"message": error.message}
        if status not in _RETRIED or delay is None:
            return status, data
        sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
