"""Migrations: forward-only, idempotent, and refused when the database is ahead of the code."""

from __future__ import annotations

import asyncpg
import pytest

from db.migrate import DatabaseAheadError, available_migrations, migrate
from db.pool import Conn


async def test_migrate_twice_applies_nothing_the_second_time(conn: Conn) -> None:
    """Running migrations on an up-to-date database is a no-op."""
    assert await migrate(conn) == []
    versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migration ORDER BY 1")]
    assert versions == [m.version for m in available_migrations()]


async def test_database_ahead_of_code_is_refused(conn: Conn) -> None:
    """A database migrated by newer code makes older code stop instead of corrupting data."""
    await conn.execute("INSERT INTO schema_migration (version, name) VALUES (9999, '9999_future.sql')")
    with pytest.raises(DatabaseAheadError):
        await migrate(conn)


async def test_audit_log_is_append_only(conn: Conn) -> None:
    """Nobody can rewrite history: UPDATE on the audit log fails."""
    await conn.execute(
        "INSERT INTO audit_log (actor, action, subject_kind) VALUES ('t', 'x', 'member')"
    )
    with pytest.raises(asyncpg.RaiseError):
        await conn.execute("UPDATE audit_log SET actor = 'y'")
