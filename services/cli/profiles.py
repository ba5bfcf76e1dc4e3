"""Login profiles: which suite's admin API, with which API key.

Kept in the user's configuration directory (``$XDG_CONFIG_HOME/p13n/profiles.json``, by
default ``~/.config/p13n``), the directory 0700 and the file 0600 because it holds API
keys: written to a temporary file of that mode and renamed, so no moment exists in which
another user could read it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs


@dataclass(frozen=True)
class Profile:
    url: str
    api_key: str


def profiles_file() -> Path:
    return Path(platformdirs.user_config_dir("p13n")) / "profiles.json"


def _read() -> dict[str, dict[str, str]]:
    try:
        data = json.loads(profiles_file().read_text())
    except FileNotFoundError:
        return {}
    return data if isinstance(data, dict) else {}


def load(name: str) -> Profile | None:
    entry = _read().get(name)
    if not isinstance(entry, dict) or not {"url", "api_key"} <= entry.keys():
        return None
    return Profile(url=entry["url"], api_key=entry["api_key"])


def save(name: str, profile: Profile) -> Path:
    """Adds or replaces profile ``name``; returns the file."""
    path = profiles_file()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = _read()
    data[name] = asdict(profile)
    _write_private(path, json.dumps(data, indent=2) + "\n")
    return path


def remove(name: str) -> bool:
    data = _read()
    if data.pop(name, None) is None:
        return False
    _write_private(profiles_file(), json.dumps(data, indent=2) + "\n")
    return True


def _write_private(path: Path, text: str) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".profiles.")
    try:  # mkstemp makes the file 0600 whatever the umask
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
