"""The console in real Chromium against the whole suite (Envoy serving console/dist, the three
services): sign-in and sign-out, an expired session, parent segments, and the strict CSP.

Each test opens a fresh browser context (a new tab: an empty sessionStorage) and fails on a
page error, a CSP violation (the browser's console message or a securitypolicyviolation
event) or a console response without the CSP.
"""

from __future__ import annotations

import itertools
from typing import Any

from browser.console_support import Console, Watched, screenshot, sign_in, signed_in_page
from playwright.sync_api import Page, expect
from support.http import request

from gateway.console import CONTENT_SECURITY_POLICY

_names = itertools.count(1)


def _token(page: Page) -> str:
    token = page.evaluate("sessionStorage.getItem('p13n.session')")
    assert isinstance(token, str)
    assert token
    return token


def _me(console: Console, token: str) -> int:
    reply = request(
        "GET", console.suite.admin_port, "/v1/me", headers={"authorization": f"Bearer {token}"}
    )
    return reply.status


def test_signing_in_opens_the_parent_segments_page(watched: Watched, console: Console) -> None:
    page = watched.page
    page.goto(console.url)
    # Signed out, any console path is the sign-in page.
    expect(page).to_have_url(f"{console.url}sign-in?next=%2Fconsole%2F")
    screenshot(page, "sign-in")
    sign_in(page, console.account.email)
    expect(page).to_have_url(f"{console.url}parent-segments")
    expect(page.get_by_role("heading", name="Parent segments")).to_be_visible()
    assert _me(console, _token(page)) == 200


def test_a_wrong_password_shows_the_servers_message(watched: Watched, console: Console) -> None:
    refused = request(
        "POST",
        console.suite.admin_port,
        "/v1/sessions",
        body={"email": console.account.email, "password": "not the password"},
    )
    assert refused.status == 401
    page = watched.page
    page.goto(console.url)
    sign_in(page, console.account.email, "not the password")
    expect(page.get_by_role("alert")).to_have_text(refused.json()["message"])
    expect(page).to_have_url(f"{console.url}sign-in?next=%2Fconsole%2F")
    assert page.evaluate("sessionStorage.getItem('p13n.session')") is None


def test_a_created_parent_segment_is_listed_and_opens(watched: Watched, console: Console) -> None:
    page = signed_in_page(watched, console)
    name = f"Console shoppers {next(_names)}"
    page.get_by_role("button", name="New parent segment").click()
    dialog = page.get_by_role("dialog", name="New parent segment")
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_label("Description").fill("Made in the console")
    dialog.get_by_label("Primary key").fill("td_client_id")
    dialog.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    # What the API returns is what the form said.
    listed = console.account.ok("GET", "/v1/parent_segments?page_size=1000")["parent_segments"]
    [made] = [segment for segment in listed if segment["name"] == name]
    assert (made["description"], made["primary_key"]) == ("Made in the console", "td_client_id")
    expect(page).to_have_url(f"{console.url}parent-segments/{made['id']}")

    page.get_by_role("link", name="All parent segments").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=name))
    expect(row).to_contain_text("Made in the console")
    expect(row).to_contain_text("td_client_id")
    screenshot(page, "parent-segments")
    row.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    screenshot(page, "parent-segment")
    sections = page.get_by_role("navigation", name="Parent segment sections")
    for title in (
        "Services",
        "Events",
        "Attributes",
        "ID stitching",
        "Personalizations",
        "Profiles",
    ):
        expect(sections.get_by_role("link", name=title)).to_be_visible()
    sections.get_by_role("link", name="Events").click()
    expect(page.get_by_role("heading", name=f"{name}: Events")).to_be_visible()
    expect(sections.get_by_role("link", name="Events")).to_have_attribute("aria-current", "page")
    # A deep link, loaded afresh, is the same page (the gateway answers index.html).
    page.reload()
    expect(page.get_by_role("heading", name=f"{name}: Events")).to_be_visible()


