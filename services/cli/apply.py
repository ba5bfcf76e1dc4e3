"""`p13n apply -f FILE` and `p13n export`: a parent segment's configuration as a file.

The converge itself is ``services.declarative`` (the demo loader uses the same code);
this module reads and writes files and prints.
"""

from __future__ import annotations

import sys

import click

from services.cli.context import CliContext, parent_segment_option
from services.declarative import converge, document
from services.declarative.export import export as export_document
from services.declarative.plan import Change


@click.command("apply", short_help="Converge a parent segment to a YAML file.")
@click.option(
    "-f",
    "--file",
    "path",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="the configuration file (YAML; - reads stdin)",
)
@click.option("--prune", is_flag=True, help="delete what the suite has and the file does not")
@click.option("--dry-run", is_flag=True, help="print the plan as a diff and change nothing")
@click.pass_obj
def apply_command(ctx: CliContext, path: str, prune: bool, dry_run: bool) -> None:
    """Make the suite's parent segment(s) match FILE: create, update, and with --prune
    delete; items are matched by name. Applying the same file twice changes nothing."""
    documents = _load(path)
    admin = ctx.admin()
    # Every document is planned before anything is written, so a refusal in the second
    # stops the apply before the first one's writes, and "nothing was changed" is true.
    plans = [converge.plan(admin, wanted, prune=prune) for wanted in documents]
    refused = [plan for plan in plans if plan.refused]
    for plan in refused or (plans if dry_run else []):
        for line in plan.lines():
            click.echo(line)
    if refused:
        raise click.ClickException("the file asks for changes the API refuses; nothing was changed")
    if dry_run:
        click.echo("(dry run: nothing was changed)")
        return

    def done(change: Change) -> None:
        for line in change.lines():
            click.echo(line)

    for plan in plans:
        try:
            converge.apply(admin, plan, done)
        except converge.ConvergeError as error:
            raise click.ClickException(f"{error}; run apply again to continue") from None
        for note in plan.notes():
            click.echo(note)


@click.command("export", short_help="Write a parent segment's configuration as YAML.")
@parent_segment_option
@click.option(
    "-o",
    "--output",
    "path",
    default="-",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="the file to write (default: stdout)",
)
@click.pass_obj
def export_command(ctx: CliContext, parent_segment: str | None, path: str) -> None:
    """Write a parent segment's configuration in the format `p13n apply` reads."""
    found = export_document(ctx.admin(), ctx.parent_segment_id(parent_segment))
    text = document.dump([found])
    if path == "-":
        click.echo(text, nl=False)
        return
    try:
        with open(path, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as error:
        raise click.ClickException(f"cannot write {path}: {error.strerror}") from None
    click.echo(f"wrote parent segment {found.name!r} to {path}", err=True)


def _load(path: str) -> list[document.Document]:
    source = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            raw = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as given:
                raw = given.read()
        return document.load(raw.decode("utf-8"), source)
    except OSError as error:
        raise click.ClickException(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise click.ClickException(
            f"{source}:{line}: not UTF-8 text (byte {raw[error.start]:#04x}); "
            "save the file as UTF-8"
        ) from None
    except document.DocumentError as error:
        raise click.ClickException(str(error)) from None


def register(group: click.Group) -> None:
    group.add_command(apply_command)
    group.add_command(export_command)
