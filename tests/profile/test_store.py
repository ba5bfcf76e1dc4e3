"""The profile store is opened for its load: checkpoints beside the writer, a larger cache."""

from __future__ import annotations

from pathlib import Path

from services.profile.store import TUNING, open_store


async def test_the_profile_store_checkpoints_beside_its_writer(tmp_path: Path) -> None:
    db = await open_store(tmp_path)
    try:
        assert db.checkpointer is not None
        assert db.checkpointer.policy == TUNING.checkpoints
        async with db.reading() as conn:
            pragmas = {
                name: (await (await conn.execute(f"PRAGMA {name}")).fetchone())[0]
                for name in ("wal_autocheckpoint", "cache_size", "synchronous", "journal_mode")
            }
        assert pragmas == {
            "wal_autocheckpoint": 0,
            "cache_size": -64 * 1024,
            "synchronous": 2,
            "journal_mode": "wal",
        }
    finally:
        await db.close()
