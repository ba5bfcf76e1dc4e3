"""The server's certificate reloader: a new configuration only after a change, and never a
key paired with another certificate (a renewal caught half-way)."""

from __future__ import annotations

import shutil
from pathlib import Path

from services.common import pki
from services.common.tls import _Reloader


def test_nothing_changed_means_no_new_configuration(pki_dir: Path, tmp_path: Path) -> None:
    directory = tmp_path / "auth"
    shutil.copytree(pki_dir / "auth", directory)
    reloader = _Reloader(directory)
    assert reloader() is None
    assert reloader() is None


def test_a_renewal_is_loaded_once_its_key_and_certificate_match(
    pki_dir: Path, tmp_path: Path
) -> None:
    directory = tmp_path / "auth"
    shutil.copytree(pki_dir / "auth", directory)
    reloader = _Reloader(directory)
    renewed = tmp_path / "renewed"
    pki.Authority.load(pki_dir / "ca").issue("auth", renewed)
    # Half-way: the new key beside the old certificate.
    shutil.copy(renewed / pki.KEY_FILE, directory / pki.KEY_FILE)
    assert reloader() is None
    shutil.copy(renewed / pki.CERT_FILE, directory / pki.CERT_FILE)
    assert reloader() is not None
    assert reloader() is None
