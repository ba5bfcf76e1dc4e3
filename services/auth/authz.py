"""The gateway's per-request decision: who is calling, may they, and which CORS headers.

Envoy asks before every request on both listeners (ext_authz). The decision follows
docs/design.md#data-plane exactly; it reads only the in-memory ``Directory`` so the hot path never waits on
a database. Refusals of a token or Origin carry no CORS headers; everything after a
successful public decision does, so the page can read later errors.
"""

from __future__ import annotations

import enum
import functools
import json
import math
import re
from dataclasses import dataclass, field
from typing import Protocol

from p13n.auth.v1 import identity_pb2

from services.auth import bindings, grpc_door, strict_json
from services.common.errors import InvalidArgument
from services.common.rpc_status import as_transcoder_prints, status_of
from services.common.status_codes import code_for_http_status

NAME = re.compile(r"^[a-z0-9_]{3,128}$")
RESERVED_NAMES = frozenset({"public", "records", "v1"})

PREFLIGHT_MAX_AGE = "600"
EVENT_CONTENT_TYPES = frozenset({"application/json", "application/vnd.treasuredata.v1+json"})
ALLOWED_REQUEST_HEADERS = "content-type, wp13n-token, authorization"
# Set by ext_authz (over any client's) when the body it sent was cut at the route's limit.
PARTIAL_BODY = "x-envoy-auth-partial-body"
# What a body longer than its route allows is answered (413), by this service or by Envoy
# (gateway/render.py's local replies): the limits are the gateway's (gateway/envoy.yaml.tmpl).
BODY_TOO_LARGE = (
    "Request body too large: at most 64 KiB per event, 16 KiB to sign in, 5 MiB for any other "
    "request"
)


class Route(enum.Enum):
    """What a request path asks for."""

    PUBLIC = "public"  # POST /public/{db}/{table}
    PRIVATE = "private"  # POST /{db}/{table}
    INGEST = "ingest"  # POST /records/{db}/{table}
    SIGN_IN = "sign_in"  # POST /v1/sessions
    ADMIN = "admin"  # /v1/...
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Request:
    """The parts of Envoy's CheckRequest a decision reads."""

    listener: str  # "data" or "admin", from the route's context extensions
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    client_ip: str  # the peer Envoy saw (X-Forwarded-For is not trusted)
    body: bytes = b""  # as sent, up to the gateway's limit (with_request_body)

    @functools.cached_property
    def grpc(self) -> bool:
        """A native gRPC call (not one the transcoder will turn into one); read once."""
        return grpc_door.is_grpc(self.headers.get("content-type", ""))


@dataclass
class Decision:
    """Allow with upstream headers, or deny with a status and a JSON body."""

    status: int = 200
    identity: identity_pb2.Identity | None = None  # forwarded upstream, signed
    response_headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    message: str = ""  # a refusal's message alone, as grpc-message carries it

    @property
    def allowed(self) -> bool:
        return self.status == 200


class Directory(Protocol):
    """What the decision needs to know, served from memory."""

    def identify_token(self, token: str) -> identity_pb2.Identity | None:
        """The identity of an active personalization token string, else None."""

    def token_allows_origin(self, identity: identity_pb2.Identity, origin: str) -> bool:
        """Whether the token's public service allows ``origin``."""

    def token_allows_ip(self, identity: identity_pb2.Identity, ip: str) -> bool:
        """Whether the token's allowed IPs (if any) contain ``ip``."""

    def identify_credentials(self, authorization: str) -> identity_pb2.Identity | None:
        """The identity of an ``Authorization`` header (API key or session), else None."""

    def preflight_allows(self, origin: str, database: str, table: str) -> bool:
        """Whether an active public service using ``database.table`` allows ``origin``."""

    def rate_limited(self, identity: identity_pb2.Identity | None, ip: str) -> float:
        """Seconds until this request would fit the token's or the address's rate; 0.0 if it does.

        ``identity`` None is a failed (or missing) data-plane credential: it spends the
        address's failure budget.
        """

    def data_credential_failed(self, ip: str) -> float:
        """Spends one of ``ip``'s data-plane failures; seconds to wait if none was left."""

    def admin_failures_wait(self, ip: str) -> float:
        """Seconds until ``ip`` may have an admin credential checked again; 0.0 if it may."""

    def admin_credential_failed(self, ip: str) -> None:
        """Spends one of ``ip``'s admin failures (a wrong API key or session)."""


