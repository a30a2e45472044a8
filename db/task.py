"""Queries on task and task_event, plus the candidate read the matcher needs for one task.

Every status change writes its task_event row in the same statement, and only when the status
really changed, so a retried activity leaves one history line, not two.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.need import GridPlaceRow
from db.pool import Conn, custom_plans
from domain import task_rules
from domain.local_time import window_slots
from domain.scope import ScopeFilter
from schemas.dispatch import (
    LedgerRow,
    MyAssignment,
    MyOffer,
    MyTask,
    PointsRule,
    TaskEventView,
    TaskView,
)
from schemas.matching import CityMap, EscalationLevel, MemberCandidate, TaskSpec
from schemas.resident import BoardItem


async def insert_task(
    conn: Conn,
    *,
    need_id: int | None,
    community_id: int,
    grid_id: int,
    title: str,
    category: str,
    mode: str,
    headcount: int,
    required_skills: list[str],
    window_start: datetime,
    window_end: datetime,
    place: str,
    points_per_hour: float,
    category_bonus: float,
    rating_bonus: float,
    points_cap: float,
    redeemable: bool,
    qr_token_hash: str,
    created_by: str,
    at: datetime,
) -> int:
    # One workflow per task, its id derived from the task id: draw the id first, so the row is
    # written once with both.
    task_id: int = await conn.fetchval("SELECT nextval(pg_get_serial_sequence('task', 'id'))")
    await conn.execute(
        """
        WITH t AS (
            INSERT INTO task (id, workflow_id, need_id, community_id, grid_id, title, category, mode,
                              headcount, required_skills, window_start, window_end, place,
                              points_per_hour, category_bonus, rating_bonus, points_cap, redeemable,
                              qr_token_hash, created_by, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                    $19, $20, $21, $21)
            RETURNING id
        )
        INSERT INTO task_event (task_id, kind, to_status, actor, at)
        SELECT id, 'created', 'open', $20, $21 FROM t
        """,
        task_id, task_rules.task_workflow_id(task_id), need_id, community_id, grid_id, title, category,
        mode, headcount, required_skills, window_start, window_end, place, points_per_hour,
        category_bonus, rating_bonus, points_cap, redeemable, qr_token_hash, created_by, at,
    )
    return task_id


@dataclass(frozen=True, slots=True)
class TaskRow:
    """A task: what the API shows of it, and what only the server reads (how its service earns
    points, whether those are redeemable, the hash of its check-in token)."""

    view: TaskView
    points: PointsRule
    redeemable: bool
    qr_token_hash: str


async def select_task(conn: Conn, *, task_id: int) -> TaskRow | None:
    row = await conn.fetchrow(
        """
        SELECT t.id, t.need_id, t.community_id, t.grid_id, t.title, t.category, t.mode, t.headcount,
               t.required_skills, t.window_start, t.window_end, t.place, t.status,
               t.escalation_level, t.level_deadline_at, t.parked_reason, t.workflow_id,
               (SELECT count(*) FROM assignment a WHERE a.task_id = t.id
                  AND a.status IN ('accepted', 'checked_in', 'checked_out'))::int AS filled,
               t.points_per_hour::float AS points_per_hour, t.category_bonus::float AS category_bonus,
               t.rating_bonus::float AS rating_bonus,
               t.points_cap::float AS cap, t.redeemable, t.qr_token_hash, t.understaffed_shortfall
        FROM task t WHERE t.id = $1
        """,
        task_id,
    )
    if row is None:
        return None
    return TaskRow(view=TaskView.model_validate(dict(row)), points=PointsRule.model_validate(dict(row)),
                   redeemable=row["redeemable"], qr_token_hash=row["qr_token_hash"])


async def select_task_id_of_need(conn: Conn, *, need_id: int) -> int | None:
    """The task a need was converted into, if any."""
    task_id: int | None = await conn.fetchval("SELECT id FROM task WHERE need_id = $1 ORDER BY id LIMIT 1", need_id)
    return task_id


async def update_qr_token_hash(conn: Conn, *, task_id: int, qr_token_hash: str, at: datetime) -> None:
    """A new check-in code 签到码 for the task; the previous one stops working."""
    await conn.execute("UPDATE task SET qr_token_hash = $2, updated_at = $3 WHERE id = $1", task_id, qr_token_hash, at)


async def lock_task(conn: Conn, *, task_id: int) -> int | None:
    """Lock the task row for this transaction; its headcount, or None when there is no such task."""
    headcount: int | None = await conn.fetchval(
        "SELECT headcount FROM task WHERE id = $1 FOR UPDATE", task_id
    )
    return headcount


async def update_task_status(
    conn: Conn,
    *,
    task_id: int,
    status: str,
    level: str | None,
    level_deadline_at: datetime | None,
    parked_reason: str | None,
    actor: str,
    at: datetime,
) -> bool:
    """Move the task (and its level); True when anything changed. History only on a real change."""
    changed: bool = await conn.fetchval(
        """
        WITH before AS (
            -- No FOR UPDATE here: locking a row this same statement updates would skip it.
            SELECT status, escalation_level FROM task WHERE id = $1
        ), upd AS (
            UPDATE task SET status = $2,
                            escalation_level = coalesce($3, escalation_level),
                            level_deadline_at = coalesce($4, level_deadline_at),
                            parked_reason = CASE WHEN $2 = 'parked' THEN $5 ELSE NULL END,
                            closed_at = CASE WHEN $2 = 'closed' THEN $7 ELSE closed_at END,
                            updated_at = $7
            WHERE id = $1 AND (status <> $2 OR escalation_level <> coalesce($3, escalation_level))
            RETURNING id
        ), ev AS (
            INSERT INTO task_event (task_id, kind, from_status, to_status, actor, detail, at)
            SELECT $1, CASE WHEN before.escalation_level <> coalesce($3, before.escalation_level)
                            THEN 'escalated' ELSE 'status' END,
                   before.status, $2, $6,
                   jsonb_build_object('level', coalesce($3, before.escalation_level), 'reason', $5::text),
                   $7
            FROM before, upd
        )
        SELECT EXISTS (SELECT 1 FROM upd)
        """,
        task_id, status, level, level_deadline_at, parked_reason, actor, at,
    )
    return changed


async def insert_task_event(
    conn: Conn, *, task_id: int, kind: str, member_id: int | None, actor: str,
    detail: dict[str, Any], at: datetime,
) -> None:
    await conn.execute(
        """
        INSERT INTO task_event (task_id, kind, member_id, actor, detail, at)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        task_id, kind, member_id, actor, detail, at,
    )


