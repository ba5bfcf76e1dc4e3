"""One HTTP request as `p13n doctor` needs it: any method, any headers, and the reply whole.

The admin client (``services.admin_client``) keeps only a reply's status and JSON; the
doctor also reads headers (CORS, ``Date``) and talks to the data listener, where a browser's
requests carry an Origin and no API key.
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class Unreachable(Exception):
    """No HTTP answer at all: refused, reset, timed out, or a name that does not resolve."""


@dataclass(frozen=True)
class Reply:
    """A reply as received; ``sent`` and ``received`` are the local wall clock around it."""

    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes
    sent: float = 0.0
    received: float = 0.0

    def json(self) -> Any:
        """The body as JSON, or ``{}`` when it is empty or not JSON."""
        try:
            return json.loads(self.body) if self.body else {}
        except ValueError:
            return {}

    @property
    def message(self) -> str:
        """The google.rpc.Status message the suite's errors carry, else the body's start."""
        data = self.json()
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            return str(data["message"])
        return self.body.decode(errors="replace")[:200].strip()

    @property
    def reason(self) -> str:
        """The ``google.rpc.ErrorInfo`` reason of an error body, or ""."""
        data = self.json()
        details = data.get("details", []) if isinstance(data, dict) else []
        for detail in details if isinstance(details, list) else []:
            if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("ErrorInfo"):
                return str(detail.get("reason", ""))
        return ""

    def summary(self) -> str:
        """``HTTP 503: <message>``, for a line of the doctor's report."""
        return f"HTTP {self.status}: {self.message}" if self.message else f"HTTP {self.status}"


def send(
    base_url: str,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: Any = None,
    timeout: float = 10.0,
) -> Reply:
    """One request to ``base_url`` (``http(s)://host:port``) on a fresh connection;
    raises ``Unreachable`` when no HTTP answer comes back."""
    try:
        parts = urlsplit(base_url)
        port = parts.port
    except ValueError:  # "http://[::1", "http://h:abc"
        port, parts = None, urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Unreachable(f"{base_url!r} is not an http:// or https:// URL")
    https = parts.scheme == "https"
    connection_class = http.client.HTTPSConnection if https else http.client.HTTPConnection
    connection = connection_class(parts.hostname, port or (443 if https else 80), timeout=timeout)
    sent_headers = dict(headers or {})
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        sent_headers.setdefault("content-type", "application/json")
    try:
        sent = time.time()
        connection.request(method, path, body=payload, headers=sent_headers)
        response = connection.getresponse()
        raw = response.read()
        received = time.time()
    except (OSError, http.client.HTTPException) as error:
        raise Unreachable(f"{method} {base_url}{path}: {error}") from None
    finally:
        connection.close()
    return Reply(
        status=response.status,
        headers={name.lower(): value for name, value in response.getheaders()},
        body=raw,
        sent=sent,
        received=received,
    )
