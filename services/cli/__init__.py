"""The `p13n` command: run the suite (operator commands) and operate it (the admin API).

Click composes the commands, one module per job: ``operator_commands`` acts on a data
directory on this machine (up, bootstrap, flags, certs, gateway-config); every other module
talks to a running suite through its admin API only (``context.CliContext.admin``), so it
works the same against a suite on this machine and one on Kubernetes.

``main`` returns the exit code instead of exiting, so tests call it as a function:
0 done, 1 refused or failed (the message says why), 2 a usage or configuration error.
"""

from __future__ import annotations

import sys

import click

from services.admin_client import AdminError
from services.cli import (
    apply,
    doctor,
    imports,
    operator_commands,
    preview,
    resources,
    session,
    tokens,
)
from services.cli.context import CliContext
from services.common.errors import P13nError


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="bootstrap, flags and certs act on a data directory: P13N_DATA_DIR if set, else "
    "./var if it holds a suite, else the directory of the suite `p13n up` runs on this "
    "machine; each says on stderr which one it uses. The other commands talk to a running "
    "suite's admin API as `p13n login` set up (see `p13n login --help`). The API reference "
    "is docs/api.md, and GET /v1/openapi.json on the admin listener.",
)
@click.option(
    "--profile",
    "profile_name",
    envvar="P13N_PROFILE",
    default="default",
    show_default=True,
    help="the login profile to use (P13N_PROFILE)",
)
@click.pass_context
def p13n(ctx: click.Context, profile_name: str) -> None:
    """Real-time personalization, browser-safe."""
    ctx.obj = CliContext(profile_name=profile_name)


apply.register(p13n)
doctor.register(p13n)
imports.register(p13n)
operator_commands.register(p13n)
preview.register(p13n)
resources.register(p13n)
session.register(p13n)
tokens.register(p13n)


def main(argv: list[str] | None = None) -> int:
    """Runs one command; returns its exit code (see the module's docstring)."""
    try:
        result = p13n.main(args=argv, prog_name="p13n", standalone_mode=False)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.UsageError as error:  # 2, with the usage line click shows
        error.show()
        return error.exit_code
    except click.ClickException as error:  # refusals (1): worded as every other refusal
        click.echo(f"p13n: {error.format_message()}", err=True)
        return error.exit_code
    except click.Abort:  # Ctrl-C or EOF at a prompt
        click.echo("p13n: aborted", err=True)
        return 1
    except AdminError as error:
        click.echo(
            f"p13n: {error.message} (HTTP {error.status} from {error.method} {error.path})"
            if error.status
            else f"p13n: {error.message}",
            err=True,
        )
        return 1
    except P13nError as error:
        click.echo(f"p13n: {error.message}", err=True)
        return 1
    except OSError as error:  # a file a command needed; the last resort, not a traceback
        where = f"{error.filename}: " if error.filename else ""
        click.echo(f"p13n: {where}{error.strerror or error}", err=True)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
