"""The data directory is its owner's alone: made that way, and checked at every start.

The directory holds what no other local user may read: the databases (imported sensitive
values, credential hashes) with their ``-wal`` and ``-shm`` files, the master keys, the
CA's and the components' private keys, and the demo's API key. Every p13n process sets the
umask 0o077 when it starts (``restrict_umask``), so whatever it creates is 0600 or 0700
whatever the caller's umask was; databases and keys are also opened with an explicit mode.

A start also looks at what is already there (``tighten_data_dir``): a directory or private
file that its group or others may use was made before p13n set the umask, or by hand. It
is tightened to 0700 or 0600 and a warning names the path and both modes, so the operator
learns of it; p13n does not refuse to start (the fix is its own) and never tightens
silently. Every file is private but the ones known to hold nothing secret (certificates and
the rendered Envoy configuration), so a secret file added later (the demo shop's identity
secret was one) is covered without anyone remembering to list it. A path p13n cannot change
(another owner) gets a warning with the command.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

UMASK: Final = 0o077
PRIVATE_DIR: Final = 0o700
PRIVATE_FILE: Final = 0o600
PERMISSION_BITS: Final = 0o777
# The files whose content is not secret: certificates (tls.crt, ca.crt) and the Envoy
# configuration rendered from the template. Everything else (databases and their -wal and
# -shm files, keys, the demo's state and its shop's identity secret) is private.
_PUBLIC_SUFFIXES: Final = (".crt",)
_PUBLIC_NAMES: Final = frozenset({"envoy.json"})


def restrict_umask() -> None:
    """Makes every file and directory this process creates from now on owner-only."""
    os.umask(UMASK)


def create_private_file(path: Path) -> None:
    """Creates ``path`` empty with mode 0600 unless it exists (SQLite then keeps the mode,
    and gives the database's ``-wal`` and ``-shm`` files the same)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return
    os.close(fd)


def is_private(path: Path) -> bool:
    """Whether a file in the data directory must be 0600: all but certificates and envoy.json."""
    return not (path.name in _PUBLIC_NAMES or path.name.endswith(_PUBLIC_SUFFIXES))


def tighten_data_dir(data_dir: Path) -> list[Path]:
    """Tightens what group or others may use under ``data_dir``; returns what was exposed.

    Each one is logged as a warning naming it, whether or not the change succeeded.
    """
    exposed = []
    for path, wanted in _private_paths(data_dir):
        try:
            mode = stat.S_IMODE(path.lstat().st_mode)
        except FileNotFoundError:  # a -wal or -shm file that went away meanwhile
            continue
        # The permission bits only: a setgid bit (a directory made inside the kubelet's
        # fsGroup volume inherits it) lets no one else in, and is left as it is.
        if mode & ~wanted & PERMISSION_BITS:
            exposed.append(path)
            _tighten(path, mode, wanted)
    return exposed


def _private_paths(data_dir: Path) -> Iterator[tuple[Path, int]]:
    if not data_dir.is_dir():
        return
    yield data_dir, PRIVATE_DIR
    for root, dirs, files in os.walk(data_dir):
        here = Path(root)
        for name in dirs:
            if not (here / name).is_symlink():
                yield here / name, PRIVATE_DIR
        for name in files:
            path = here / name
            if is_private(path) and not path.is_symlink():
                yield path, PRIVATE_FILE


def _tighten(path: Path, mode: int, wanted: int) -> None:
    try:
        path.chmod(mode & wanted)
    except OSError as error:
        log.warning(
            "%s has mode %04o: its group or other users can use it, and it could not be "
            "tightened (%s); run: chmod %04o %s",
            path,
            mode,
            error.strerror,
            mode & wanted,
            path,
        )
        return
    log.warning(
        "%s had mode %04o: its group or other users could use it; tightened to %04o",
        path,
        mode,
        mode & wanted,
    )
