"""Owner-only files: created that way whatever the umask, and tightened with a warning at start."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common import files
from services.common.config import Settings
from services.common.storage import Database


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The umask most shells have (0o022), restored afterwards: the process-wide setting."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("loose_umask")
def test_restrict_umask_makes_new_files_and_directories_owner_only(tmp_path: Path) -> None:
    files.restrict_umask()
    (tmp_path / "made").mkdir()
    (tmp_path / "made" / "file").write_text("x")
    assert (_mode(tmp_path / "made"), _mode(tmp_path / "made" / "file")) == (0o700, 0o600)


@pytest.mark.usefixtures("loose_umask")
async def test_a_database_and_its_wal_and_shm_are_created_0600_under_a_loose_umask(
    tmp_path: Path,
) -> None:
    path = tmp_path / "data" / "profile.db"
    db = await Database.open(path, ["CREATE TABLE t (x INTEGER)"])
    try:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES (1)")
        made = {p.name: _mode(p) for p in path.parent.iterdir()}
    finally:
        await db.close()
    assert made == {"profile.db": 0o600, "profile.db-wal": 0o600, "profile.db-shm": 0o600}
    assert _mode(path.parent) == 0o700


@pytest.fixture
def exposed_dir(tmp_path: Path) -> Path:
    """A data directory as p13n left it before this check: 0755 and 0644 throughout."""
    data = tmp_path / "var"
    (data / "pki" / "ca").mkdir(parents=True)
    for name in ("auth.db", "auth.db-wal", "auth.db-shm", "secret.key", "demo.json",
                 "demo-shop.secret", "envoy.json", "pki/ca/ca.key", "pki/ca/ca.crt"):  # fmt: skip
        (data / name).write_text("x")
        (data / name).chmod(0o644)
    for directory in (data, data / "pki", data / "pki" / "ca"):
        directory.chmod(0o755)
    return data


def test_start_tightens_what_others_could_read_and_names_each_path(
    exposed_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = exposed_dir
    # Everything but certificates and envoy.json: a secret file nobody listed is covered too.
    private = ["auth.db", "auth.db-wal", "auth.db-shm", "secret.key", "demo.json",
               "demo-shop.secret", "pki/ca/ca.key"]  # fmt: skip
    exposed = files.tighten_data_dir(data)
    assert sorted(exposed) == sorted([data, data / "pki", data / "pki" / "ca"] +
                                     [data / name for name in private])  # fmt: skip
    assert {_mode(p) for p in (data, data / "pki", data / "pki" / "ca")} == {0o700}
    assert {_mode(data / name) for name in private} == {0o600}
    # Nothing secret in a certificate or the Envoy configuration: left as they were.
    assert (_mode(data / "envoy.json"), _mode(data / "pki/ca/ca.crt")) == (0o644, 0o644)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert f"{data / 'auth.db'} had mode 0644: its group or other users could use it; " in (
        "\n".join(warnings)
    )
    assert len(warnings) == len(exposed)
    assert all("tightened to 0600" in w or "tightened to 0700" in w for w in warnings)


def test_a_private_data_dir_is_left_alone_without_a_word(
    exposed_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files.tighten_data_dir(exposed_dir)
    caplog.clear()
    assert files.tighten_data_dir(exposed_dir) == []
    assert caplog.records == []


def test_a_setgid_bit_alone_is_no_exposure(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A data directory made inside a Kubernetes volume with an fsGroup inherits the
    volume root's setgid bit (2700): nobody else can use it, so no warning at each start."""
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o2700)
    (data / "auth.db").write_text("x")
    (data / "auth.db").chmod(0o600)
    assert files.tighten_data_dir(data) == []
    assert caplog.records == []
    assert _mode(data) == 0o2700
    # A setgid directory that its group can enter is still one.
    data.chmod(0o2750)
    assert files.tighten_data_dir(data) == [data]
    assert _mode(data) == 0o700


def test_a_missing_data_dir_is_not_an_error(tmp_path: Path) -> None:
    assert files.tighten_data_dir(tmp_path / "absent") == []


def test_a_key_not_used_is_never_read_nor_made(tmp_path: Path) -> None:
    settings = Settings.from_env({"P13N_DATA_DIR": str(tmp_path), "P13N_INTERNAL_KEY": "ab" * 32})
    assert settings.internal_key == bytes.fromhex("ab" * 32)
    assert list(tmp_path.iterdir()) == []
    assert len(settings.secret_key) == 32  # made on first use, owner-only
    assert _mode(tmp_path / "secret.key") == 0o600
    assert settings.secret_key == Settings.from_env({"P13N_DATA_DIR": str(tmp_path)}).secret_key