def _deny(status: int, message: str, cors: dict[str, str] | None = None) -> Decision:
    # The body reads like a google.rpc.Status as the transcoder prints a service's answer.
    code = code_for_http_status(status)
    body = json.dumps({"code": code, "message": message, "details": []})
    return Decision(status=status, body=body, response_headers=dict(cors or {}), message=message)


def retry_after_header(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))


def too_many(message: str, seconds: float) -> Decision:
    """429 with ``Retry-After``, so a client knows when to come back (RFC 9110 10.2.3)."""
    decision = _deny(429, message)
    decision.response_headers["retry-after"] = retry_after_header(seconds)
    return decision


def classify(method: str, path: str, listener: str) -> tuple[Route, str, str]:
    """The route of a path on a listener, with the database and table it names."""
    parts = path.split("?", 1)[0].split("/")[1:]
    if listener == "admin":
        if parts[:1] != ["v1"]:
            return Route.UNKNOWN, "", ""
        if parts == ["v1", "sessions"] and method == "POST":
            return Route.SIGN_IN, "", ""
        return Route.ADMIN, "", ""
    if len(parts) == 3 and parts[0] in ("public", "records") and _names_ok(parts[1], parts[2]):
        return (Route.PUBLIC if parts[0] == "public" else Route.INGEST), parts[1], parts[2]
    if len(parts) == 2 and _names_ok(parts[0], parts[1]):
        return Route.PRIVATE, parts[0], parts[1]
    return Route.UNKNOWN, "", ""


def _names_ok(database: str, table: str) -> bool:
    return bool(NAME.match(database)) and bool(NAME.match(table)) and database not in RESERVED_NAMES


UNKNOWN_DATA_PATH = (
    "Unknown path. The data plane serves POST /public/{db}/{table}, POST /{db}/{table} and "
    "POST /records/{db}/{table}; names match ^[a-z0-9_]{3,128}$ and public, records and v1 "
    "are reserved"
)
# Where a client finds the paths (gateway/openapi.py writes both; the gateway serves the first).
API_REFERENCE = "GET /v1/openapi.json on the admin listener, or docs/api.md"
UNKNOWN_ADMIN_PATH = (
    f"Unknown path. The admin API lives under /v1/; see the API reference: {API_REFERENCE}"
)
UNBOUND_BODY = (
    f"Unknown path or method for a request with a body; see the API reference: {API_REFERENCE}"
)
# A sign-in body is an email and a password (gateway/envoy.yaml.tmpl's /v1/sessions route).
MAX_SIGN_IN_BYTES = 16 * 1024
SIGN_IN_TOO_LARGE = "A sign-in body is at most 16 KiB: an email and a password"


def _announced_bytes(request: Request) -> int:
    try:
        return int(request.headers.get("content-length", "0"))
    except ValueError:
        return 0  # Envoy refuses a malformed content-length before ext_authz


SLOW_DOWN = "Too many requests; slow down and retry later"
TOO_MANY_FAILED_CREDENTIALS = (
    "Too many failed credentials from this address; check the API key or session, then retry "
    "after the seconds in Retry-After"
)


def route_of(request: Request) -> tuple[Route, str, str] | grpc_door.Refusal:
    """What a request asks for; a native gRPC call is admitted to a route or refused."""
    route, database, table = classify(request.method, request.path, request.listener)
    if not request.grpc:
        return route, database, table
    admitted = grpc_door.admitted_route(
        request.listener, request.path, http_path=route is not Route.UNKNOWN
    )
    if isinstance(admitted, grpc_door.Refusal):
        return admitted
    # The message names no database or table: the service reads them from the request.
    return Route(admitted), "", ""


def decide(request: Request, directory: Directory) -> Decision:
    """The decision on a request's headers: who, may they. Given a body too (one call for
    both phases), whether it is JSON the request's message accepts (after the credential,
    so a refusal keeps CORS on)."""
    decision = _decide(request, directory)
    if decision.allowed and request.body and not request.grpc:
        return _check_body(request, decision)
    return decision


