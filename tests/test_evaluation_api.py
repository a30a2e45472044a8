"""Evaluation API: results, explanations, exports and unit workbooks, each limited to the reader's
scope (community A never sees B; a unit admin gets only its unit)."""

from __future__ import annotations

import io

import httpx
import pytest
from openpyxl import load_workbook
from temporalio.testing import ActivityEnvironment

from activities.evaluation import EvaluationActivities
from db.pool import Pool
from schemas.evaluation import EvaluationScope
from schemas.evaluation_contract import RunStepInput
from services import evaluation
from tests.api_fixtures import ApiCity, api_city_fixture, api_http_fixture  # noqa: F401
from tests.test_evaluation_figures import PERIOD


@pytest.fixture(name="run_id", scope="module")
async def run_fixture(pool: Pool, api_city: ApiCity, tmp_path_factory: pytest.TempPathFactory) -> int:
    """A finished run over the API city (both districts), with unit workbooks."""
    async with pool.acquire() as conn:
        run_id = await evaluation.create_run(
            conn, period=PERIOD,
            scope=EvaluationScope(district_ids=[api_city.district["A"], api_city.district["B"]]))
    await evaluation.compute_run(pool, run_id=run_id, partition_size=500)
    await ActivityEnvironment().run(
        EvaluationActivities(pool, reports_dir=tmp_path_factory.mktemp("reports")).evaluation_unit_reports, RunStepInput(run_id=run_id))
    return run_id


def _sheet_rows(body: bytes) -> list[tuple[object, ...]]:
    sheet = load_workbook(io.BytesIO(body), read_only=True).active
    assert sheet is not None
    return list(sheet.iter_rows(values_only=True))


async def test_community_staff_see_only_their_community(
    api_http: httpx.AsyncClient, api_city: ApiCity, run_id: int
) -> None:
    """Community A's staff get A's community and member rows only, and cannot explain B's member."""
    r = await api_http.get(f"/evaluations/{run_id}/results", params={"level": "community"},
                           headers=api_city.auth("staff_a"))
    assert r.status_code == 200
    assert [i["community_id"] for i in r.json()["items"]] == [api_city.community["A"]]
    r = await api_http.get(f"/evaluations/{run_id}/results", params={"level": "member"},
                           headers=api_city.auth("staff_a"))
    assert {i["member_id"] for i in r.json()["items"]} == api_city.side_members("A")
    assert all("****" in i["phone"] for i in r.json()["items"])
    b1 = api_city.members["b1"].id
    r = await api_http.get(f"/evaluations/{run_id}/members/{b1}/explain", headers=api_city.auth("staff_a"))
    assert r.status_code == 404   # outside the scope reads as absent
    r = await api_http.get(f"/evaluations/{run_id}/results", params={"level": "community"},
                           headers=api_city.auth("org_city"))
    assert {i["community_id"] for i in r.json()["items"]} == set(api_city.community.values())


async def test_explain_gives_the_line_by_line_basis(
    api_http: httpx.AsyncClient, api_city: ApiCity, run_id: int
) -> None:
    """A member's explanation lists the period, registration and each threshold, ending in the grade;
    a member with no open registration is 不合格 with the reason stated."""
    a3 = api_city.members["a3"].id   # never registered
    r = await api_http.get(f"/evaluations/{run_id}/members/{a3}/explain", headers=api_city.auth("staff_a"))
    assert r.status_code == 200
    body = r.json()
    assert body["grade"] == "不合格"
    kinds = [line["kind"] for line in body["lines"]]
    assert kinds[0] == "period" and kinds[-1] == "grade" and "registration" in kinds
    registration = next(line for line in body["lines"] if line["kind"] == "registration")
    assert registration["passed"] is False and "不能评为合格" in registration["value"]


