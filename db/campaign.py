"""Campaign rows, their resolved scope (campaign_community) and their lifecycle history."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.pool import Conn
from schemas.campaign import CampaignEventView, CampaignStatusResult
from schemas.matching import CityMap, MemberCandidate

_COLUMNS = """id, name, kind, launched_by_kind, launched_by_id, scope_district_ids,
    scope_subdistrict_ids, scope_community_ids, window_start, window_end, registration_deadline,
    quotas, reminder_policy, evaluation_rule, redeemable, emergency, status, workflow_id,
    created_by, created_at, updated_at"""


@dataclass(frozen=True, slots=True)
class CampaignRow:
    id: int
    name: str
    kind: str
    launched_by_kind: str
    launched_by_id: int | None
    scope_district_ids: list[int]
    scope_subdistrict_ids: list[int]
    scope_community_ids: list[int]
    window_start: datetime
    window_end: datetime
    registration_deadline: datetime | None
    quotas: dict[str, Any]
    reminder_policy: dict[str, Any]
    evaluation_rule: dict[str, Any]
    redeemable: bool
    emergency: bool
    status: str
    workflow_id: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime


async def insert_campaign(
    conn: Conn, *, name: str, kind: str, launched_by_kind: str, launched_by_id: int | None,
    district_ids: list[int], subdistrict_ids: list[int], community_ids: list[int],
    window_start: datetime, window_end: datetime, registration_deadline: datetime | None,
    quotas: dict[str, Any], reminder_policy: dict[str, Any], evaluation_rule: dict[str, Any],
    redeemable: bool, emergency: bool, created_by: str, at: datetime,
) -> CampaignRow:
    row = await conn.fetchrow(
        f"""
        INSERT INTO campaign (name, kind, launched_by_kind, launched_by_id, scope_district_ids,
                              scope_subdistrict_ids, scope_community_ids, window_start, window_end,
                              registration_deadline, quotas, reminder_policy, evaluation_rule,
                              redeemable, emergency, created_by, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17)
        RETURNING {_COLUMNS}
        """,  # noqa: S608 - a constant column list, no input
        name, kind, launched_by_kind, launched_by_id, district_ids, subdistrict_ids, community_ids,
        window_start, window_end, registration_deadline, quotas, reminder_policy, evaluation_rule,
        redeemable, emergency, created_by, at,
    )
    assert row is not None
    return CampaignRow(**row)


async def select_campaign(conn: Conn, *, campaign_id: int) -> CampaignRow | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM campaign WHERE id = $1",  # noqa: S608 - constant column list
        campaign_id,
    )
    return CampaignRow(**row) if row is not None else None


async def select_campaigns(conn: Conn, *, district_id: int | None, limit: int) -> list[CampaignRow]:
    """Campaigns launched by the city, or (with district_id) those touching that district."""
    rows = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM campaign c
        WHERE $1::bigint IS NULL OR c.launched_by_id = $1 OR c.launched_by_kind = 'city'
           OR $1 = ANY(c.scope_district_ids)
        ORDER BY id DESC LIMIT $2
        """,  # noqa: S608 - constant column list
        district_id, limit,
    )
    return [CampaignRow(**r) for r in rows]


async def update_campaign_status(
    conn: Conn, *, campaign_id: int, from_statuses: list[str], to_status: str | None,
    window_end: datetime | None, registration_deadline: datetime | None, at: datetime,
) -> CampaignStatusResult | None:
    """Move the campaign (and/or its dates) only if it is in one of `from_statuses`.

    None when it was not: the caller decides whether that is a refusal or a retried no-op.
    """
    row = await conn.fetchrow(
        """
        UPDATE campaign SET status = coalesce($3, status),
                            window_end = coalesce($4, window_end),
                            registration_deadline = coalesce($5, registration_deadline),
                            updated_at = $6
        WHERE id = $1 AND status = ANY($2::text[])
        RETURNING id AS campaign_id, status, window_end, registration_deadline
        """,
        campaign_id, from_statuses, to_status, window_end, registration_deadline, at,
    )
    return CampaignStatusResult(**row) if row is not None else None


