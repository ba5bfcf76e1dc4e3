"""The `p13n` command."""

from __future__ import annotations

import argparse
import sys

from services.common.config import ConfigError, Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="p13n", description="Real-time personalization, browser-safe."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the whole suite on this machine")
    up.add_argument(
        "--demo", action="store_true", help="also load the demo and serve the demo shop"
    )
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"p13n: configuration error: {error}", file=sys.stderr)
        return 2
    if args.command == "up":
        from services.supervisor import up as run_up

        return run_up(settings, demo=args.demo)
    return 2


if __name__ == "__main__":
    sys.exit(main())
