"""The demo shop in real Chromium against the whole suite: Envoy, the three services, the demo
configuration loaded through the admin API, and the shop server on its own origin.

The shop runs on an origin the demo's public service allows; a second copy of it on another
port plays a site that is not allowed. Every test opens a fresh browser context, so each is
a new visitor. Whether the server stored something is asked of the admin API (the stitched
profile of the visitor's td_client_id), with a control that shows the same lookup finds a
visitor who was stored.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response, Route, expect
from support.http import Response as HttpResponse
from support.http import request
from support.ports import free_port
from support.suite import Suite, single_process

from services.demo import definition as demo_config
from services.demo.loader import LoadedDemo, load_demo
from services.demo.shop import ShopServer, config_script, load_products

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "demo-shop.png"
PRODUCTS = load_products()
PERSONALIZED = ["#welcome", "#rewards", "#loyalty", "#recently-viewed"]  # all pre-hidden
FALLBACK_HEADING = "p13n demo shop"  # #welcome's own markup
# Generous on purpose: this bounds "never falls back", not speed.
MARGIN_MS = 2000


@dataclass(frozen=True)
class Demo:
    suite: Suite
    loaded: LoadedDemo
    shop: str  # the origin the public service allows
    foreign: str  # the same shop on an origin nobody allowed

    @property
    def endpoint(self) -> str:
        return self.loaded.page.endpoint

    @property
    def events_url(self) -> str:
        return f"{self.endpoint}/public/{demo_config.DATABASE}/{demo_config.TABLE}"

    def profile(self, client_id: str) -> HttpResponse:
        ps = self.loaded.parent_segment_id
        return request(
            "GET",
            self.suite.admin_port,
            f"/v1/parent_segments/{ps}/profiles/td_client_id/{client_id}",
            headers={"authorization": f"TD1 {self.loaded.state.api_key}"},
        )

    def send_public(self, event: dict[str, Any]) -> HttpResponse:
        return request(
            "POST",
            self.suite.data_port,
            f"/public/{demo_config.DATABASE}/{demo_config.TABLE}",
            headers={"wp13n-token": self.loaded.state.public_token, "origin": self.shop},
            body=event,
        )

    def send_private(self, event: dict[str, Any]) -> HttpResponse:
        return request(
            "POST",
            self.suite.data_port,
            f"/{demo_config.DATABASE}/{demo_config.TABLE}",
            headers={"wp13n-token": self.loaded.state.private_token},
            body=event,
        )


def _serve(server: ShopServer) -> None:
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    suite = Suite(Path(tmp_path_factory.mktemp("shop-suite")))
    suite.start()
    servers: list[ShopServer] = []
    try:
        port = free_port()
        loaded = load_demo(suite.settings, f"http://127.0.0.1:{port}")
        servers = [
            ShopServer("127.0.0.1", port, loaded.page, identity_secret=loaded.identity_secret),
            ShopServer("127.0.0.1", 0, loaded.page, identity_secret=loaded.identity_secret),
        ]
        for server in servers:
            _serve(server)
        yield Demo(suite, loaded, servers[0].origin, servers[1].origin)
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
        suite.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A first-time visitor; the test fails on a page error or a CSP violation."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Trusted Type" in message.text:
            problems.append(message.text)

    page.on("console", on_console)
    yield page
    context.close()
    assert problems == []


def _visit(page: Page, url: str) -> dict[str, Any]:
    """Opens ``url`` and returns the SDK's result once the page has been personalized."""
    page.goto(url)
    result: dict[str, Any] = page.evaluate("window.shop.done")
    return result


def _visibility(page: Page, selector: str) -> str:
    return str(
        page.evaluate("s => getComputedStyle(document.querySelector(s)).visibility", selector)
    )


def _failed_posts(page: Page) -> list[str]:
    failed: list[str] = []

    def on_failed(req: Request) -> None:
        if req.method == "POST":
            failed.append(req.url)

    page.on("requestfailed", on_failed)
    return failed


