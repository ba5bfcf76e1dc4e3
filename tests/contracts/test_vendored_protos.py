"""The vendored googleapis files are the pinned wheel's, unchanged, with its licence.

`third_party/googleapis` is a copy of what the `googleapis-common-protos` wheel ships; these
tests fail when the pin moves and the copy does not (or the copy is edited by hand), so the
contracts, the generated code and the Python runtime never disagree about a googleapis type.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import google.api.annotations_pb2
from contracts.tooling import ROOT

VENDORED = ROOT / "third_party" / "googleapis"
DISTRIBUTION = "googleapis-common-protos"
# site-packages/google/api/annotations_pb2.py -> site-packages
_WHEEL_ROOT = Path(google.api.annotations_pb2.__file__).resolve().parents[2]


def _vendored_protos() -> list[Path]:
    return sorted(path.relative_to(VENDORED) for path in VENDORED.rglob("*.proto"))


def test_every_vendored_file_is_the_installed_wheels() -> None:
    protos = _vendored_protos()
    assert protos, "nothing is vendored"
    for path in protos:
        assert (VENDORED / path).read_bytes() == (_WHEEL_ROOT / path).read_bytes(), path


def test_every_googleapis_import_of_protos_is_vendored() -> None:
    imported = {
        line.split('"')[1]
        for path in (ROOT / "protos").rglob("*.proto")
        for line in path.read_text().splitlines()
        if line.startswith('import "google/') and not line.startswith('import "google/protobuf/')
    }
    assert imported <= {str(path) for path in _vendored_protos()}


def test_the_readme_names_the_installed_version_and_the_licence_is_the_wheels() -> None:
    version = metadata.version(DISTRIBUTION)
    assert f"`{DISTRIBUTION}=={version}`" in (VENDORED / "README.md").read_text()
    licence = metadata.distribution(DISTRIBUTION).read_text("licenses/LICENSE")
    assert licence is not None
    assert "Apache License" in licence
    assert (VENDORED / "LICENSE").read_text() == licence
