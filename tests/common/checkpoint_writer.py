"""The process ``test_checkpoints`` kills: group-commit writes beside a busy checkpointer.

    python checkpoint_writer.py DB_PATH

Sixteen writers insert numbered rows through ``GroupCommit`` into a database opened with a
checkpointer that runs every 10 ms and asks for the writer's help past 64 WAL frames; each
row's number is printed (and flushed) only after its unit returned, i.e. once committed.
It writes until it is killed.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import sys
from pathlib import Path

from services.common.checkpoints import CheckpointPolicy
from services.common.storage import Database, Tuning
from services.profile.group_commit import GroupCommit

MIGRATIONS = ["CREATE TABLE rows (id INTEGER PRIMARY KEY, blob BLOB NOT NULL)"]
WRITERS = 16


async def main(path: Path) -> None:
    policy = CheckpointPolicy(interval=0.01, max_frames=64)
    db = await Database.open(path, MIGRATIONS, Tuning(checkpoints=policy))
    writer = GroupCommit(db)
    writer.start()
    numbers = itertools.count(1)

    async def write() -> None:
        while True:
            n = next(numbers)

            def insert(conn: sqlite3.Connection, n: int = n) -> None:
                conn.execute("INSERT INTO rows (id, blob) VALUES (?, randomblob(3000))", (n,))

            await writer.run_sync(insert)
            sys.stdout.write(f"{n}\n")
            sys.stdout.flush()

    await asyncio.gather(*(write() for _ in range(WRITERS)))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
