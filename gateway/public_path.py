"""The browser path without ext_authz, for the single-process mode (``services.single``).

There the auth service shares a process with offers and profile, and decides a browser's
event itself as it serves it (``services/auth/public_path.py``): one call from Envoy instead
of ext_authz and then the transcoded call. The gateway then:

- binds ``POST /public/{database}/{table}`` to ``p13n.auth.v1.PublicPathService/Personalize``
  with the body as sent (``google.api.HttpBody``: the bytes and their Content-Type, for
  the strict JSON check), in a descriptor set of its own: the binding moves from offers'
  ``PublicPersonalize``, and ``protos/`` (the published contract) stays as it is;
- routes there, without ext_authz, exactly the requests whose every refusal a gRPC status
  can carry: POST, a JSON content type (415 has no gRPC code), a Content-Length of at most
  64 KiB (a longer body is refused by the buffer, and only ext_authz's CORS headers let the
  page read that 413). Every other request on ``/public/``, preflights included, still
  passes ext_authz;
- gives that route the client's address (trusted hops applied) under a header of its own:
  the data plane's virtual host removes the one ext_authz reads before any upstream.

The gRPC route of the service keeps ext_authz, whose door refuses the method to a native
gRPC client (it is not admitted: ``services/auth/grpc_door.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

from services.auth.authz import EVENT_CONTENT_TYPES
from services.auth.public_path import CLIENT_ADDRESS_HEADER

SERVICE = "p13n.auth.v1.PublicPathService"
METHOD = "Personalize"
_FROM = ("p13n.offers.v1.PersonalizeService", "PublicPersonalize")
PATH = "/public/{database}/{table}"
# Body bytes a request may announce to be decided here: an event's limit (the buffer's).
MAX_EVENT_BYTES = 65536


def descriptor(source: Path) -> bytes:
    """``source``'s descriptor set with the browser path bound to ``PublicPathService``."""
    files = descriptor_pb2.FileDescriptorSet.FromString(source.read_bytes())
    moved = False
    for file in files.file:
        for service in file.service:
            name = f"{file.package}.{service.name}"
            for method in service.method:
                if (name, method.name) == _FROM:
                    method.options.ClearExtension(annotations_pb2.http)
                    moved = True
                elif (name, method.name) == (SERVICE, METHOD):
                    rule = method.options.Extensions[annotations_pb2.http]
                    rule.CopyFrom(http_pb2.HttpRule(post=PATH, body="body"))
    if not moved:
        raise ValueError(f"{source} has no {_FROM[0]}/{_FROM[1]} to move the browser path from")
    return files.SerializeToString(deterministic=True)


def _content_type_regex() -> str:
    # As authz._check_content_type reads it: the media type, case-insensitive, parameters
    # after a ';' ignored. A value this does not match goes to ext_authz, which decides it.
    types = "|".join(sorted(t.replace(".", r"\.").replace("+", r"\+") for t in EVENT_CONTENT_TYPES))
    return rf"(?i)^({types})\s*(;.*)?$"


def browser_route() -> dict[str, Any]:
    """The original path's route of the requests decided in the auth service: ext_authz
    off (the transcoder then rewrites the path; this route's answer is never used)."""
    off = {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute",
        "disabled": True,
    }
    return {
        "match": {
            "prefix": "/public/",
            "headers": [
                # Two names and no query string (a route's own path match would not see
                # it): the transcoder would refuse a query before any decision was made.
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
        "direct_response": {"status": 404},
        "typed_per_filter_config": {
            "envoy.filters.http.ext_authz": off,
            "p13n.ext_authz_body": off,
        },
    }


def service_route(grpc_authz: dict[str, Any], no_body_check: dict[str, Any]) -> dict[str, Any]:
    """The transcoded call's route to the auth cluster, with the client's address.

    ``grpc_authz`` and ``no_body_check`` are the data plane's per-route ext_authz settings
    of a gRPC route: a native gRPC client calling the method directly is asked about (and
    refused) as any other."""
    return {
        "match": {"prefix": f"/{SERVICE}/"},
        "route": {"cluster": "auth", "timeout": "5s"},
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
            "envoy.filters.http.ext_authz": grpc_authz,
            "p13n.ext_authz_body": no_body_check,
        },
    }


def apply(manager: dict[str, Any], descriptor_file: Path) -> None:
    """Changes the data plane's connection manager ``manager`` so that the auth service
    decides the browser path (the descriptor set written by ``descriptor`` is at
    ``descriptor_file``)."""
    [host] = manager["route_config"]["virtual_hosts"]
    routes: list[dict[str, Any]] = host["routes"]
    [offers_route] = [r for r in routes if r["match"].get("prefix", "").startswith("/p13n.offers.")]
    per_filter = offers_route["typed_per_filter_config"]
    routes[0:0] = [
        browser_route(),
        service_route(
            per_filter["envoy.filters.http.ext_authz"], per_filter["p13n.ext_authz_body"]
        ),
    ]
    [transcoder] = [
        f for f in manager["http_filters"] if f["name"] == "envoy.filters.http.grpc_json_transcoder"
    ]
    config = transcoder["typed_config"]
    config["proto_descriptor"] = str(descriptor_file)
    config["services"] = [SERVICE, *config["services"]]
