"""Queries on import_batch: one row per imported file, keyed by its sha256."""

from __future__ import annotations

from db.pool import Conn


async def insert_import_batch(
    conn: Conn,
    *,
    kind: str,
    file_sha256: str,
    file_name: str,
    row_count: int,
    inserted: int,
    actor: str,
    cohort_id: int | None,
) -> int:
    batch_id: int = await conn.fetchval(
        """
        INSERT INTO import_batch (kind, file_sha256, file_name, row_count, inserted, actor, cohort_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id
        """,
        kind, file_sha256, file_name, row_count, inserted, actor, cohort_id,
    )
    return batch_id


async def select_batch_id_by_sha(conn: Conn, *, kind: str, file_sha256: str) -> int | None:
    """The first batch that imported this exact file, if any."""
    batch_id: int | None = await conn.fetchval(
        "SELECT min(id) FROM import_batch WHERE kind = $1 AND file_sha256 = $2", kind, file_sha256
    )
    return batch_id
