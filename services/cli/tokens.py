"""`p13n tokens create|reveal`: a service's tokens, whose full string the API shows rarely.

Create shows the string once, as the API answers it. Reveal needs a session authenticated
by password within 10 minutes (an API key can never reveal): the command signs in with the
user's email and password (asked for, hidden; or P13N_PASSWORD for scripts), reveals with
that session, and signs the session out whatever happens, so no session outlives it. The
password is never echoed, printed or passed on a command line.
"""

from __future__ import annotations

import os
from typing import Any

import click

from services.admin_client import AdminClient, AdminError
from services.cli import detail, lookup
from services.cli.context import CliContext, parent_segment_option
from services.cli.kinds import KINDS
from services.cli.output import emit, output_option

_TOKENS = next(kind for kind in KINDS if kind.name == "tokens")


def _service_required(function: Any) -> Any:
    return click.option(
        "--service", required=True, metavar="ID|NAME", help="the service the token is for"
    )(function)


@click.group()
def tokens() -> None:
    """Create a service's token, or reveal one's full string."""


@tokens.command()
@click.argument("name")
@_service_required
@click.option(
    "--allowed-ip",
    "allowed_ips",
    multiple=True,
    metavar="CIDR",
    help="a CIDR a private service's token may be used from (repeat for more)",
)
@parent_segment_option
@output_option
@click.pass_obj
def create(
    obj: CliContext,
    name: str,
    service: str,
    allowed_ips: tuple[str, ...],
    parent_segment: str | None,
    output: str,
) -> int:
    """Create token NAME for a service and print it (its full string is shown this once)."""
    place = lookup.place_of(obj, _TOKENS, parent_segment, service)
    body: dict[str, Any] = {"name": name}
    if allowed_ips:
        body["allowed_ips"] = list(allowed_ips)
    created = obj.admin().ok("POST", place.path, body)
    _print(created, output, f"token {name!r} of {place}")
    click.echo(
        "the token string is shown only this once; `p13n tokens reveal` shows it again "
        "(it asks for your password)",
        err=True,
    )
    return 0


@tokens.command()
@click.argument("given", metavar="TOKEN_ID|NAME")
@_service_required
@click.option("--email", help="the user to sign in as (asked for when not given)")
@parent_segment_option
@output_option
@click.pass_obj
def reveal(
    obj: CliContext,
    given: str,
    service: str,
    email: str | None,
    parent_segment: str | None,
    output: str,
) -> int:
    """Print a token's full string; needs your password (P13N_PASSWORD for scripts).

    Revealing needs a session authenticated by password in the last 10 minutes: the
    command signs in as EMAIL, reveals, and signs that session out again.
    """
    admin = obj.admin()
    place = lookup.place_of(obj, _TOKENS, parent_segment, service)
    token = lookup.find(admin, place, given)
    email = email or click.prompt("Email", err=True)
    password = os.environ.get("P13N_PASSWORD") or click.prompt(
        "Password", hide_input=True, err=True
    )
    revealed = _with_session(admin, email, password, f"{place.item_path(str(token['id']))}:reveal")
    _print(revealed, output, f"token {token.get('name')!r} of {place}")
    return 0


def _with_session(admin: AdminClient, email: str, password: str, path: str) -> Any:
    """POSTs ``path`` with a fresh password session, then signs that session out."""
    try:
        session = admin.ok("POST", "/v1/sessions", {"email": email, "password": password})
    except AdminError as error:
        raise click.ClickException(f"signing in as {email} failed: {error.message}") from None
    bearer = {"authorization": f"Bearer {session['session_token']}"}
    try:
        return admin.ok("POST", path, {}, headers=bearer)
    finally:
        try:
            admin.ok("DELETE", "/v1/sessions/current", headers=bearer)
        except AdminError as error:  # the reveal's own outcome matters more; say, don't fail
            click.echo(f"p13n: could not sign the session out: {error.message}", err=True)


def _print(token: dict[str, Any], output: str, title: str) -> None:
    if output == "table":
        detail.show(token, title=title)
    else:
        emit(token, output)


def register(group: click.Group) -> None:
    group.add_command(tokens)
