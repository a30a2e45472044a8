"""Queries on `account`: people who sign in, each with a role and a scope as a token carries.

Reads that list or check accounts go through the `account_placed` view, which adds where the
account's scope sits in the hierarchy (district, subdistrict, community, unit, member ids), so
scope rules and masking work on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Conn
from domain.scope import ScopeFilter

_COLUMNS = """id, phone, label, role, scope_kind, scope_id, source, password_hash, password_set_at,
    failed_attempts, first_failed_at, locked_until, disabled_at, created_by, created_at"""
_PLACED_COLUMNS = f"{_COLUMNS}, member_id, unit_id, community_id, subdistrict_id, district_id"


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: int
    phone: str
    label: str
    role: str
    scope_kind: str
    scope_id: int | None
    source: str
    password_hash: str | None
    password_set_at: datetime | None
    failed_attempts: int
    first_failed_at: datetime | None
    locked_until: datetime | None
    disabled_at: datetime | None
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PlacedAccountRow(AccountRow):
    """An account with where its scope sits in the hierarchy (the account_placed view)."""

    member_id: int | None
    unit_id: int | None
    community_id: int | None
    subdistrict_id: int | None
    district_id: int | None


async def insert_account(
    conn: Conn, *, phone: str, label: str, role: str, scope_kind: str, scope_id: int | None,
    source: str, created_by: str, password_hash: str | None, now: datetime,
) -> PlacedAccountRow | None:
    """The new account; None when the phone already has one."""
    row = await conn.fetchrow(
        """
        INSERT INTO account (phone, label, role, scope_kind, scope_id, source, created_by,
                             password_hash, password_set_at, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $8::text IS NULL THEN NULL ELSE $9::timestamptz END, $9)
        ON CONFLICT (phone) DO NOTHING
        RETURNING id
        """,
        phone, label, role, scope_kind, scope_id, source, created_by, password_hash, now,
    )
    if row is None:
        return None
    return await select_account(conn, account_id=row["id"])


async def select_account(conn: Conn, *, account_id: int) -> PlacedAccountRow | None:
    row = await conn.fetchrow(
        f"SELECT {_PLACED_COLUMNS} FROM account_placed WHERE id = $1",  # noqa: S608 - constant column list
        account_id,
    )
    return None if row is None else PlacedAccountRow(**row)


async def select_account_by_phone(
    conn: Conn, *, phone: str, for_update: bool = False
) -> AccountRow | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM account WHERE phone = $1{lock}",  # noqa: S608 - constant column list
        phone,
    )
    return None if row is None else AccountRow(**row)


async def select_accounts(
    conn: Conn, *, scope: ScopeFilter, role: str | None, limit: int, offset: int
) -> tuple[list[PlacedAccountRow], int]:
    """A page of accounts whose scope lies inside `scope` (newest first) and the total."""
    rows = await conn.fetch(
        f"""
        SELECT {_PLACED_COLUMNS}, count(*) OVER () AS total FROM account_placed
        WHERE ($1::bigint IS NULL OR district_id = $1)
          AND ($2::bigint IS NULL OR subdistrict_id = $2)
          AND ($3::bigint IS NULL OR community_id = $3)
          AND ($4::bigint IS NULL OR unit_id = $4)
          AND ($5::bigint IS NULL OR member_id = $5)
          AND ($6::text IS NULL OR role = $6)
        ORDER BY id DESC
        LIMIT $7 OFFSET $8
        """,  # noqa: S608 - constant column list
        scope.district_id, scope.subdistrict_id, scope.community_id, scope.unit_id,
        scope.member_id, role, limit, offset,
    )
    total = int(rows[0]["total"]) if rows else 0
    if not rows and offset > 0:
        total = await conn.fetchval(
            """
            SELECT count(*) FROM account_placed
            WHERE ($1::bigint IS NULL OR district_id = $1)
              AND ($2::bigint IS NULL OR subdistrict_id = $2)
              AND ($3::bigint IS NULL OR community_id = $3)
              AND ($4::bigint IS NULL OR unit_id = $4)
              AND ($5::bigint IS NULL OR member_id = $5)
              AND ($6::text IS NULL OR role = $6)
            """,
            scope.district_id, scope.subdistrict_id, scope.community_id, scope.unit_id,
            scope.member_id, role,
        )
    return [PlacedAccountRow(**{k: v for k, v in r.items() if k != "total"}) for r in rows], total


async def update_failures(
    conn: Conn, *, account_id: int, failed_attempts: int, first_failed_at: datetime | None,
    locked_until: datetime | None,
) -> None:
    await conn.execute(
        """
        UPDATE account SET failed_attempts = $2, first_failed_at = $3, locked_until = $4
        WHERE id = $1
        """,
        account_id, failed_attempts, first_failed_at, locked_until,
    )


async def update_password(conn: Conn, *, account_id: int, password_hash: str, now: datetime) -> None:
    await conn.execute(
        """
        UPDATE account SET password_hash = $2, password_set_at = $3,
                           failed_attempts = 0, first_failed_at = NULL, locked_until = NULL
        WHERE id = $1
        """,
        account_id, password_hash, now,
    )


async def disable_account(conn: Conn, *, account_id: int, now: datetime) -> bool:
    """Mark disabled (a second disable keeps the first time); False when no such account."""
    updated: int | None = await conn.fetchval(
        "UPDATE account SET disabled_at = coalesce(disabled_at, $2) WHERE id = $1 RETURNING id",
        account_id, now,
    )
    return updated is not None


async def insert_member_accounts(
    conn: Conn, *, scope: ScopeFilter, created_by: str, now: datetime, phone_pattern: str
) -> tuple[list[int], int]:
    """Accounts (role member) for members in `scope` (by home community, as the directory places
    them) with a mobile phone and no account yet.

    Returns the new ids and how many members were passed over (no valid phone, or the phone
    already signs in to another account).
    """
    rows = await conn.fetch(
        """
        WITH candidate AS (
            SELECT m.id, m.name, m.phone
            FROM member m
            LEFT JOIN community c ON c.id = m.home_community_id
            LEFT JOIN subdistrict s ON s.id = c.subdistrict_id
            WHERE ($1::bigint IS NULL OR s.district_id = $1)
              AND ($2::bigint IS NULL OR s.id = $2)
              AND ($3::bigint IS NULL OR c.id = $3)
              AND ($4::bigint IS NULL OR m.unit_id = $4)
              AND ($5::bigint IS NULL OR m.id = $5)
        ), inserted AS (
            INSERT INTO account (phone, label, role, scope_kind, scope_id, source, created_by, created_at)
            SELECT DISTINCT ON (phone) phone, name, 'member', 'member', id, 'roster_member', $6, $7
            FROM candidate
            WHERE phone ~ $8 AND NOT EXISTS (SELECT 1 FROM account a
                                              WHERE a.scope_kind = 'member' AND a.scope_id = candidate.id)
            ORDER BY phone, id
            ON CONFLICT (phone) DO NOTHING
            RETURNING id
        )
        SELECT (SELECT array_agg(id ORDER BY id) FROM inserted) AS ids,
               (SELECT count(*) FROM candidate) AS candidates,
               (SELECT count(*) FROM candidate WHERE EXISTS (
                    SELECT 1 FROM account a WHERE a.scope_kind = 'member' AND a.scope_id = candidate.id))
                   AS existing
        """,
        scope.district_id, scope.subdistrict_id, scope.community_id, scope.unit_id, scope.member_id,
        created_by, now, phone_pattern,
    )
    ids = list(rows[0]["ids"] or [])
    skipped = int(rows[0]["candidates"]) - int(rows[0]["existing"]) - len(ids)
    return ids, skipped


async def insert_unit_contact_accounts(
    conn: Conn, *, scope: ScopeFilter, created_by: str, now: datetime, phone_pattern: str
) -> tuple[list[int], int]:
    """Accounts (role unit_admin) for the contacts of units in `scope`; as insert_member_accounts."""
    rows = await conn.fetch(
        """
        WITH candidate AS (
            SELECT u.id, coalesce(nullif(u.contact_name, ''), u.name) AS label, u.contact_phone AS phone
            FROM reporting_unit u
            LEFT JOIN community c ON c.id = u.community_id
            LEFT JOIN subdistrict s ON s.id = c.subdistrict_id
            WHERE ($1::bigint IS NULL OR s.district_id = $1)
              AND ($2::bigint IS NULL OR s.id = $2)
              AND ($3::bigint IS NULL OR c.id = $3)
              AND ($4::bigint IS NULL OR u.id = $4)
              AND $5::bigint IS NULL
        ), inserted AS (
            INSERT INTO account (phone, label, role, scope_kind, scope_id, source, created_by, created_at)
            SELECT DISTINCT ON (phone) phone, label, 'unit_admin', 'unit', id, 'roster_unit', $6, $7
            FROM candidate
            WHERE phone ~ $8 AND NOT EXISTS (SELECT 1 FROM account a
                                              WHERE a.scope_kind = 'unit' AND a.scope_id = candidate.id
                                                AND a.source = 'roster_unit')
            ORDER BY phone, id
            ON CONFLICT (phone) DO NOTHING
            RETURNING id
        )
        SELECT (SELECT array_agg(id ORDER BY id) FROM inserted) AS ids,
               (SELECT count(*) FROM candidate) AS candidates,
               (SELECT count(*) FROM candidate WHERE EXISTS (
                    SELECT 1 FROM account a WHERE a.scope_kind = 'unit' AND a.scope_id = candidate.id
                      AND a.source = 'roster_unit')) AS existing
        """,
        scope.district_id, scope.subdistrict_id, scope.community_id, scope.unit_id, scope.member_id,
        created_by, now, phone_pattern,
    )
    ids = list(rows[0]["ids"] or [])
    skipped = int(rows[0]["candidates"]) - int(rows[0]["existing"]) - len(ids)
    return ids, skipped
