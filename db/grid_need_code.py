"""Queries on grid_need_code: a grid's public need-placing code 点单码, kept only as a hash.

One live code per grid (a partial unique index); issuing a new one revokes the old in the same
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Conn


@dataclass(frozen=True, slots=True)
class LiveCodeRow:
    id: int
    grid_id: int


async def replace_code(conn: Conn, *, grid_id: int, code_hash: str, issued_by: str, at: datetime) -> int:
    """Revoke the grid's live code (if any) and store the new one; the new code's id."""
    await conn.execute(
        "UPDATE grid_need_code SET revoked_at = $2 WHERE grid_id = $1 AND revoked_at IS NULL", grid_id, at
    )
    code_id: int = await conn.fetchval(
        """
        INSERT INTO grid_need_code (grid_id, code_hash, issued_by, issued_at) VALUES ($1, $2, $3, $4)
        RETURNING id
        """,
        grid_id, code_hash, issued_by, at,
    )
    return code_id


async def select_live_code(conn: Conn, *, code_hash: str) -> LiveCodeRow | None:
    """The live (not revoked) code with this hash and its grid, or None."""
    row = await conn.fetchrow(
        "SELECT id, grid_id FROM grid_need_code WHERE code_hash = $1 AND revoked_at IS NULL", code_hash
    )
    return None if row is None else LiveCodeRow(**row)
