"""`p13n import attributes|members FILE`: load a CSV or JSON Lines file through the admin API.

The file is streamed (``import_files``): read row by row, sent in batches
(``import_batches``), never whole in memory. After each batch the API acknowledged, the
place in the file is checkpointed (``import_state``), so the same command run again after
Ctrl-C or a crash resumes at the first row not acknowledged. Imports set values (members
are added), so a batch sent twice changes nothing: resuming may resend the batch that was
in flight, harmlessly.

Rows that cannot be read, and rows the server refuses, are listed as ``line N: reason`` on
stderr and in a rejects file; the rest is imported. Exit code 1 when any row was rejected.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from services.admin_client import AdminClient, AdminError, segment
from services.cli import import_state, lookup
from services.cli.context import CliContext, parent_segment_option
from services.cli.import_batches import (
    DEFAULT_BATCH_ROWS,
    MAX_BATCH_ROWS,
    Target,
    batches,
    send,
)
from services.cli.import_files import (
    ATTRIBUTES,
    FORMATS,
    MEMBERS,
    START,
    FileError,
    Layout,
    Row,
    estimated_rows,
    format_of,
    rows,
)

F = TypeVar("F", bound=Callable[..., Any])
# Rejects shown on stderr before the rest are only in the rejects file.
SHOWN_REJECTS = 20
EPILOG = (
    "Rows that cannot be read, or that the server refuses, are listed as 'line N: reason' "
    "on stderr and in FILE.rejects, and the rest is imported; the exit code is 1 if any row "
    "was rejected. Imports set values, so a batch sent twice changes nothing: after Ctrl-C "
    "or a crash, run the same command again and it resumes at the first row not "
    "acknowledged (--restart starts over)."
)


@click.group("import", short_help="Import attribute values or segment members (CSV/JSONL).")
def import_group() -> None:
    """Load imported attribute values or batch segment members from a CSV or JSONL file."""


def _file_options(function: F) -> F:
    options = [
        click.argument(
            "file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)
        ),
        click.option(
            "--key",
            required=True,
            metavar="STITCHING_KEY",
            help="the stitching key whose values name the profiles",
        ),
        parent_segment_option,
        click.option(
            "--format",
            "format_name",
            type=click.Choice(FORMATS),
            help="csv or jsonl (default: from the extension: .csv, .jsonl, .ndjson)",
        ),
        click.option(
            "--value-column",
            metavar="NAME",
            help="CSV: the column holding the key's values (default: the key's name)",
        ),
        click.option(
            "--rejects",
            "rejects_path",
            type=click.Path(dir_okay=False, path_type=Path),
            metavar="PATH",
            help="where to list rejected rows (default: FILE.rejects)",
        ),
        click.option("--restart", is_flag=True, help="ignore a checkpoint and start at line 1"),
        click.option(
            "--batch-size",
            type=click.IntRange(1, MAX_BATCH_ROWS),
            default=DEFAULT_BATCH_ROWS,
            show_default=True,
            help="rows per request (a batch is also kept under 1 MiB)",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@import_group.command("attributes", epilog=EPILOG)
@_file_options
@click.option(
    "--strings",
    is_flag=True,
    help="CSV: send every cell as text (default: cells written as JSON numbers, true and "
    "false are sent as numbers and booleans)",
)
@click.pass_obj
def attributes(
    obj: CliContext,
    file: Path,
    key: str,
    parent_segment: str | None,
    format_name: str | None,
    value_column: str | None,
    rejects_path: Path | None,
    restart: bool,
    batch_size: int,
    strings: bool,
) -> int:
    """Set IMPORTED attribute values on the profiles that FILE's rows name.

    CSV: a header row; the column named like the key (or --value-column) holds the key's
    values, every other column is an IMPORTED attribute; an empty cell leaves that value
    as it is. JSONL: one {"value": "...", "attributes": {"name": value, ...}} per line (a
    null value clears it).
    """
    parent = obj.parent_segment_id(parent_segment)
    target = Target(f"/v1/parent_segments/{segment(parent)}/imports", key, "records")
    layout = Layout(ATTRIBUTES, _format(file, format_name), value_column, key, strings)
    return _import(obj.admin(), target, file, layout, rejects_path, restart, batch_size)


@import_group.command("members", epilog=EPILOG)
@_file_options
@click.option(
    "--segment",
    "segment_name",
    required=True,
    metavar="ID|NAME",
    help="the batch segment the profiles join",
)
@click.pass_obj
def members(
    obj: CliContext,
    file: Path,
    key: str,
    parent_segment: str | None,
    format_name: str | None,
    value_column: str | None,
    rejects_path: Path | None,
    restart: bool,
    batch_size: int,
    segment_name: str,
) -> int:
    """Add the profiles that FILE's rows name to a batch segment.

    CSV: a header row and a single column of the key's values, or name the column with
    --value-column (default: the key's name). JSONL: one "value" or {"value": "..."} per line.
    """
    parent = obj.parent_segment_id(parent_segment)
    segment_id = _segment_id(obj.admin(), parent, segment_name)
    path = f"/v1/parent_segments/{segment(parent)}/segments/{segment(segment_id)}:import_members"
    layout = Layout(MEMBERS, _format(file, format_name), value_column, key)
    target = Target(path, key, "values")
    return _import(obj.admin(), target, file, layout, rejects_path, restart, batch_size)


def _format(file: Path, given: str | None) -> str:
    try:
        return format_of(file, given)
    except FileError as error:
        raise click.UsageError(str(error)) from None


def _segment_id(admin: AdminClient, parent: str, given: str) -> str:
    return str(lookup.find(admin, lookup.Place(lookup.SEGMENTS, parent), given)["id"])


@dataclass
class _Rejects:
    """The rejects file, opened on the first reject; a resumed run first cuts it to the
    length its checkpoint saw."""

    path: Path
    shown: int = 0
    _out: IO[str] | None = field(default=None, repr=False)

    def start(self, resumed_at: int | None) -> None:
        self._check_writable()
        if resumed_at is None:
            self.path.unlink(missing_ok=True)  # a finished run's list is not this one's
        elif self.path.exists():
            with self.path.open("r+b") as handle:
                handle.truncate(resumed_at)

    def _check_writable(self) -> None:
        """Before any batch is sent: a reject found later must have somewhere to go."""
        folder = self.path.parent
        if not folder.is_dir():
            reason = "no such directory"
        elif not os.access(folder, os.W_OK | os.X_OK):
            reason = "the directory is not writable"
        elif self.path.exists() and not os.access(self.path, os.W_OK):
            reason = "the file is not writable"
        else:
            return
        raise click.BadParameter(
            f"cannot write the rejects file {self.path}: {reason} (name another with --rejects)",
            param_hint="--rejects",
        )

    def add(self, row: Row, console: Console) -> None:
        if self._out is None:  # owner-only: rejected rows quote identifiers
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._out = open(  # noqa: SIM115 (kept open across batches; close() closes it)
                descriptor, "a", encoding="utf-8", errors="backslashreplace"
            )
        line = f"line {row.line}: {row.reason}"
        self._out.write(line + "\n")
        if self.shown < SHOWN_REJECTS:
            console.print(line, markup=False, highlight=False)
        elif self.shown == SHOWN_REJECTS:
            console.print(f"(more rejected rows: see {self.path})", markup=False)
        self.shown += 1

    def size(self) -> int:
        if self._out is None:
            return self.path.stat().st_size if self.path.exists() else 0
        self._out.flush()
        return self._out.tell()

    def close(self) -> None:
        if self._out is not None:
            self._out.close()


@contextmanager
def _bar(file: Path, total: int, done: import_state.Progress) -> Iterator[tuple[Progress, TaskID]]:
    """Rows done of the estimated total on stderr; where stderr is not a terminal, the bar is
    printed once, as it ends (rich prints a live display's last state there)."""
    progress = Progress(
        TextColumn("{task.description}", markup=False),  # a file name, not markup
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows, {task.fields[rejected]} rejected"),
        TimeElapsedColumn(),
        console=Console(stderr=True, highlight=False, markup=False, emoji=False),
    )
    with progress:
        task = progress.add_task(
            file.name, total=max(total, done.rows), completed=done.rows, rejected=done.rejected
        )
        yield progress, task


def _import(
    admin: AdminClient,
    target: Target,
    file: Path,
    layout: Layout,
    rejects_path: Path | None,
    restart: bool,
    batch_size: int,
) -> int:
    identity = {
        "url": admin.url,
        "target": target.path,
        "key": target.key,
        "layout": repr(layout),
    }
    checkpoint = import_state.path_for(file, identity)
    saved = None if restart else import_state.load(checkpoint)
    done = saved or import_state.Progress(START)
    rejects = _Rejects(rejects_path or file.with_name(file.name + ".rejects"))
    rejects.start(None if saved is None else saved.rejects_bytes)
    if saved is not None:
        click.echo(
            f"resuming at line {saved.next.line} ({saved.rows} rows done before: "
            f"{saved.imported} imported, {saved.rejected} rejected; --restart starts over)",
            err=True,
        )
    try:
        with _bar(file, estimated_rows(file, layout), done) as (bar, task):
            for batch in batches(rows(file, layout, done.next), batch_size):
                imported, refused = send(admin, target, batch)
                rejected = sorted(
                    [row for row in batch if row.reason] + refused, key=lambda row: row.line
                )
                for row in rejected:
                    rejects.add(row, bar.console)
                done = import_state.Progress(
                    batch[-1].after,
                    done.rows + len(batch),
                    done.imported + imported,
                    done.rejected + len(rejected),
                    rejects.size(),
                )
                import_state.save(checkpoint, done, identity)
                bar.update(task, completed=done.rows, rejected=done.rejected)
            bar.update(task, total=done.rows, completed=done.rows)
    except FileError as error:
        raise click.ClickException(str(error)) from None
    except KeyboardInterrupt:
        click.echo(_stopped("interrupted", done), err=True)
        raise click.exceptions.Exit(130) from None
    except AdminError:
        click.echo(_stopped("stopped", done), err=True)
        raise
    finally:
        rejects.close()
    import_state.remove(checkpoint)
    summary = f"{file}: {done.rows} rows, {done.imported} imported, {done.rejected} rejected"
    if done.rejected:
        click.echo(f"{summary} (listed in {rejects.path})")
        return 1
    click.echo(summary)
    return 0


def _stopped(how: str, done: import_state.Progress) -> str:
    if done.rows == 0:
        return f"p13n: {how} before any batch was acknowledged"
    return (
        f"p13n: {how}; {done.rows} rows up to line {done.next.line - 1} are done: run the "
        "same command again to resume"
    )


def register(group: click.Group) -> None:
    group.add_command(import_group)
