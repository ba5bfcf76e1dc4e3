"""A small synchronous client of the admin API (`/v1/...` on the admin listener).

The demo configures itself as any user would, through Envoy with an API key, so a demo
that loads proves the admin path end to end. Errors carry the server's own message.
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlencode


class AdminError(Exception):
    """The admin API refused a call, or could not be reached."""

    def __init__(self, method: str, path: str, status: int, message: str) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {message}")
        self.status = status
        self.message = message


class AdminClient:
    """Calls `/v1/...` with ``Authorization: TD1 <api key>``."""

    def __init__(self, host: str, port: int, api_key: str, timeout: float = 10.0) -> None:
        self._host = host
        self._port = port
        self._api_key = api_key
        self._timeout = timeout

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One request on a fresh connection; returns the status and the decoded JSON body."""
        headers = {"authorization": f"TD1 {self._api_key}"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        try:
            connection.request(method, path, body=payload, headers=headers)
            reply = connection.getresponse()
            raw = reply.read()
        except OSError as error:
            raise AdminError(method, path, 0, f"admin API unreachable: {error}") from None
        finally:
            connection.close()
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {"message": raw.decode(errors="replace")[:200]}
        return reply.status, data

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        """Like ``call``, but raises ``AdminError`` with the server's message unless 200."""
        status, data = self.call(method, path, body)
        if status != 200:
            message = data.get("message", "") if isinstance(data, dict) else ""
            raise AdminError(method, path, status, message or "no message")
        return data

    def list_all(self, path: str, field: str) -> list[dict[str, Any]]:
        """Every item of a paged list (AIP-158), following ``next_page_token``."""
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            query = urlencode({"page_size": 100, **({"page_token": token} if token else {})})
            page = self.ok("GET", f"{path}?{query}")
            items.extend(page.get(field, []))
            token = page.get("next_page_token", "")
            if not token:
                return items
