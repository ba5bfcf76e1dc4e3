"""Loads the demo configuration into a running suite through the real admin API.

Loading converges rather than replays: every resource is looked up by name and created only
when missing, so running it again (a second `p13n up --demo` on the same data directory)
reuses the account, configuration and tokens of the first, completes whatever an earlier
run did not finish, and leaves alone anything a user changed since. Imports and segment
members are sent every time; they set values, so sending them twice changes nothing.

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

from services.auth import operator
from services.auth.store import WRONG_SECRET_KEY
from services.auth.store_protocols import Conflict
from services.common.config import Settings
from services.common.errors import FailedPrecondition, NotFound, P13nError
from services.demo import definition as demo
from services.admin_client import AdminClient, AdminError
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
        parent_segment_id = _configure(admin)
        state = _tokens(settings, admin, parent_segment_id, state, origin)
        save_shop_secret(settings.data_dir, state.identity_secret)
    except AdminError as error:
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


def _ensure(admin: AdminClient, path: str, field: str, body: dict[str, Any]) -> dict[str, Any]:
    """The resource named ``body["name"]`` under ``path``, created from ``body`` if missing."""
    for item in admin.list_all(path, field):
        if item.get("name") == body["name"]:
            return item
    created: dict[str, Any] = admin.ok("POST", path, body)
    return created


def _configure(admin: AdminClient) -> str:
    """Everything but the services and tokens; returns the parent segment's id."""
    ps = _ensure(admin, "/v1/parent_segments", "parent_segments", demo.PARENT_SEGMENT)["id"]
    base = f"/v1/parent_segments/{ps}"
    for key in demo.STITCHING_KEYS:
        found = _ensure(admin, f"{base}/stitching_keys", "stitching_keys", key)
        if bool(found.get("verified")) != key["verified"]:  # a demo loaded before issue 13
            admin.ok(
                "PATCH",
                f"{base}/stitching_keys/{found['id']}?update_mask=verified",
                {"verified": key["verified"]},
            )
    for event in demo.EVENTS:
        _ensure(admin, f"{base}/events", "events", event)
    for attribute in demo.ATTRIBUTES:
        _ensure(admin, f"{base}/attributes", "attributes", attribute)
    for segment in demo.SEGMENTS:
        created = _ensure(admin, f"{base}/segments", "segments", segment)
        members = demo.SEGMENT_MEMBERS[segment["name"]]
        admin.ok("POST", f"{base}/segments/{created['id']}:import_members", members)
    admin.ok("POST", f"{base}/imports", demo.DEMO_MEMBER_IMPORT)
    for personalization in demo.PERSONALIZATIONS:
        _ensure(admin, f"{base}/personalizations", "personalizations", personalization)
    return str(ps)


def _tokens(
    settings: Settings, admin: AdminClient, ps: str, state: DemoState, origin: str
) -> DemoState:
    """The public service (allowing ``origin``) and the private one, each with its token."""
    base = f"/v1/parent_segments/{ps}/services"
    public = _ensure(admin, base, "services", {**demo.PUBLIC_SERVICE, "allowed_origins": [origin]})
    origins = list(public.get("allowed_origins", []))
    if origin not in origins:
        # Another P13N_DEMO_PORT than last time: allow it too, keeping what is there.
        admin.ok(
            "PATCH",
            f"{base}/{public['id']}?update_mask=allowed_origins",
            {"allowed_origins": [*origins, origin]},
        )
    private = _ensure(admin, base, "services", demo.PRIVATE_SERVICE)
    tokens = f"{base}/{public['id']}/tokens"
    state = _token(settings, admin, tokens, demo.PUBLIC_TOKEN, state, "public")
    state = _identity_secret(settings, admin, f"{base}/{public['id']}/identity_secrets", state)
    tokens = f"{base}/{private['id']}/tokens"
    return _token(settings, admin, tokens, demo.PRIVATE_TOKEN, state, "private")


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