async def insert_task_event_once(
    conn: Conn, *, task_id: int, kind: str, dedupe: str, member_id: int | None, actor: str,
    detail: dict[str, Any], at: datetime,
) -> bool:
    """Insert the event unless one of this kind with this `dedupe` key exists (a retried
    activity); True when inserted now. The key is kept in the detail as `dedupe`."""
    inserted: bool = await conn.fetchval(
        """
        WITH ins AS (
            INSERT INTO task_event (task_id, kind, member_id, actor, detail, at)
            SELECT $1, $2, $3, $4, $5::jsonb || jsonb_build_object('dedupe', $7::text), $6
            WHERE NOT EXISTS (SELECT 1 FROM task_event WHERE task_id = $1 AND kind = $2
                                AND detail->>'dedupe' = $7)
            RETURNING 1
        )
        SELECT EXISTS (SELECT 1 FROM ins)
        """,
        task_id, kind, member_id, actor, detail, at, dedupe,
    )
    return inserted


async def update_understaffed(conn: Conn, *, task_id: int, shortfall: int, at: datetime) -> bool:
    """Set how many people the task still lacks (0: none); True when the value changed."""
    changed: bool = await conn.fetchval(
        """
        WITH upd AS (
            UPDATE task SET understaffed_shortfall = $2, updated_at = $3
            WHERE id = $1 AND understaffed_shortfall <> $2 RETURNING 1
        )
        SELECT EXISTS (SELECT 1 FROM upd)
        """,
        task_id, shortfall, at,
    )
    return changed


async def select_task_events(conn: Conn, *, task_id: int) -> list[TaskEventView]:
    rows = await conn.fetch(
        """
        SELECT kind, from_status, to_status, member_id, actor, detail, at FROM task_event
        WHERE task_id = $1 ORDER BY id
        """,
        task_id,
    )
    return [TaskEventView(**r) for r in rows]