async def test_unit_admin_export_and_workbook_are_limited_to_the_unit(
    api_http: httpx.AsyncClient, api_city: ApiCity, run_id: int
) -> None:
    """A unit admin's member export holds only its unit's members (Chinese headers, masked phones),
    it may download its own feedback workbook but not another unit's, nor community results."""
    r = await api_http.get(f"/evaluations/{run_id}/export.xlsx", params={"level": "member"},
                           headers=api_city.auth("unit_a"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = _sheet_rows(r.content)
    assert rows[1][:3] == ("党员编号", "姓名", "单位编号")
    unit_a_members = {m.id for m in api_city.members.values() if m.unit_id == api_city.unit["A"]}
    assert {row[0] for row in rows[2:]} == unit_a_members
    phones = [row[rows[1].index("手机号码")] for row in rows[2:]]
    assert all(isinstance(p, str) and "****" in p for p in phones)

    own = await api_http.get(f"/evaluations/{run_id}/units/{api_city.unit['A']}/report.xlsx",
                             headers=api_city.auth("unit_a"))
    assert own.status_code == 200
    assert _sheet_rows(own.content)[1][0] == "姓名"
    other = await api_http.get(f"/evaluations/{run_id}/units/{api_city.unit['B']}/report.xlsx",
                               headers=api_city.auth("unit_a"))
    assert other.status_code == 404
    community = await api_http.get(f"/evaluations/{run_id}/results", params={"level": "community"},
                                   headers=api_city.auth("unit_a"))
    assert community.status_code == 403


async def test_exports_per_level_have_chinese_headers(
    api_http: httpx.AsyncClient, api_city: ApiCity, run_id: int
) -> None:
    """Unit, community and district exports open with openpyxl and carry Chinese headers; a
    district reader's community export holds only its district's community."""
    expected = {"unit": "单位名称", "community": "社区", "district": "区域"}
    for level, header in expected.items():
        r = await api_http.get(f"/evaluations/{run_id}/export.xlsx", params={"level": level},
                               headers=api_city.auth("org_d1"))
        assert r.status_code == 200, r.text
        rows = _sheet_rows(r.content)
        assert header in rows[1]
        assert "述职评议考核" in str(rows[0][0])
        if level == "community":
            assert len(rows) == 3   # caption, header, community A only


async def test_only_an_organization_department_starts_a_run(
    api_http: httpx.AsyncClient, api_city: ApiCity
) -> None:
    """Community staff may not start an evaluation; a malformed period is refused with a message."""
    r = await api_http.post("/evaluations", json={"period": "2026-Q4"}, headers=api_city.auth("staff_a"))
    assert r.status_code == 403
    r = await api_http.post("/evaluations", json={"period": "2026-Q9"}, headers=api_city.auth("org_city"))
    assert r.status_code in (400, 422) and "考核期间" in r.text


async def test_member_results_narrow_to_one_unit(
    api_http: httpx.AsyncClient, api_city: ApiCity, run_id: int
) -> None:
    """The drill-down from a unit's figure: member rows of that unit only, the total counting them;
    unit_id with any other level is refused with a message naming the parameter."""
    unit_a = api_city.unit["A"]
    r = await api_http.get(f"/evaluations/{run_id}/results", params={"level": "member", "unit_id": unit_a},
                           headers=api_city.auth("org_city"))
    assert r.status_code == 200
    expected = {m.id for m in api_city.members.values() if m.unit_id == unit_a}
    assert {i["member_id"] for i in r.json()["items"]} == expected
    assert r.json()["total"] == len(expected)
    r = await api_http.get(f"/evaluations/{run_id}/results", params={"level": "unit", "unit_id": unit_a},
                           headers=api_city.auth("org_city"))
    assert r.status_code == 422 and "unit_id" in r.json()["message"]


async def test_unit_and_community_figures_are_explained_within_scope(
    api_http: httpx.AsyncClient, api_city: ApiCity, run_id: int
) -> None:
    """A unit's explanation restates its counts and rates beside the run's thresholds and ends in the
    grade the results show; a community's states its three rates; another unit or community is 404."""
    unit_a = api_city.unit["A"]
    results = (await api_http.get(f"/evaluations/{run_id}/results", params={"level": "unit"},
                                  headers=api_city.auth("unit_a"))).json()["items"]
    (row,) = [r for r in results if r["unit_id"] == unit_a]
    r = await api_http.get(f"/evaluations/{run_id}/units/{unit_a}/explain", headers=api_city.auth("unit_a"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["grade"] == row["grade"] and body["name"] == row["name"]
    labels = [line["label"] for line in body["lines"]]
    assert labels[0] == "考核期间" and labels[-1] == "等次" and "报到率" in labels and "完成率" in labels
    reg = next(line for line in body["lines"] if line["label"] == "报到率")
    assert f"{row['registered']} / {row['members']}" in reg["value"] and "评优线 95.00%" in reg["value"]
    assert reg["passed"] == (row["registered"] >= 0.95 * row["members"])
    other = await api_http.get(f"/evaluations/{run_id}/units/{api_city.unit['B']}/explain",
                               headers=api_city.auth("unit_a"))
    assert other.status_code == 404   # outside the scope reads as absent

    community_a = api_city.community["A"]
    r = await api_http.get(f"/evaluations/{run_id}/communities/{community_a}/explain",
                           headers=api_city.auth("staff_a"))
    assert r.status_code == 200, r.text
    assert {"响应率", "解决率", "满意率", "综合值", "排名"} <= {line["label"] for line in r.json()["lines"]}
    r = await api_http.get(f"/evaluations/{run_id}/communities/{api_city.community['B']}/explain",
                           headers=api_city.auth("staff_a"))
    assert r.status_code == 404
    r = await api_http.get(f"/evaluations/{run_id}/communities/{community_a}/explain",
                           headers=api_city.auth("unit_a"))
    assert r.status_code == 403


@pytest.mark.parametrize("actor", ["unit_a", "staff_a", "org_d1", "member_a1"])
async def test_member_results_show_each_phone_the_same_in_json_and_workbook(
    api_http: httpx.AsyncClient, api_city: ApiCity, run_id: int, actor: str
) -> None:
    """One masking rule for evaluation results: for every role, a member's phone on the JSON page is
    exactly the one in the .xlsx export, and never the full number."""
    page = await api_http.get(f"/evaluations/{run_id}/results", params={"level": "member", "limit": 500},
                              headers=api_city.auth(actor))
    assert page.status_code == 200, page.text
    shown = {i["member_id"]: i["phone"] for i in page.json()["items"]}
    assert shown, actor
    export = await api_http.get(f"/evaluations/{run_id}/export.xlsx", params={"level": "member"},
                                headers=api_city.auth(actor))
    rows = _sheet_rows(export.content)
    phone_at = rows[1].index("手机号码")
    in_book = {row[0]: row[phone_at] for row in rows[2:]}
    assert in_book == shown
    full = {m.phone for m in api_city.members.values()}
    assert not set(shown.values()) & full
