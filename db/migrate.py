"""Forward-only numbered SQL migrations, applied under an advisory lock.

Files are `db/migrations/NNNN_slug.sql`. Each runs in its own transaction and is recorded in
`schema_migration`. A database that has a migration this code does not know is refused: it was
migrated by newer code, and running older code against it could corrupt data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import structlog

from db.pool import Conn, connect

log = structlog.get_logger(__name__)

# Any stable 64-bit number; shared by every process that migrates this database.
_LOCK_KEY = 0x5B_D0_20_24
_NAME_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class DatabaseAheadError(RuntimeError):
    """The database has migrations this code does not know."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("db.migrations").iterdir():
        match = _NAME_RE.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers: {versions}")
    return found


async def migrate(conn: Conn) -> list[str]:
    """Apply every pending migration; return the names applied."""
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migration (
                version integer PRIMARY KEY,
                name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migration")}
        known = available_migrations()
        unknown = done - {m.version for m in known}
        if unknown:
            raise DatabaseAheadError(
                f"数据库版本高于当前代码 (database has unknown migrations {sorted(unknown)}); "
                "请升级代码后再运行"
            )
        for migration in known:
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migration (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
            log.info("migration_applied", migration=migration.name)
            applied_now.append(migration.name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now


async def migrate_database(dsn: str) -> list[str]:
    """`migrate` on a connection of its own to the database at `dsn`; return the names applied."""
    conn = await connect(dsn)
    try:
        return await migrate(conn)
    finally:
        await conn.close()