@dataclass(frozen=True, slots=True)
class TaskPlaceRow(GridPlaceRow):
    """Where a task sits (its grid's place), with its title for the messages about it."""

    id: int
    title: str


async def select_task_place(conn: Conn, *, task_id: int) -> TaskPlaceRow | None:
    """Where the task sits in the hierarchy (scope checks and whom to notify)."""
    row = await conn.fetchrow(
        """
        SELECT t.id, t.title, t.community_id, t.grid_id, c.subdistrict_id, s.district_id
        FROM task t JOIN community c ON c.id = t.community_id
        JOIN subdistrict s ON s.id = c.subdistrict_id
        WHERE t.id = $1
        """,
        task_id,
    )
    return None if row is None else TaskPlaceRow(**row)


async def member_sees_task(conn: Conn, *, task_id: int, member_id: int) -> bool:
    """True when the task concerns the member: offered to them, theirs (an assignment in any state),
    or an open claim/post task of a community they are actively registered with."""
    seen: bool = await conn.fetchval(
        """
        SELECT EXISTS (SELECT 1 FROM offer o WHERE o.task_id = $1 AND o.member_id = $2)
            OR EXISTS (SELECT 1 FROM assignment a WHERE a.task_id = $1 AND a.member_id = $2)
            OR EXISTS (
                SELECT 1 FROM task t JOIN member_registration r ON r.community_id = t.community_id
                WHERE t.id = $1 AND t.status = 'open' AND t.mode IN ('claim', 'post')
                  AND r.member_id = $2 AND r.status = 'active')
        """,
        task_id, member_id,
    )
    return seen


async def select_matching_task(
    conn: Conn, *, task: TaskView, level: EscalationLevel
) -> tuple[TaskSpec, CityMap]:
    """The task as the matcher sees it, with the map around it: the task's neighbour grids with
    their communities, and the community→subdistrict→district chain of every community in the
    task's district (what matching needs up to the top level)."""
    neighbours = await conn.fetch(
        """
        SELECT ga.neighbour_id, g.community_id FROM task t
        JOIN grid_adjacency ga ON ga.grid_id = t.grid_id
        JOIN grid g ON g.id = ga.neighbour_id
        WHERE t.id = $1
        """,
        task.id,
    )
    chain = await conn.fetch(
        """
        SELECT c.id AS community_id, c.subdistrict_id, s.district_id
        FROM task t JOIN community tc ON tc.id = t.community_id
        JOIN subdistrict ts ON ts.id = tc.subdistrict_id
        JOIN subdistrict s ON s.district_id = ts.district_id
        JOIN community c ON c.subdistrict_id = s.id
        WHERE t.id = $1
        """,
        task.id,
    )
    city = CityMap(
        neighbours={task.grid_id: frozenset(int(r["neighbour_id"]) for r in neighbours)},
        grid_community={int(r["neighbour_id"]): int(r["community_id"]) for r in neighbours}
        | {task.grid_id: task.community_id},
        community_subdistrict={int(r["community_id"]): int(r["subdistrict_id"]) for r in chain},
        subdistrict_district={int(r["subdistrict_id"]): int(r["district_id"]) for r in chain},
    )
    spec = TaskSpec(
        task_id=task.id,
        community_id=task.community_id,
        grid_id=task.grid_id,
        headcount=task.headcount,
        required_skills=frozenset(task.required_skills),
        window_slots=window_slots(task.window_start, task.window_end),
        level=level,
    )
    return spec, city


def _candidate(row: Any, *, task_id: int) -> MemberCandidate:
    declined = bool(row["declined_before"]) if "declined_before" in row else False
    return MemberCandidate(
        member_id=row["member_id"],
        unit_id=row["unit_id"],
        home_grid_id=row["home_grid_id"],
        community_id=row["community_id"],
        subdistrict_id=row["subdistrict_id"],
        district_id=row["district_id"],
        skills=frozenset(row["skills"] or ()),
        free_slots=frozenset(row["free_slots"] or ()),
        paused=bool(row["paused"]),
        active_registration_community_id=row["registration_community_id"],
        current_load=row["current_load"],
        max_concurrent_tasks=row["max_concurrent_tasks"],
        recent_load=float(row["recent_load"]),
        avg_rating=row["avg_rating"],
        rating_count=row["rating_count"] if row["avg_rating"] is not None else 0,
        declined_or_no_show_task_ids=frozenset({task_id}) if declined else frozenset(),
    )


