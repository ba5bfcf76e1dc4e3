"""What `p13n doctor` concludes from the replies it got: pure judgements, no I/O.

Each check ends in a ``Check``: its name, a status, what was seen and what to do. The
judgements live here, apart from the requests (``services.cli.doctor``), so each rule is
tested on a reply built by hand: which service a 503 blames, when a clock is too far off.

How a reply names the broken service (measured against the real gateway, tests/cli/
test_doctor.py): every admin call passes the auth service first (ext_authz), so with auth
down every call answers 503 and only the auth check can say anything; a service the gateway
cannot reach answers Envoy's own 503 on the routes that go to it; a service that answers
but cannot reach another one answers 503 with the ErrorInfo reason ``<OTHER>_UNAVAILABLE``.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

from services.cli.probe import Reply

Status = Literal["ok", "warn", "fail", "skip"]
SERVICES = ("auth", "profile", "offers")
# Tokens, sessions and the re-authentication window are judged on the server's clock; a
# client's clock this far off makes expiry times it prints or computes misleading.
CLOCK_SKEW_WARNING_SECONDS = 5.0
_UNAVAILABLE_REASON = re.compile(r"^([A-Z]+)_UNAVAILABLE$")


@dataclass(frozen=True)
class Check:
    """One line of the report. ``skip``: it could not run because of an earlier failure."""

    name: str
    status: Status
    detail: str
    hint: str = ""

    @property
    def ok(self) -> bool:
        """Passed, perhaps with a warning."""
        return self.status in ("ok", "warn")

    @property
    def failed(self) -> bool:
        """Failed itself: a skip is not a failure of its own (it follows one elsewhere)."""
        return self.status == "fail"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def service_hint(service: str) -> str:
    """Where to look when ``service`` does not answer."""
    return (
        f"start the {service} service or read its log: on one machine `p13n up` runs it "
        f"(its log is on p13n up's output); on Kubernetes `kubectl get pods,events -l "
        f"app.kubernetes.io/name=p13n-{service}` and `kubectl logs -l "
        f"app.kubernetes.io/name=p13n-{service}`"
    )


def judge_service(service: str, call: str, reply: Reply) -> Check:
    """Whether ``service`` answered ``call`` (an admin call the gateway routes to it).

    Any answer of the service's own, a refusal included, proves it is up: the checks call
    with ids that may not exist (offers is asked about a parent segment that may be "0").
    """
    if reply.status < 500 and reply.status not in (401, 403, 429):
        return Check(service, "ok", f"answered {call} (HTTP {reply.status})")
    if reply.status in (401, 403, 429):
        return Check(
            service,
            "skip",
            f"cannot tell: {call} was refused before reaching it ({reply.summary()})",
            "use an API key that may read the configuration (`p13n login`)",
        )
    other = _unavailable_dependency(reply)
    if other is not None and other != service:
        return Check(
            service,
            "fail",
            f"answered {call}, but cannot reach the {other} service ({reply.summary()})",
            f"if the {other} check above passed, the gateway reaches {other} but {service} "
            f"does not: check {service}'s P13N_{other.upper()}_TARGET and the network "
            f"between them; else: {service_hint(other)}",
        )
    if reply.status in (502, 503, 504):
        return Check(
            service,
            "fail",
            f"the gateway got no answer from the {service} service to {call} ({reply.summary()})",
            service_hint(service),
        )
    return Check(
        service,
        "fail",
        f"failed {call} ({reply.summary()})",
        f"an internal error: the {service} service's log says why",
    )


def _unavailable_dependency(reply: Reply) -> str | None:
    match = _UNAVAILABLE_REASON.match(reply.reason)
    if match is None or match.group(1).lower() not in SERVICES:
        return None
    return match.group(1).lower()


def judge_clock(server_date: str | None, sent: float, received: float) -> Check:
    """The local clock against the server's ``Date`` header, read between ``sent`` and
    ``received`` (local epoch seconds).

    ``Date`` has whole seconds, so the server's time lies in [date, date + 1); the skew
    reported is how far the local clock at the request's midpoint lies outside it.
    """
    if not server_date:
        return Check("clock", "skip", "the gateway's reply had no Date header")
    try:
        server = email.utils.parsedate_to_datetime(server_date).timestamp()
    except (TypeError, ValueError):
        return Check("clock", "skip", f"the gateway's Date header is unreadable: {server_date!r}")
    local = (sent + received) / 2
    skew = local - (server + 1) if local > server + 1 else min(local - server, 0.0)
    if abs(skew) <= CLOCK_SKEW_WARNING_SECONDS:
        return Check("clock", "ok", f"within {CLOCK_SKEW_WARNING_SECONDS:g} s of the server's")
    side = "ahead of" if skew > 0 else "behind"
    return Check(
        "clock",
        "warn",
        f"this machine's clock is {abs(skew):.0f} s {side} the server's (Date: {server_date})",
        "tokens, sessions and expiry times are judged on the server's clock: synchronise "
        "this machine's clock (NTP: `timedatectl set-ntp true`), or the server's",
    )


def judge_event(origin: str, path: str, reply: Reply, how_to_allow: str) -> Check:
    """A browser's event from ``origin``: 200 ``{"offers": ...}`` that the page may read."""
    call = f"POST {path} from {origin}"
    allowed = reply.headers.get("access-control-allow-origin")
    if reply.status == 200 and isinstance(reply.json(), dict) and "offers" in reply.json():
        if allowed == origin:
            sections = len(reply.json()["offers"] or {})
            return Check("test event", "ok", f"{call}: HTTP 200 with {sections} offer section(s)")
        return Check(
            "test event",
            "fail",
            f"{call}: HTTP 200, but Access-Control-Allow-Origin is {allowed or 'absent'}: the "
            "page could not read the offers",
            how_to_allow,
        )
    if reply.status == 403 and "origin" in reply.message.lower():
        return Check(
            "test event", "fail", f"{call}: {origin} is refused ({reply.summary()})", how_to_allow
        )
    other = _unavailable_dependency(reply)
    hint = {
        400: "the event was refused: if the primary key's regex refuses the test visitor id, "
        "give one it accepts with --visitor VALUE",
        401: "the token is unknown: give a public token of this parent segment with --token",
        403: "give a public token (not a private one) of this parent segment with --token",
        404: "the event table is not one of the token's parent segment: check --token and -s",
    }.get(reply.status, service_hint(other) if other else "")
    return Check("test event", "fail", f"{call}: {reply.summary()}", hint)


