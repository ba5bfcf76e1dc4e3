"""The operator's commands: run the suite and act on a data directory on this machine.

up, bootstrap, flags, certs and gateway-config work without a running suite (bootstrap
makes the first account, whose key every other command then uses), so they act on files,
not on the admin API. Which data directory: ``services.data_dir`` (each says on stderr).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable

import click

from services import data_dir
from services.common import files
from services.common.config import ConfigError, Settings
from services.common.errors import P13nError


def _settings(chosen: data_dir.Chosen | None = None) -> Settings:
    """The settings from the environment (with ``chosen`` as the data directory)."""
    env = dict(os.environ)
    if chosen is not None:
        env["P13N_DATA_DIR"] = str(chosen.path)
    return Settings.from_env(env)


def _run(command: str, action: Callable[[], int]) -> int:
    """Runs ``action`` as the operator command ``command``: owner-only files, a
    configuration error as exit code 2, a refusal as ``p13n <command>: <why>`` and 1."""
    # Whatever the CLI creates (the data directory, keys, databases, certificates) and
    # every child of `p13n up` are owner-only (services/common/files.py).
    files.restrict_umask()
    try:
        return action()
    except ConfigError as error:
        print(f"p13n: configuration error: {error}", file=sys.stderr)
        return 2
    except P13nError as error:
        print(f"p13n {command}: {error.message}", file=sys.stderr)
        return 1


def _choose() -> tuple[Settings, data_dir.Chosen]:
    chosen = data_dir.choose()
    settings = _settings(chosen)
    print(chosen.announcement(), file=sys.stderr)
    return settings, chosen


@click.command()
@click.option("--demo", is_flag=True, help="also load the demo and serve its shop")
@click.option(
    "--replicas",
    type=int,
    default=1,
    metavar="N",
    help="run N processes of each service, balanced by the gateway (needs P13N_DATABASE_URL)",
)
@click.option(
    "--single-process",
    is_flag=True,
    envvar="P13N_SINGLE_PROCESS",
    help="run auth, profile and offers as one process that calls itself without gRPC"
    " (less CPU per event; also P13N_SINGLE_PROCESS=1)",
)
def up(demo: bool, replicas: int, single_process: bool) -> int:
    """Start the whole suite on this machine."""

    def action() -> int:
        from services.supervisor import up as start

        return start(_settings(), demo=demo, replicas=replicas, single_process=single_process)

    return _run("up", action)


@click.command()
@click.option("--email", required=True)
@click.option(
    "--password",
    envvar="P13N_PASSWORD",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="the owner's password (P13N_PASSWORD; else asked for, not echoed: on the command "
    "line it is seen by other users' ps and kept in shell history)",
)
@click.option("--account", required=True, help="the account's name")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
@click.option(
    "--init",
    is_flag=True,
    help="create the auth database (and its secret key) in the data directory if none "
    "lives there, as the auth service does when it first starts",
)
def bootstrap(email: str, password: str, account: str, as_json: bool, init: bool) -> int:
    """Create the first account, its owner and a master API key."""

    def action() -> int:
        settings, chosen = _choose()
        return _bootstrap(settings, chosen, email, password, account, as_json, init)

    return _run("bootstrap", action)


@click.group()
def flags() -> None:
    """Feature flags of an account (operator)."""


@flags.command("set")
@click.option("--account", required=True, help="the account's id")
@click.argument("assignment", metavar="FLAG=on|off")
def flags_set(account: str, assignment: str) -> int:
    """Turn a flag on or off."""

    def action() -> int:
        settings, chosen = _choose()
        return _flags(settings, chosen, account, assignment)

    return _run("flags set", action)


@click.command(short_help="List the components' certificates.")
def certs() -> int:
    """List the components' certificates (component, SAN, not-after, fingerprint)."""

    def action() -> int:
        settings, _ = _choose()
        return _certs(settings)

    return _run("certs", action)


@click.command("gateway-config")
@click.option("--kubernetes", is_flag=True, help="listen on 0.0.0.0, reach services by name")
@click.option(
    "--replicas",
    type=int,
    default=1,
    metavar="N",
    help="as `p13n up --replicas N` runs it: every replica an endpoint",
)
@click.option(
    "--trusted-hops",
    type=int,
    default=0,
    metavar="N",
    help="proxies in front of the gateway's data listener that append to "
    "X-Forwarded-For (default 0): the client address is the entry the outermost one "
    "appended; the admin API listener always trusts none",
)
@click.option(
    "--files-dir",
    "--sds-dir",
    "files_dir",
    metavar="DIR",
    help="also write the files the configuration reads into DIR: the two SDS files "
    "(the gateway's certificate and CA) and, with --kubernetes, the descriptor set",
)
def gateway_config(
    kubernetes: bool, replicas: int, trusted_hops: int, files_dir: str | None
) -> int:
    """Print the Envoy configuration (JSON)."""

    def action() -> int:
        return _print_gateway_config(_settings(), kubernetes, replicas, trusted_hops, files_dir)

    return _run("gateway-config", action)