def _assert_fallback_shown(page: Page, result: dict[str, Any]) -> None:
    assert result["ok"] is False
    assert result["offers"] == {}  # the page's fallback, exactly
    assert page.get_attribute("body", "data-personalization") == "fallback"
    assert page.inner_text("#welcome h1") == FALLBACK_HEADING
    assert "unlock Silver rewards" in page.inner_text("#rewards")
    assert [_visibility(page, s) for s in PERSONALIZED] == ["visible"] * len(PERSONALIZED)


def _offers_calls(suite: Suite) -> list[str]:
    personalize = ("/PublicPersonalize", "/PrivatePersonalize", "/PrivatePersonalizeHttp")
    return [c.method for c in suite.recorders["offers"].calls if c.method.endswith(personalize)]


# ---- the allowed origin -----------------------------------------------------------------


def test_from_the_allowed_origin_the_shop_shows_its_personalized_sections(
    demo: Demo, page: Page
) -> None:
    result = _visit(page, f"{demo.shop}/")
    assert result["ok"], result
    # A new visitor who viewed nothing: the banner, and the redacted section as {}.
    assert result["offers"] == {
        demo_config.WELCOME_BANNER: {
            "attributes": {"welcome_message": demo_config.WELCOME_MESSAGE, "loyalty_member": False}
        },
        demo_config.LOYALTY_DISCOUNT: {},
    }
    assert page.get_attribute("body", "data-personalization") == "answered"
    assert page.inner_text("#welcome h1") == demo_config.WELCOME_MESSAGE
    assert "unlock Silver rewards" in page.inner_text("#rewards")  # not earned yet
    assert [_visibility(page, s) for s in PERSONALIZED] == ["visible"] * len(PERSONALIZED)
    # The server stored the visit under the browser's own id.
    assert demo.profile(page.evaluate("window.shop.clientId")).status == 200


def test_after_three_products_the_list_is_newest_first_and_the_counter_offer_shows(
    demo: Demo, page: Page
) -> None:
    viewed = PRODUCTS[:3]
    for count, product in enumerate(viewed, start=1):
        result = _visit(page, f"{demo.shop}/products/{product['slug']}")
        assert result["ok"], result
        # The counter-driven offer appears with the third product view, not before.
        assert (demo_config.SILVER_REWARDS in result["offers"]) is (count >= 3)
    _visit(page, f"{demo.shop}/")
    newest_first = [p["name"] for p in reversed(viewed)]
    assert page.locator(".recent-list li").all_inner_texts() == newest_first
    assert page.locator(".recent-list a").first.get_attribute("href") == (
        f"/products/{viewed[-1]['slug']}"
    )
    assert page.inner_text("#rewards h2") == demo_config.SILVER_REWARDS
    assert demo_config.PROMOTIONS_MESSAGE in page.inner_text("#rewards")
    assert page.inner_text("#rewards .views") == "3"


# ---- refusals ---------------------------------------------------------------------------


def test_an_origin_that_is_not_allowed_gets_the_fallback_and_nothing_is_stored(
    demo: Demo, page: Page
) -> None:
    failed = _failed_posts(page)
    before = len(_offers_calls(demo.suite))
    result = _visit(page, f"{demo.foreign}/")
    assert (result["reason"], result["status"]) == ("network", 0)  # blocked: unreadable
    _assert_fallback_shown(page, result)
    assert failed == [demo.events_url]
    assert _offers_calls(demo.suite)[before:] == []
    client_id = page.evaluate("window.shop.clientId")
    assert demo.profile(client_id).status == 404
    # Control: once the same visitor is sent from the allowed origin, the lookup finds it.
    assert demo.send_public({"td_client_id": client_id, "td_path": "/"}).status == 200
    assert demo.profile(client_id).status == 200