def warm_up() -> None:
    """Loads what a body check reads (the descriptor set's bindings) ahead of the first."""
    bindings.table()


def decide_body(request: Request) -> Decision:
    """The body phase (the gateway's second ext_authz, context extension ``check: body``):
    whether the body is JSON the request's message accepts.

    Envoy asks only after the headers phase (``decide``) allowed the same request, so the
    credential is not checked again and nothing is counted; a refusal carries the CORS
    headers that phase gave a public request, so the page can read it.
    """
    if not request.body or request.grpc:
        return Decision()
    route, _, _ = classify(request.method, request.path, request.listener)
    origin = request.headers.get("origin", "")
    cors = cors_headers(origin) if route is Route.PUBLIC and origin else {}
    checked = _check_body(request, Decision(response_headers=cors))
    return checked if not checked.allowed else Decision()


def _check_body(request: Request, allowed: Decision) -> Decision:
    cut = request.headers.get(PARTIAL_BODY) == "true"
    if cut or _announced_bytes(request) > len(request.body):
        # Longer than the route's limit (Envoy's header says "false" when the cut falls at
        # the end of a read; the announced length still tells). Refused here, not left to
        # the route's buffer filter: that filter lowers the stream's buffer limit under what
        # Envoy may already hold (up to its 1 MiB connection buffer, read while this check
        # ran), and Envoy then neither answers 413 nor reads on (docs/decisions.md).
        return _deny(413, BODY_TOO_LARGE, allowed.response_headers)
    binding = bindings.body_of(request.listener, request.method, request.path)
    if binding is None:
        # A body no contract binds is refused, whatever the method: the transcoder would
        # read it into the request message (a GET's body can set page_size, or replace the
        # id in its path), and no spelling of a path may skip the check.
        return _deny(404, UNBOUND_BODY, allowed.response_headers)
    try:
        strict_json.check(strict_json.parse(request.body), binding.message, binding.where)
    except strict_json.BodyError as error:
        refused = InvalidArgument(str(error), field=error.field, reason=error.reason)
        # As the transcoder prints a service's status (empty maps and lists included), so a
        # refusal reads the same from ext_authz and from a service (services/auth/public_path.py).
        return Decision(
            status=400,
            body=json.dumps(as_transcoder_prints(status_of(refused))),
            response_headers=dict(allowed.response_headers),
            message=str(error),
        )
    return allowed


def _decide(request: Request, directory: Directory) -> Decision:
    classified = route_of(request)
    if isinstance(classified, grpc_door.Refusal):
        return _deny(classified.status, classified.message)
    route, database, table = classified
    if route is Route.UNKNOWN:
        return _deny(404, UNKNOWN_ADMIN_PATH if request.listener == "admin" else UNKNOWN_DATA_PATH)
    if request.method == "OPTIONS":
        return _preflight(request, route, database, table, directory)
    if route is Route.SIGN_IN:
        # An address that spent its failure budget is refused before argon2 runs; the auth
        # service counts the failures and the account's budget, knowing the outcome.
        wait = directory.admin_failures_wait(request.client_ip)
        if wait:
            return too_many("Too many sign-in attempts from this address; retry later", wait)
        if _announced_bytes(request) > MAX_SIGN_IN_BYTES:
            # Allowed without a credential: a stranger's announced megabytes are refused at
            # the headers, not held by Envoy (its route also buffers at most this much).
            return _deny(413, SIGN_IN_TOO_LARGE)
        return _allow(identity_pb2.Identity(client_ip=request.client_ip))
    if route is Route.ADMIN:
        return _admin(request, directory)
    if route is Route.INGEST:
        return _ingest(request, directory)
    return _personalize(request, route, directory)


def cors_headers(origin: str) -> dict[str, str]:
    return {"access-control-allow-origin": origin, "vary": "Origin"}


def _preflight(
    request: Request, route: Route, database: str, table: str, directory: Directory
) -> Decision:
    origin = request.headers.get("origin", "")
    if route is Route.PUBLIC and origin and directory.preflight_allows(origin, database, table):
        headers = cors_headers(origin) | {
            "access-control-allow-methods": "POST, OPTIONS",
            "access-control-allow-headers": ALLOWED_REQUEST_HEADERS,
            "access-control-max-age": PREFLIGHT_MAX_AGE,
        }
        return Decision(status=204, response_headers=headers)
    return _deny(403, "Origin is not allowed for this path")


