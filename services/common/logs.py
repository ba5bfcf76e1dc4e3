"""One JSON logging setup for every process: a line per record, never a secret.

Messages use lazy ``%s`` arguments. As a second line of defence, anything shaped like a
p13n credential (tokens, API keys, session tokens all carry a ``p13n`` type prefix) is masked
before a line is written, so a mistake in a log call cannot leak a secret.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time

# The id of the request being served: the gateway's, received in this header (and passed
# on in it to the services a request calls), or one the interceptor made up.
REQUEST_ID_HEADER = "x-request-id"
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

_CREDENTIAL = re.compile(r"p13n[a-z_]*_[A-Za-z0-9_\-]{8,}")


def mask_secrets(text: str) -> str:
    """Replaces everything that looks like a p13n credential with a marker."""
    return _CREDENTIAL.sub("[REDACTED]", text)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, service, request id, message."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "message": mask_secrets(record.getMessage()),
        }
        rid = request_id.get()
        if rid:
            entry["request_id"] = rid
        if record.exc_info:
            entry["exception"] = mask_secrets(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Sends every record of the process to stderr as JSON."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