def register(group: click.Group) -> None:
    for command in (up, bootstrap, flags, certs, gateway_config):
        group.add_command(command)


def _elsewhere(settings: Settings, chosen: data_dir.Chosen, command: str) -> str:
    return chosen.elsewhere(command, postgresql=settings.database_url is not None)


def _bootstrap(
    settings: Settings,
    chosen: data_dir.Chosen,
    email: str,
    password: str,
    account: str,
    as_json: bool,
    init: bool,
) -> int:
    from services.auth.operator import (
        bootstrap,
        init_auth_database,
        require_auth_database,
        secret_key,
    )

    async def run() -> dict[str, str]:
        if init and await init_auth_database(settings):
            print(f"p13n bootstrap: created the auth database in {chosen.path}", file=sys.stderr)
        # The database first: where none lives, that is what to fix (the key is missing
        # there too). Without --init the key is only read, never made (operator.secret_key).
        await require_auth_database(
            settings, "bootstrap", _elsewhere(settings, chosen, "bootstrap")
        )
        return await bootstrap(
            settings,
            secret_key(settings, "bootstrap"),
            email=email,
            password=password,
            account=account,
        )

    result = asyncio.run(run())
    if as_json:
        print(json.dumps(result))
    else:
        print(
            f"account {result['account_id']} created with owner user {result['user_id']}.\n"
            f"Master API key (shown once, keep it safe): {result['api_key']}"
        )
    return 0


def _print_gateway_config(
    settings: Settings, kubernetes: bool, replicas: int, trusted_hops: int, files_dir: str | None
) -> int:
    from gateway.capacity import CapacityError

    try:
        print(
            _gateway_config(
                settings,
                kubernetes=kubernetes,
                files_dir=files_dir,
                replicas=replicas,
                trusted_hops=trusted_hops,
            )
        )
    except (CapacityError, ConfigError) as error:  # a setting: as any configuration error
        print(f"p13n: configuration error: {error}", file=sys.stderr)
        return 2
    return 0


def _gateway_config(
    settings: Settings,
    *,
    kubernetes: bool,
    files_dir: str | None,
    replicas: int = 1,
    trusted_hops: int = 0,
) -> str:
    import dataclasses
    from pathlib import Path

    from gateway.capacity import Capacity
    from gateway.descriptor import without_source_info
    from gateway.render import DESCRIPTOR, DESCRIPTOR_FILE, GatewayConfig, render, sds_files
    from services.common.replicas import Layout

    if trusted_hops < 0:
        raise ConfigError(f"--trusted-hops {trusted_hops}: give 0 or a positive number")
    config = (
        GatewayConfig.on_kubernetes(trusted_hops)
        if kubernetes
        else dataclasses.replace(
            GatewayConfig.on_one_machine(
                settings, Capacity.from_env(os.environ), Layout.of(settings, replicas)
            ),
            trusted_hops=trusted_hops,
        )
    )
    if files_dir is not None:
        if config.tls is not None:
            for name, text in sds_files(config.tls).items():
                (Path(files_dir) / name).write_text(text + "\n")
        if kubernetes:
            (Path(files_dir) / DESCRIPTOR_FILE).write_bytes(without_source_info(DESCRIPTOR))
    return render(config)


def _certs(settings: Settings) -> int:
    from services.common.pki import describe

    found = describe(settings.pki_dir)
    if not found:
        print(f"p13n certs: no certificates under {settings.pki_dir}; `p13n up` makes them")
        return 1
    print(f"{'component':9} {'SAN':24} {'not after':20}  sha256 fingerprint  path")
    for issued in found:
        print(
            f"{issued.component:9} {issued.san:24} {issued.not_after:%Y-%m-%dT%H:%M:%SZ}  "
            f"{issued.fingerprint}  {issued.path}"
        )
    return 0


def _flags(settings: Settings, chosen: data_dir.Chosen, account: str, assignment: str) -> int:
    from services.auth.operator import require_auth_database, set_flag

    flag, _, value = assignment.partition("=")
    if value not in ("on", "off"):
        print("p13n flags set: expected FLAG=on or FLAG=off", file=sys.stderr)
        return 2

    async def run() -> None:
        await require_auth_database(
            settings, "flags set", _elsewhere(settings, chosen, "flags set")
        )
        await set_flag(settings, account, flag, value == "on")

    asyncio.run(run())
    print(f"{flag} is {value} for account {account}")
    return 0
