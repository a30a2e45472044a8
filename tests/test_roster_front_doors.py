"""The roster import's front doors: `POST /imports` (scope, 422 error list, workflow start) and the CLI."""

from __future__ import annotations

from pathlib import Path

import httpx
from temporalio.client import Client, WorkflowExecutionStatus

from api.app import create_app
from bench.import_roster import hierarchy_csv, synthetic_city
from db.pool import Pool
from schemas.auth import SYSTEM_ACTOR, Role, ScopeKind
from services.roster_import import import_roster
from tests.api_fixtures import bearer
from tests.cli_runner import run_cli
from tests.conftest import unique
from tests.test_roster_import import _city, _csv, _rows
from workflows.member_registration import cohort_workflow_id


async def _token(pool: Pool, role: Role, kind: ScopeKind, scope_id: int | None) -> dict[str, str]:
    return await bearer(pool, role, kind, scope_id, label=unique("导入"))


async def test_upload_in_scope_imports_and_starts_the_cohort(pool: Pool, client: Client) -> None:
    """A community-scoped upload of another community's rows is a 422 listing each row; its own rows import and start the cohort workflow."""
    city = await _city(pool, districts=1, subdistricts=1, communities=2, grids=1, units=1)
    rows = _rows(city, 4)   # rows alternate between the two communities
    own = await pool.fetchval("SELECT id FROM community WHERE name = $1", city.communities[0][2])
    headers = await _token(pool, Role.community_staff, ScopeKind.community, own)
    app = create_app(pool=pool, temporal_client=client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        response = await http.post(
            "/imports", headers=headers, files={"file": ("党员.csv", _csv(rows), "text/csv")}
        )
        assert response.status_code == 422
        body = response.json()
        assert body["code"] == "roster_invalid" and "未导入" in body["message"]
        assert [(e["row"], e["column"]) for e in body["errors"]] == [(3, "居住社区"), (5, "居住社区")]

        response = await http.post(
            "/imports", headers=headers, files={"file": ("党员.csv", _csv(rows[::2]), "text/csv")}
        )
        assert response.status_code == 200, response.text
        result = response.json()
        assert (result["inserted"], result["registrations"], result["workflow_started"]) == (2, 2, True)
    handle = client.get_workflow_handle(cohort_workflow_id(result["cohort_id"]))
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.RUNNING
    recorded = await pool.fetchval("SELECT workflow_id FROM registration_cohort WHERE id = $1", result["cohort_id"])
    assert recorded == handle.id
    await handle.terminate(reason="test over")


async def test_member_and_unit_tokens_are_limited(pool: Pool, client: Client) -> None:
    """A member token may not upload (403); a unit admin may not upload a hierarchy (403)."""
    city = synthetic_city(unique("门"), districts=1, subdistricts=1, communities=1, grids=1, units=1)
    app = create_app(pool=pool, temporal_client=client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        await import_roster(pool, hierarchy_csv(city), actor=SYSTEM_ACTOR, file_name="h.csv")
        unit_id = await pool.fetchval(
            "INSERT INTO reporting_unit (name, unit_party_org) VALUES ($1, $2) RETURNING id", unique("单位"), "党委"
        )
        unit_headers = await _token(pool, Role.unit_admin, ScopeKind.unit, unit_id)
        response = await http.post(
            "/imports", headers=unit_headers, files={"file": ("h.csv", hierarchy_csv(city), "text/csv")}
        )
        assert response.status_code == 403 and response.json()["code"] == "forbidden"
        member_id = await pool.fetchval(
            "INSERT INTO member (name) VALUES ('某党员') RETURNING id"
        )
        member_headers = await _token(pool, Role.member, ScopeKind.member, member_id)
        response = await http.post(
            "/imports", headers=member_headers, files={"file": ("h.csv", hierarchy_csv(city), "text/csv")}
        )
        assert response.status_code == 403



async def test_cli_prints_every_error_and_exits_1_then_imports(pool: Pool, _migrated: str, tmp_path: Path) -> None:
    """`shuangbaodao import` prints the error table and exits 1 on a bad file; a good file imports, twice is a no-op."""
    city = await _city(pool, districts=1, subdistricts=1, communities=1, grids=1, units=1)
    rows = _rows(city, 3)
    bad = [list(r) for r in rows]
    bad[0][3] = "12345"
    bad[2][10] = "有空就来"
    path = tmp_path / "党员.csv"
    path.write_bytes(_csv(bad))
    code, out, err = await run_cli(["import", str(path), "--no-start-workflow"], dsn=_migrated)
    assert code == 1
    assert "手机号码" in err and "可服务时间" in err and "有空就来" in err
    path.write_bytes(_csv(rows))
    code, out, err = await run_cli(["import", str(path), "--kind", "members", "--no-start-workflow"], dsn=_migrated)
    assert code == 0, err
    assert "新增3" in out
    code, out, err = await run_cli(["import", str(path), "--no-start-workflow"], dsn=_migrated)
    assert code == 0 and "新增0" in out and "此前已导入" in out
