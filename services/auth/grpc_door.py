"""Which native gRPC calls the gateway lets in (docs/design.md#grpc-clients).

The gateway is the one door for gRPC clients: a backend with ``protos/`` and a token calls
the private personalize and ingest RPCs on the data listener, and a streamed import on the
admin listener (client streaming cannot be transcoded from JSON). Those calls go through
the same decision as their HTTP paths; every other gRPC call is refused here, before any
credential is looked at, with a status a gRPC client can read (ext_authz turns the HTTP
status into ``grpc-status`` through ``services.common.status_codes``).

Pure: no grpc, no Envoy; ``services/auth/authz.py`` asks it while classifying a request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

PRIVATE_PERSONALIZE = "/p13n.offers.v1.PersonalizeService/PrivatePersonalize"
PUBLIC_PERSONALIZE = "/p13n.offers.v1.PersonalizeService/PublicPersonalize"
INGEST_RECORDS = "/p13n.profile.v1.IngestService/IngestRecords"
STREAM_IMPORT = "/p13n.profile.v1.ProfileService/StreamImportAttributes"

# (listener, method) → the route (``authz.Route`` value) whose decision the call gets.
ADMITTED: Mapping[tuple[str, str], str] = {
    ("data", PRIVATE_PERSONALIZE): "private",
    ("data", INGEST_RECORDS): "ingest",
    ("admin", STREAM_IMPORT): "admin",
}

PUBLIC_PATH_REFUSED = (
    "The public path is for browsers; a gRPC client calls " + PRIVATE_PERSONALIZE + " with a token"
)
HTTP_PATH_REFUSED = (
    "This HTTP path takes JSON (Content-Type: application/json); a gRPC client calls "
    + PRIVATE_PERSONALIZE
    + " or "
    + INGEST_RECORDS
)
UNKNOWN_DATA_METHOD = (
    "Unknown gRPC method on the data plane; the gateway serves "
    + PRIVATE_PERSONALIZE
    + " and "
    + INGEST_RECORDS
)
ADMIN_METHOD_REFUSED = (
    "The admin API takes JSON over HTTP under /v1/; over gRPC the gateway serves only "
    + STREAM_IMPORT
)


@dataclass(frozen=True)
class Refusal:
    """An HTTP status (its gRPC code comes from the one table) and what to tell the client."""

    status: int
    message: str


# is_grpc as an RE2 pattern, for the gateway's matchers (gateway/render.py).
GRPC_CONTENT_TYPE = "(?i)^application/grpc([+;].*)?$"


def is_grpc(content_type: str) -> bool:
    """Whether a request is native gRPC, by the rule Envoy applies to its local replies.

    ``application/grpc``, optionally with a ``+codec`` suffix or parameters; gRPC-Web is not
    (Envoy answers it as HTTP).
    """
    value = content_type.strip().lower()
    return value == "application/grpc" or value.startswith(
        ("application/grpc+", "application/grpc;")
    )


def admitted_route(listener: str, path: str, *, http_path: bool) -> str | Refusal:
    """The route value of an admitted gRPC call, or why it is refused.

    ``http_path`` says the path is one of the data plane's JSON paths (the caller's
    classification), so the refusal can point from it to the gRPC methods.
    """
    method = path.split("?", 1)[0]
    route = ADMITTED.get((listener, method))
    if route is not None:
        return route
    if listener == "admin":
        return Refusal(403, ADMIN_METHOD_REFUSED)
    if method == PUBLIC_PERSONALIZE or method.startswith("/public/"):
        return Refusal(403, PUBLIC_PATH_REFUSED)
    if http_path:
        return Refusal(415, HTTP_PATH_REFUSED)
    return Refusal(404, UNKNOWN_DATA_METHOD)
