"""The demo shop's web server: static pages on their own origin, personalized in the browser.

It serves the pages of ``shop/``, the browser SDK (``gateway/sdk/p13n.js``, the very file a
site would host) and ``/config.js``, generated from a ``PageConfig``: where the gateway is,
the public token, and the product catalog. Everything it serves is public; the pages
personalize themselves by calling the gateway from the browser, cross-origin, exactly as a
customer's site would. Pages carry a strict Content-Security-Policy with Trusted Types, so
the demo also shows that the SDK works under one.

One thing only a server can do: sign a member in. ``POST /sign-in`` answers the member's id
and its proof, the hex HMAC-SHA256 of ``"member_id\n<id>"`` under the public service's
identity secret, which this process holds and no page ever sees. The page sends both with
its events; without the proof, the gateway would not let a browser claim the member
(docs/design.md#verified-identifiers). A real site signs the id of the user its own session
authenticated; the demo has one member and no password.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

log = logging.getLogger("p13n.demo.shop")

SHOP_DIR = Path(__file__).with_name("shop")
# The SDK as the gateway's directory holds it: one file, served here as a site would host it.
SDK_FILE = Path(__file__).resolve().parents[2] / "gateway" / "sdk" / "p13n.js"
_PRODUCT_PATH = re.compile(r"/products/([a-z0-9-]+)")
_STATIC = {
    "/shop.css": ("shop.css", "text/css; charset=utf-8"),
    "/shop.js": ("shop.js", "text/javascript; charset=utf-8"),
}
_HTML = "text/html; charset=utf-8"
PAGE_CONFIG_FILE = "demo-page.json"


@dataclass(frozen=True)
class PageConfig:
    """What the shop's pages need to personalize themselves; all of it is public."""

    endpoint: str  # the gateway's data-plane origin, as the browser reaches it
    token: str  # a PUBLIC token: it is served to every visitor
    database: str
    table: str
    member_id: str  # the known demo visitor the page can "sign in" as
    timeout_ms: int = 1000

    def dump(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def parse(cls, text: str) -> PageConfig:
        return cls(**json.loads(text))


def page_config_path(data_dir: Path) -> Path:
    """Where `p13n up --demo` leaves the page settings for the shop process it starts."""
    return data_dir / PAGE_CONFIG_FILE


def load_products() -> list[dict[str, Any]]:
    products: list[dict[str, Any]] = json.loads((SHOP_DIR / "products.json").read_text())
    return products


def config_script(page: PageConfig, products: list[dict[str, Any]]) -> bytes:
    """``/config.js``: the settings as one global the shop's script reads synchronously."""
    settings = {
        "endpoint": page.endpoint,
        "token": page.token,
        "database": page.database,
        "table": page.table,
        "timeoutMs": page.timeout_ms,
        "memberId": page.member_id,
        "products": products,
    }
    return f"window.P13N_DEMO = {json.dumps(settings, indent=2)};\n".encode()


def member_proof(secret: str, member_id: str, key: str = "member_id") -> str:
    """The identity proof of a member's id, as a site's backend makes it (stdlib only)."""
    return hmac.new(secret.encode(), f"{key}\n{member_id}".encode(), hashlib.sha256).hexdigest()


def content_security_policy(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            # 'self': the sign-in asks the shop's own server for the member's proof.
            f"connect-src 'self' {parts.scheme}://{parts.netloc}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
            # The SDK's render() writes HTML through its own Trusted Types policy, "p13n".
            "require-trusted-types-for 'script'",
            "trusted-types p13n",
        ]
    )


class ShopServer(ThreadingHTTPServer):
    """The shop on ``http://host:port``; ``serve_forever()`` runs it."""

    daemon_threads = True

    def __init__(
        self, host: str, port: int, page: PageConfig, *, identity_secret: str = ""
    ) -> None:
        super().__init__((host, port), _Handler)
        self.page = page
        self._identity_secret = identity_secret
        self.products = load_products()
        self.slugs = {p["slug"] for p in self.products}
        self.csp = content_security_policy(page.endpoint)

    def __repr__(self) -> str:
        return f"ShopServer({self.page.endpoint!r}, <identity secret hidden>)"

    def sign_in(self) -> dict[str, str] | None:
        """The demo member's id and proof; None when this server has no identity secret."""
        if not self._identity_secret:
            return None
        member = self.page.member_id
        return {"member_id": member, "proof": member_proof(self._identity_secret, member)}

    @property
    def origin(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server_version = "p13n-demo-shop"

    @property
    def shop(self) -> ShopServer:
        return cast(ShopServer, self.server)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        product = _PRODUCT_PATH.fullmatch(path)
        if path in ("/", "/index.html"):
            self._page("index.html")
        elif product and product.group(1) in self.shop.slugs:
            self._page("product.html")
        elif path == "/config.js":
            body = config_script(self.shop.page, self.shop.products)
            self._send(200, body, "text/javascript; charset=utf-8")
        elif path == "/sdk/p13n.js":
            self._send(200, SDK_FILE.read_bytes(), "text/javascript; charset=utf-8")
        elif path in _STATIC:
            name, content_type = _STATIC[path]
            self._send(200, (SHOP_DIR / name).read_bytes(), content_type)
        else:
            self._send(404, b"<!doctype html><title>Not found</title><p>Not found.", _HTML)

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/sign-in":
            self._send(404, b'{"message":"Not found"}', "application/json")
            return
        signed = self.shop.sign_in()
        if signed is None:
            body = {"message": "This shop server has no identity secret: load the demo first"}
            self._send(503, json.dumps(body).encode(), "application/json")
            return
        # The proof is the member's own: it goes to the browser that signed in, never logged.
        self._send(200, json.dumps(signed).encode(), "application/json")

    def _page(self, name: str) -> None:
        self._send(
            200, (SHOP_DIR / name).read_bytes(), _HTML, {"Content-Security-Policy": self.shop.csp}
        )

    def _send(
        self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(len(body)),
            # Files are read per request and never cached, so an edit shows on reload.
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            **(extra or {}),
        }
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
