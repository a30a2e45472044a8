"""`up --demo --demo-size small` seeds a past: the last quarter's evaluation shows a spread of
grades, the registration trend rises over the months, and every past credit is what the award
activity would have written (domain.points on the task's own rule, one per service_key)."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path

import asyncpg
import httpx

from domain.points import compute_points, service_key
from schemas.dispatch import PointsRule
from tests.test_stack import _demo_output, _free_port, _start, _stop, _tail

DEMO_TIMEOUT = 240.0   # the whole stack plus the small city and its past, on a busy 2-core box


async def _wait_for_report(proc: asyncio.subprocess.Process, log: Path) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEMO_TIMEOUT
    while not (report := _demo_output(log)) or "述职评议考核" not in report:
        assert proc.returncode is None, _tail(log)
        assert loop.time() < deadline, f"demo not done in time: {_tail(log)}"
        await asyncio.sleep(0.5)
    return report


async def _check_ledger(database_url: str) -> None:
    """Each past credit equals compute_points(task rule, the assignment's hours, the task's
    rating) under service_key(task, member); every past task is closed with its need, and its
    history runs created → offering → staffed → in_progress → done → (follow_up) → verified → closed."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            """
            SELECT p.task_id, p.member_id, p.service_key, p.points::float AS points, a.hours::float AS hours,
                   r.score, t.points_per_hour::float AS pph, t.category_bonus::float AS cb,
                   t.rating_bonus::float AS rb, t.points_cap::float AS cap, t.status, n.status AS need_status
            FROM evaluation_points p
            JOIN task t ON t.id = p.task_id
            JOIN assignment a ON a.task_id = p.task_id AND a.member_id = p.member_id
            LEFT JOIN resident_rating r ON r.task_id = p.task_id
            LEFT JOIN need n ON n.id = t.need_id
            WHERE t.created_at < now() - interval '1 day'
            """)
        assert len(rows) > 100, len(rows)
        for r in rows:
            rule = PointsRule(points_per_hour=r["pph"], category_bonus=r["cb"], rating_bonus=r["rb"], cap=r["cap"])
            assert r["points"] == compute_points(rule, hours=r["hours"], rating=r["score"]).total, dict(r)
            assert r["service_key"] == service_key(r["task_id"], r["member_id"])
            assert r["status"] == "closed" and r["need_status"] in (None, "closed"), dict(r)
        histories = await conn.fetch(
            """
            SELECT t.id, array_agg(e.to_status ORDER BY e.id) FILTER (WHERE e.to_status IS NOT NULL) AS path,
                   count(*) FILTER (WHERE e.kind = 'checked_out') AS outs, t.headcount
            FROM task t JOIN task_event e ON e.task_id = t.id
            WHERE t.created_at < now() - interval '1 day' GROUP BY t.id
            """)
        plain = ["open", "offering", "staffed", "in_progress", "done", "verified", "closed"]
        followed = ["open", "offering", "staffed", "in_progress", "done", "follow_up", "verified", "closed"]
        paths = Counter(tuple(h["path"]) for h in histories)
        assert set(paths) <= {tuple(plain), tuple(followed)}, paths
        assert paths[tuple(plain)] > paths[tuple(followed)] > 0, paths
        assert all(h["outs"] == h["headcount"] for h in histories)
    finally:
        await conn.close()


async def test_small_demo_has_a_past_with_a_spread(tmp_path: Path) -> None:
    """Units: at least one 优秀, a majority 合格, at least one 不合格 (members likewise have all
    three); the city's registration trend rises over several months and members served in each
    of the last quarter's months; the past credits follow the points rule."""
    data_dir = tmp_path / "state"
    ports = {"api": _free_port(), "temporal": _free_port(), "ui": _free_port()}
    log = tmp_path / "up.log"
    proc, endpoints = await _start(data_dir, ports, log, "--demo", "--demo-size", "small")
    try:
        report = await _wait_for_report(proc, log)
        token = next(line.split()[-1] for line in report.splitlines()
                     if line.startswith("  org_department") and line.split()[-1].startswith("sbd_"))
        match = re.search(r"evaluation run (\d+)", report)
        assert match, report
        run_id = int(match.group(1))
        auth = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=endpoints["api_url"], timeout=30) as http:
            answer = await http.get(f"/evaluations/{run_id}", headers=auth)
            assert answer.status_code == 200, answer.text
            run = answer.json()
            assert run["period_kind"] == "quarter" and run["status"] == "done", run
            units = (await http.get(f"/evaluations/{run_id}/results", params={"level": "unit", "limit": 500},
                                    headers=auth)).json()["items"]
            grades = Counter(u["grade"] for u in units)
            assert grades["优秀"] >= 1 and grades["不合格"] >= 1, grades
            assert grades["合格"] > len(units) / 2, grades
            members = (await http.get(f"/evaluations/{run_id}/results", params={"level": "member", "limit": 500},
                                      headers=auth)).json()["items"]
            member_grades = Counter(m["grade"] for m in members)
            assert member_grades["合格"] > member_grades["优秀"] >= 1 and member_grades["不合格"] >= 1, member_grades
            trend = await http.get("/statistics/registration/trend", params={"level": "city", "months": 9},
                                   headers=auth)
            assert trend.status_code == 200, trend.text
            months = trend.json()["months"]
            registered = [m["registered"] for m in months]
            assert registered == sorted(registered) and registered[-1] > 0, months
            assert sum(1 for m in months if m["newly_registered"]) >= 2, months
            year, q = run["period_label"].split("-Q")
            labels = [f"{year}-{3 * int(q) - 2 + i:02d}" for i in range(3)]
            quarter = [m for m in months if m["month"] in labels]
            assert len(quarter) == 3 and all(m["served"] > 0 and m["met_standard"] > 0 for m in quarter), months
        await _check_ledger(endpoints["database_url"])
    finally:
        code = await _stop(proc)
    assert code == 0, _tail(log)