def _personalize(request: Request, route: Route, directory: Directory) -> Decision:
    token = request.headers.get("wp13n-token", "")
    if not token:
        wait = directory.rate_limited(None, request.client_ip)
        if wait:
            return too_many("Too many requests from this address", wait)
        return _deny(401, "Missing WP13n-Token header: expected account_id/reactor_id/secret")
    identity = directory.identify_token(token)
    wait = directory.rate_limited(identity, request.client_ip)
    if wait:
        return too_many(SLOW_DOWN, wait)
    if identity is None:
        return _deny(401, "Unknown, malformed or revoked token")
    if route is Route.PUBLIC:
        return _public(request, identity, directory)
    if not directory.token_allows_ip(identity, request.client_ip):
        return _deny(403, "This token may not be used from this address")
    return _check_content_type(request, _allow(identity))


def _check_content_type(request: Request, allowed: Decision) -> Decision:
    """415 for an event that is not JSON; after a successful decision, so CORS stays on.

    A native gRPC call reaches here only on a method the door admitted (``route_of``).
    """
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type in EVENT_CONTENT_TYPES or request.grpc:
        return allowed
    return _deny(
        415,
        "Content-Type must be application/json or application/vnd.treasuredata.v1+json",
        allowed.response_headers,
    )


def _public(request: Request, identity: identity_pb2.Identity, directory: Directory) -> Decision:
    if identity.token_type != identity_pb2.TOKEN_TYPE_PUBLIC:
        return _deny(403, "Private tokens cannot be used on /public paths; use a public token")
    origin = request.headers.get("origin", "")
    if not origin:
        return _deny(403, "Missing Origin header: /public paths are for browsers")
    if not directory.token_allows_origin(identity, origin):
        return _deny(403, "Origin is not allowed for this token's service")
    authorization = request.headers.get("authorization", "")
    if authorization:
        key = directory.identify_credentials(authorization)
        if key is None or key.account_id != identity.account_id:
            # A public token is public: the key is the guess, and it costs a failure.
            wait = directory.data_credential_failed(request.client_ip)
            if wait:
                return too_many(SLOW_DOWN, wait)
            return _deny(401, "Unknown API key in Authorization")
        if key.api_key_type != identity_pb2.WRITE_ONLY:
            return _deny(403, "Only write-only API keys may be sent from a browser")
    decision = _allow(identity)
    decision.response_headers = cors_headers(origin)
    return _check_content_type(request, decision)


def _ingest(request: Request, directory: Directory) -> Decision:
    authorization = request.headers.get("authorization", "")
    if not authorization:
        return _deny(401, "Missing Authorization header: expected TD1 <API key>")
    identity = directory.identify_credentials(authorization)
    wait = directory.rate_limited(identity, request.client_ip)
    if wait:
        return too_many(SLOW_DOWN, wait)
    if identity is None or not identity.api_key_type:
        return _deny(401, "Unknown API key in Authorization")
    return _allow(identity)


def _admin(request: Request, directory: Directory) -> Decision:
    authorization = request.headers.get("authorization", "")
    if not authorization:
        return _deny(
            401, "Missing Authorization header: expected TD1 <API key> or Bearer <session>"
        )
    # A spent budget refuses right and wrong credentials alike: a correct guess must not pass.
    wait = directory.admin_failures_wait(request.client_ip)
    if wait:
        return too_many(TOO_MANY_FAILED_CREDENTIALS, wait)
    identity = directory.identify_credentials(authorization)
    if identity is None:
        directory.admin_credential_failed(request.client_ip)
        return _deny(401, "Unknown or expired credentials")
    # A copy: the directory's identity is shared. The address lets re-authentication
    # count its failures per address.
    seen = identity_pb2.Identity()
    seen.CopyFrom(identity)
    seen.client_ip = request.client_ip
    return _allow(seen)


def _allow(identity: identity_pb2.Identity) -> Decision:
    return Decision(identity=identity)
