"""The demo's credentials file: owner-only, replaced whole, read back as written."""

from __future__ import annotations

import stat
from pathlib import Path

from services.demo.state import DemoState, load_state, save_state, state_path


def test_state_is_saved_owner_only_and_read_back(tmp_path: Path) -> None:
    assert load_state(tmp_path) is None
    first = DemoState("7", "p13n_mk_secret", "demo@p13n.example", "pw" * 10)
    save_state(tmp_path, first)
    second = DemoState("7", "p13n_mk_secret", "demo@p13n.example", "pw" * 10, "7/3/p13n_pub_x", "1")
    save_state(tmp_path, second)
    assert load_state(tmp_path) == second
    assert stat.S_IMODE(state_path(tmp_path).stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["demo.json"]  # no partial file left
