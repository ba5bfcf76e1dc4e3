"""The declarative kinds and the CLI's kinds describe the same admin API collections."""

from __future__ import annotations

from services.cli.kinds import KINDS as CLI_KINDS
from services.cli.kinds import Scope
from services.declarative.kinds import KINDS, PARENT_SEGMENT


def test_every_declarative_collection_is_a_cli_kinds_collection() -> None:
    # A file's key is the URL's collection and the list answer's field; the CLI's table
    # says both too, so a rename in one that the other missed fails here.
    cli = {kind.collection: kind for kind in CLI_KINDS}
    for kind in (PARENT_SEGMENT, *KINDS):
        assert kind.key in cli, kind.key
        assert cli[kind.key].list_field == kind.key
    assert {cli[kind.key].scope for kind in KINDS} == {Scope.PARENT_SEGMENT}
    assert cli[PARENT_SEGMENT.key].scope is Scope.ACCOUNT
