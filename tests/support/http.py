"""A minimal HTTP client for tests: status, lower-cased headers and body, nothing hidden."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def cors_headers(self) -> dict[str, str]:
        return {k: v for k, v in self.headers.items() if k.startswith("access-control-")}


def request(
    method: str,
    port: int,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | str | dict[str, Any] | list[Any] | None = None,
    host: str = "127.0.0.1",
    timeout: float = 10.0,
    source: str | None = None,
) -> Response:
    """Sends one request on a fresh connection (from the local address ``source``, if given)."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    all_headers = {"content-type": "application/json"} if body is not None else {}
    all_headers.update(headers or {})
    connection = http.client.HTTPConnection(
        host, port, timeout=timeout, source_address=(source, 0) if source else None
    )
    try:
        connection.request(method, path, body=body, headers=all_headers)
        reply = connection.getresponse()
        return Response(
            status=reply.status,
            headers={k.lower(): v for k, v in reply.getheaders()},
            body=reply.read(),
        )
    finally:
        connection.close()
