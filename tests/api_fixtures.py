"""A small committed city for API tests: two districts, communities A and B, tokens per role.

Layout (names carry a unique suffix so sessions and other tests never collide):

    district D1 ─ subdistrict S1 ─ community A ─ grids A1, A2 (adjacent)
    district D2 ─ subdistrict S2 ─ community B ─ grid B1
    unit uA located in A, unit uB located in B; a merchant of the points exchange in each of A, B
    members living in A: a1 (unit uA, active), a2 (unit uB, submitted), a3 (unit uA, none)
    members living in B: b1 (unit uB, active), b2 (unit uA, rejected then paused)

The rows are committed (the app reads through its own pool connections), so tests assert only
on ids of this city, never on global counts. Reuse it with
`from tests.api_fixtures import api_city_fixture, api_http_fixture  # noqa: F401`.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from db.pool import Conn, Pool
from schemas.auth import Role, ScopeKind
from services.tokens import issue_token
from tests import places
from tests.conftest import unique

A1_PHONE = "13812345678"


@dataclass
class MemberRow:
    id: int
    unit_id: int
    community_id: int
    latest_status: str | None
    phone: str
    id_number: str


@dataclass
class ApiCity:
    district: dict[str, int] = field(default_factory=dict)      # "A"/"B" side → id
    subdistrict: dict[str, int] = field(default_factory=dict)
    community: dict[str, int] = field(default_factory=dict)
    grids: dict[str, list[int]] = field(default_factory=dict)
    unit: dict[str, int] = field(default_factory=dict)
    provider: dict[str, int] = field(default_factory=dict)      # a merchant of the points exchange per side
    members: dict[str, MemberRow] = field(default_factory=dict)  # "a1".. → row
    member_registrations: dict[str, list[int]] = field(default_factory=dict)  # side → ids
    unit_registrations: dict[str, list[int]] = field(default_factory=dict)
    notifications: dict[str, list[int]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # actor name → plaintext token
    revoked_token: str = ""

    def side_members(self, side: str) -> set[int]:
        return {m.id for m in self.members.values() if m.community_id == self.community[side]}

    def auth(self, actor: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[actor]}"}


def _id_number() -> str:
    return "110105" + "".join(random.choices("0123456789", k=11)) + "X"


async def _member(conn: Conn, *, name: str, unit_id: int, community_id: int, grid_id: int,
                  phone: str) -> tuple[int, str]:
    id_number = _id_number()
    member_id: int = await conn.fetchval(
        """
        INSERT INTO member (name, gender, phone, id_number, unit_id, home_community_id,
                            home_grid_id, skills, free_slots)
        VALUES ($1, '女', $2, $3, $4, $5, $6, '{理发,法律咨询}', '{0,1}') RETURNING id
        """,
        name, phone, id_number, unit_id, community_id, grid_id,
    )
    return member_id, id_number


async def _registration(conn: Conn, *, member_id: int, community_id: int, grid_id: int,
                        history: list[str]) -> int:
    """A registration whose status walked through `history`, with one event per step."""
    reg_id: int = await conn.fetchval(
        """
        INSERT INTO member_registration (member_id, community_id, grid_id, status)
        VALUES ($1, $2, $3, $4) RETURNING id
        """,
        member_id, community_id, grid_id, history[-1],
    )
    previous: str | None = None
    for status in history:
        await conn.execute(
            """
            INSERT INTO registration_event (registration_kind, registration_id, from_status,
                                            to_status, actor)
            VALUES ('member', $1, $2, $3, 'test')
            """,
            reg_id, previous, status,
        )
        previous = status
    return reg_id


async def build_api_city(conn: Conn) -> ApiCity:
    city = ApiCity()
    tag = unique()
    for side in ("A", "B"):
        d = await places.add_district(conn, f"区{side}")
        s = await places.add_subdistrict(conn, d, f"街道{side}{tag}")
        c = await places.add_community(conn, s, f"社区{side}{tag}")
        city.district[side], city.subdistrict[side], city.community[side] = d, s, c
        names = ["1", "2"] if side == "A" else ["1"]
        city.grids[side] = [await places.add_grid(conn, c, f"网格{side}{n}", branch_name=f"网格{side}{n}党支部")
                            for n in names]
        city.unit[side] = await places.add_unit(conn, f"单位{side}{tag}", party_org=f"单位{side}党支部",
                                                community_id=c, contact_name="联系人",
                                                contact_phone="13900001111")
        city.provider[side] = await conn.fetchval(
            "INSERT INTO exchange_provider (kind, name, community_id, admitted_by, admitted_at)"
            " VALUES ('merchant', $1, $2, 'test', now()) RETURNING id", f"商户{side}{tag}", c)
        city.unit_registrations[side] = [
            await conn.fetchval(
                "INSERT INTO unit_registration (unit_id, community_id, status) VALUES ($1, $2, $3)"
                " RETURNING id",
                city.unit[side], c, "active" if side == "A" else "submitted",
            )
        ]
    await places.adjoin(conn, *city.grids["A"])
    plan = [  # name, unit side, home side, registration histories (oldest first)
        ("a1", "A", "A", [["submitted", "active"]]),
        ("a2", "B", "A", [["submitted"]]),
        ("a3", "A", "A", []),
        ("b1", "B", "B", [["submitted", "confirmed", "active"]]),
        ("b2", "A", "B", [["submitted", "rejected"], ["submitted", "active", "paused"]]),
    ]
    city.member_registrations = {"A": [], "B": []}
    for key, unit_side, home_side, histories in plan:
        community_id = city.community[home_side]
        grid_id = city.grids[home_side][0]
        phone = A1_PHONE if key == "a1" else "139" + "".join(random.choices("0123456789", k=8))
        member_id, id_number = await _member(
            conn, name=f"党员{key}{tag}", unit_id=city.unit[unit_side], community_id=community_id,
            grid_id=grid_id, phone=phone,
        )
        for history in histories:
            city.member_registrations[home_side].append(
                await _registration(conn, member_id=member_id, community_id=community_id,
                                    grid_id=grid_id, history=history)
            )
        city.members[key] = MemberRow(
            id=member_id, unit_id=city.unit[unit_side], community_id=community_id,
            latest_status=histories[-1][-1] if histories else None, phone=phone,
            id_number=id_number,
        )
    city.notifications = {"A": [], "B": []}
    recipients = [
        ("A", "community", city.community["A"]), ("B", "community", city.community["B"]),
        ("A", "member", city.members["a1"].id), ("B", "member", city.members["b1"].id),
        ("A", "unit", city.unit["A"]), ("B", "unit", city.unit["B"]),
        ("A", "subdistrict", city.subdistrict["A"]), ("B", "subdistrict", city.subdistrict["B"]),
    ]
    for side, kind, rid in recipients:
        city.notifications[side].append(
            await conn.fetchval(
                "INSERT INTO notification (recipient_kind, recipient_id, category, title, body,"
                " dedupe_key) VALUES ($1, $2, 'registration', '报到提醒', '请尽快确认报到', $3)"
                " RETURNING id",
                kind, rid, f"test:{tag}:{kind}:{rid}",
            )
        )
    actors = {
        "org_city": (Role.org_department, ScopeKind.city, None),
        "org_d1": (Role.org_department, ScopeKind.district, city.district["A"]),
        "sub_s1": (Role.subdistrict, ScopeKind.subdistrict, city.subdistrict["A"]),
        "staff_a": (Role.community_staff, ScopeKind.community, city.community["A"]),
        "staff_b": (Role.community_staff, ScopeKind.community, city.community["B"]),
        "unit_a": (Role.unit_admin, ScopeKind.unit, city.unit["A"]),
        "unit_b": (Role.unit_admin, ScopeKind.unit, city.unit["B"]),
        "member_a1": (Role.member, ScopeKind.member, city.members["a1"].id),
        "member_b1": (Role.member, ScopeKind.member, city.members["b1"].id),
        "provider_a": (Role.provider, ScopeKind.provider, city.provider["A"]),
        "provider_b": (Role.provider, ScopeKind.provider, city.provider["B"]),
    }
    for name, (role, kind, scope_id) in actors.items():
        _, city.tokens[name] = await issue_token(
            conn, role=role, scope_kind=kind, scope_id=scope_id, label=f"测试{name}"
        )
    revoked_id, city.revoked_token = await issue_token(
        conn, role=Role.community_staff, scope_kind=ScopeKind.community,
        scope_id=city.community["A"], label="已吊销",
    )
    await conn.execute("UPDATE api_token SET revoked_at = now() WHERE id = $1", revoked_id)
    return city


@pytest.fixture(scope="session", name="api_city")
async def api_city_fixture(pool: Pool) -> ApiCity:
    """The committed two-community city, built once per session."""
    async with pool.acquire() as conn, conn.transaction():
        return await build_api_city(conn)


@pytest.fixture(name="api_http")
async def api_http_fixture(pool: Pool, client: Client, task_queue: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process; workflows it starts go to this test's own
    task queue (a worker on the shared default queue would clash with other tests' workers)."""
    app = create_app(pool=pool, temporal_client=client)
    app.state.task_queue = task_queue
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        yield http


async def bearer(pool: Pool, role: Role, kind: ScopeKind, scope_id: int | None, *,
                 label: str = "测试") -> dict[str, str]:
    """The Authorization header of a new token for `role` scoped to `kind`/`scope_id`."""
    async with pool.acquire() as conn:
        _, token = await issue_token(conn, role=role, scope_kind=kind, scope_id=scope_id, label=label)
    return {"Authorization": f"Bearer {token}"}
