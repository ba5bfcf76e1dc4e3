"""A suite's configuration as a file (``document.dump`` writes it).

Items keep the API's order, oldest first: the order they were created in, which for a
suite configured from a file is the file's own order, so export → apply on another suite
→ export prints the same file. (Sorting by name would also be stable, but would shuffle a
hand-written file's order on its first round trip.)
"""

from __future__ import annotations

from services.admin_client import AdminClient
from services.declarative.converge import read_by_id
from services.declarative.document import Document
from services.declarative.kinds import KINDS, PARENT_SEGMENT, canonical
from services.declarative.plan import Current


def export(admin: AdminClient, parent_segment_id: str) -> Document:
    """The parent segment ``parent_segment_id`` and its items, in the file's form."""
    return document_of(read_by_id(admin, parent_segment_id))


def document_of(current: Current) -> Document:
    """``current`` without ids, output-only fields and defaults; the primary key's own
    stitching key only when it is set up beyond what the server makes by itself."""
    parent = canonical(PARENT_SEGMENT, current.parent_segment)
    items = {}
    for kind in KINDS:
        listed = [canonical(kind, item) for item in current.of(kind)]
        if kind.key == "stitching_keys":
            listed = [k for k in listed if k != {"name": parent["primary_key"]}]
        if listed:
            items[kind.key] = listed
    return Document(parent["name"], parent["primary_key"], parent.get("description", ""), items)
