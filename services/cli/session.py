"""`p13n login` and `p13n logout`: which suite the admin commands talk to, with which key."""

from __future__ import annotations

import os

import click

from services.admin_client import AdminClient, AdminError
from services.cli import profiles
from services.cli.context import CliContext
from services.common.config import ConfigError, Settings
from services.common.running import running_suites


def default_url() -> str:
    """The admin listener of the suite `p13n up` runs on this machine, else the configured
    (or default) admin port on loopback."""
    suites = running_suites()
    if len(suites) == 1:
        return f"http://127.0.0.1:{suites[0].admin_port}"
    try:
        port = Settings.from_env().admin_port
    except ConfigError:
        port = 8081
    return f"http://127.0.0.1:{port}"


@click.command(short_help="Save the admin API's URL and an API key (checked).")
@click.option("--url", help="the admin API, http://HOST:PORT (default: the suite on this machine)")
@click.pass_obj
def login(obj: CliContext, url: str | None) -> int:
    """Save the admin API's address and an API key as a login profile.

    The key is read from P13N_API_KEY, else asked for (not echoed); it is checked against
    the suite before it is saved, owner-only, in the user's configuration directory.
    """
    url = url or default_url()
    key = os.environ.get("P13N_API_KEY") or click.prompt("API key", hide_input=True)
    try:
        me = AdminClient(url, key).ok("GET", "/v1/me")
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--url") from None
    except AdminError as error:
        raise click.ClickException(f"login to {url} failed: {error.message}") from None
    if not me.get("account_id"):  # a web page answering 200 is not the admin API
        raise click.ClickException(
            f"login to {url} failed: GET /v1/me answered no account_id: is it p13n's admin API?"
        )
    path = profiles.save(obj.profile_name, profiles.Profile(url=url, api_key=key))
    role = str(me.get("role", "")).removeprefix("ROLE_").lower()
    click.echo(
        f"logged in to {url} as account {me.get('account_id')} ({role}); "
        f"profile {obj.profile_name!r} saved in {path}"
    )
    return 0


@click.command(short_help="Forget the login profile.")
@click.pass_obj
def logout(obj: CliContext) -> int:
    """Forget the login profile (the API key stays valid: revoke it with the admin API)."""
    if profiles.remove(obj.profile_name):
        click.echo(f"profile {obj.profile_name!r} removed from {profiles.profiles_file()}")
        return 0
    click.echo(f"no profile {obj.profile_name!r} in {profiles.profiles_file()}", err=True)
    return 1


def register(group: click.Group) -> None:
    group.add_command(login)
    group.add_command(logout)
