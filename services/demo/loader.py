"""Loads the demo into a running suite through the real admin API.

The configuration is ``demo.yaml``, applied by the same converge as `p13n apply -f`
(``services.declarative``): running it again (a second `p13n up --demo` on the same data
directory) reuses the account, configuration and tokens of the first, completes whatever
an earlier run did not finish, puts back what the file says where a user changed it, and
keeps what a user added (no pruning). What is not configuration is done here: the
account, tokens and identity secret (looked up, created only when missing), and the
imports and segment members, sent every time; they set values, so sending them twice
changes nothing.

Only the account itself is made outside the admin API, because creating the first account
is an operator's act (`p13n bootstrap`, `p13n flags set`): the same code runs here against
the data directory, and the credentials go into ``demo.json`` at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from dataclasses import dataclass
from typing import Any

from services.admin_client import AdminClient, AdminError
from services.auth import operator
from services.auth.store import WRONG_SECRET_KEY
from services.auth.store_protocols import Conflict
from services.common.config import Settings
from services.common.errors import FailedPrecondition, NotFound, P13nError
from services.declarative import converge
from services.declarative.document import Document
from services.declarative.kinds import BY_KEY
from services.declarative.plan import Current, make_plan
from services.demo import definition as demo
from services.demo.shop import PageConfig
from services.demo.state import (
    DemoState,
    load_state,
    save_shop_secret,
    save_state,
    state_path,
)

ACCOUNT_NAME = "p13n demo"
OWNER_EMAIL = "demo@p13n.example"
KEY_KNOWN_TIMEOUT = 10.0
# Bootstrap's refusals that mean this data directory's demo account exists already: an
# earlier run made it, and its demo.json (the only copy of its API key) is gone.
ALREADY_THERE = (Conflict.ACCOUNT_NAME_TAKEN.value, Conflict.EMAIL_TAKEN.value)


class DemoError(Exception):
    """The demo could not be loaded; the message says why and what to do."""


@dataclass(frozen=True)
class LoadedDemo:
    """What a loaded demo gives its callers: credentials, ids and the shop page's settings."""

    state: DemoState
    parent_segment_id: str
    page: PageConfig

    @property
    def identity_secret(self) -> str:
        """What the shop's server signs its members' ids with (never served to a page)."""
        return self.state.identity_secret


def browser_host(bind_host: str) -> str:
    """The host a browser on this machine uses to reach a listener bound to ``bind_host``."""
    return "127.0.0.1" if bind_host in ("", "0.0.0.0", "::") else bind_host


def shop_origin(settings: Settings) -> str:
    return f"http://{browser_host(settings.bind_host)}:{settings.demo_port}"


def load_demo(settings: Settings, origin: str) -> LoadedDemo:
    """Creates or completes the demo in the suite ``settings`` describe; idempotent.

    ``origin`` is the shop's origin, which the public service must allow.
    """
    host = browser_host(settings.bind_host)
    try:
        state = _account(settings)
        admin = AdminClient.on(host, settings.admin_port, state.api_key)
        _wait_until_known(admin)
        parent_segment_id = _configure(admin, origin)
        state = _tokens(settings, admin, parent_segment_id, state)
        save_shop_secret(settings.data_dir, state.identity_secret)
    except (AdminError, converge.ConvergeError) as error:
        raise DemoError(f"loading the demo configuration failed: {error}") from None
    page = PageConfig(
        endpoint=f"http://{host}:{settings.data_port}",
        token=state.public_token,
        database=demo.DATABASE,
        table=demo.TABLE,
        member_id=demo.DEMO_MEMBER_ID,
    )
    return LoadedDemo(state, parent_segment_id, page)


def _account(settings: Settings) -> DemoState:
    """The saved demo account, or a new one; both feature flags on either way."""
    path = state_path(settings.data_dir)
    state = load_state(settings.data_dir) or _create_account(settings)
    try:
        for flag in operator.KNOWN_FLAGS:  # again on reuse: an operator may have turned one off
            asyncio.run(operator.set_flag(settings, state.account_id, flag, True))
    except NotFound:
        raise DemoError(
            f"{path} names account {state.account_id}, which this data directory does not "
            f"have; delete {path} to create a new demo account"
        ) from None
    except P13nError as error:
        raise DemoError(
            f"setting the demo account's feature flags failed: {error.message}"
        ) from None
    return state


def _create_account(settings: Settings) -> DemoState:
    path = state_path(settings.data_dir)
    password = secrets.token_urlsafe(24)
    try:
        created = asyncio.run(
            operator.bootstrap(
                settings,
                settings.secret_key,
                email=OWNER_EMAIL,
                password=password,
                account=ACCOUNT_NAME,
            )
        )
    except FailedPrecondition as error:
        if error.reason in ALREADY_THERE:
            raise DemoError(
                f"{error.message}, but its credentials ({path}) are gone, so the demo cannot "
                "use it: start with a fresh P13N_DATA_DIR"
            ) from None
        if error.reason == WRONG_SECRET_KEY:
            raise DemoError(
                f"{error.message}; the demo cannot create its account in this data "
                "directory: start with a fresh P13N_DATA_DIR"
            ) from None
        # Any other refusal (no auth database, one out of reach) says itself what to do.
        raise DemoError(f"creating the demo account failed: {error.message}") from None
    except P13nError as error:
        raise DemoError(f"creating the demo account failed: {error.message}") from None
    state = DemoState(created["account_id"], created["api_key"], OWNER_EMAIL, password)
    save_state(settings.data_dir, state)  # at once: the key is shown only this one time
    return state


