"""The browser path without ext_authz, for the single-process mode (``services.single``).

There the auth service shares a process with offers and profile, and decides a browser's
event itself as it serves it (``services/auth/public_path.py``): one call from Envoy instead
of ext_authz and then the transcoded call, and that call is plain HTTP/1.1 on the process's
Unix socket (``services/auth/browser_socket.py``), not a gRPC call. The gateway then:

- routes to that socket, with ext_authz and the transcoder off, exactly the requests whose
  every refusal the auth service answers as ext_authz would: POST on a path of two names
  with no query string (the transcoder refuses a query in its own words), a JSON content
  type, a Content-Length of at most 64 KiB (a longer body is refused by the buffer, and
  only ext_authz's CORS headers let the page read that 413). Every other request on
  ``/public/``, preflights included, passes ext_authz and the transcoder as per service;
- gives that route the client's address (trusted hops applied) under a header of its own:
  the data plane's connection manager removes every x-p13n- header a client sent first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.static_cluster import one_endpoint
from services.auth.authz import EVENT_CONTENT_TYPES
from services.auth.public_path import CLIENT_ADDRESS_HEADER

CLUSTER = "browser_path"
# Body bytes a request may announce to be decided in the process: an event's limit (the
# buffer's).
MAX_EVENT_BYTES = 65536
_AUTHZ_OFF = {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute",
    "disabled": True,
}
_FILTER_OFF = {"@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig", "disabled": True}


def _content_type_regex() -> str:
    # As authz._check_content_type reads it: the media type, case-insensitive, parameters
    # after a ';' ignored. A value this does not match goes to ext_authz, which decides it.
    types = "|".join(sorted(t.replace(".", r"\.").replace("+", r"\+") for t in EVENT_CONTENT_TYPES))
    return rf"(?i)^({types})\s*(;.*)?$"


def browser_route() -> dict[str, Any]:
    """The route of the requests decided in the process: to its socket, as sent."""
    return {
        "match": {
            "prefix": "/public/",
            "headers": [
                # Two names and no query string (a route's own path match would not see it).
                {
                    "name": ":path",
                    "string_match": {"safe_regex": {"regex": "^/public/[^/?]+/[^/?]+$"}},
                },
                {"name": ":method", "string_match": {"exact": "POST"}},
                {
                    "name": "content-type",
                    "string_match": {"safe_regex": {"regex": _content_type_regex()}},
                },
                {"name": "content-length", "range_match": {"start": 0, "end": MAX_EVENT_BYTES + 1}},
            ],
        },
        "route": {"cluster": CLUSTER, "timeout": "5s"},
        "request_headers_to_add": [
            {
                "header": {
                    "key": CLIENT_ADDRESS_HEADER,
                    "value": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
                },
                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
            }
        ],
        "typed_per_filter_config": {
            "envoy.filters.http.ext_authz": _AUTHZ_OFF,
            "p13n.ext_authz_body": _AUTHZ_OFF,
            "envoy.filters.http.grpc_json_transcoder": _FILTER_OFF,
        },
    }


def cluster(socket: Path) -> dict[str, Any]:
    """The process's socket, spoken to in HTTP/1.1 (Envoy's default upstream protocol)."""
    return one_endpoint(CLUSTER, {"pipe": {"path": str(socket)}}, "1s")


def apply(bootstrap: dict[str, Any], manager: dict[str, Any], socket: Path) -> None:
    """Sends the browser path of the data plane's connection manager ``manager`` to the
    process listening on ``socket``."""
    [host] = manager["route_config"]["virtual_hosts"]
    host["routes"].insert(0, browser_route())
    bootstrap["static_resources"]["clusters"].append(cluster(socket))
