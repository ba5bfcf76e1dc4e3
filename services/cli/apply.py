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


@click.command("apply")
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
    for wanted in documents:
        plan = converge.plan(admin, wanted, prune=prune)
        if dry_run or not plan.changes or plan.refused:
            for line in plan.lines():
                click.echo(line)
            if plan.refused:
                raise click.ClickException(
                    "the file asks for changes the API refuses; nothing was changed"
                )
            continue

        def done(change: Change) -> None:
            for line in change.lines():
                click.echo(line)

        try:
            converge.apply(admin, plan, done)
        except converge.ConvergeError as error:
            raise click.ClickException(f"{error}; run apply again to continue") from None
        for note in plan.notes():
            click.echo(note)
    if dry_run:
        click.echo("(dry run: nothing was changed)")


@click.command("export")
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
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)
    click.echo(f"wrote parent segment {found.name!r} to {path}", err=True)


def _load(path: str) -> list[document.Document]:
    try:
        if path == "-":
            return document.load(sys.stdin.read(), "<stdin>")
        with open(path, encoding="utf-8") as given:
            return document.load(given.read(), path)
    except OSError as error:
        raise click.ClickException(f"cannot read {path}: {error.strerror}") from None
    except document.DocumentError as error:
        raise click.ClickException(str(error)) from None


def register(group: click.Group) -> None:
    group.add_command(apply_command)
    group.add_command(export_command)
