"""The browser SDK (gateway/sdk/p13n.js) in real headless Chromium.

Two local HTTP servers give the browser two origins, as in production: the *site*
(origin A) serves test pages and the SDK, and a fake *endpoint* (origin B) plays the
gateway's `POST /public/{db}/{table}`. The endpoint's behaviour is chosen by the table
name the page sends to (see BEHAVIOURS), so a test states what it wants in the request
itself and no mutable switch is shared between tests.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page

SDK_PATH = Path(__file__).resolve().parents[2] / "gateway" / "sdk" / "p13n.js"
TOKEN = "12345/3/p13n_pub_testsecret"
DATABASE = "shop_db"
STORAGE_KEY = "p13n_td_client_id"
UUID_V4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
XSS = '<img src=x onerror="window.__pwned = true">'
OFFERS: dict[str, Any] = {
    "Welcome Banner": {"attributes": {"welcome_message": "Welcome back!", "total_purchase": 28700}},
    "Recommendations": {
        "attributes": {"headline": XSS, "product_list": ["running-shoes", "<b>hoodie</b>"]}
    },
    "Loyalty Discount": {},
}
# Generous on purpose: these bounds catch "never times out", not slowness.
TIMEOUT_MARGIN_MS = 2000
HANDLER_WAIT_S = 10.0


def _status(code: int, message: str) -> bytes:
    return json.dumps({"code": code, "message": message}).encode()


@dataclass(frozen=True)
class Behaviour:
    """How the fake endpoint answers for one table name."""

    status: int = 200
    body: bytes = json.dumps({"offers": OFFERS}).encode()
    cors: bool = True  # CORS headers on the POST's answer
    preflight: bool = True  # preflight 204 with CORS headers, or 403 without
    # "gate": answer once the test opens the gate; "forever": never answer (until teardown)
    wait: Literal["", "gate", "forever"] = ""
    stall_body: bool = False  # send the headers and a few bytes of the body, then stall


BEHAVIOURS: dict[str, Behaviour] = {
    "offers": Behaviour(),
    "no_offers": Behaviour(body=b"{}"),  # proto3 JSON omits an empty map
    "gated": Behaviour(wait="gate"),
    "origin_refused": Behaviour(preflight=False, cors=False),
    "no_cors_answer": Behaviour(cors=False),
    "bad_token": Behaviour(status=401, cors=False, body=_status(16, "invalid token")),
    "unauthenticated": Behaviour(status=401, body=_status(16, "token revoked")),
    "unknown_table": Behaviour(status=404, body=_status(5, "shop_db.x is not an event table")),
    "gateway_down": Behaviour(status=503, body=b""),
    "not_json": Behaviour(body=b"<html>oops</html>"),
    "json_array": Behaviour(body=b"[]"),
    "offers_array": Behaviour(body=b'{"offers": []}'),
    "hang": Behaviour(wait="forever"),
    "stall_body": Behaviour(stall_body=True),
}

_INDEX = """<!doctype html><html><head><meta charset="utf-8">
<script src="/sdk/p13n.js"></script></head>
<body><div id="hero"><p>Fallback hero</p></div><div class="reco">Fallback reco</div>
<div id="other">Never hidden</div></body></html>"""

# The documented integration: init with prehide in <head>, render in the send's callback.
_PREHIDE = """<!doctype html><html><head><meta charset="utf-8">
<script src="/sdk/p13n.js"></script>
<script>
  const client = p13n.init({endpoint: "%ENDPOINT%", token: "%TOKEN%", database: "%DATABASE%",
                            table: "gated", timeoutMs: 5000, prehide: ["#hero", ".reco"]});
  window.result = client.send({page: "home"}).then((r) => {
    client.render("#hero", r.offers["Welcome Banner"], "<h1>{{welcome_message}}</h1>");
    client.render(".reco", r.offers["Loyalty Discount"], "<p>{{discount}}</p>");
    return r;
  });