# A candidate's load, recent load and ratings, the score's inputs (`m` the member, $3 the start of
# the recent-load window): one list for the ladder's candidates and for a single claimant.
_CANDIDATE_LOAD = """
               (SELECT count(*) FROM assignment a WHERE a.member_id = m.id
                  AND a.status IN ('accepted', 'checked_in'))::int AS current_load,
               (SELECT count(*) FROM assignment a WHERE a.member_id = m.id
                  AND a.status = 'checked_out' AND a.checked_out_at >= $3)::int AS recent_load,
               (SELECT avg(rr.score)::float FROM assignment a JOIN resident_rating rr ON rr.task_id = a.task_id
                  WHERE a.member_id = m.id AND a.status = 'checked_out') AS avg_rating,
               (SELECT count(*) FROM assignment a JOIN resident_rating rr ON rr.task_id = a.task_id
                  WHERE a.member_id = m.id AND a.status = 'checked_out')::int AS rating_count
"""


async def select_task_candidates(
    conn: Conn, *, task_id: int, level: str, recent_since: datetime
) -> list[MemberCandidate]:
    """Members registered within reach of the task at `level`, never offered this task before.

    The exact eligibility rules are domain.matching's; this narrows by registration community
    (the same community, its neighbours' communities, the subdistrict or the district) and
    brings the load, rating and history the score needs.
    """
    rows = await conn.fetch(
        """
        WITH t AS (
            SELECT t.id, t.grid_id, t.community_id, c.subdistrict_id, s.district_id
            FROM task t JOIN community c ON c.id = t.community_id
            JOIN subdistrict s ON s.id = c.subdistrict_id WHERE t.id = $1
        ), reach AS (
            SELECT c.id FROM community c JOIN subdistrict s ON s.id = c.subdistrict_id, t
            WHERE c.id = t.community_id
               OR ($2 = 'adjacent' AND c.id IN (
                      SELECT g.community_id FROM grid_adjacency ga JOIN grid g ON g.id = ga.neighbour_id
                      WHERE ga.grid_id = t.grid_id))
               OR ($2 = 'subdistrict' AND c.subdistrict_id = t.subdistrict_id)
               OR ($2 = 'district' AND s.district_id = t.district_id)
        )
        SELECT m.id AS member_id, m.unit_id,
               coalesce(r.grid_id, m.home_grid_id) AS home_grid_id,
               coalesce(m.home_community_id, r.community_id) AS community_id,
               hc.subdistrict_id, hs.district_id,
               m.skills, m.free_slots, m.max_concurrent_tasks,
               r.status = 'paused' AS paused, r.community_id AS registration_community_id,
        """ + _CANDIDATE_LOAD + """
        FROM member_registration r
        JOIN member m ON m.id = r.member_id
        LEFT JOIN community hc ON hc.id = coalesce(m.home_community_id, r.community_id)
        LEFT JOIN subdistrict hs ON hs.id = hc.subdistrict_id
        WHERE r.status IN ('active', 'paused')
          AND r.community_id IN (SELECT id FROM reach)
          AND NOT EXISTS (SELECT 1 FROM offer o WHERE o.task_id = $1 AND o.member_id = m.id)
          AND NOT EXISTS (SELECT 1 FROM assignment a WHERE a.task_id = $1 AND a.member_id = m.id)
        """,  # noqa: S608 - a constant column list
        task_id, level, recent_since,
    )
    return [_candidate(r, task_id=task_id) for r in rows]


