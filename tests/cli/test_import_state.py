"""An import's checkpoint and rejects file between runs, without a suite."""

from __future__ import annotations

import os
from pathlib import Path

from services.cli import import_state
from services.cli.import_files import Position
from services.cli.imports import _Rejects

TARGET = {"url": "http://127.0.0.1:1", "target": "/v1/parent_segments/1/imports"}


def test_a_checkpoint_is_found_again_only_for_the_same_file_and_target(tmp_path: Path) -> None:
    data = tmp_path / "a.csv"
    data.write_text("member_id\nm1\n")
    where = import_state.path_for(data, TARGET)
    saved = import_state.Progress(Position(13, 3), rows=1, imported=1, rejects_bytes=0)
    import_state.save(where, saved, TARGET)
    assert import_state.load(import_state.path_for(data, TARGET)) == saved
    assert import_state.path_for(data, {**TARGET, "target": "/v1/x"}) != where
    os.utime(data, ns=(0, 0))  # the file changed: another import
    assert import_state.path_for(data, TARGET) != where
    import_state.remove(where)
    assert import_state.load(where) is None


def test_a_resumed_run_cuts_the_rejects_its_lost_batch_had_listed(tmp_path: Path) -> None:
    listed = tmp_path / "a.csv.rejects"
    listed.write_text("line 2: kept\nline 9: from a batch never acknowledged\n")
    _Rejects(listed).start(len("line 2: kept\n"))
    assert listed.read_text() == "line 2: kept\n"
    _Rejects(listed).start(None)  # a fresh run: the old list is not its own
    assert not listed.exists()
