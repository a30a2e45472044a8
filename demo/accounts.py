"""`up --demo`: one sign-in per role for people trying the console, printed as a small table.

Fixed phones (the 199 0000 000x range, not handed to real subscribers in the demo's story) and
one printed password, with the same role and scope as the demo's bearer tokens. Running the demo
again finds the accounts and puts the demo password back if someone changed it.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from db.pool import Pool
from schemas.account import AccountSource
from schemas.auth import Role, ScopeKind
from services.accounts import ensure_account_with_password

DEMO_PASSWORD = "Demo2024sbd"
DEMO_PHONES: dict[Role, str] = {
    Role.org_department: "19900000001",
    Role.subdistrict: "19900000002",
    Role.community_staff: "19900000003",
    Role.unit_admin: "19900000004",
    Role.member: "19900000005",
    Role.provider: "19900000006",
}


async def demo_accounts(
    pool: Pool, scopes: list[tuple[Role, ScopeKind, int | None, str]]
) -> list[tuple[str, str, str, str]]:
    """One account per (role, scope, name) as (role, name, phone, password)."""
    out: list[tuple[str, str, str, str]] = []
    async with pool.acquire() as conn:
        for role, scope_kind, scope_id, label in scopes:
            phone = DEMO_PHONES[role]
            await ensure_account_with_password(
                conn, phone=phone, label=f"演示-{label}", role=role, scope_kind=scope_kind, scope_id=scope_id,
                password=DEMO_PASSWORD, source=AccountSource.demo, now=datetime.now(UTC),
            )
            out.append((role.value, label, phone, DEMO_PASSWORD))
    return out


def _pad(text: str, width: int) -> str:
    """`text` padded to `width` terminal columns (a Chinese character takes two)."""
    shown = sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)
    return text + " " * max(1, width - shown)


def sign_in_table(console_url: str, accounts: list[tuple[str, str, str, str]]) -> list[str]:
    """The lines printed after seeding: the console address, then role / name / phone / password."""
    lines = [f"控制台 console: {console_url}", "演示账号 demo sign-ins (手机号 + 密码 phone + password):",
             "  " + _pad("角色 role", 18) + _pad("名称 name", 20) + _pad("手机号 phone", 14) + "密码 password"]
    for role, name, phone, password in accounts:
        lines.append("  " + _pad(role, 18) + _pad(name, 20) + _pad(phone, 14) + password)
    return lines