async def select_member_candidate(
    conn: Conn, *, task_id: int, member_id: int, recent_since: datetime
) -> MemberCandidate | None:
    """One member in the candidate shape, for checking a claim against the same rules."""
    row = await conn.fetchrow(
        """
        SELECT m.id AS member_id, m.unit_id,
               coalesce(r.grid_id, m.home_grid_id) AS home_grid_id,
               coalesce(m.home_community_id, r.community_id) AS community_id,
               hc.subdistrict_id, hs.district_id,
               m.skills, m.free_slots, m.max_concurrent_tasks,
               coalesce(r.status = 'paused', false) AS paused,
               r.community_id AS registration_community_id,
        """ + _CANDIDATE_LOAD + """,
               EXISTS (SELECT 1 FROM offer o WHERE o.task_id = $1 AND o.member_id = m.id
                         AND o.status IN ('declined', 'no_show'))
               OR EXISTS (SELECT 1 FROM assignment a WHERE a.task_id = $1 AND a.member_id = m.id
                         AND a.status = 'no_show') AS declined_before
        FROM member m
        LEFT JOIN member_registration r ON r.member_id = m.id AND r.status IN ('active', 'paused')
        LEFT JOIN community hc ON hc.id = coalesce(m.home_community_id, r.community_id)
        LEFT JOIN subdistrict hs ON hs.id = hc.subdistrict_id
        WHERE m.id = $2
        """,  # noqa: S608 - a constant column list
        task_id, member_id, recent_since,
    )
    return None if row is None else _candidate(row, task_id=task_id)


async def select_ledger(
    conn: Conn,
    *,
    as_of: datetime,
    community_ids: list[int] | None,
    subdistrict_id: int | None,
    district_id: int | None,
    member_id: int | None,
    grid_id: int | None,
    community_id: int | None,
    status: str | None,
    overdue: bool | None,
    parked: bool | None,
    limit: int,
    understaffed: bool | None = None,
) -> list[LedgerRow]:
    """The ledger 挂账销号: tasks with state, holders and deadlines, filtered and scoped.

    Overdue = not yet done past the window's end, or a need's tier deadline passed unstaffed.
    A subdistrict's or district's scope is read as its communities' ids, so the plan (made for
    each call's values) sees how many tasks they hold: a few communities' tasks through their
    index, a district's newest first along the task ids.
    """
    if community_ids is None and (subdistrict_id is not None or district_id is not None):
        community_ids = [int(r["id"]) for r in await conn.fetch(
            """SELECT c.id FROM community c JOIN subdistrict s ON s.id = c.subdistrict_id
               WHERE ($1::bigint IS NULL OR c.subdistrict_id = $1) AND ($2::bigint IS NULL OR s.district_id = $2)""",
            subdistrict_id, district_id)]
    async with custom_plans(conn):
        rows = await conn.fetch(
            """
            SELECT * FROM (
                SELECT t.id AS task_id, t.need_id, t.community_id, t.grid_id, t.title, t.category,
                       t.status, t.escalation_level, t.level_deadline_at, n.deadline_at AS need_deadline_at,
                       t.window_end, t.parked_reason, t.understaffed_shortfall,
                       coalesce((SELECT array_agg(a.member_id ORDER BY a.member_id) FROM assignment a
                                 WHERE a.task_id = t.id AND a.status IN ('accepted', 'checked_in', 'checked_out')),
                                '{}') AS holders,
                       (t.status IN ('open', 'offering', 'staffed', 'in_progress', 'parked')
                        AND (t.window_end < $1 OR (n.deadline_at IS NOT NULL AND n.deadline_at < $1
                                                   AND t.status IN ('open', 'offering', 'parked'))))
                           AS overdue,
                       c.subdistrict_id, s.district_id
                FROM task t
                JOIN community c ON c.id = t.community_id
                JOIN subdistrict s ON s.id = c.subdistrict_id
                LEFT JOIN need n ON n.id = t.need_id
            ) x
            WHERE ($2::bigint[] IS NULL OR x.community_id = ANY($2))
              AND ($3::bigint IS NULL OR x.subdistrict_id = $3)
              AND ($4::bigint IS NULL OR x.district_id = $4)
              AND ($5::bigint IS NULL OR $5 = ANY(x.holders))
              AND ($6::bigint IS NULL OR x.grid_id = $6)
              AND ($7::bigint IS NULL OR x.community_id = $7)
              AND ($8::text IS NULL OR x.status = $8)
              AND ($9::boolean IS NULL OR x.overdue = $9)
              AND ($10::boolean IS NULL OR (x.status = 'parked') = $10)
              AND ($12::boolean IS NULL OR (x.understaffed_shortfall > 0) = $12)
            ORDER BY x.task_id DESC
            LIMIT $11
            """,
            as_of, community_ids, subdistrict_id, district_id, member_id, grid_id, community_id,
            status, overdue, parked, limit, understaffed,
        )
    return [LedgerRow.model_validate(dict(r)) for r in rows]



