"""The browser path decided in the single-process mode: what it reads of the gateway's
request. Its answers against the per-service path's: tests/e2e/test_public_path.py."""

from __future__ import annotations

import pytest

from services.auth import authz
from services.auth.public_path import (
    CLIENT_ADDRESS_HEADER,
    BrowserRequest,
    decision_request,
    names_of,
)


@pytest.mark.parametrize(
    ("path", "names"),
    [
        ("/public/shop_db/page_views", ("shop_db", "page_views")),
        # Path variables are percent-decoded, as the transcoder decodes them per service.
        ("/public/shop%5Fdb/page%20views", ("shop_db", "page views")),
        ("/public/shop_db", None),
        ("/public/shop_db/page_views/more", None),
        ("/public//page_views", None),
        ("/private/shop_db/page_views", None),
    ],
)
def test_the_two_names_of_the_browser_path(path: str, names: tuple[str, str] | None) -> None:
    assert names_of(path) == names


def test_the_decision_reads_the_gateways_address_and_the_whole_body() -> None:
    body = b'{"td_client_id": "a"}'
    request = BrowserRequest(
        "/public/db/t",
        {
            "content-type": "application/json",
            CLIENT_ADDRESS_HEADER: "198.18.0.7",
            # A client's claim that the body was cut short, which would skip the body check.
            authz.PARTIAL_BODY: "true",
            "content-length": "999",
        },
        body,
    )
    asked = decision_request("db", "t", request)
    assert asked.client_ip == "198.18.0.7"
    assert asked.path == "/public/db/t"
    assert asked.body == body
    assert authz.PARTIAL_BODY not in asked.headers
    assert asked.headers["content-length"] == str(len(body))
