"""A small synchronous client of the admin API (`/v1/...` on the gateway's admin listener).

The CLI and the demo configure the suite as any user would: through Envoy with an API key,
so whatever they do proves the admin path end to end. Errors carry the server's own message.
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import quote, urlencode, urlsplit


class AdminError(Exception):
    """The admin API refused a call, or could not be reached (status 0)."""

    def __init__(self, method: str, path: str, status: int, message: str) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {message}")
        self.method = method
        self.path = path
        self.status = status
        self.message = message


def segment(value: str) -> str:
    """``value`` as one path segment (a profile key's value may hold "/" or spaces)."""
    return quote(value, safe="")


class AdminClient:
    """Calls `/v1/...` on ``url`` (``http://host:port``) with ``Authorization: TD1 <key>``."""

    def __init__(self, url: str, api_key: str, timeout: float = 10.0) -> None:
        usage = f"{url!r}: give the admin API as http://HOST:PORT or https://..."
        try:  # urlsplit refuses "http://[::1", .port refuses "http://h:abc"
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ValueError(usage) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(usage)
        self.url = url.rstrip("/")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = port or (443 if self._https else 80)
        self._api_key = api_key
        self._timeout = timeout

    @classmethod
    def on(cls, host: str, port: int, api_key: str, timeout: float = 10.0) -> AdminClient:
        return cls(f"http://{host}:{port}", api_key, timeout)

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """One request on a fresh connection; returns the status and the decoded JSON body."""
        sent = {"authorization": f"TD1 {self._api_key}", **(headers or {})}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            sent["content-type"] = "application/json"
        connection_class = (
            http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        )
        connection = connection_class(self._host, self._port, timeout=self._timeout)
        try:
            connection.request(method, path, body=payload, headers=sent)
            reply = connection.getresponse()
            raw = reply.read()
        except OSError as error:
            raise AdminError(method, path, 0, f"admin API unreachable: {error}") from None
        except http.client.HTTPException as error:  # not HTTP, or a reply cut short
            raise AdminError(
                method, path, 0, f"no HTTP answer from {self.url}: {type(error).__name__}"
            ) from None
        finally:
            connection.close()
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {"message": raw.decode(errors="replace")[:200]}
        return reply.status, data

    def ok(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Any:
        """Like ``call``, but raises ``AdminError`` with the server's message unless 200
        with a JSON object (every admin API answer is one; anything else is not the API)."""
        status, data = self.call(method, path, body, headers)
        if status != 200:
            message = data.get("message", "") if isinstance(data, dict) else ""
            raise AdminError(method, path, status, message or "no message")
        if not isinstance(data, dict):
            raise AdminError(
                method,
                path,
                status,
                f"the answer is not a JSON object: is {self.url} p13n's admin API?",
            )
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
