from __future__ import annotations

from pathlib import Path

import pytest

from services.common import pki


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA and one certificate per component, made once for the session's servers."""
    path = tmp_path_factory.mktemp("pki")
    pki.ensure(path)
    return path
