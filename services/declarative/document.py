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
(the converge would then "remove" what the person meant to set). So is whatever the
server would change or drop on its own (a name with spaces around it, a LIST attribute's
own sensitivity) and any value JSON has no form for (a date, a number as a key): the
suite would never match the file, and every apply would write again.
"""

from __future__ import annotations

import math
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
    documents = []
    try:
        loader = yaml.SafeLoader(text)  # refuses control characters here already
        try:
            while loader.check_node():
                node = loader.get_node()
                if node is None:
                    continue
                data = loader.construct_document(node)
                _refuse_non_json(loader, node, source)
                documents.append(_document(node, data, source))
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        raise DocumentError(f"{where}: not valid YAML: {error.problem}") from None
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        raise DocumentError(
            f"{source}:{line}: not valid YAML: character U+{error.character:04X} "
            "cannot be in a YAML file"
        ) from None
    except yaml.YAMLError as error:
        raise DocumentError(f"{source}: not valid YAML: {error}") from None
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


# What the file's values may be: what JSON has, since they go to the API as JSON and come
# back from it as JSON. YAML has more (dates, sets, binary, keys that are numbers); the
# server would refuse those, or keep them as something else and never match the file.
_JSON_SCALARS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null")
)
_NOT_JSON = {
    "tag:yaml.org,2002:timestamp": "a date",
    "tag:yaml.org,2002:binary": "binary data",
    "tag:yaml.org,2002:set": "a set",
    "tag:yaml.org,2002:omap": "an ordered map",
    "tag:yaml.org,2002:pairs": "a list of pairs",
}
_STR = "tag:yaml.org,2002:str"
_JSON_VALUES = "text, numbers, true/false, null, lists and mappings with text keys"


def _refuse_non_json(loader: yaml.SafeLoader, node: yaml.Node, source: str) -> None:
    """Refuses, with its line, the first value of ``node`` that JSON cannot hold as is.
    Runs after construction, which has already merged any ``<<`` keys into the mappings.
    Each node is checked once, however many aliases repeat it; one inside itself (an alias
    of its own anchor) is refused, as JSON cannot hold it."""
    open_nodes: set[int] = set()  # on the path from the top: seeing one again is a cycle
    done: set[int] = set()
    pending: list[tuple[yaml.Node, bool]] = [(node, False)]
    while pending:
        current, leaving = pending.pop()
        if leaving:
            open_nodes.discard(id(current))
            done.add(id(current))
            continue
        where = f"{source}:{_line(current)}"
        if id(current) in open_nodes:
            raise DocumentError(f"{where}: a value that contains itself is not JSON")
        if id(current) in done:
            continue
        if isinstance(current, yaml.ScalarNode):
            _refuse_non_json_scalar(loader, current, where)
            done.add(id(current))
            continue
        if current.tag in _NOT_JSON:
            raise DocumentError(f"{where}: {_NOT_JSON[current.tag]} is not JSON ({_JSON_VALUES})")
        open_nodes.add(id(current))
        pending.append((current, True))
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                _refuse_non_text_key(key, source)
                pending.append((value, False))
        elif isinstance(current, yaml.SequenceNode):
            pending.extend((inner, False) for inner in current.value)


def _refuse_non_json_scalar(loader: yaml.SafeLoader, node: yaml.ScalarNode, where: str) -> None:
    if node.tag not in _JSON_SCALARS:
        what = _NOT_JSON.get(node.tag, f"of type {node.tag}")
        raise DocumentError(
            f"{where}: {node.value!r} is {what}, which JSON has no form for: "
            f"quote it if it is text (values are {_JSON_VALUES})"
        )
    if node.tag.endswith(":float") and not math.isfinite(loader.construct_yaml_float(node)):
        raise DocumentError(f"{where}: {node.value!r} is not a number JSON can hold")


def _refuse_non_text_key(key: yaml.Node, source: str) -> None:
    if isinstance(key, yaml.ScalarNode) and key.tag == _STR:
        return
    shown = key.value if isinstance(key, yaml.ScalarNode) else "this key"
    raise DocumentError(
        f'{source}:{_line(key)}: key {shown!r} is not text: JSON keys are text, so quote it ("{shown}")'
    )


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
    _refuse_untrimmed("parent segment", data["name"], f"{source}:{_line(values['name'])}")
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
        fields = {key_node.value: value_node for key_node, value_node in item_node.value}
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise DocumentError(f"{where}: each {kind.label} needs a name")
        _refuse_untrimmed(kind.label, name, f"{source}:{_line(fields['name'])}")
        if kind.key == "attributes" and item.get("type") == "LIST" and "sensitivity" in item:
            # The server keeps a LIST's sensitivity per aggregation and drops its own.
            raise DocumentError(
                f"{source}:{_line(fields['sensitivity'])}: attribute {name!r} is a LIST, "
                "which has no sensitivity of its own: set it on each aggregation "
                "(list.aggregations[].sensitivity)"
            )
        if name in seen:
            raise DocumentError(f"{where}: {kind.label} {name!r} appears twice")
        seen.add(name)
    return data


def _refuse_untrimmed(label: str, name: str, where: str) -> None:
    # The server trims names; the plan matches by the file's, which would then never be
    # found, and each apply would try to create it again.
    if name != name.strip():
        raise DocumentError(
            f"{where}: {label} name {name!r} has spaces around it, which the server "
            f"trims: write {name.strip()!r}"
        )
