"""The demo's credentials, kept in the data directory so that a second `p13n up --demo`
reuses the same account instead of creating another.

The file holds a master API key and private token, so it is written with mode 0600 (like
the data directory's keys) and replaced atomically: a crash never leaves half a file, and
the key is saved the moment the account exists, before anything else can fail.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

FILENAME = "demo.json"
SHOP_SECRET_FILENAME = "demo-shop.secret"


@dataclass(frozen=True)
class DemoState:
    """Who the demo is (its account and owner) and the tokens it handed out."""

    account_id: str
    api_key: str
    email: str
    password: str
    public_token: str = ""
    public_token_id: str = ""
    private_token: str = ""
    private_token_id: str = ""
    identity_secret: str = ""
    identity_secret_id: str = ""


def state_path(data_dir: Path) -> Path:
    return data_dir / FILENAME


def load_state(data_dir: Path) -> DemoState | None:
    """The saved state, or None when this data directory has no demo yet."""
    path = state_path(data_dir)
    if not path.exists():
        return None
    raw = json.loads(path.read_text())
    fields = {f.name for f in dataclasses.fields(DemoState)}
    return DemoState(**{k: str(v) for k, v in raw.items() if k in fields})


def save_state(data_dir: Path, state: DemoState) -> None:
    """Replaces the saved state atomically; the file is readable by its owner only."""
    _write_private(state_path(data_dir), json.dumps(dataclasses.asdict(state), indent=2))


def shop_secret_path(data_dir: Path) -> Path:
    """The shop server's identity secret, apart from the demo's other credentials: the shop
    process reads only what it uses."""
    return data_dir / SHOP_SECRET_FILENAME


def save_shop_secret(data_dir: Path, secret: str) -> None:
    _write_private(shop_secret_path(data_dir), secret)


def load_shop_secret(data_dir: Path) -> str:
    """The shop server's identity secret; "" when the demo was never loaded here."""
    path = shop_secret_path(data_dir)
    return path.read_text().strip() if path.exists() else ""


def _write_private(path: Path, text: str) -> None:
    """Replaces ``path`` atomically with ``text``, readable by its owner only."""
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, path)