async def set_workflow_id(conn: Conn, *, campaign_id: int, workflow_id: str) -> None:
    await conn.execute("UPDATE campaign SET workflow_id = $2 WHERE id = $1", campaign_id, workflow_id)


async def resolve_scope(conn: Conn, *, campaign_id: int) -> int:
    """Write the campaign's communities from its scope arrays; returns how many it covers.

    Empty arrays mean the launcher's whole area: the city, or the launching district.
    """
    count: int = await conn.fetchval(
        """
        WITH c AS (SELECT * FROM campaign WHERE id = $1), ins AS (
            INSERT INTO campaign_community (campaign_id, community_id)
            SELECT c.id, co.id
            FROM c, community co JOIN subdistrict s ON s.id = co.subdistrict_id
            WHERE (cardinality(c.scope_district_ids) = 0 AND cardinality(c.scope_subdistrict_ids) = 0
                   AND cardinality(c.scope_community_ids) = 0
                   AND (c.launched_by_kind = 'city' OR s.district_id = c.launched_by_id))
               OR s.district_id = ANY(c.scope_district_ids)
               OR co.subdistrict_id = ANY(c.scope_subdistrict_ids)
               OR co.id = ANY(c.scope_community_ids)
            ON CONFLICT DO NOTHING
            RETURNING 1
        )
        SELECT count(*) FROM ins
        """,
        campaign_id,
    )
    return count


async def scope_outside_district(
    conn: Conn, *, district_id: int, subdistrict_ids: list[int], community_ids: list[int]
) -> bool:
    """True when a listed subdistrict or community lies outside the district (or does not exist)."""
    inside: int = await conn.fetchval(
        """
        SELECT (SELECT count(*) FROM subdistrict WHERE id = ANY($2::bigint[]) AND district_id = $1)
             + (SELECT count(*) FROM community co JOIN subdistrict s ON s.id = co.subdistrict_id
                WHERE co.id = ANY($3::bigint[]) AND s.district_id = $1)
        """,
        district_id, subdistrict_ids, community_ids,
    )
    return inside != len(set(subdistrict_ids)) + len(set(community_ids))


