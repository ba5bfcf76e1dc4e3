"""The console's built files (console/dist, committed; `make console` rebuilds it) as routes of
the admin listener under /console/.

Envoy answers each file itself (a direct response read when the configuration loads), so the
console needs no web server and no credential: its files hold no data, and every data call is
the admin API with the user's session. The files are listed from the repository's build and
read by Envoy from ``served_from``: the repository on one machine, the gateway image's copy on
Kubernetes (deploy/images/gateway.Dockerfile), built from the same commit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DIST = Path(__file__).resolve().parent.parent / "console" / "dist"
KUBERNETES_DIST = Path("/usr/share/p13n/console")
PREFIX = "/console"
INDEX = "index.html"
# Vite puts every hashed file here: a new build gets new names, so they may be kept forever.
ASSETS = "assets/"

# Scripts, styles, fonts and fetches only from the gateway's own origin; nothing inline (the
# build has no inline script or style: tests/gateway/test_console_routes.py checks), no
# plugin, no framing, no <base>, forms only to this origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
IMMUTABLE = "public, max-age=31536000, immutable"
# index.html names the current build's assets: a browser asks again each time.
REVALIDATE = "no-cache"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}

_GET_OR_HEAD = {"name": ":method", "string_match": {"safe_regex": {"regex": "GET|HEAD"}}}

# Served by Envoy alone: no credential to check, no body, nothing for the transcoder (which
# would answer 404 for a path that is no method).
_UNGUARDED = {
    "envoy.filters.http.ext_authz": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute",
        "disabled": True,
    },
    "p13n.ext_authz_body": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute",
        "disabled": True,
    },
    "envoy.filters.http.grpc_json_transcoder": {
        "@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig",
        "disabled": True,
    },
}


def files(dist: Path = DIST) -> list[str]:
    """The built files, as paths relative to ``dist``, sorted."""
    if not (dist / INDEX).is_file():
        raise FileNotFoundError(f"{dist / INDEX} is missing: run `make console`")
    return sorted(p.relative_to(dist).as_posix() for p in dist.rglob("*") if p.is_file())


def content_type(name: str) -> str:
    suffix = Path(name).suffix
    if suffix not in CONTENT_TYPES:
        # A new kind of file gets its type on purpose, never a guess the browser must sniff.
        raise ValueError(
            f"console/dist/{name}: no content type for {suffix!r} in gateway/console.py"
        )
    return CONTENT_TYPES[suffix]


def headers(name: str) -> dict[str, str]:
    """The response headers of one built file."""
    cache = IMMUTABLE if name.startswith(ASSETS) else REVALIDATE
    return {"content-type": content_type(name), "cache-control": cache, **SECURITY_HEADERS}


def _header_list(values: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {"header": {"key": key, "value": value}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
        for key, value in values.items()
    ]


def _file_route(match: dict[str, Any], name: str, served_from: Path) -> dict[str, Any]:
    return {
        "match": {**match, "headers": [_GET_OR_HEAD]},
        "direct_response": {"status": 200, "body": {"filename": str(served_from / name)}},
        "response_headers_to_add": _header_list(headers(name)),
        "typed_per_filter_config": _UNGUARDED,
    }


def routes(served_from: Path, max_bytes: int, dist: Path = DIST) -> list[dict[str, Any]]:
    """The admin listener's console routes, in match order: /console to /console/, each built
    file at its path, a missing asset 404, and any other /console/ path (a client-side
    route, a deep link) index.html."""
    built = files(dist)
    for name in built:
        size = (dist / name).stat().st_size
        if size >= max_bytes:
            raise ValueError(
                f"console/dist/{name} is {size} bytes: Envoy serves at most {max_bytes}"
            )
    redirect = {
        "match": {"path": PREFIX, "headers": [_GET_OR_HEAD]},
        "redirect": {"path_redirect": f"{PREFIX}/"},
        "response_headers_to_add": _header_list(SECURITY_HEADERS),
        "typed_per_filter_config": _UNGUARDED,
    }
    each_file = [_file_route({"path": f"{PREFIX}/{name}"}, name, served_from) for name in built]
    # An old page asking for an asset of a build no longer served gets a 404, not HTML that
    # its <script> would refuse to run.
    missing_asset = {
        "match": {"prefix": f"{PREFIX}/{ASSETS}", "headers": [_GET_OR_HEAD]},
        "direct_response": {"status": 404},
        "response_headers_to_add": _header_list(SECURITY_HEADERS),
        "typed_per_filter_config": _UNGUARDED,
    }
    client_side = _file_route({"prefix": f"{PREFIX}/"}, INDEX, served_from)
    return [redirect, *each_file, missing_asset, client_side]