def test_a_private_token_fails_in_the_browser_and_the_page_falls_back(
    demo: Demo, page: Page
) -> None:
    # The shop as a site that pasted its server token into the page by mistake.
    private = dataclasses.replace(demo.loaded.page, token=demo.loaded.state.private_token)
    script = config_script(private, PRODUCTS)

    def private_config(route: Route) -> None:
        route.fulfill(body=script, content_type="text/javascript")

    page.route(f"{demo.shop}/config.js", private_config)
    # The origin is allowed, so the preflight passes: it is the token that is refused.
    preflight = request(
        "OPTIONS",
        demo.suite.data_port,
        f"/public/{demo_config.DATABASE}/{demo_config.TABLE}",
        headers={"origin": demo.shop, "access-control-request-method": "POST"},
    )
    assert preflight.status == 204
    failed = _failed_posts(page)
    before = len(_offers_calls(demo.suite))
    result = _visit(page, f"{demo.shop}/")
    assert (result["reason"], result["status"]) == ("network", 0)
    _assert_fallback_shown(page, result)
    assert failed == [demo.events_url]
    assert _offers_calls(demo.suite)[before:] == []
    assert demo.profile(page.evaluate("window.shop.clientId")).status == 404


# ---- sensitive data ---------------------------------------------------------------------


def test_the_sensitive_section_and_value_never_reach_the_browser(demo: Demo, page: Page) -> None:
    responses: list[Response] = []
    page.on("response", lambda response: responses.append(response))
    _visit(page, f"{demo.shop}/")
    bodies = _bodies(responses)
    read = len(responses)
    with page.expect_navigation():
        page.click("#sign-in")  # stitches this browser to the demo member
    result = page.evaluate("window.shop.done")
    bodies += _bodies(responses[read:])

    assert result["ok"], result
    assert result["offers"][demo_config.LOYALTY_DISCOUNT] == {}
    # The member's non-sensitive segment does show: the profile is the member's.
    assert "Loyalty member" in page.inner_text("#welcome")
    assert page.inner_html("#loyalty") == ""
    assert not page.is_visible("#loyalty")
    gateway_answers = [body for url, body in bodies if url == demo.events_url]
    assert len(gateway_answers) == 2
    for url, body in bodies:
        assert demo_config.SENSITIVE_TIER.encode() not in body, url
        assert demo_config.DISCOUNT_CODE.encode() not in body, url
    assert demo_config.SENSITIVE_TIER not in page.content()

    # Control: the server side, for this very visitor, does get the sensitive value.
    event = {
        "td_client_id": page.evaluate("window.shop.clientId"),
        "member_id": demo_config.DEMO_MEMBER_ID,
    }
    private = demo.send_private(event)
    assert private.status == 200, private.body
    loyalty = private.json()["offers"][demo_config.LOYALTY_DISCOUNT]["attributes"]
    assert loyalty["membership_tier"] == demo_config.SENSITIVE_TIER


def test_a_member_id_typed_into_the_page_claims_nobody(demo: Demo, page: Page) -> None:
    """The visitor-claim attack from a real browser: the page's stored sign-in forged
    without the shop server's proof (or with a made-up one) stays an anonymous visitor."""
    _visit(page, f"{demo.shop}/")
    for forged in ('{"id":"M-1001","proof":""}', '{"id":"M-1001","proof":"' + "0" * 64 + '"}'):
        page.evaluate(f"localStorage.setItem('p13n_demo_member_id', {json.dumps(forged)})")
        result = _visit(page, f"{demo.shop}/")
        assert result["ok"], result
        assert "signed in as member M-1001" in page.inner_text("#member-state")
        assert "Loyalty member" not in page.inner_text("#welcome")
        assert "$28700" not in page.content()


