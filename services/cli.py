"""The `p13n` command: run the suite and operate it."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from services import data_dir
from services.common import files
from services.common.config import ConfigError, Settings
from services.common.errors import P13nError

# The commands that act on a data directory: each chooses it (``services.data_dir``).
DATA_COMMANDS = ("bootstrap", "flags", "certs")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="p13n",
        description="Real-time personalization, browser-safe.",
        epilog="bootstrap, flags and certs act on a data directory: P13N_DATA_DIR if set, "
        "else ./var if it holds a suite, else the directory of the suite `p13n up` runs on "
        "this machine; each says on stderr which one it uses.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the whole suite on this machine")
    up.add_argument("--demo", action="store_true", help="also load the demo and serve its shop")
    up.add_argument(
        "--replicas",
        type=int,
        default=1,
        metavar="N",
        help="run N processes of each service, balanced by the gateway (needs P13N_DATABASE_URL)",
    )
    boot = commands.add_parser(
        "bootstrap", help="create the first account, its owner and a master API key"
    )
    boot.add_argument("--email", required=True)
    boot.add_argument("--password", required=True)
    boot.add_argument("--account", required=True, help="the account's name")
    boot.add_argument("--json", action="store_true", help="print the result as JSON")
    boot.add_argument(
        "--init",
        action="store_true",
        help="create the auth database (and its secret key) in the data directory if none "
        "lives there, as the auth service does when it first starts",
    )
    flags = commands.add_parser("flags", help="feature flags of an account (operator)")
    flag_commands = flags.add_subparsers(dest="flags_command", required=True)
    flag_set = flag_commands.add_parser("set", help="turn a flag on or off")
    flag_set.add_argument("--account", required=True, help="the account's id")
    flag_set.add_argument("assignment", metavar="FLAG=on|off")
    commands.add_parser(
        "certs", help="list the components' certificates (component, SAN, not-after, fingerprint)"
    )
    gateway = commands.add_parser("gateway-config", help="print the Envoy configuration (JSON)")
    gateway.add_argument(
        "--kubernetes", action="store_true", help="listen on 0.0.0.0, reach services by name"
    )
    gateway.add_argument(
        "--replicas",
        type=int,
        default=1,
        metavar="N",
        help="as `p13n up --replicas N` runs it: every replica an endpoint",
    )
    gateway.add_argument(
        "--trusted-hops",
        type=int,
        default=0,
        metavar="N",
        help="proxies in front of the gateway's data listener that append to "
        "X-Forwarded-For (default 0): the client address is the entry the outermost one "
        "appended; the admin API listener always trusts none",
    )
    gateway.add_argument(
        "--files-dir",
        "--sds-dir",
        dest="files_dir",
        metavar="DIR",
        help="also write the files the configuration reads into DIR: the two SDS files "
        "(the gateway's certificate and CA) and, with --kubernetes, the descriptor set",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Whatever the CLI creates (the data directory, keys, databases, certificates) and
    # every child of `p13n up` are owner-only (services/common/files.py).
    files.restrict_umask()
    chosen = None
    try:
        if args.command in DATA_COMMANDS:
            chosen = data_dir.choose()
            settings = Settings.from_env({**os.environ, "P13N_DATA_DIR": str(chosen.path)})
        else:
            settings = Settings.from_env()
    except ConfigError as error:
        print(f"p13n: configuration error: {error}", file=sys.stderr)
        return 2
    if chosen is not None:
        print(chosen.announcement(), file=sys.stderr)
    try:
        if args.command == "up":
            from services.supervisor import up

            return up(settings, demo=args.demo, replicas=args.replicas)
        if args.command == "gateway-config":
            return _print_gateway_config(settings, args)
        assert chosen is not None
        if args.command == "bootstrap":
            return _bootstrap(settings, chosen, args)
        if args.command == "certs":
            return _certs(settings)
        return _flags(settings, chosen, args)
    except P13nError as error:
        # The whole command the user typed: "p13n flags set", not "p13n flags".
        command = " ".join(filter(None, (args.command, getattr(args, "flags_command", None))))
        print(f"p13n {command}: {error.message}", file=sys.stderr)
        return 1


def _elsewhere(settings: Settings, chosen: data_dir.Chosen, command: str) -> str:
    return chosen.elsewhere(command, postgresql=settings.database_url is not None)


def _bootstrap(settings: Settings, chosen: data_dir.Chosen, args: argparse.Namespace) -> int:
    from services.auth.operator import (
        bootstrap,
        init_auth_database,
        require_auth_database,
        secret_key,
    )

    async def run() -> dict[str, str]:
        if args.init and await init_auth_database(settings):
            print(f"p13n bootstrap: created the auth database in {chosen.path}", file=sys.stderr)
        # The database first: where none lives, that is what to fix (the key is missing
        # there too). Without --init the key is only read, never made (operator.secret_key).
        await require_auth_database(
            settings, "bootstrap", _elsewhere(settings, chosen, "bootstrap")
        )
        return await bootstrap(
            settings,
            secret_key(settings, "bootstrap"),
            email=args.email,
            password=args.password,
            account=args.account,
        )

    result = asyncio.run(run())
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"account {result['account_id']} created with owner user {result['user_id']}.\n"
            f"Master API key (shown once, keep it safe): {result['api_key']}"
        )
    return 0


def _print_gateway_config(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.capacity import CapacityError

    try:
        print(
            _gateway_config(
                settings,
                kubernetes=args.kubernetes,
                files_dir=args.files_dir,
                replicas=args.replicas,
                trusted_hops=args.trusted_hops,
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


def _flags(settings: Settings, chosen: data_dir.Chosen, args: argparse.Namespace) -> int:
    from services.auth.operator import require_auth_database, set_flag

    flag, _, value = args.assignment.partition("=")
    if value not in ("on", "off"):
        print("p13n flags set: expected FLAG=on or FLAG=off", file=sys.stderr)
        return 2

    async def run() -> None:
        await require_auth_database(
            settings, "flags set", _elsewhere(settings, chosen, "flags set")
        )
        await set_flag(settings, args.account, flag, value == "on")

    asyncio.run(run())
    print(f"{flag} is {value} for account {args.account}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