def judge_cors(origin: str, reply: Reply, how_to_allow: str) -> Check:
    """The preflight a browser at ``origin`` sends before its event."""
    allowed = reply.headers.get("access-control-allow-origin")
    if 200 <= reply.status < 300 and allowed == origin:
        return Check("cors preflight", "ok", f"{origin} may send events (HTTP {reply.status})")
    return Check(
        "cors preflight",
        "fail",
        f"a browser at {origin} is refused: the preflight answered {reply.summary()} with "
        f"Access-Control-Allow-Origin {allowed or 'absent'}",
        how_to_allow,
    )


def judge_cors_refusal(origin: str, reply: Reply) -> Check:
    """The preflight from an origin nobody allowed must carry no CORS header at all."""
    leaked = {k: v for k, v in reply.headers.items() if k.startswith("access-control-")}
    if not leaked:
        return Check(
            "cors refusal",
            "ok",
            f"{origin} (allowed nowhere) gets no CORS header (HTTP {reply.status})",
        )
    return Check(
        "cors refusal",
        "fail",
        f"{origin}, allowed nowhere, got CORS headers: {', '.join(sorted(leaked))}",
        "a wildcard in a service's allowed_origins may cover it: list the origins exactly",
    )


def judge_front(url: str, reply: Reply) -> Check:
    """The admin listener's API reference, which Envoy serves without any service."""
    if reply.status == 200 and reply.headers.get("server") == "p13n":
        return Check("gateway", "ok", f"the admin listener answers at {url}")
    return Check(
        "gateway",
        "fail",
        f"{url} answered GET /v1/openapi.json with {reply.summary()}: not a p13n gateway's "
        "admin listener",
        "give the admin listener's URL (`p13n login --url`, P13N_ADMIN_URL)",
    )


def judge_auth(me: Reply) -> Check:
    """With auth down, ext_authz cannot run: every admin call, /v1/me too, answers 503.
    Any other answer, a refusal of the key included, is the auth service's own."""
    if me.status in (502, 503, 504):
        return Check(
            "auth",
            "fail",
            f"the gateway cannot reach the auth service, so every call is refused ({me.summary()})",
            service_hint("auth"),
        )
    if me.status >= 500:
        return judge_service("auth", "GET /v1/me", me)
    return Check("auth", "ok", f"answered GET /v1/me (HTTP {me.status})")


def judge_key(me: Reply) -> Check:
    """Whether GET /v1/me accepted the key (it cannot tell while auth is down)."""
    if me.status == 200:
        data = me.json()
        role = str(data.get("role", "")).removeprefix("ROLE_").lower()
        return Check("api key", "ok", f"account {data.get('account_id')}, role {role}")
    if me.status >= 500:
        return Check("api key", "skip", "not checked: the auth service does not answer")
    return Check(
        "api key",
        "fail",
        f"refused ({me.summary()})",
        "log in again with a valid key: `p13n login` (or set P13N_API_KEY)",
    )
