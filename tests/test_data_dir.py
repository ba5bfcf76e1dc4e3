"""Which data directory the operator's commands choose (services/data_dir.py), and the
records `p13n up` keeps of its suites (services/common/running.py). Real files and real
processes: a record of this process is a running suite, one of a finished child is stale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services import data_dir
from services.common import running
from services.common.config import ConfigError, Settings


def _dead_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(child.stdout)


def _record(state: Path, pid: int, suite_dir: Path) -> None:
    directory = state / "p13n" / "running"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{pid}.json").write_text(
        json.dumps(
            {
                "pid": pid,
                "data_dir": str(suite_dir),
                "admin_port": 8081,
                "data_port": 8080,
                "postgresql": False,
            }
        )
    )


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def _env(state: Path, **more: str) -> dict[str, str]:
    return {"XDG_STATE_HOME": str(state), **more}


def test_p13n_data_dir_wins_over_everything(state: Path, tmp_path: Path) -> None:
    _record(state, os.getpid(), tmp_path / "suite")
    (tmp_path / "var" / "pki").mkdir(parents=True)
    chosen = data_dir.choose(_env(state, P13N_DATA_DIR=str(tmp_path / "given")), tmp_path)
    assert (chosen.path, chosen.why) == (tmp_path / "given", "P13N_DATA_DIR")


def test_a_var_that_holds_a_suite_wins_over_the_running_suite(state: Path, tmp_path: Path) -> None:
    _record(state, os.getpid(), tmp_path / "suite")
    (tmp_path / "var" / "pki").mkdir(parents=True)
    chosen = data_dir.choose(_env(state), tmp_path)
    assert (chosen.path, chosen.why) == (tmp_path / "var", "./var in the current directory")


def test_elsewhere_the_running_suites_directory_is_chosen(state: Path, tmp_path: Path) -> None:
    _record(state, os.getpid(), tmp_path / "suite")
    (tmp_path / "var").mkdir()  # empty: no suite there
    chosen = data_dir.choose(_env(state), tmp_path)
    assert chosen.announcement() == (
        f"p13n: data directory {tmp_path / 'suite'} (the running suite's)"
    )


def test_a_stale_record_is_ignored(state: Path, tmp_path: Path) -> None:
    _record(state, _dead_pid(), tmp_path / "suite")
    chosen = data_dir.choose(_env(state), tmp_path)
    assert chosen.why == "./var in the current directory; it holds no suite"
    assert chosen.running == ()
    assert "no suite started by `p13n up` runs on this machine" in chosen.elsewhere(
        "bootstrap", postgresql=False
    )


def test_several_running_suites_are_named_and_none_chosen(state: Path, tmp_path: Path) -> None:
    _record(state, os.getpid(), tmp_path / "one")
    _record(state, os.getppid(), tmp_path / "two")
    with pytest.raises(ConfigError, match="several suites are running") as caught:
        data_dir.choose(_env(state), tmp_path)
    assert str(tmp_path / "one") in str(caught.value)
    assert str(tmp_path / "two") in str(caught.value)
    assert "set P13N_DATA_DIR" in str(caught.value)


def test_a_postgresql_suite_is_named_to_a_cli_without_the_url(state: Path, tmp_path: Path) -> None:
    _record(state, os.getpid(), tmp_path / "suite")
    record = state / "p13n" / "running" / f"{os.getpid()}.json"
    record.write_text(record.read_text().replace("false", "true"))
    chosen = data_dir.choose(_env(state), tmp_path)
    assert "set P13N_DATABASE_URL as it has it" in chosen.elsewhere("flags set", postgresql=False)
    assert "--init" not in chosen.elsewhere("flags set", postgresql=False)


def test_a_suite_is_recorded_while_it_runs_and_removed_after(state: Path, tmp_path: Path) -> None:
    """A stale record (a killed suite's) is removed when the next suite records itself."""
    _record(state, _dead_pid(), tmp_path / "killed")
    settings = Settings.from_env({"P13N_DATA_DIR": str(tmp_path / "var")})
    with running.recorded(settings, _env(state)) as path:
        assert path is not None
        assert running.running_suites(_env(state)) == [
            running.RunningSuite(os.getpid(), str(tmp_path / "var"), 8081, 8080, False)
        ]
        assert path.parent == state / "p13n" / "running"
    assert running.running_suites(_env(state)) == []
    assert list(path.parent.iterdir()) == []


def test_a_state_directory_that_cannot_be_written_does_not_stop_the_suite(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    settings = Settings.from_env({"P13N_DATA_DIR": str(tmp_path / "var")})
    with running.recorded(settings, _env(blocked)):
        pass
    assert "cannot record the running suite" in caplog.text


def test_a_user_without_a_home_runs_unrecorded_and_finds_no_suite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A container's uid with no passwd entry and no HOME (a pod's `kubectl exec`): Python
    cannot name a home directory, so there is no state directory to look in."""

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", no_home)
    assert running.records_dir({}) is None
    assert running.running_suites({}) == []
    settings = Settings.from_env({"P13N_DATA_DIR": str(tmp_path / "var")})
    with running.recorded(settings, {}) as path:
        assert path is None
    assert "no home directory" in caplog.text
