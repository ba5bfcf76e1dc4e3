"""One resource laid out for reading (`p13n describe`): a field per line, nested parts indented.

The layout follows the data's shape, so it fits every kind without a per-kind printer:
an object becomes a grid of its fields; a list of flat objects (an attribute's list
aggregations, a section's payload, a profile's attributes) becomes a small table; a list of
deeper objects (a personalization's sections) becomes numbered blocks, each titled by its
name; a list of plain values is one comma-separated line.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from services.cli.output import cell, console


def show(item: dict[str, Any], title: str | None = None) -> None:
    """Prints ``item`` laid out for reading, under ``title`` when given."""
    if title:
        console().print(Text(title, style="bold"))
    console().print(_layout(item))


def _layout(value: Any) -> RenderableType:
    if isinstance(value, dict):
        return _fields(value) if value else Text("{}")
    if isinstance(value, list):
        if not value:
            return Text("none")
        if all(isinstance(entry, dict) for entry in value):
            return _rows(value) if all(map(_flat, value)) else _blocks(value)
        return Text(", ".join(cell(entry) for entry in value))
    return Text(cell(value))


def _fields(item: dict[str, Any]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for name, value in item.items():
        grid.add_row(Text(name), _layout(value))
    return grid


def _flat(item: dict[str, Any]) -> bool:
    """Whether an object's values all fit a table cell (a scalar, or a short plain list)."""
    return all(
        not isinstance(value, dict | list) or (isinstance(value, list) and not _has_objects(value))
        for value in item.values()
    )


def _has_objects(values: list[Any]) -> bool:
    return any(isinstance(value, dict | list) for value in values)


def _rows(items: list[dict[str, Any]]) -> Table:
    names = list(dict.fromkeys(name for item in items for name in item))
    table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold")
    for name in names:
        table.add_column(Text(name.upper()))
    for item in items:
        table.add_row(*(Text(_plain(item.get(name))) for name in names))
    return table


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(cell(entry) for entry in value)
    return cell(value)


def _blocks(items: list[dict[str, Any]]) -> Group:
    parts: list[RenderableType] = []
    for number, item in enumerate(items, start=1):
        name = item.get("name")
        heading = f"{number}. {name}" if isinstance(name, str) else f"{number}."
        parts.append(Text(heading, style="bold"))
        rest = {key: value for key, value in item.items() if key != "name"} if name else item
        parts.append(_fields(rest))
    return Group(*parts)
