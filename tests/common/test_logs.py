from __future__ import annotations

import json
import logging

from services.common.logs import JsonFormatter, mask_secrets, request_id


def test_a_line_is_json_with_service_level_and_request_id() -> None:
    token = request_id.set("req-1")
    try:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "stored %s events", (3,), None)
        line = json.loads(JsonFormatter("profile").format(record))
    finally:
        request_id.reset(token)
    assert line["message"] == "stored 3 events"
    assert (line["service"], line["level"], line["request_id"]) == ("profile", "INFO", "req-1")


def test_credentials_are_masked_even_when_logged_by_mistake() -> None:
    secret = "p13npub_Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg_3kXz9"
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "bad token %s", (secret,), None)
    line = JsonFormatter("auth").format(record)
    assert secret not in line
    assert "[REDACTED]" in line


def test_mask_leaves_ordinary_text_alone() -> None:
    assert mask_secrets("p13n up started on port 8080") == "p13n up started on port 8080"
