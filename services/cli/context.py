"""What every admin command needs: the suite to talk to, and the parent segment to act on."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from services.admin_client import AdminClient
from services.cli import lookup, profiles

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliContext:
    """Made once per invocation by the ``p13n`` group; commands get it with ``pass_obj``."""

    profile_name: str
    _admin: AdminClient | None = field(default=None, repr=False)

    def admin(self) -> AdminClient:
        """The admin API as ``P13N_ADMIN_URL`` + ``P13N_API_KEY`` name it, else as the login
        profile saved it; a ``click.ClickException`` saying what to run when neither does."""
        if self._admin is None:
            url, key, source = self._address()
            try:
                self._admin = AdminClient(url, key)
            except ValueError as error:
                raise click.UsageError(f"{source}: {error}") from None
        return self._admin

    def _address(self) -> tuple[str, str, str]:
        """The URL, the key and where the URL came from. A key goes only to the URL it was
        given or saved with: the environment's pair, or the profile's pair, never one of
        each (a saved key must not follow P13N_ADMIN_URL to another host, nor may an
        exported key go to the profile's host unless it is the key saved for it)."""
        url, key = os.environ.get("P13N_ADMIN_URL"), os.environ.get("P13N_API_KEY")
        if url and key:
            return url, key, "P13N_ADMIN_URL"
        saved = profiles.load(self.profile_name)
        if url:
            if saved is None or saved.url.rstrip("/") != url.rstrip("/"):
                raise click.UsageError("P13N_ADMIN_URL is set without P13N_API_KEY")
        elif key:
            if saved is None or saved.api_key != key:
                raise click.UsageError("P13N_API_KEY is set without P13N_ADMIN_URL")
        elif saved is None:
            raise click.ClickException(
                f"not logged in (no profile {self.profile_name!r} in "
                f"{profiles.profiles_file()}): run `p13n login`, or set "
                "P13N_ADMIN_URL and P13N_API_KEY"
            )
        return (
            saved.url,
            saved.api_key,
            f"profile {self.profile_name!r} in {profiles.profiles_file()}",
        )

    def parent_segment_id(self, given: str | None) -> str:
        """The parent segment ``given`` names (its id or its name, by ``lookup``'s rule),
        else ``P13N_PARENT_SEGMENT``, else the account's only one."""
        given = given or os.environ.get("P13N_PARENT_SEGMENT")
        place = lookup.Place(lookup.PARENT_SEGMENTS)
        segments = lookup.list_all(self.admin(), place)
        if given:
            return str(lookup.match_one(segments, place, given)["id"])
        if len(segments) == 1:
            return str(segments[0]["id"])
        names = ", ".join(repr(s["name"]) for s in segments) or "none yet"
        raise click.ClickException(
            f"say which parent segment with --parent-segment ID|NAME (this account has {names})"
        )


def parent_segment_option(function: F) -> F:
    """``-s/--parent-segment ID|NAME`` for the commands that act inside one."""
    return click.option(
        "-s",
        "--parent-segment",
        "parent_segment",
        metavar="ID|NAME",
        help="the parent segment (default: P13N_PARENT_SEGMENT, else the account's only one)",
    )(function)
