"""The configuration file: YAML, one parent segment per document (several with ``---``).

```yaml
apiVersion: p13n/v1
kind: ParentSegment
name: Demo shop visitors
description: ...
primary_key: td_client_id
events: [...]            # each item exactly what POST /v1/.../events takes
stitching_keys: [...]
attributes: [...]
segments: [...]
services: [...]          # no tokens, no identity secrets: secrets never go in a file
personalizations: [...]
```

Everything refers to everything else by name, never by id, so one file configures any
suite. Unknown keys are refused with their line: a typo must not be dropped silently
(the converge would then "remove" what the person meant to set).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from services.declarative.kinds import KINDS, PARENT_SEGMENT, Kind

API_VERSION = "p13n/v1"
KIND = "ParentSegment"
_HEADER = ("apiVersion", "kind", *PARENT_SEGMENT.fields)
TOP_LEVEL_KEYS = (*_HEADER, *(kind.key for kind in KINDS))


class DocumentError(Exception):
    """The file is not a valid configuration; the message names the file, line and key."""


@dataclass(frozen=True)
class Document:
    """One parent segment's configuration: its own fields and its items by kind."""

    name: str
    primary_key: str
    description: str = ""
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def of(self, kind: Kind) -> list[dict[str, Any]]:
        return self.items.get(kind.key, [])

    def parent_segment(self) -> dict[str, Any]:
        """The body POST /v1/parent_segments takes."""
        body = {"name": self.name, "description": self.description}
        return {**body, "primary_key": self.primary_key}


def load(text: str, source: str = "<string>") -> list[Document]:
    """Every document of ``text``, validated; ``source`` names the file in messages."""
    loader = yaml.SafeLoader(text)
    documents = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            documents.append(_document(node, loader.construct_document(node), source))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        raise DocumentError(f"{where}: not valid YAML: {error.problem}") from None
    finally:
        loader.dispose()
    if not documents:
        raise DocumentError(f"{source}: no configuration in it (an empty file)")
    names = [d.name for d in documents]
    for name in names:
        if names.count(name) > 1:
            raise DocumentError(f"{source}: parent segment {name!r} is configured twice")
    return documents


def dump(documents: list[Document]) -> str:
    """The file for ``documents``: keys in a fixed order, so equal configurations print
    equal files."""
    parts = []
    for document in documents:
        data: dict[str, Any] = {"apiVersion": API_VERSION, "kind": KIND, "name": document.name}
        if document.description:
            data["description"] = document.description
        data["primary_key"] = document.primary_key
        for kind in KINDS:
            if document.of(kind):
                data[kind.key] = document.of(kind)
        parts.append(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100))
    return "---\n".join(parts)


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _document(node: yaml.Node, data: Any, source: str) -> Document:
    if not isinstance(node, yaml.MappingNode) or not isinstance(data, dict):
        raise DocumentError(f"{source}:{_line(node)}: a document must be a mapping of keys")
    values = {}
    for key_node, value_node in node.value:
        key = key_node.value
        if key not in TOP_LEVEL_KEYS:
            raise DocumentError(
                f"{source}:{_line(key_node)}: unknown key {key!r}; a document's keys are "
                + ", ".join(TOP_LEVEL_KEYS)
            )
        values[key] = value_node
    where = f"{source}:{_line(node)}"
    if data.get("apiVersion") != API_VERSION or data.get("kind") != KIND:
        raise DocumentError(
            f"{where}: a document starts with apiVersion: {API_VERSION} and kind: {KIND}"
        )
    for required in ("name", "primary_key"):
        if not isinstance(data.get(required), str) or not data[required]:
            raise DocumentError(f"{where}: {required} is required (a non-empty string)")
    description = data.get("description") or ""
    if not isinstance(description, str):
        raise DocumentError(f"{source}:{_line(values['description'])}: description is text")
    items = {
        kind.key: _items(kind, values[kind.key], data[kind.key], source)
        for kind in KINDS
        if kind.key in values and data[kind.key] is not None
    }
    return Document(data["name"], data["primary_key"], description, items)


def _items(kind: Kind, node: yaml.Node, data: Any, source: str) -> list[dict[str, Any]]:
    if not isinstance(node, yaml.SequenceNode) or not isinstance(data, list):
        raise DocumentError(f"{source}:{_line(node)}: {kind.key} is a list of {kind.label}s")
    seen: set[str] = set()
    for index, (item_node, item) in enumerate(zip(node.value, data, strict=True)):
        where = f"{source}:{_line(item_node)}"
        if not isinstance(item_node, yaml.MappingNode) or not isinstance(item, dict):
            raise DocumentError(f"{where}: each of {kind.key} is a mapping of its fields")
        for key_node, _ in item_node.value:
            if key_node.value not in kind.fields:
                raise DocumentError(
                    f"{source}:{_line(key_node)}: unknown key {key_node.value!r} in "
                    f"{kind.key}[{index}]; its keys are " + ", ".join(kind.fields)
                )
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise DocumentError(f"{where}: each {kind.label} needs a name")
        if name in seen:
            raise DocumentError(f"{where}: {kind.label} {name!r} appears twice")
        seen.add(name)
    return data
