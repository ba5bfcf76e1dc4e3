"""An import's checkpoint: where in its file the last acknowledged batch ended.

One small JSON file per import in ``$XDG_STATE_HOME/p13n/imports/`` (by default
``~/.local/state/p13n/imports``), named by a hash of what makes two runs the same import:
the file (absolute path, size, modification time), how it is read, and the target (admin
URL, parent segment, key, segment). A changed file or another target is another import, so
a checkpoint never resumes the wrong data. Written to a temporary file and renamed after
each acknowledged batch, so a crash leaves the previous checkpoint or the new one, whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs

from services.cli.import_files import Position


@dataclass(frozen=True)
class Progress:
    """What is done: the file up to ``next`` (the first unacknowledged row's place), how
    many rows were read, imported and rejected before it, and the rejects file's length
    then (a resumed run cuts off what a lost batch had added to it)."""

    next: Position
    rows: int = 0
    imported: int = 0
    rejected: int = 0
    rejects_bytes: int = 0


def directory() -> Path:
    return Path(platformdirs.user_state_dir("p13n")) / "imports"


def path_for(file: Path, identity: dict[str, str]) -> Path:
    """The checkpoint of importing ``file`` as ``identity`` (how it is read, and where to)."""
    stat = file.stat()
    described = {
        "file": str(file.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        **identity,
    }
    digest = hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()
    return directory() / f"{digest[:32]}.json"


def load(path: Path) -> Progress | None:
    """The saved progress, or None when there is none (or it is unreadable: start over)."""
    try:
        data = json.loads(path.read_text())
        data.pop("import", None)
        data["next"] = Position(**data["next"])
        return Progress(**data)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def save(path: Path, progress: Progress, described: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {**asdict(progress), "import": described}
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".checkpoint-")
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(data, out)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)