async def insert_campaign_event(
    conn: Conn, *, campaign_id: int, kind: str, from_status: str | None, to_status: str | None,
    actor: str, detail: dict[str, Any], at: datetime,
) -> None:
    await conn.execute(
        """
        INSERT INTO campaign_event (campaign_id, kind, from_status, to_status, actor, detail, at)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        # The pool's jsonb codec encodes; the round trip turns dates into ISO strings first.
        campaign_id, kind, from_status, to_status, actor,
        json.loads(json.dumps(detail, ensure_ascii=False, default=str)), at,
    )


async def select_campaign_events(conn: Conn, *, campaign_id: int) -> list[CampaignEventView]:
    rows = await conn.fetch(
        """
        SELECT kind, from_status, to_status, actor, detail, at FROM campaign_event
        WHERE campaign_id = $1 ORDER BY id
        """,
        campaign_id,
    )
    return [CampaignEventView(**r) for r in rows]


@dataclass(frozen=True, slots=True)
class ScopeGridRow:
    """A grid in the campaign's communities: a mobilisation sends it one task."""

    grid_id: int
    community_id: int


async def select_scope_grids(conn: Conn, *, campaign_id: int) -> list[ScopeGridRow]:
    """Every grid in the campaign's communities (a mobilisation sends one task to each)."""
    rows = await conn.fetch(
        """
        SELECT g.id AS grid_id, g.community_id FROM campaign_community cc
        JOIN grid g ON g.community_id = cc.community_id
        WHERE cc.campaign_id = $1 ORDER BY g.id
        """,
        campaign_id,
    )
    return [ScopeGridRow(**r) for r in rows]


@dataclass(frozen=True, slots=True)
class MobiliseScopeCounts:
    """What a mobilisation would reach (count_mobilise_scope)."""

    communities: int
    grids: int
    candidates: int
    open_tasks: int


async def count_mobilise_scope(conn: Conn, *, campaign_id: int) -> MobiliseScopeCounts:
    """What a mobilisation would reach: communities and grids in scope, serving members there (as
    select_scope_candidates counts them) and the campaign's mobilised tasks still waiting."""
    row = await conn.fetchrow(
        """
        SELECT
          (SELECT count(*) FROM campaign_community WHERE campaign_id = $1)::int AS communities,
          (SELECT count(*) FROM campaign_community cc JOIN grid g ON g.community_id = cc.community_id
            WHERE cc.campaign_id = $1)::int AS grids,
          (SELECT count(DISTINCT r.member_id) FROM campaign_community cc
            JOIN member_registration r ON r.community_id = cc.community_id AND r.status IN ('active', 'paused')
            WHERE cc.campaign_id = $1)::int AS candidates,
          (SELECT count(*) FROM campaign_task ct JOIN task t ON t.id = ct.task_id
            WHERE ct.campaign_id = $1 AND t.status IN ('open', 'offering'))::int AS open_tasks
        """,
        campaign_id,
    )
    assert row is not None
    return MobiliseScopeCounts(**row)


async def insert_campaign_tasks(conn: Conn, *, campaign_id: int, task_ids: list[int]) -> None:
    await conn.execute(
        """
        INSERT INTO campaign_task (campaign_id, task_id)
        SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING
        """,
        campaign_id, task_ids,
    )


@dataclass(frozen=True, slots=True)
class OpenCampaignTaskRow:
    id: int
    mode: str
    headcount: int
    window_start: datetime
    window_end: datetime


async def select_open_campaign_tasks(conn: Conn, *, campaign_id: int) -> list[OpenCampaignTaskRow]:
    """The campaign's mobilised tasks still waiting for members (open or offering)."""
    rows = await conn.fetch(
        """
        SELECT t.id, t.mode, t.headcount, t.window_start, t.window_end
        FROM campaign_task ct JOIN task t ON t.id = ct.task_id
        WHERE ct.campaign_id = $1 AND t.status IN ('open', 'offering')
        ORDER BY t.id
        """,
        campaign_id,
    )
    return [OpenCampaignTaskRow(**r) for r in rows]


async def campaign_covers(conn: Conn, *, campaign_id: int, scope_kind: str, scope_id: int | None) -> bool:
    """True when the campaign covers at least one community inside the given scope.

    A unit is inside where it is located; a member where they live.
    """
    covered: bool = await conn.fetchval(
        """
        SELECT EXISTS (
            SELECT 1 FROM campaign_community cc
            JOIN community co ON co.id = cc.community_id
            JOIN subdistrict s ON s.id = co.subdistrict_id
            WHERE cc.campaign_id = $1 AND CASE $2
                WHEN 'city' THEN true
                WHEN 'district' THEN s.district_id = $3
                WHEN 'subdistrict' THEN co.subdistrict_id = $3
                WHEN 'community' THEN co.id = $3
                WHEN 'unit' THEN co.id = (SELECT community_id FROM reporting_unit WHERE id = $3)
                WHEN 'member' THEN co.id = (SELECT home_community_id FROM member WHERE id = $3)
                ELSE false END
        )
        """,
        campaign_id, scope_kind, scope_id,
    )
    return covered


async def select_scope_candidates(conn: Conn, *, campaign_id: int) -> list[MemberCandidate]:
    """Members serving (active or paused registration) in the campaign's communities, as the
    matcher sees them, for a mobilisation's batch matching."""
    rows = await conn.fetch(
        """
        SELECT m.id AS member_id, m.unit_id, coalesce(r.grid_id, m.home_grid_id) AS home_grid_id,
               coalesce(m.home_community_id, r.community_id) AS community_id,
               hc.subdistrict_id, hs.district_id, m.skills, m.free_slots, m.max_concurrent_tasks,
               r.status = 'paused' AS paused, r.community_id AS active_registration_community_id,
               (SELECT count(*) FROM assignment a WHERE a.member_id = m.id
                  AND a.status IN ('accepted', 'checked_in'))::int AS current_load
        FROM campaign_community cc
        JOIN member_registration r ON r.community_id = cc.community_id AND r.status IN ('active', 'paused')
        JOIN member m ON m.id = r.member_id
        LEFT JOIN community hc ON hc.id = coalesce(m.home_community_id, r.community_id)
        LEFT JOIN subdistrict hs ON hs.id = hc.subdistrict_id
        WHERE cc.campaign_id = $1
        """,
        campaign_id,
    )
    return [MemberCandidate.model_validate({
        **r, "skills": frozenset(r["skills"] or ()), "free_slots": frozenset(r["free_slots"] or ())})
        for r in rows]


async def select_scope_city_map(conn: Conn, *, campaign_id: int) -> CityMap:
    """The map of the districts the campaign touches: grids with their communities, the adjacency
    of the campaign's grids, and the community→subdistrict→district chain of every community."""
    grids = await conn.fetch(
        """
        SELECT g.id AS grid_id, g.community_id FROM grid g
        JOIN community co ON co.id = g.community_id JOIN subdistrict s ON s.id = co.subdistrict_id
        WHERE s.district_id IN (SELECT s2.district_id FROM campaign_community cc
                                JOIN community c2 ON c2.id = cc.community_id
                                JOIN subdistrict s2 ON s2.id = c2.subdistrict_id WHERE cc.campaign_id = $1)
        """,
        campaign_id,
    )
    adjacency = await conn.fetch(
        """
        SELECT ga.grid_id, ga.neighbour_id FROM grid_adjacency ga
        JOIN grid g ON g.id = ga.grid_id JOIN campaign_community cc ON cc.community_id = g.community_id
        WHERE cc.campaign_id = $1
        """,
        campaign_id,
    )
    chain = await conn.fetch(
        """
        SELECT co.id AS community_id, co.subdistrict_id, s.district_id FROM community co
        JOIN subdistrict s ON s.id = co.subdistrict_id
        WHERE s.district_id IN (SELECT s2.district_id FROM campaign_community cc
                                JOIN community c2 ON c2.id = cc.community_id
                                JOIN subdistrict s2 ON s2.id = c2.subdistrict_id WHERE cc.campaign_id = $1)
        """,
        campaign_id,
    )
    neighbours: dict[int, set[int]] = {}
    for adj in adjacency:
        neighbours.setdefault(adj["grid_id"], set()).add(adj["neighbour_id"])
    return CityMap(
        neighbours={g: frozenset(n) for g, n in neighbours.items()},
        grid_community={r["grid_id"]: r["community_id"] for r in grids},
        community_subdistrict={r["community_id"]: r["subdistrict_id"] for r in chain},
        subdistrict_district={r["subdistrict_id"]: r["district_id"] for r in chain},
    )


async def mobilised_at(conn: Conn, *, campaign_id: int, at: datetime) -> dict[str, Any] | None:
    """The mobilisation recorded at `at` (a retried mobilise activity finds its own first run)."""
    row = await conn.fetchrow(
        "SELECT detail FROM campaign_event WHERE campaign_id = $1 AND kind = 'mobilise' AND at = $2",
        campaign_id, at,
    )
    return dict(row["detail"]) if row is not None else None


async def select_campaign_id_by_name(conn: Conn, *, name: str) -> int | None:
    """The oldest campaign of this name that was not cancelled (the demo finds its own)."""
    found: int | None = await conn.fetchval(
        "SELECT id FROM campaign WHERE name = $1 AND status <> 'cancelled' ORDER BY id LIMIT 1", name)
    return found