async def select_claimable(
    conn: Conn, *, member_id: int | None, community_id: int | None, subdistrict_id: int | None,
    district_id: int | None, limit: int,
) -> list[TaskView]:
    """Open claim/post tasks with a free slot: for a member, in the community they are registered
    with (active), those in their home grid first, then its neighbours'; otherwise within the given
    scope (all None: the city). Then soonest first."""
    rows = await conn.fetch(
        """
        SELECT * FROM (
            SELECT t.id, t.need_id, t.community_id, t.grid_id, t.title, t.category, t.mode, t.headcount,
                   t.required_skills, t.window_start, t.window_end, t.place, t.status,
                   t.escalation_level, t.level_deadline_at, t.parked_reason, t.workflow_id,
                   (SELECT count(*) FROM assignment a WHERE a.task_id = t.id
                      AND a.status IN ('accepted', 'checked_in', 'checked_out'))::int AS filled
            FROM task t JOIN community c ON c.id = t.community_id JOIN subdistrict s ON s.id = c.subdistrict_id
            WHERE t.status = 'open' AND t.mode IN ('claim', 'post')
              AND ($1::bigint IS NULL OR t.community_id IN (
                      SELECT r.community_id FROM member_registration r
                      WHERE r.member_id = $1 AND r.status = 'active'))
              AND ($2::bigint IS NULL OR t.community_id = $2)
              AND ($3::bigint IS NULL OR c.subdistrict_id = $3)
              AND ($4::bigint IS NULL OR s.district_id = $4)
        ) x
        WHERE x.filled < x.headcount
        -- A member's nearest first: their home grid, its neighbours, then the rest of the community.
        ORDER BY CASE WHEN $1::bigint IS NULL THEN 0
                      WHEN x.grid_id = (SELECT m.home_grid_id FROM member m WHERE m.id = $1) THEN 0
                      WHEN x.grid_id IN (SELECT ga.neighbour_id FROM grid_adjacency ga JOIN member m
                                         ON m.home_grid_id = ga.grid_id WHERE m.id = $1) THEN 1
                      ELSE 2 END,
                 x.window_start, x.id
        LIMIT $5
        """,
        member_id, community_id, subdistrict_id, district_id, limit,
    )
    return [TaskView.model_validate(dict(r)) for r in rows]


def _my_task(row: Any) -> MyTask:
    """A row of select_member_tasks: the task, its o_* (offer) and a_* (assignment) columns."""
    def part(prefix: str) -> dict[str, Any]:
        return {k[len(prefix):]: v for k, v in row.items() if k.startswith(prefix)}

    offer, assignment = part("o_"), part("a_")
    return MyTask(task=TaskView.model_validate(dict(row)),
                  offer=MyOffer.model_validate(offer) if offer["id"] is not None else None,
                  assignment=MyAssignment.model_validate(assignment) if assignment["status"] is not None else None,
                  points=row["points"])


