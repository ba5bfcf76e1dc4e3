"""What every admin command needs: the suite to talk to, and the parent segment to act on."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from services.admin_client import AdminClient
from services.cli import profiles

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
            url, key = os.environ.get("P13N_ADMIN_URL"), os.environ.get("P13N_API_KEY")
            if not (url and key):
                saved = profiles.load(self.profile_name)
                if saved is None:
                    raise click.ClickException(
                        f"not logged in (no profile {self.profile_name!r} in "
                        f"{profiles.profiles_file()}): run `p13n login`, or set "
                        "P13N_ADMIN_URL and P13N_API_KEY"
                    )
                url, key = url or saved.url, key or saved.api_key
            self._admin = AdminClient(url, key)
        return self._admin

    def parent_segment_id(self, given: str | None) -> str:
        """The parent segment ``given`` names (its id or its name), else
        ``P13N_PARENT_SEGMENT``, else the account's only one."""
        given = given or os.environ.get("P13N_PARENT_SEGMENT")
        segments = self.admin().list_all("/v1/parent_segments", "parent_segments")
        if given:
            for candidate in segments:
                if given in (candidate["id"], candidate["name"]):
                    return str(candidate["id"])
            raise click.ClickException(f"no parent segment has the id or name {given!r}")
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
