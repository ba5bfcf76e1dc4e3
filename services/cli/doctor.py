"""`p13n doctor`: checks a deployment end to end, as a user reaches it, and says what is wrong.

Everything goes through the gateway (the CLI may run far from the pods), in order:

1. ``gateway``: the admin listener answers (GET /v1/openapi.json, which needs no service);
2. ``auth``, ``api key``, ``profile``, ``offers``: an admin call each service serves
   (GET /v1/me, GET /v1/parent_segments, GET .../personalizations); how a reply names the
   broken service is ``services.cli.diagnosis``'s job;
3. ``test event``, ``cors preflight``, ``cors refusal``: a browser's event from an Origin on
   the data listener, its preflight, and a preflight from an origin allowed nowhere;
4. ``clock``: the local clock against the gateway's Date header.

A check that cannot run because of an earlier failure says so (``skip``) instead of adding
a second, misleading failure. Exit code 1 when any check failed; a warning does not fail.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import click

from services.admin_client import AdminClient, AdminError
from services.cli import lookup, probe
from services.cli.context import CliContext, parent_segment_option
from services.cli.diagnosis import (
    Check,
    judge_auth,
    judge_clock,
    judge_cors,
    judge_cors_refusal,
    judge_event,
    judge_front,
    judge_key,
    judge_service,
)
from services.cli.output import emit, output_option
from services.common.config import ConfigError, Settings
from services.common.running import running_suites

# The visitor id of the test event: the event is stored as any other (there is no dry run),
# under an id that says where it came from; the first of these the primary key's regex
# accepts (and its exclusions do not list), unless --visitor names one.
TEST_VISITORS = ("p13n-doctor", "p13ndoctor", "doctor", "P13NDOCTOR", "1300013")
TEST_VISITOR = TEST_VISITORS[0]
# An origin no service can have allowed (.invalid is reserved, RFC 2606).
NOWHERE = "https://p13n-doctor.invalid"
# A token made for the check (or just before it) and a new event table are known to the
# auth service within its refresh interval; until then the event answers 401 or 404.
NEW_TOKEN_PATIENCE_SECONDS = 6.0


@dataclass(frozen=True)
class Target:
    """What the data-plane checks act on: an event table, a public service, an Origin."""

    parent_segment_id: str
    database: str
    table: str
    primary_key: str
    service: dict[str, Any]
    origin: str
    visitor: str = TEST_VISITOR

    @property
    def path(self) -> str:
        return f"/public/{self.database}/{self.table}"

    def how_to_allow(self) -> str:
        service = self.service
        allowed = ", ".join(service.get("allowed_origins", [])) or "none"
        return (
            f"allow it: add {self.origin} to the allowed_origins of public service "
            f"{service['name']!r} (id {service['id']}; allowed now: {allowed}) with PATCH "
            f"/v1/parent_segments/{self.parent_segment_id}/services/{service['id']}"
            f"?update_mask=allowed_origins, or check another origin with --origin"
        )


class Refused(Exception):
    """A data-plane check cannot run; carries the failed check that says why."""

    def __init__(self, check: Check) -> None:
        super().__init__(check.detail)
        self.check = check


def choose_parent_segment(listed: dict[str, Any], given: str | None, token: str | None) -> str:
    """The id of the parent segment ``given`` names (id or name), else the one ``token``
    belongs to (its middle part is the parent segment's reactor id), else the only one;
    ``LookupError`` saying why when none is chosen."""
    segments = listed.get("parent_segments", [])
    if given:
        try:
            return str(
                lookup.match_one(segments, lookup.Place(lookup.PARENT_SEGMENTS), given)["id"]
            )
        except click.ClickException as refused:
            raise LookupError(refused.message, _NAME_ONE) from None
    reactor = token.split("/")[1] if token and token.count("/") == 2 else None
    for segment in segments:
        if reactor is not None and str(segment.get("reactor_id")) == reactor:
            return str(segment["id"])
    if len(segments) == 1:
        return str(segments[0]["id"])
    if not segments:
        raise LookupError(
            "this account has no parent segment for the test event",
            "create one and its configuration: POST /v1/parent_segments",
        )
    names = ", ".join(repr(s["name"]) for s in segments)
    raise LookupError(
        f"which parent segment should the test event go to? (this account has {names})",
        _NAME_ONE,
    )


_NAME_ONE = "name one with -s/--parent-segment ID|NAME (or P13N_PARENT_SEGMENT)"


def visitor_for(regex: str, exclusions: list[str]) -> str | None:
    """The first of ``TEST_VISITORS`` the primary key would use as a visitor id: one its
    regex full-matches (empty: any) and its exclusions do not list; None when none is."""
    try:
        pattern = re.compile(regex) if regex else None
    except re.error:  # a dialect Python's re does not read: try the first, the server judges
        return TEST_VISITOR
    for candidate in TEST_VISITORS:
        if candidate in exclusions:
            continue
        if pattern is None or pattern.fullmatch(candidate):
            return candidate
    return None


def default_data_url(admin_url: str) -> str:
    """The data listener of the suite `p13n up` runs on this machine when the admin URL is
    its admin listener, else the admin URL's host with the configured (or default) data port."""
    parts = urlsplit(admin_url)
    for suite in running_suites():
        if parts.port == suite.admin_port and parts.hostname in ("127.0.0.1", "localhost"):
            return f"{parts.scheme}://{parts.hostname}:{suite.data_port}"
    try:
        port = Settings.from_env().data_port
    except ConfigError:
        port = 8080
    return f"{parts.scheme}://{parts.hostname}:{port}"


@dataclass
class Doctor:
    """Runs the checks in order; ``run`` returns their results."""

    admin: AdminClient
    data_url: str
    segment: str | None  # the parent segment named (id or name), or None
    origin: str | None = None
    token: str | None = None
    visitor: str | None = None

    def run(self) -> list[Check]:
        try:
            front = probe.send(self.admin.url, "GET", "/v1/openapi.json")
        except probe.Unreachable as error:
            return [
                Check(
                    "gateway",
                    "fail",
                    f"no answer from the admin listener: {error}",
                    "is the suite running (`p13n up`)? Is the URL right (`p13n login --url`, "
                    "P13N_ADMIN_URL)?",
                ),
                *_skipped(("auth", "api key", "profile", "offers", *DATA_CHECKS, "clock")),
            ]
        gateway = judge_front(self.admin.url, front)
        if not gateway.ok:  # not p13n there: whatever else answers would be blamed wrongly
            return [
                gateway,
                *_skipped(("auth", "api key", "profile", "offers", *DATA_CHECKS, "clock")),
            ]
        checks = [gateway, *self._services()]
        clock = judge_clock(front.headers.get("date"), front.sent, front.received)
        return [*checks, clock]

    def _call(self, method: str, path: str) -> probe.Reply:
        status, data = self.admin.call(method, path)
        return probe.Reply(status, {}, json.dumps(data).encode())

    def _services(self) -> list[Check]:
        try:
            me = self._call("GET", "/v1/me")
        except AdminError as error:
            return [
                Check("auth", "fail", error.message, "the gateway stopped answering: retry"),
                *_skipped(("api key", "profile", "offers", *DATA_CHECKS)),
            ]
        auth = judge_auth(me)
        key = judge_key(me)
        if not auth.ok or not key.ok:
            return [auth, key, *_skipped(("profile", "offers", *DATA_CHECKS))]
        try:
            listed = self._call("GET", "/v1/parent_segments?page_size=100")
        except AdminError as error:
            return [auth, key, _lost("profile", error), *_skipped(("offers", *DATA_CHECKS))]
        profile = judge_service("profile", "GET /v1/parent_segments", listed)
        segment_id, unchosen = "0", None
        if profile.ok:
            try:
                segment_id = choose_parent_segment(listed.json(), self.segment, self.token)
            except LookupError as error:
                unchosen = Check("test event", "fail", *error.args)
        # Offers answers for a parent segment that does not exist too ("0"): a 404 of its own.
        personalizations = f"/v1/parent_segments/{segment_id}/personalizations?page_size=1"
        try:
            offers = judge_service(
                "offers", "GET personalizations", self._call("GET", personalizations)
            )
        except AdminError as error:
            return [auth, key, profile, _lost("offers", error), *_skipped(DATA_CHECKS)]
        checks = [auth, key, profile, offers]
        if not profile.ok or not offers.ok:
            return [*checks, *_skipped(DATA_CHECKS)]
        if unchosen is not None:
            return [*checks, unchosen, *_skipped(DATA_CHECKS[1:])]
        return [*checks, *self._data_plane(segment_id)]

    def _data_plane(self, segment_id: str) -> list[Check]:
        try:
            target = self._target(segment_id)
            with self._public_token(target) as (token, cleanup):
                event = self._event(target, token)
            preflight = probe.send(
                self.data_url, "OPTIONS", target.path, headers=_ask(target.origin)
            )
            nowhere = probe.send(self.data_url, "OPTIONS", target.path, headers=_ask(NOWHERE))
        except Refused as refused:
            return [refused.check, *_skipped(DATA_CHECKS[1:])]
        except probe.Unreachable as error:
            unreachable = Check(
                "test event",
                "fail",
                f"no answer from the data listener: {error}",
                "give the data listener's URL with --data-url",
            )
            return [unreachable, *_skipped(DATA_CHECKS[1:])]
        cors = judge_cors(target.origin, preflight, target.how_to_allow())
        checks = [event, cors, judge_cors_refusal(NOWHERE, nowhere)]
        return [*checks, *cleanup]

    def _target(self, segment_id: str) -> Target:
        prefix = f"/v1/parent_segments/{segment_id}"
        try:
            segment = self.admin.ok("GET", prefix)
            events = self.admin.list_all(f"{prefix}/events", "events")
            services = self.admin.list_all(f"{prefix}/services", "services")
            keys = self.admin.list_all(f"{prefix}/stitching_keys", "stitching_keys")
        except AdminError as error:
            raise Refused(
                Check("test event", "fail", f"cannot read the configuration: {error.message}")
            ) from None
        if not events:
            raise Refused(
                Check(
                    "test event",
                    "fail",
                    f"parent segment {segment['name']!r} has no event definition to send to",
                    f"define one: POST {prefix}/events",
                )
            )
        public = [s for s in services if s.get("type") == "PUBLIC"]
        if not public:
            raise Refused(
                Check(
                    "test event",
                    "fail",
                    f"parent segment {segment['name']!r} has no public service",
                    f"create one with its allowed_origins: POST {prefix}/services",
                )
            )
        service = next((s for s in public if s.get("allowed_origins")), public[0])
        origin = self.origin or _example_origin(service.get("allowed_origins", []))
        if origin is None:
            raise Refused(
                Check(
                    "test event",
                    "fail",
                    f"public service {service['name']!r} allows no origin",
                    "give one with --origin, and allow it in the service's allowed_origins",
                )
            )
        primary_key = segment["primary_key"]
        key = next((k for k in keys if k.get("name") == primary_key), {})
        visitor = self.visitor or visitor_for(key.get("regex", ""), key.get("exclusions", []))
        if visitor is None:
            raise Refused(
                Check(
                    "test event",
                    "fail",
                    f"the primary key {primary_key!r} accepts no test visitor id of the "
                    f"doctor's (its regex: {key.get('regex')!r})",
                    "give one its regex accepts with --visitor VALUE",
                )
            )
        return Target(
            segment_id,
            events[0]["database"],
            events[0]["table"],
            primary_key,
            service,
            origin,
            visitor,
        )

    @contextlib.contextmanager
    def _public_token(self, target: Target) -> Iterator[tuple[str, list[Check]]]:
        """--token, else a token made for the check and deleted after it (revealing an
        existing one needs a password: a doctor run from a script has none)."""
        cleanup: list[Check] = []
        if self.token:
            yield self.token, cleanup
            return
        tokens = (
            f"/v1/parent_segments/{target.parent_segment_id}/services/{target.service['id']}/tokens"
        )
        try:
            made = self.admin.ok("POST", tokens, {"name": f"p13n-doctor-{secrets.token_hex(4)}"})
        except AdminError as error:
            raise Refused(
                Check(
                    "test event",
                    "fail",
                    f"cannot make a token for the check: {error.message}",
                    "give a public token with --token (or use an admin's API key)",
                )
            ) from None
        try:
            yield str(made["token"]), cleanup
        finally:
            try:
                self.admin.ok("DELETE", f"{tokens}/{made['id']}")
            except AdminError as error:
                cleanup.append(
                    Check(
                        "cleanup",
                        "fail",
                        f"the check's token {made['name']!r} was not deleted: {error.message}",
                        f"delete it: DELETE {tokens}/{made['id']}",
                    )
                )

    def _event(self, target: Target, token: str) -> Check:
        headers = {"wp13n-token": token, "origin": target.origin}
        body = {target.primary_key: target.visitor}
        deadline = time.monotonic() + NEW_TOKEN_PATIENCE_SECONDS
        reply = probe.send(self.data_url, "POST", target.path, headers=headers, body=body)
        # A new token, or a new event table, is learned by the auth service within seconds.
        while reply.status in (401, 404) and time.monotonic() < deadline:
            time.sleep(0.25)
            reply = probe.send(self.data_url, "POST", target.path, headers=headers, body=body)
        return judge_event(target.origin, target.path, reply, target.how_to_allow())


DATA_CHECKS = ("test event", "cors preflight", "cors refusal")


def _lost(name: str, error: AdminError) -> Check:
    """A check whose call got no answer: the gateway answered the earlier ones."""
    return Check(
        name,
        "fail",
        f"the admin API stopped answering: {error.message}",
        "retry; if it persists, the gateway is down or restarting (`p13n up`'s output, or "
        "its pods)",
    )


def _skipped(names: tuple[str, ...]) -> list[Check]:
    return [Check(name, "skip", "not checked: an earlier check failed") for name in names]


def _ask(origin: str) -> dict[str, str]:
    """A browser's preflight before a POST with a token and a JSON body."""
    return {
        "origin": origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type, wp13n-token",
    }


def _example_origin(allowed: list[str]) -> str | None:
    """The first allowed origin, a wildcard's ``*`` made a label (``https://*.shop.example``
    allows ``https://p13n-doctor.shop.example``)."""
    return allowed[0].replace("*", "p13n-doctor", 1) if allowed else None


def _print(checks: list[Check]) -> None:
    width = max(len(check.name) for check in checks)
    for check in checks:
        mark = {"ok": "ok", "warn": "WARN", "fail": "FAIL", "skip": "skip"}[check.status]
        click.echo(f"{mark:<4}  {check.name:<{width}}  {check.detail}")
        if check.hint and check.status != "ok":
            click.echo(f"{'':<4}  {'':<{width}}  -> {check.hint}")


@click.command()
@click.option("--origin", help="the Origin of the test event (default: one the service allows)")
@click.option(
    "--token",
    envvar="P13N_PUBLIC_TOKEN",
    help="a public token for the test event (P13N_PUBLIC_TOKEN; default: one made for the "
    "check and deleted after)",
)
@click.option(
    "--data-url",
    help="the data listener, http://HOST:PORT (default: that of the suite `p13n up` runs "
    "here, else the admin URL's host with P13N_DATA_PORT, 8080 by default)",
)
@click.option(
    "--visitor",
    metavar="VALUE",
    help="the test event's visitor id, a value of the primary key (default: p13n-doctor, "
    "or another its regex accepts)",
)
@parent_segment_option
@output_option
@click.pass_obj
def doctor(
    obj: CliContext,
    origin: str | None,
    token: str | None,
    data_url: str | None,
    visitor: str | None,
    parent_segment: str | None,
    output: str,
) -> int:
    """Check a deployment end to end and say what is wrong.

    The gateway, each service (auth, profile, offers), a test event from a browser's Origin
    with its CORS preflight, and the clock; one line per check, with what to do when it
    failed. Exits 1 when any check failed. The test event is stored, for visitor id
    p13n-doctor (or --visitor).
    """
    admin = obj.admin()
    segment = parent_segment or os.environ.get("P13N_PARENT_SEGMENT")
    data_url = data_url or default_data_url(admin.url)
    checks = Doctor(admin, data_url, segment, origin, token, visitor).run()
    if output == "table":
        _print(checks)
    else:
        emit([check.as_dict() for check in checks], output)
    return 1 if any(check.failed for check in checks) else 0


def register(group: click.Group) -> None:
    group.add_command(doctor)
