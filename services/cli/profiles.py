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

import click
import platformdirs


class ProfilesError(click.ClickException):
    """The profiles file cannot be read as profiles: a refusal that names it."""


@dataclass(frozen=True)
class Profile:
    url: str
    api_key: str


def profiles_file() -> Path:
    return Path(platformdirs.user_config_dir("p13n")) / "profiles.json"


def _read() -> dict[str, dict[str, str]]:
    path = profiles_file()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except ValueError:  # JSON, or UTF-8, broken
        data = None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ProfilesError(
            f"{path} is not a profiles file (corrupt?): remove it, or run `p13n login` "
            "to replace it"
        )
    return data


def load(name: str) -> Profile | None:
    entry = _read().get(name)
    if not isinstance(entry, dict) or not {"url", "api_key"} <= entry.keys():
        return None
    return Profile(url=entry["url"], api_key=entry["api_key"])


def save(name: str, profile: Profile) -> Path:
    """Adds or replaces profile ``name``; returns the file."""
    path = profiles_file()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        data = _read()
    except ProfilesError:  # logging in is how to get past a corrupt file: start afresh
        click.echo(f"p13n: {path} was not a profiles file: replacing it", err=True)
        data = {}
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