def _wait_until_known(admin: AdminClient) -> None:
    """The auth service reads a new key from the shared database within its refresh."""
    deadline = time.monotonic() + KEY_KNOWN_TIMEOUT
    problem = ""
    while time.monotonic() < deadline:
        try:
            status, body = admin.call("GET", "/v1/me")
        except AdminError as error:  # the admin listener may open a moment after the data one
            problem = str(error)
        else:
            if status == 200:
                return
            problem = f"HTTP {status}: {body}"
        time.sleep(0.1)
    raise DemoError(
        f"the suite did not accept the demo's API key ({problem}); if the data directory's "
        "accounts were reset, delete its demo.json to create a new demo account"
    )


def _configure(admin: AdminClient, origin: str) -> str:
    """The demo file applied by the converge of `p13n apply` (without pruning: what a user
    added stays), then its data imported; returns the parent segment's id."""
    current = converge.read_current(admin, demo.DOCUMENT.name)
    ps = converge.apply(admin, make_plan(_allowing(origin, current), current))
    base = f"/v1/parent_segments/{ps}"
    segments = {s["name"]: s["id"] for s in admin.list_all(f"{base}/segments", "segments")}
    for name, members in demo.SEGMENT_MEMBERS.items():
        admin.ok("POST", f"{base}/segments/{segments[name]}:import_members", members)
    admin.ok("POST", f"{base}/imports", demo.DEMO_MEMBER_IMPORT)
    return ps


def _allowing(origin: str, current: Current | None) -> Document:
    """The demo file with ``origin`` allowed by its public service, after the origins the
    suite allows already (another P13N_DEMO_PORT than last time: both stay allowed) and
    the file's own (the default port's, so `p13n apply -f` of the file changes nothing)."""
    public = demo.PUBLIC_SERVICE["name"]
    found = [s for s in current.of(BY_KEY["services"]) if s["name"] == public] if current else []
    allowed = found[0].get("allowed_origins", []) if found else []
    in_file = demo.PUBLIC_SERVICE.get("allowed_origins", [])
    origins = list(dict.fromkeys([*allowed, *in_file, origin]))
    services = [
        {**service, "allowed_origins": origins} if service["name"] == public else service
        for service in demo.SERVICES
    ]
    return dataclasses.replace(demo.DOCUMENT, items={**demo.DOCUMENT.items, "services": services})


def _tokens(settings: Settings, admin: AdminClient, ps: str, state: DemoState) -> DemoState:
    """The public service's token and identity secret, and the private service's token."""
    base = f"/v1/parent_segments/{ps}/services"
    services = {s["name"]: s["id"] for s in admin.list_all(base, "services")}
    public = f"{base}/{services[demo.PUBLIC_SERVICE['name']]}"
    private = f"{base}/{services[demo.PRIVATE_SERVICE['name']]}"
    state = _token(settings, admin, f"{public}/tokens", demo.PUBLIC_TOKEN, state, "public")
    state = _identity_secret(settings, admin, f"{public}/identity_secrets", state)
    return _token(settings, admin, f"{private}/tokens", demo.PRIVATE_TOKEN, state, "private")


def _token(
    settings: Settings,
    admin: AdminClient,
    path: str,
    body: dict[str, Any],
    state: DemoState,
    kind: str,
) -> DemoState:
    """The state with its saved ``kind`` token if the service still has it, else a new one
    (say, after a user deleted it), saved at once: a secret is shown only when created.
    """
    saved_id = getattr(state, f"{kind}_token_id")
    if any(t.get("id") == saved_id for t in admin.list_all(path, "tokens")):
        return state
    created = admin.ok("POST", path, body)
    changes = {f"{kind}_token": str(created["token"]), f"{kind}_token_id": str(created["id"])}
    state = dataclasses.replace(state, **changes)
    save_state(settings.data_dir, state)
    return state


def _identity_secret(
    settings: Settings, admin: AdminClient, path: str, state: DemoState
) -> DemoState:
    """The state with its saved identity secret if the service still has it, else a new one,
    saved at once (shown only when created), as for tokens."""
    listed = admin.ok("GET", path).get("identity_secrets", [])
    if state.identity_secret and any(s.get("id") == state.identity_secret_id for s in listed):
        return state
    for stale in listed:  # ours by name, but its value is not in the state: replace it
        if stale.get("name") == demo.IDENTITY_SECRET["name"]:
            admin.ok("DELETE", f"{path}/{stale['id']}")
    created = admin.ok("POST", path, demo.IDENTITY_SECRET)
    state = dataclasses.replace(
        state, identity_secret=str(created["secret"]), identity_secret_id=str(created["id"])
    )
    save_state(settings.data_dir, state)
    return state