def _bodies(responses: list[Response]) -> list[tuple[str, bytes]]:
    """Every response body, read before the page navigates away (which discards them).

    The sign-in's own answer (the member's id and proof, from the shop's server) is read by
    the click that then navigates, so it is gone by now; it holds no attribute anyway.
    """
    return [
        (r.url, r.body())
        for r in responses
        if r.request.method != "OPTIONS" and not r.url.endswith("/sign-in")
    ]


def test_the_personalized_shop_page_screenshot(demo: Demo, page: Page) -> None:
    """The README's picture: the demo member after viewing three products."""
    _visit(page, f"{demo.shop}/")
    with page.expect_navigation():
        page.click("#sign-in")
    page.evaluate("window.shop.done")
    viewed = PRODUCTS[2:5]
    for product in viewed:
        assert _visit(page, f"{demo.shop}/products/{product['slug']}")["ok"]
    result = _visit(page, f"{demo.shop}/")
    assert result["ok"], result
    assert "Loyalty member" in page.inner_text("#welcome")
    assert page.locator(".recent-list li").all_inner_texts()[:3] == [
        p["name"] for p in reversed(viewed)
    ]
    assert "$28700" in page.inner_text("#rewards")  # the non-sensitive imported value
    assert page.inner_html("#loyalty") == ""
    page.click(".received summary")  # show what the browser received, {} included
    SCREENSHOT.parent.mkdir(exist_ok=True)
    # The visitor id is random: masked, so the picture changes only when the page does.
    page.screenshot(
        path=SCREENSHOT, full_page=True, mask=[page.locator("#visitor-id")], mask_color="#d5d9e0"
    )
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- outage -----------------------------------------------------------------------------


def test_with_offers_stopped_the_page_falls_back_within_the_sdk_timeout(
    demo: Demo, page: Page
) -> None:
    held: list[Route] = []
    # The event is held at first, to see the containers pre-hidden while it is in flight.
    page.route(demo.events_url, lambda route: held.append(route))
    demo.suite.stop_service("offers")
    try:
        page.goto(f"{demo.shop}/", wait_until="domcontentloaded")
        for _ in range(500):
            if held:
                break
            page.wait_for_timeout(10)
        assert held, "the page sent no event"
        assert [_visibility(page, s) for s in PERSONALIZED] == ["hidden"] * len(PERSONALIZED)
        held[0].continue_()
        settled = page.evaluate(
            """(ms) => Promise.race([
                 window.shop.done.then(() => 'settled'),
                 new Promise((resolve) => setTimeout(() => resolve('still waiting'), ms)),
               ])""",
            demo.loaded.page.timeout_ms + MARGIN_MS,
        )
        assert settled == "settled"
        result = page.evaluate("window.shop.done")
        # In the single-process mode offers' process is auth's: no decision gave the 503 its
        # CORS headers, so the page cannot read it and sees a network failure.
        read = ("network", 0) if single_process() else ("http", 503)
        assert (result["reason"], result["status"]) in {read, ("timeout", 0)}, result
        _assert_fallback_shown(page, result)
    finally:
        demo.suite.start_service("offers")


def test_the_demos_owner_signs_in_to_the_console_and_finds_the_demo(demo: Demo, page: Page) -> None:
    """`make up` out of the box: the README's credentials (var/demo.json) open the console on
    the demo's configuration, and the guide's redaction example shows its lock."""
    owner = demo.loaded.state
    page.goto(f"http://127.0.0.1:{demo.suite.admin_port}/console/")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill(owner.password)
    page.get_by_role("button", name="Sign in").click()
    segment = demo_config.PARENT_SEGMENT["name"]
    page.get_by_role("link", name=segment).click()
    sections = page.get_by_role("navigation", name="Parent segment sections")
    sections.get_by_role("link", name="Personalizations").click()
    page.get_by_role("link", name="Loyalty discount").click()
    expect(page.get_by_role("heading", name="Personalization Loyalty discount")).to_be_visible()
    expect(page.get_by_role("img", name="Redacted for browsers")).to_have_count(1)