async def select_member_tasks(conn: Conn, *, member_id: int, task_id: int | None, limit: int) -> list[MyTask]:
    """The tasks that concern a member (offered to them or theirs), with their latest offer,
    their assignment and the evaluation points credited to them for each (`points`, None until
    verified). Open offers first, soonest to expire; then tasks under way, soonest first; then the
    rest, newest first. `task_id` narrows to one task."""
    rows = await conn.fetch(
        """
        SELECT t.id, t.need_id, t.community_id, t.grid_id, t.title, t.category, t.mode, t.headcount,
               t.required_skills, t.window_start, t.window_end, t.place, t.status,
               t.escalation_level, t.level_deadline_at, t.parked_reason, t.workflow_id, t.understaffed_shortfall,
               (SELECT count(*) FROM assignment f WHERE f.task_id = t.id
                  AND f.status IN ('accepted', 'checked_in', 'checked_out'))::int AS filled,
               o.id AS o_id, o.status AS o_status, o.offered_at AS o_offered_at, o.expires_at AS o_expires_at,
               o.answered_at AS o_answered_at,
               a.source AS a_source, a.status AS a_status, a.accepted_at AS a_accepted_at,
               a.checked_in_at AS a_checked_in_at, a.checked_out_at AS a_checked_out_at,
               a.hours::float AS a_hours, a.report AS a_report,
               (SELECT sum(p.points)::float FROM evaluation_points p
                 WHERE p.task_id = t.id AND p.member_id = $1) AS points
        FROM task t
        LEFT JOIN LATERAL (SELECT * FROM offer WHERE offer.task_id = t.id AND offer.member_id = $1
                           ORDER BY offer.wave DESC, offer.id DESC LIMIT 1) o ON true
        LEFT JOIN assignment a ON a.task_id = t.id AND a.member_id = $1
        WHERE t.id IN (SELECT task_id FROM offer WHERE member_id = $1
                       UNION SELECT task_id FROM assignment WHERE member_id = $1)
          AND ($2::bigint IS NULL OR t.id = $2)
        ORDER BY CASE WHEN o.status = 'offered' THEN 0
                      WHEN a.status IN ('accepted', 'checked_in') THEN 1 ELSE 2 END,
                 CASE WHEN o.status = 'offered' THEN o.expires_at END,
                 CASE WHEN a.status IN ('accepted', 'checked_in') THEN t.window_start END,
                 t.id DESC
        LIMIT $3
        """,
        member_id, task_id, limit,
    )
    return [_my_task(r) for r in rows]


async def count_overdue(conn: Conn, *, scope: ScopeFilter, as_of: datetime) -> int:
    """Tasks with communities in `scope` overdue as the ledger says: not yet done past the
    window's end, or a need's tier deadline passed unstaffed (read over the live tasks' index; a
    need is looked up only for a task whose window has not ended: a scalar lookup inside CASE,
    which the planner cannot turn into a hash of every need whose deadline passed, 250,000 at
    1,000,000 members, 0.49 s)."""
    count: int = await conn.fetchval(
        """
        SELECT count(*)
        FROM task t
        WHERE t.status IN ('open', 'offering', 'staffed', 'in_progress', 'parked')
          AND CASE WHEN t.window_end < $4 THEN true
                   WHEN t.status IN ('open', 'offering', 'parked') AND t.need_id IS NOT NULL
                       THEN coalesce((SELECT n.deadline_at < $4 FROM need n WHERE n.id = t.need_id), false)
                   ELSE false END
          AND (($1::bigint IS NULL AND $2::bigint IS NULL AND $3::bigint IS NULL) OR t.community_id IN (
                   SELECT c.id FROM community c JOIN subdistrict s ON s.id = c.subdistrict_id
                   WHERE ($1::bigint IS NULL OR s.district_id = $1) AND ($2::bigint IS NULL OR c.subdistrict_id = $2)
                     AND ($3::bigint IS NULL OR c.id = $3)))
        """,
        scope.district_id, scope.subdistrict_id, scope.community_id, as_of,
    )
    return count


