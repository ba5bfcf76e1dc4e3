"""The profile service is layered like offers: handlers hold no SQL, the data path no admin code.

Handlers (``*_service.py``) validate, call a store Protocol and map; only the store modules
touch the database. These read the source, so a statement or an import slipped
back into a handler fails here rather than in review.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROFILE = Path(__file__).resolve().parents[2] / "services" / "profile"
HANDLERS = ["config_service.py", "profile_service.py", "ingest_service.py"]
# What only a store may import: the database drivers and the store implementations.
STORAGE_MODULES = {
    "aiosqlite",
    "sqlite3",
    "asyncpg",
    "services.common.postgres",
    "services.common.storage",
    "services.profile.sql_config",
    "services.profile.sql_profile",
    "services.profile.postgres_profile",
    "services.profile.backends",
    "services.profile.sqlite_profile",
    "services.profile.realtime_store",
    "services.profile.profiles",
    "services.profile.tracking",
    "services.profile.imports",
    "services.profile.group_commit",
    "services.profile.store",
}
SQL = re.compile(r"\b(SELECT\b.*\bFROM|INSERT\s+INTO|UPDATE\b.*\bSET|DELETE\s+FROM)\b", re.I | re.S)
DATA_PATH = [
    "services.profile.realtime",
    "services.profile.realtime_store",
    "services.profile.tracking",
    "services.profile.imports",
    "services.profile.sql_profile",
    "services.profile.sqlite_profile",
    "services.profile.postgres_profile",
]
ADMIN_HANDLERS = {"services.profile.config_service"}


def _imports(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


@pytest.mark.parametrize("handler", HANDLERS)
def test_a_handler_imports_no_storage(handler: str) -> None:
    assert _imports(ast.parse((PROFILE / handler).read_text())) & STORAGE_MODULES == set()


# Handlers, and the domain and transaction logic they reach: the SQL is in the store modules.
@pytest.mark.parametrize(
    "module", [*HANDLERS, "realtime.py", "tracking.py", "imports.py", "config_rules.py"]
)
def test_only_store_modules_hold_sql(module: str) -> None:
    tree = ast.parse((PROFILE / module).read_text())
    strings = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]
    assert [s for s in strings if SQL.search(s)] == []


def test_the_sql_pattern_finds_a_statement() -> None:
    # The check above is only as good as this pattern.
    assert SQL.search("SELECT * FROM parent_segments WHERE id = ?")
    assert SQL.search("UPDATE attributes SET name = ? WHERE id = ?")
    assert not SQL.search("Only name and description can be updated")


@pytest.mark.parametrize("module", DATA_PATH)
def test_the_data_path_imports_no_admin_handler(module: str) -> None:
    # A fresh interpreter: what importing the module pulls in, transitively.
    loaded = subprocess.run(
        [sys.executable, "-c", f"import sys, {module}; print(*sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROFILE.parents[1],
    ).stdout.split()
    assert module in loaded
    assert ADMIN_HANDLERS.isdisjoint(loaded)