def test_the_servers_validation_message_is_shown_by_its_field(
    watched: Watched, console: Console
) -> None:
    taken = f"Taken {next(_names)}"
    console.account.parent_segment(taken)
    refused = console.account.call(
        "POST", "/v1/parent_segments", {"name": taken, "primary_key": "td_client_id"}
    )
    assert refused.status == 400
    page = signed_in_page(watched, console)
    page.get_by_role("button", name="New parent segment").click()
    dialog = page.get_by_role("dialog", name="New parent segment")
    dialog.get_by_label("Name").fill(taken)
    dialog.get_by_label("Primary key").fill("td_client_id")
    dialog.get_by_role("button", name="Create").click()
    message = refused.json()["message"]
    expect(dialog.get_by_role("alert")).to_have_text(message)
    expect(dialog.get_by_label("Name")).to_have_attribute("aria-invalid", "true")


def test_signing_out_ends_the_session(watched: Watched, console: Console) -> None:
    page = signed_in_page(watched, console)
    token = _token(page)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to p13n")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('p13n.session')") is None
    assert _me(console, token) == 401


def test_an_expired_session_signs_in_again_and_returns(watched: Watched, console: Console) -> None:
    name = f"Expiring {next(_names)}"
    segment = console.account.parent_segment(name)
    page = signed_in_page(watched, console)
    token = _token(page)
    revoked = request(
        "DELETE",
        console.suite.admin_port,
        "/v1/sessions/current",
        headers={"authorization": f"Bearer {token}"},
    )
    assert revoked.status == 200
    page.get_by_role("link", name=name).click()
    # The page's call met a 401: sign in again, then the page that was being opened.
    expect(page.get_by_role("heading", name="Sign in to p13n")).to_be_visible()
    sign_in(page, console.account.email)
    expect(page).to_have_url(f"{console.url}parent-segments/{segment}")
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    assert _token(page) != token


def _inline(html: str) -> list[str]:
    """Inline scripts, style elements and style attributes in ``html``."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Finder(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            names = dict(attrs)
            if tag == "script" and "src" not in names:
                found.append("inline <script>")
            if tag == "style":
                found.append("<style>")
            if "style" in names:
                found.append(f"style attribute on <{tag}>")
            found.extend(f"{name} handler" for name in names if name.startswith("on"))

    Finder().feed(html)
    return found


def test_the_console_runs_under_its_csp_with_nothing_inline(
    watched: Watched, console: Console
) -> None:
    page = signed_in_page(watched, console)
    page.get_by_role("button", name="New parent segment").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    # The served page and the page as rendered: no inline script or style anywhere.
    served = [r for r in watched.console_responses if r.url.endswith("/console/")]
    assert served
    assert _inline(served[0].text()) == []
    assert _inline(page.content()) == []
    # The document, its script and its stylesheet all came through the console's routes.
    kinds = {r.request.resource_type for r in watched.console_responses}
    assert {"document", "script", "stylesheet"} <= kinds


def _get(console: Console, path: str) -> Any:
    return request("GET", console.suite.admin_port, path)


def test_the_gateway_serves_each_file_with_its_headers(console: Console) -> None:
    """No credential needed; index.html revalidated, hashed assets kept, deep links answered
    with index.html, a missing asset 404, and the CSP on every answer."""
    index = _get(console, "/console/")
    assert index.status == 200
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    assert index.headers["cache-control"] == "no-cache"
    assets = [
        line.split('"')[1]
        for line in index.body.decode().split()
        if line.startswith(("src=", "href=")) and "/console/assets/" in line
    ]
    assert assets, index.body
    for path in assets:
        asset = _get(console, path)
        assert asset.status == 200, path
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert asset.headers["content-type"].startswith(("text/javascript", "text/css"))
    deep = _get(console, "/console/parent-segments/some-id/events")
    assert (deep.status, deep.body) == (200, index.body)
    missing = _get(console, "/console/assets/gone-1234.js")
    assert missing.status == 404
    bare = _get(console, "/console")
    assert bare.status == 301
    assert bare.headers["location"].endswith(f":{console.suite.admin_port}/console/")
    for reply in (index, deep, missing, bare, _get(console, assets[0])):
        assert reply.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["referrer-policy"] == "no-referrer"
    # The admin API around it is unchanged: still guarded.
    assert _get(console, "/v1/parent_segments").status == 401