async def insert_closed_tasks(
    conn: Conn,
    *,
    need_ids: list[int | None],
    community_ids: list[int],
    grid_ids: list[int],
    titles: list[str],
    categories: list[str],
    headcounts: list[int],
    window_starts: list[datetime],
    window_ends: list[datetime],
    places: list[str],
    category_bonuses: list[float],
    qr_token_hashes: list[str],
    created_by: list[str],
    created_ats: list[datetime],
    level_deadline_ats: list[datetime],
    closed_ats: list[datetime],
    points_per_hour: float,
    rating_bonus: float,
    points_cap: float,
) -> list[int]:
    """Dispatched tasks after their whole life (staffed at the grid level, served, verified and
    closed), set-based, for history written after the fact; their ids in the order given. Each
    gets the workflow id its TaskWorkflow had (`task-{id}`); the caller writes the history."""
    rows = await conn.fetch(
        """
        INSERT INTO task (need_id, community_id, grid_id, title, category, mode, headcount,
                          window_start, window_end, place, points_per_hour, category_bonus,
                          rating_bonus, points_cap, redeemable, status, escalation_level,
                          level_deadline_at, qr_token_hash, created_by, created_at, updated_at,
                          closed_at)
        SELECT need_id, community_id, grid_id, title, category, 'dispatch', headcount, window_start,
               window_end, place, $16, category_bonus, $17, $18, false, 'closed', 'grid',
               level_deadline_at, qr_token_hash, created_by, created_at, closed_at, closed_at
        FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::int[],
                    $7::timestamptz[], $8::timestamptz[], $9::text[], $10::numeric[], $11::text[],
                    $12::text[], $13::timestamptz[], $14::timestamptz[], $15::timestamptz[])
             WITH ORDINALITY AS s(need_id, community_id, grid_id, title, category, headcount,
                                  window_start, window_end, place, category_bonus, qr_token_hash,
                                  created_by, created_at, level_deadline_at, closed_at, ord)
        ORDER BY ord
        RETURNING id
        """,
        need_ids, community_ids, grid_ids, titles, categories, headcounts, window_starts, window_ends,
        places, category_bonuses, qr_token_hashes, created_by, created_ats, level_deadline_ats,
        closed_ats, points_per_hour, rating_bonus, points_cap,
    )
    ids = sorted(int(r["id"]) for r in rows)
    await conn.execute("UPDATE task SET workflow_id = 'task-' || id WHERE id = ANY($1::bigint[])", ids)
    return ids


async def insert_task_events(
    conn: Conn,
    *,
    task_ids: list[int],
    kinds: list[str],
    from_statuses: list[str | None],
    to_statuses: list[str | None],
    member_ids: list[int | None],
    actors: list[str],
    details: list[dict[str, Any]],
    ats: list[datetime],
) -> None:
    """Many history lines at once, in the order given (history written after the fact)."""
    # The details go as one JSON array: one encoder call for all of them, not one per line.
    await conn.execute(
        """
        INSERT INTO task_event (task_id, kind, from_status, to_status, member_id, actor, detail, at)
        SELECT s.task_id, s.kind, s.from_status, s.to_status, s.member_id, s.actor, d.detail, s.at
        FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[],
                    $8::timestamptz[])
             WITH ORDINALITY AS s(task_id, kind, from_status, to_status, member_id, actor, at, ord)
        JOIN jsonb_array_elements($7::text::jsonb) WITH ORDINALITY AS d(detail, ord) ON d.ord = s.ord
        ORDER BY s.ord
        """,
        task_ids, kinds, from_statuses, to_statuses, member_ids, actors,
        json.dumps(details, ensure_ascii=False), ats,
    )


async def exists_task_created_before(conn: Conn, *, at: datetime) -> bool:
    """Whether any task was created before `at` (the demo's past is written once)."""
    found: bool = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM task WHERE created_at < $1)", at)
    return found


# ---------------------------------------------------------------- the public board 晒单


async def select_board(conn: Conn, *, community_id: int, limit: int, offset: int) -> tuple[int, list[BoardItem]]:
    """The community's closed tasks newest first (one page), and how many there are in all: no
    title, names or phones, only counts."""
    total: int = await conn.fetchval(
        "SELECT count(*) FROM task WHERE community_id = $1 AND status = 'closed'", community_id
    )
    rows = await conn.fetch(
        """
        SELECT t.id AS task_id, t.category, g.name AS grid_name,
               coalesce(a.last_out, t.window_start) AS served_at, t.closed_at,
               coalesce(a.members, 0)::int AS members, coalesce(a.hours, 0)::float AS hours,
               r.score::int AS rating, coalesce(r.defaulted, false) AS rating_defaulted
        FROM task t
        JOIN grid g ON g.id = t.grid_id
        LEFT JOIN LATERAL (
            SELECT count(*) AS members, sum(hours) AS hours, max(checked_out_at) AS last_out
            FROM assignment WHERE task_id = t.id AND status = 'checked_out'
        ) a ON true
        LEFT JOIN resident_rating r ON r.task_id = t.id
        WHERE t.community_id = $1 AND t.status = 'closed'
        ORDER BY t.closed_at DESC, t.id DESC
        LIMIT $2 OFFSET $3
        """,
        community_id, limit, offset,
    )
    return total, [BoardItem(**r) for r in rows]
