"""The console's routes on the admin listener (gateway/console.py), as rendered: each built
file with its type and cache policy, the CSP on every answer, no credential check, and a
build with nothing inline for the CSP to refuse. tests/browser/test_console.py serves them."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from gateway import console
from gateway.render import OPENAPI_MAX_BYTES, GatewayConfig, Upstream, build

LOCAL = GatewayConfig(
    bind_host="127.0.0.1",
    data_port=8080,
    admin_port=8081,
    envoy_admin_port=9901,
    auth=(Upstream("127.0.0.1", 50051),),
    profile=(Upstream("127.0.0.1", 50052),),
    offers=(Upstream("127.0.0.1", 50053),),
)


def _admin_routes(config: GatewayConfig) -> list[dict[str, Any]]:
    [listener] = [
        listener
        for listener in build(config)["static_resources"]["listeners"]
        if listener["name"] == "admin_api"
    ]
    manager = listener["filter_chains"][0]["filters"][-1]["typed_config"]
    [host] = manager["route_config"]["virtual_hosts"]
    routes: list[dict[str, Any]] = host["routes"]
    return routes


def _console_routes(config: GatewayConfig) -> list[dict[str, Any]]:
    return [
        route
        for route in _admin_routes(config)
        if route["match"].get("path", route["match"].get("prefix", "")).startswith("/console")
    ]


def _headers(route: dict[str, Any]) -> dict[str, str]:
    return {h["header"]["key"]: h["header"]["value"] for h in route["response_headers_to_add"]}


def test_each_built_file_is_served_from_where_envoy_reads_it() -> None:
    built = console.files()
    assert "index.html" in built
    assert any(name.startswith("assets/") and name.endswith(".js") for name in built)
    for config, directory in [
        (LOCAL, console.DIST),
        (GatewayConfig.on_kubernetes(), Path("/usr/share/p13n/console")),
    ]:
        served = {
            route["match"]["path"]: route["direct_response"]["body"]["filename"]
            for route in _console_routes(config)
            if "path" in route["match"] and "direct_response" in route
        }
        assert served == {f"/console/{name}": str(directory / name) for name in built}


def test_the_order_redirect_files_missing_assets_then_client_side_routes() -> None:
    routes = _admin_routes(LOCAL)
    console_routes = _console_routes(LOCAL)
    # Before the catch-all 404, which stays last.
    assert routes[-1]["match"] == {"prefix": "/"}
    assert routes[-1 - len(console_routes) : -1] == console_routes
    first, *files, missing, client_side = console_routes
    assert first["match"]["path"] == "/console"
    assert first["redirect"] == {"path_redirect": "/console/"}
    assert len(files) == len(console.files())
    assert missing["match"]["prefix"] == "/console/assets/"
    assert missing["direct_response"] == {"status": 404}
    assert client_side["match"]["prefix"] == "/console/"
    assert client_side["direct_response"]["body"]["filename"] == str(console.DIST / "index.html")


def test_every_console_answer_carries_the_policy_and_no_credential_is_checked() -> None:
    for route in _console_routes(LOCAL):
        headers = _headers(route)
        assert headers["content-security-policy"] == console.CONTENT_SECURITY_POLICY
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        filters = route["typed_per_filter_config"]
        assert filters["envoy.filters.http.ext_authz"]["disabled"] is True
        assert filters["p13n.ext_authz_body"]["disabled"] is True
        assert filters["envoy.filters.http.grpc_json_transcoder"]["disabled"] is True
        # Reads only: any other method falls through to the guarded catch-all.
        assert route["match"]["headers"][0]["string_match"]["safe_regex"]["regex"] == "GET|HEAD"


def test_hashed_assets_are_kept_and_the_page_is_revalidated() -> None:
    for route in _console_routes(LOCAL):
        if "body" not in route.get("direct_response", {}):
            continue
        headers = _headers(route)
        path = route["match"].get("path", "")
        if path.startswith("/console/assets/"):
            assert headers["cache-control"] == "public, max-age=31536000, immutable"
        else:
            assert headers["cache-control"] == "no-cache", path
        if path.endswith(".js"):
            assert headers["content-type"] == "text/javascript; charset=utf-8"
        if path.endswith(".css"):
            assert headers["content-type"] == "text/css; charset=utf-8"
    assert console.headers("index.html")["content-type"] == "text/html; charset=utf-8"


def test_a_file_of_an_unknown_kind_or_too_big_is_refused(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "font-1.ttf").write_bytes(b"\0")
    with pytest.raises(ValueError, match=r"no content type for '\.ttf'"):
        console.routes(tmp_path, OPENAPI_MAX_BYTES, tmp_path)
    (tmp_path / "assets" / "font-1.ttf").unlink()
    (tmp_path / "assets" / "big-1.js").write_bytes(b"x" * 100)
    with pytest.raises(ValueError, match="Envoy serves at most 100"):
        console.routes(tmp_path, 100, tmp_path)
    with pytest.raises(FileNotFoundError, match="make console"):
        console.files(tmp_path / "nothing")


class _Inline(HTMLParser):
    """Collects what a strict CSP would refuse in an HTML file."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script":
            if names.get("src") is None:
                self.found.append("inline <script>")
            else:
                self.sources.append(str(names["src"]))
        if tag == "link" and names.get("rel") == "stylesheet":
            self.sources.append(str(names["href"]))
        if tag == "style":
            self.found.append("<style>")
        self.found += [
            f"{name} on <{tag}>" for name in names if name == "style" or name.startswith("on")
        ]


def test_the_build_has_nothing_inline_and_names_only_files_it_has() -> None:
    page = _Inline()
    page.feed((console.DIST / "index.html").read_text())
    assert page.found == []
    assert page.sources
    for source in page.sources:
        assert source.startswith("/console/assets/"), source
        assert (console.DIST / source.removeprefix("/console/")).is_file(), source


def test_the_inline_check_can_fail() -> None:
    page = _Inline()
    page.feed('<script>alert(1)</script><p style="color:red" onclick="x()"></p>')
    assert page.found == ["inline <script>", "style on <p>", "onclick on <p>"]
