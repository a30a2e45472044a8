"""Queries on audit_log: append-only record of who did what to whom, before and after."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from db.pool import Conn
from schemas.directory import AuditEntry


async def insert_audit_entries(
    conn: Conn,
    *,
    actor: str,
    action: str,
    subject_kind: str,
    subject_ids: Sequence[int | None],
    befores: Sequence[dict[str, Any] | None],
    afters: Sequence[dict[str, Any] | None],
) -> None:
    """One audit row per subject, set-based; before/after are JSON-able dicts.

    A subject id may be None (a failed sign-in with a phone that has no account)."""
    await conn.execute(
        """
        INSERT INTO audit_log (actor, action, subject_kind, subject_id, before, after)
        SELECT $1, $2, $3, a.id, a.before::jsonb, a.after::jsonb
        FROM unnest($4::bigint[], $5::text[], $6::text[]) AS a(id, before, after)
        """,
        actor, action, subject_kind, list(subject_ids),
        [None if b is None else json.dumps(b, ensure_ascii=False, default=str) for b in befores],
        [None if a is None else json.dumps(a, ensure_ascii=False, default=str) for a in afters],
    )


async def select_audit_entries(
    conn: Conn, *, subject_kind: str, subject_id: int
) -> list[AuditEntry]:
    """The subject's audit entries, oldest first, unmasked (the service masks by role)."""
    rows = await conn.fetch(
        """
        SELECT id, at, actor, action, subject_kind, subject_id, before, after FROM audit_log
        WHERE subject_kind = $1 AND subject_id = $2 ORDER BY id
        """,
        subject_kind, subject_id,
    )
    return [AuditEntry.model_validate(dict(r)) for r in rows]