</script></head>
<body><div id="hero"><p>Fallback hero</p></div><div class="reco">Fallback reco</div>
<div id="other">Never hidden</div></body></html>"""

_STRICT_CSP = (
    "default-src 'self'; connect-src %ENDPOINT%; style-src 'self'; "
    "require-trusted-types-for 'script'; trusted-types p13n"
)

PAGES: dict[str, tuple[str, dict[str, str]]] = {
    "/index.html": (_INDEX, {}),
    "/prehide.html": (_PREHIDE, {}),
    "/strict.html": (_INDEX, {"Content-Security-Policy": _STRICT_CSP}),
}


@dataclass
class Posted:
    table: str
    headers: dict[str, str]  # names lower-cased
    body: Any


@dataclass
class EndpointState:
    """What the fake endpoint saw, and the events a test uses to steer it."""

    posts: list[Posted] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    gate: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def record(self, posted: Posted) -> None:
        with self.arrived:
            self.posts.append(posted)
            self.arrived.notify_all()

    def wait_for_post(self, table: str) -> Posted:
        with self.arrived:
            found = self.arrived.wait_for(
                lambda: any(p.table == table for p in self.posts), timeout=HANDLER_WAIT_S
            )
            assert found, f"no POST to {table} arrived"
            return next(p for p in self.posts if p.table == table)

    def reset(self) -> None:
        # Handlers still parked on the previous events are let go first.
        self.gate.set()
        self.release.set()
        with self.arrived:
            self.posts.clear()
        self.gate = threading.Event()
        self.release = threading.Event()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], state: EndpointState, endpoint: str = ""
    ) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.state = state
        self.endpoint = endpoint

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, each response would wait
    # for the browser's delayed ACK (~40 ms).
    disable_nagle_algorithm = True

    @property
    def srv(self) -> _Server:
        return cast(_Server, self.server)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean

    def answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _SiteHandler(_Handler):
    """Origin A: the pages and the SDK file, read per request so edits show at once."""

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/sdk/p13n.js":
            self.answer(200, SDK_PATH.read_bytes(), {"Content-Type": "text/javascript"})
        elif path in PAGES:
            html, headers = PAGES[path]
            fill = {"%ENDPOINT%": self.srv.endpoint, "%TOKEN%": TOKEN, "%DATABASE%": DATABASE}
            headers = {k: v.replace("%ENDPOINT%", self.srv.endpoint) for k, v in headers.items()}
            for key, value in fill.items():
                html = html.replace(key, value)
            self.answer(200, html.encode(), {"Content-Type": "text/html", **headers})
        else:
            self.answer(404, b"not found", {"Content-Type": "text/plain"})


class _EndpointHandler(_Handler):
    """Origin B: a fake `/public/{db}/{table}` driven by BEHAVIOURS."""

    def behaviour(self) -> tuple[str, Behaviour]:
        m = re.fullmatch(rf"/public/{DATABASE}/([a-z0-9_]+)", urlsplit(self.path).path)
        table = m.group(1) if m else ""
        return table, BEHAVIOURS.get(table, Behaviour(status=404, body=_status(5, "no table")))

    def cors(self) -> dict[str, str]:
        return {"Access-Control-Allow-Origin": self.headers.get("Origin", ""), "Vary": "Origin"}

    def do_OPTIONS(self) -> None:
        _, b = self.behaviour()
        if not b.preflight:
            self.answer(403, _status(7, "origin not allowed"), {})
            return
        preflight = {
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "content-type, wp13n-token",
            "Access-Control-Max-Age": "600",
        }
        self.answer(204, b"", {**self.cors(), **preflight})

    def do_POST(self) -> None:
        table, b = self.behaviour()
        state = self.srv.state
        # Taken before the POST is recorded, so that the test which sees it holds the same
        # events, and a later reset() still finds and releases them.
        gate, release = state.gate, state.release
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        state.record(Posted(table, headers, json.loads(raw)))
        cors = self.cors() if b.cors else {}
        if b.wait == "gate":
            gate.wait(HANDLER_WAIT_S)
        elif b.wait == "forever":
            release.wait(HANDLER_WAIT_S)
            self.close_connection = True
            return
        if b.stall_body:
            self.send_response(b.status)
            for name, value in {**cors, "Content-Length": str(len(b.body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(b.body[:5])
            self.wfile.flush()
            release.wait(HANDLER_WAIT_S)
            self.close_connection = True
            return
        self.answer(b.status, b.body, {"Content-Type": "application/json", **cors})


@dataclass(frozen=True)
class Servers:
    site: str  # origin A
    endpoint: str  # origin B
    state: EndpointState


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    state = EndpointState()
    api = _Server(_EndpointHandler, state)
    site = _Server(_SiteHandler, state, endpoint=api.origin)
    for server in (api, site):
        # A short poll interval makes shutdown() quick at the end of the module.
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield Servers(site.origin, api.origin, state)
    state.reset()
    for server in (api, site):
        server.shutdown()
        server.server_close()


@pytest.fixture
def endpoint(servers: Servers) -> Iterator[EndpointState]:
    servers.state.reset()
    yield servers.state
    servers.state.reset()


@dataclass(frozen=True)
class Tab:
    page: Page
    errors: list[str]  # uncaught exceptions and unhandled rejections in the page
    warnings: list[str]  # console.warn output


def _open_tab(browser: Browser) -> Tab:
    page = browser.new_context().new_page()
    tab = Tab(page, [], [])
    page.on("pageerror", lambda error: tab.errors.append(str(error)))

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "warning":
            tab.warnings.append(message.text)

    page.on("console", on_console)
    return tab


@pytest.fixture(scope="module")
def tab(browser: Browser) -> Iterator[Tab]:
    # Opening a page costs a renderer process (~0.1 s); most tests share this one.
    tab = _open_tab(browser)
    yield tab
    tab.page.context.close()


@pytest.fixture
def page(
    tab: Tab,
    servers: Servers,
    endpoint: EndpointState,  # noqa: ARG001 - requested for its reset of the endpoint
) -> Iterator[Page]:
    """The shared tab as a first-time visitor, on /index.html; fails the test on a page error."""
    tab.page.context.clear_cookies()
    tab.page.goto(f"{servers.site}/index.html")
    tab.page.evaluate("() => { localStorage.clear(); sessionStorage.clear(); }")
    tab.errors.clear()
    tab.warnings.clear()
    yield tab.page
    assert tab.errors == [], f"uncaught errors in the page: {tab.errors}"


@pytest.fixture
def fresh_page(
    browser: Browser,
    endpoint: EndpointState,  # noqa: ARG001 - requested for its reset of the endpoint
) -> Iterator[Page]:
    """A tab of its own, for tests that install init scripts; not yet navigated."""
    tab = _open_tab(browser)
    yield tab.page
    tab.page.context.close()
    assert tab.errors == [], f"uncaught errors in the page: {tab.errors}"


@pytest.fixture
def renderer(page: Page) -> Page:
    """The page with `window.client`: render() needs no network, so it never sends."""
    page.evaluate(
        "() => { window.client = p13n.init({endpoint: '/', token: 'a/b/c', "
        "database: 'shop_db', table: 'events', storage: 'memory'}); }"
    )
    return page


def _options(servers: Servers, **overrides: Any) -> dict[str, Any]:
    return {
        "endpoint": servers.endpoint,
        "token": TOKEN,
        "database": DATABASE,
        "table": "offers",
        **overrides,
    }


_SEND = """async ({options, table, fields}) => {
  const client = p13n.init(options);
  const fallback = {fallback: true};
  const started = performance.now();
  const result = await client.send(fields, {fallback, table});
  return {...result, elapsedMs: performance.now() - started, clientId: client.clientId,
          usedFallback: result.offers === fallback,
          // ready must already be settled here; race() picks it only if it is (no hang if not).
          readyIsResult: (await Promise.race([client.ready, 'pending'])) === result};
}"""


def _send(
    page: Page,
    servers: Servers,
    table: str = "offers",
    fields: dict[str, Any] | None = None,
    **options: Any,
) -> dict[str, Any]:
    args = {"options": _options(servers, **options), "table": table, "fields": fields}
    return cast(dict[str, Any], page.evaluate(_SEND, args))


def _visibility(page: Page, selector: str) -> str:
    return cast(
        str, page.evaluate("s => getComputedStyle(document.querySelector(s)).visibility", selector)
    )


# ---- the event and the visitor id -------------------------------------------------------


def test_client_id_is_a_uuid4_kept_across_reloads_and_sent(
    page: Page, servers: Servers, endpoint: EndpointState, browser: Browser
) -> None:
    page.goto(f"{servers.site}/index.html?utm_source=test")
    # Cookies ignore ports: a credentialed request would carry this one to origin B.
    page.evaluate("() => { document.cookie = 'site_session=secret; Path=/'; }")
    first = _send(page, servers, fields={"product_name": "tank-top", "tags": ["a", 1]})
    assert first["ok"], first
    assert UUID_V4.match(first["clientId"])
    posted = endpoint.wait_for_post("offers")
    assert posted.body == {
        "td_client_id": first["clientId"],
        "td_url": f"{servers.site}/index.html?utm_source=test",
        "td_path": "/index.html",
        "product_name": "tank-top",
        "tags": ["a", 1],
    }
    assert posted.headers["content-type"] == "application/json"
    assert posted.headers["wp13n-token"] == TOKEN
    assert posted.headers["origin"] == servers.site
    assert "cookie" not in posted.headers

    page.reload()
    assert _send(page, servers)["clientId"] == first["clientId"]

    other_visitor = browser.new_context()
    try:
        other = other_visitor.new_page()
        other.goto(f"{servers.site}/index.html")
        assert _send(other, servers)["clientId"] != first["clientId"]
    finally:
        other_visitor.close()


def test_client_id_without_crypto_random_uuid_is_still_a_uuid4(
    fresh_page: Page, servers: Servers
) -> None:
    # randomUUID is missing on plain-http pages (not a secure context).
    fresh_page.add_init_script("delete Crypto.prototype.randomUUID")
    fresh_page.goto(f"{servers.site}/index.html")
    assert fresh_page.evaluate("typeof crypto.randomUUID") == "undefined"
    assert UUID_V4.match(_send(fresh_page, servers)["clientId"])


def test_caller_fields_win_over_defaults_except_undefined(
    page: Page, servers: Servers, endpoint: EndpointState
) -> None:
    result = page.evaluate(
        """async (o) => {
          const client = p13n.init(o);
          return client.send({td_path: '/virtual/cart', td_url: undefined, x: undefined});
        }""",
        _options(servers),
    )
    assert result["ok"]
    body = endpoint.wait_for_post("offers").body
    assert body["td_path"] == "/virtual/cart"
    assert body["td_url"] == f"{servers.site}/index.html"
    assert "x" not in body


BLOCK_LOCAL_STORAGE = """Object.defineProperty(window, 'localStorage', {configurable: true,
  get() { throw new DOMException('The operation is insecure.', 'SecurityError'); }});"""
BLOCK_COOKIES = """Object.defineProperty(Document.prototype, 'cookie', {configurable: true,
  get() { throw new DOMException('The operation is insecure.', 'SecurityError'); },
  set() { throw new DOMException('The operation is insecure.', 'SecurityError'); }});"""


@pytest.mark.parametrize(
    ("scripts", "persists"),
    [
        pytest.param([BLOCK_LOCAL_STORAGE], True, id="localStorage-blocked-cookie-used"),
        pytest.param([BLOCK_LOCAL_STORAGE, BLOCK_COOKIES], False, id="all-storage-blocked"),
    ],
)
def test_blocked_storage_never_breaks_send(
    fresh_page: Page, servers: Servers, endpoint: EndpointState, scripts: list[str], persists: bool
) -> None:
    for script in scripts:
        fresh_page.add_init_script(script)
    fresh_page.goto(f"{servers.site}/index.html")
    assert fresh_page.evaluate(
        "() => { try { localStorage; return false; } catch { return true; } }"
    )
    first = _send(fresh_page, servers)
    assert first["ok"], first
    assert UUID_V4.match(first["clientId"])
    assert endpoint.wait_for_post("offers").body["td_client_id"] == first["clientId"]
    fresh_page.reload()
    second = _send(fresh_page, servers)
    assert second["ok"]
    assert (second["clientId"] == first["clientId"]) is persists


@pytest.mark.parametrize(
    ("storage", "kept_in"),
    [
        pytest.param("auto", "local", id="auto"),
        pytest.param("local", "local", id="local"),
        pytest.param("cookie", "cookie", id="cookie"),
        pytest.param("sessionStorage", "session", id="storage-object"),
        pytest.param("memory", None, id="memory"),
    ],
)
def test_storage_option_decides_where_the_id_is_kept(
    page: Page, servers: Servers, storage: str, kept_in: str | None
) -> None:
    found = page.evaluate(
        """([o, storage, key]) => {
          if (storage === 'sessionStorage') storage = sessionStorage;
          const client = p13n.init({...o, storage});
          const cookie = document.cookie.match(new RegExp(`${key}=([^;]*)`));
          const where = {local: localStorage.getItem(key), session: sessionStorage.getItem(key),
                         cookie: cookie ? cookie[1] : null};
          return {id: client.clientId, where};
        }""",
        [_options(servers), storage, STORAGE_KEY],
    )
    expected = {"local": None, "session": None, "cookie": None}
    if kept_in:
        expected[kept_in] = found["id"]
    assert found["where"] == expected


def test_a_stored_value_that_is_not_a_uuid4_is_replaced(page: Page, servers: Servers) -> None:
    page.evaluate("k => localStorage.setItem(k, '<script>')", STORAGE_KEY)
    client_id = _send(page, servers)["clientId"]
    assert UUID_V4.match(client_id)
    assert page.evaluate("k => localStorage.getItem(k)", STORAGE_KEY) == client_id


# ---- answers and fallbacks --------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "offers"),
    [
        pytest.param("offers", OFFERS, id="offers"),
        pytest.param("no_offers", {}, id="empty-map-omitted"),
    ],
)
def test_success_resolves_to_the_offers(
    page: Page, servers: Servers, table: str, offers: dict[str, Any]
) -> None:
    result = _send(page, servers, table=table)
    assert result["offers"] == offers
    assert result["ok"] is True
    assert (result["reason"], result["status"], result["message"]) == (None, 200, "")
    assert not result["usedFallback"]
    assert result["readyIsResult"]


@pytest.mark.parametrize(
    ("table", "reason", "status", "message"),
    [
        pytest.param("origin_refused", "network", 0, "CORS", id="preflight-refused"),
        pytest.param("no_cors_answer", "network", 0, "CORS", id="answer-without-cors"),
        pytest.param("bad_token", "network", 0, "CORS", id="401-without-cors"),
        pytest.param("unauthenticated", "http", 401, "token revoked", id="401-with-cors"),
        pytest.param("unknown_table", "http", 404, "not an event table", id="404-message"),
        pytest.param("gateway_down", "http", 503, "HTTP 503", id="503-empty-body"),
        pytest.param("not_json", "malformed", 200, "not a JSON object", id="not-json"),
        pytest.param("json_array", "malformed", 200, "not a JSON object", id="json-array"),
        pytest.param("offers_array", "malformed", 200, '"offers"', id="offers-array"),
    ],
)
def test_failures_resolve_to_the_callers_fallback(
    page: Page, servers: Servers, table: str, reason: str, status: int, message: str
) -> None:
    result = _send(page, servers, table=table)
    assert result["usedFallback"], result
    assert (result["ok"], result["reason"], result["status"]) == (False, reason, status)
    assert message in result["message"]
    assert result["readyIsResult"]


def test_an_answer_without_cors_was_still_sent(
    page: Page, servers: Servers, endpoint: EndpointState
) -> None:
    # CORS protects what the page can read, not what the server receives.
    assert _send(page, servers, table="no_cors_answer")["reason"] == "network"
    assert endpoint.wait_for_post("no_cors_answer").body["td_path"] == "/index.html"


@pytest.mark.parametrize("table", ["hang", "stall_body"], ids=["no-headers", "body-stalls"])
def test_a_hanging_endpoint_falls_back_after_the_timeout(
    page: Page, servers: Servers, table: str
) -> None:
    result = _send(page, servers, table=table, timeoutMs=300)
    assert (result["reason"], result["usedFallback"]) == ("timeout", True)
    assert result["elapsedMs"] < 300 + TIMEOUT_MARGIN_MS


@pytest.mark.parametrize(
    ("options", "fields", "send_options", "reason"),  # the last three as JavaScript source
    [
        pytest.param({"endpoint": None}, "{}", "", "config", id="no-endpoint"),
        pytest.param({"endpoint": "javascript:alert(1)"}, "{}", "", "config", id="bad-endpoint"),
        pytest.param({"token": "abc"}, "{}", "", "config", id="bad-token"),
        pytest.param({"database": "Shop-DB"}, "{}", "", "config", id="bad-database"),
        pytest.param({"table": "records"}, "{}", "", "config", id="reserved-table"),
        pytest.param({}, "{}", "table: '../x'", "config", id="bad-table-override"),
        pytest.param({}, "[1]", "", "fields", id="array-fields"),
        pytest.param({}, "'text'", "", "fields", id="string-fields"),
        pytest.param(
            {}, "(() => { const o = {}; o.o = o; return o; })()", "", "fields", id="circular-fields"
        ),
        pytest.param({}, "{n: 1n}", "", "fields", id="bigint-field"),
        pytest.param(
            {}, "{}", "get table() { throw new Error('boom'); }", "error", id="throwing-options"
        ),
    ],
)
def test_bad_input_never_throws_and_sends_nothing(
    page: Page,
    servers: Servers,
    endpoint: EndpointState,
    options: dict[str, Any],
    fields: str,
    send_options: str,
    reason: str,
) -> None:
    # fields and send_options are JavaScript source: most of these values have no JSON form.
    result = page.evaluate(
        f"""async (o) => {{
          const client = p13n.init(o);
          const fallback = {{fallback: true}};
          const result = await client.send({fields}, {{fallback, {send_options}}});
          return {{...result, usedFallback: result.offers === fallback}};
        }}""",
        _options(servers, **options),
    )
    assert (result["reason"], result["usedFallback"]) == (reason, True), result
    assert result["message"]
    assert endpoint.posts == []


def test_init_without_options_does_not_throw(page: Page) -> None:
    result = page.evaluate("() => p13n.init().send({page: 'x'})")
    assert (result["ok"], result["reason"], result["offers"]) == (False, "config", {})


# ---- pre-hiding -------------------------------------------------------------------------


def test_prehidden_sections_stay_hidden_until_the_answer_then_render(
    page: Page, servers: Servers, endpoint: EndpointState
) -> None:
    page.goto(f"{servers.site}/prehide.html")
    endpoint.wait_for_post("gated")  # the request is in flight and held
    assert _visibility(page, "#hero") == "hidden"
    assert _visibility(page, ".reco") == "hidden"
    assert _visibility(page, "#other") == "visible"

    endpoint.gate.set()
    assert page.evaluate("window.result.then(r => r.ok)")
    assert _visibility(page, "#hero") == "visible"
    assert _visibility(page, ".reco") == "visible"
    assert page.inner_text("#hero") == "Welcome back!"
    assert page.inner_text(".reco") == "Fallback reco"  # redacted: fallback kept


@pytest.mark.parametrize(
    ("table", "reason"),
    [
        pytest.param("offers", None, id="success"),
        pytest.param("hang", "timeout", id="timeout"),
        pytest.param("origin_refused", "network", id="cors-failure"),
        pytest.param("unknown_table", "http", id="http-error"),
    ],
)
def test_prehiding_is_lifted_however_send_ends(
    page: Page, servers: Servers, table: str, reason: str | None
) -> None:
    seen = page.evaluate(
        """async ({o, table}) => {
          const visibility = () => getComputedStyle(document.querySelector('#hero')).visibility;
          const client = p13n.init(o);
          const before = visibility();
          const result = await client.send({}, {table});
          return {before, after: visibility(), reason: result.reason};
        }""",
        {"o": _options(servers, prehide=["#hero"], timeoutMs=300), "table": table},
    )
    assert seen == {"before": "hidden", "after": "visible", "reason": reason}


def test_prehiding_is_lifted_even_if_send_is_never_called(
    page: Page, tab: Tab, servers: Servers
) -> None:
    hidden = page.evaluate(
        """(o) => {
          p13n.init(o);
          const visibility = (s) => getComputedStyle(document.querySelector(s)).visibility;
          return [visibility('#hero'), visibility('.reco')];
        }""",
        _options(servers, prehide=["#hero", "a{}.reco", 42], timeoutMs=100),
    )
    # The bad selectors are skipped one by one; the good one still applies.
    assert hidden == ["hidden", "visible"]
    assert len([w for w in tab.warnings if "prehide ignores" in w]) == 2
    page.wait_for_function(
        "getComputedStyle(document.querySelector('#hero')).visibility === 'visible'",
        timeout=100 + 500 + TIMEOUT_MARGIN_MS,
    )


def test_prehide_and_render_work_under_a_strict_csp(page: Page, servers: Servers) -> None:
    page.goto(f"{servers.site}/strict.html")
    seen = page.evaluate(
        """async (o) => {
          const visibility = () => getComputedStyle(document.querySelector('#hero')).visibility;
          const client = p13n.init(o);
          const before = visibility();
          let plainHtmlRefused = false;
          try { document.querySelector('#other').innerHTML = '<b>x</b>'; }
          catch (e) { plainHtmlRefused = e instanceof TypeError; }
          const result = await client.send({});
          const rendered = client.render('#hero', result.offers['Welcome Banner'],
                                         '<h1>{{welcome_message}}</h1>');
          return {before, after: visibility(), plainHtmlRefused, ok: result.ok, rendered,
                  html: document.querySelector('#hero').innerHTML};
        }""",
        _options(servers, prehide="#hero"),  # one selector may be given as a string
    )
    assert seen == {
        "before": "hidden",
        "after": "visible",
        "plainHtmlRefused": True,  # proves Trusted Types is enforced on this page
        "ok": True,
        "rendered": True,
        "html": "<h1>Welcome back!</h1>",
    }


# ---- rendering --------------------------------------------------------------------------


def test_render_shows_markup_in_data_as_text(page: Page, servers: Servers) -> None:
    seen = page.evaluate(
        """async (o) => {
          const client = p13n.init(o);
          const {offers} = await client.send({});
          const box = document.querySelector('.reco');
          const rendered = client.render(box, offers['Recommendations'],
            '<h2 title="{{headline}}">{{headline}}</h2>' +
            '<ul>{{#product_list}}<li>{{.}}</li>{{/product_list}}</ul>');
          const h2 = box.querySelector('h2');
          return {rendered, title: h2.getAttribute('title'), text: h2.textContent,
                  elements: box.querySelectorAll('*').length,
                  items: [...box.querySelectorAll('li')].map((li) => li.textContent)};
        }""",
        _options(servers),
    )
    assert seen == {
        "rendered": True,
        "title": XSS,
        "text": XSS,
        "elements": 4,  # h2, ul, li, li: no img, no b
        "items": ["running-shoes", "<b>hoodie</b>"],
    }


_RENDER = """([section, template]) => {
  const el = document.createElement('div');
  el.innerHTML = '<i>fallback</i>';
  return [client.render(el, section, template), el.innerHTML];
}"""


@pytest.mark.parametrize(
    ("template", "attributes", "html"),
    [
        pytest.param("<b>{{name}}</b>", {"name": "Ann"}, "<b>Ann</b>", id="text"),
        pytest.param("{{ name }}", {"name": "Ann"}, "Ann", id="spaces-in-tag"),
        pytest.param("<p>{{v}}</p>", {"v": "<i>&'\""}, "<p>&lt;i&gt;&amp;'\"</p>", id="escaped"),
        pytest.param(
            "{{n}} {{f}} {{t}}", {"n": 28700, "f": 0.5, "t": True}, "28700 0.5 true", id="scalars"
        ),
        pytest.param("[{{a}}|{{b}}|{{c}}]", {"b": None, "c": {"k": 1}}, "[||]", id="empty-values"),
        pytest.param("{{l}}", {"l": ["a", 2]}, "a, 2", id="array-joined"),
        pytest.param("{{a.b}}", {"a": {"b": "deep"}}, "deep", id="dotted-path"),
        pytest.param(
            "[{{#constructor}}leak{{/constructor}}{{a.constructor}}{{toString}}]",
            {"a": {}},
            "[]",
            id="own-props-only",
        ),
        pytest.param("{{a}}", {"a": "{{b}}", "b": "secret"}, "{{b}}", id="data-is-not-template"),
        pytest.param(
            "{{#l}}<i>{{.}}</i>{{/l}}", {"l": ["a", "<b>"]}, "<i>a</i><i>&lt;b&gt;</i>", id="list"
        ),
        pytest.param(
            "{{#p}}{{name}}={{price}};{{/p}}",
            {"p": [{"name": "x", "price": 1}]},
            "x=1;",
            id="list-of-objects",
        ),
        pytest.param(
            "{{#l}}{{.}}{{sep}}{{/l}}",
            {"l": ["a", "b"], "sep": "!"},
            "a!b!",
            id="outer-names-inside-list",
        ),
        pytest.param(
            "{{#o}}{{#l}}{{.}}{{/l}}{{/o}}",
            {"o": [{"l": [1, 2]}, {"l": [3]}]},
            "123",
            id="nested-sections",
        ),
        pytest.param(
            "<ul>{{#l}}<li>{{.}}</li>{{/l}}</ul>", {"l": []}, "<ul></ul>", id="empty-list"
        ),
        pytest.param("{{#t}}yes{{/t}}{{#f}}no{{/f}}", {"t": True, "f": False}, "yes", id="flags"),
        pytest.param("<p>static</p>", {}, "<p>static</p>", id="matched-without-fields"),
    ],
)
def test_render_template(
    renderer: Page, template: str, attributes: dict[str, Any], html: str
) -> None:
    assert renderer.evaluate(_RENDER, [{"attributes": attributes}, template]) == [True, html]


@pytest.mark.parametrize(
    "section",
    [
        pytest.param({}, id="redacted"),
        pytest.param(None, id="missing"),
        pytest.param({"attributes": None}, id="null-attributes"),
        pytest.param("text", id="not-an-object"),
    ],
)
def test_render_leaves_fallback_content_for_an_empty_section(renderer: Page, section: Any) -> None:
    assert renderer.evaluate(_RENDER, [section, "<b>{{x}}</b>"]) == [False, "<i>fallback</i>"]


@pytest.mark.parametrize("target", ["#nowhere", "##not-a-selector"])
def test_render_into_a_missing_target_does_nothing(renderer: Page, target: str) -> None:
    assert (
        renderer.evaluate("t => client.render(t, {attributes: {x: 1}}, '{{x}}')", target) is False
    )
