"""How admin commands print what the API answered: a table for people, JSON or YAML for
programs (``-o json|yaml`` prints the API's own objects, unchanged)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click
import yaml
from rich.console import Console
from rich.table import Table
from rich.text import Text

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("table", "json", "yaml")
_PIPED_WIDTH = 100_000  # wide enough that no table is ever squeezed


def output_option(function: F) -> F:
    """``-o/--output table|json|yaml``."""
    return click.option(
        "-o",
        "--output",
        "output",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="table for people; json or yaml print the API's objects as they are",
    )(function)


def console() -> Console:
    """Rich on stdout; plain text (no colours, no width games) when stdout is not a terminal:
    rich would otherwise assume 80 columns and cut table cells short with "…", which a
    script reading the output (or a person piping it to less) cannot undo.

    No markup and no emoji codes: what the CLI prints is the server's data (names, values,
    messages), and "[red]x" or "[/oops]" in a name is text, not a style (or an error)."""
    piped = not sys.stdout.isatty()
    return Console(
        soft_wrap=True,
        highlight=False,
        markup=False,
        emoji=False,
        width=_PIPED_WIDTH if piped else None,
    )


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def emit(data: Any, output: str, columns: Sequence[str] = (), title: str | None = None) -> None:
    """Prints ``data`` (an object or a list of them) as ``output`` asks; a table shows
    ``columns`` (fields of each object; every field when none are given)."""
    if output == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=False))
        return
    if output == "yaml":
        click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), nl=False)
        return
    rows = data if isinstance(data, list) else [data]
    names = list(columns) or list(dict.fromkeys(k for row in rows for k in row))
    table = Table(
        title=None if title is None else Text(title),
        show_edge=False,
        box=None,
        header_style="bold",
    )
    for name in names:
        table.add_column(Text(name.upper()))
    for row in rows:
        table.add_row(*(Text(cell(row.get(name))) for name in names))
    console().print(table)
