"""The registration certificate 报到证: pure rendering, printing by the entitled through the API
and the CLI, the unit's batch print, and the public check of a paper certificate."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from db.pool import Pool
from domain.certificate import code_shaped, mask_name, number_shaped
from reports.certificate import check_path, qr_svg, render_document
from schemas.auth import SYSTEM_ACTOR
from schemas.certificate import CertificateView
from services import registration as member_service
from tests.api_fixtures import api_http_fixture  # noqa: F401
from tests.cli_runner import run_cli
from tests.test_registration_seed import add_member, import_cohort
from tests.test_unit_transfer_api import World, build_world

_CODE = re.compile(r'class="code">([A-Z0-9]+)<')
_NUMBER = re.compile(r"证书编号: (BDZ[0-9A-Z]+)")


def _view(**changes: object) -> CertificateView:
    base = CertificateView(
        registration_id=7, number="BDZ202600000007", code="ABCD2345", member_name="张三丰",
        phone_masked="138****5678", unit_name="市财政局", community_name="和平里社区",
        subdistrict_name="和平里街道", district_name="东城区", grid_name="第一网格", branch_name=None,
        registered_at=datetime(2026, 3, 1, 2, tzinfo=UTC), valid_until=datetime(2026, 9, 1, 2, tzinfo=UTC),
        printed_at=datetime(2026, 3, 2, tzinfo=UTC),
    )
    return base.model_copy(update=changes)


def test_rendered_certificate_is_self_contained_printable_and_escaped() -> None:
    """The page carries every field, A5 page rules and a page break per certificate, escapes
    names and loads nothing from outside."""
    html = render_document([_view(), _view(member_name="<李四>", registration_id=8)])
    for text in ("报到证", "张三丰", "138****5678", "市财政局", "东城区 和平里街道 和平里社区", "第一网格党支部",
                 "2026年03月01日", "2026年09月01日", "BDZ202600000007", "ABCD2345"):
        assert text in html, text
    assert "&lt;李四&gt;" in html and "<李四>" not in html
    assert "size: A5" in html and html.count('<section class="certificate">') == 2
    assert "page-break-after: always" in html
    assert html.count("<svg") == 2 and qr_svg("BDZ202600000007", "ABCD2345") in html
    assert not re.search(r"(src|href)=|@import|url\(|https?://", html)


def test_number_code_and_masked_name_rules() -> None:
    """Numbers are BDZ + 12 characters without look-alikes; codes avoid look-alike characters;
    masked names keep first and last character."""
    assert number_shaped("BDZ23456789ABCD") and not number_shaped("BDZ202600000042")
    assert code_shaped("ABCD2345") and not code_shaped("ABCD0345") and not code_shaped("ABC")
    assert [mask_name(n) for n in ("李", "李四", "张三丰", "欧阳娜娜")] == ["李", "李*", "张*丰", "欧**娜"]


async def _print(http: httpx.AsyncClient, world: World, actor: str) -> httpx.Response:
    return await http.get(f"/registrations/members/{world.registrations['m0']}/certificate",
                          headers=world.auth(actor))


async def test_member_unit_and_community_print_the_same_certificate(api_http: httpx.AsyncClient, pool: Pool) -> None:
    """The member, their unit admin and their community's staff print one certificate with the same
    number and code (masked phone only); other units, communities, members and districts get 404,
    organization departments 403, and an unconfirmed registration 409."""
    world = await build_world(pool)
    pages = {}
    for actor in ("member0", "unit0", "staff0"):
        resp = await _print(api_http, world, actor)
        assert resp.status_code == 200, (actor, resp.text)
        assert resp.headers["content-type"].startswith("text/html")
        pages[actor] = resp.text
    codes = {_CODE.findall(page)[0] for page in pages.values()}
    numbers = {_NUMBER.findall(page)[0] for page in pages.values()}
    assert len(codes) == 1 and len(numbers) == 1
    page = pages["unit0"]
    assert "138****5678" in page and "13812345678" not in page
    assert "张三丰" in page and "第一网格党支部" in page
    for actor in ("unit1", "staff1", "member1"):
        resp = await _print(api_http, world, actor)
        assert resp.status_code == 404 and resp.json()["code"] == "not_found", actor
    for actor in ("org_city", "org_other"):   # refused by role, before any lookup
        resp = await _print(api_http, world, actor)
        assert resp.status_code == 403 and "本人" in resp.json()["message"], actor
    unconfirmed = await api_http.get(f"/registrations/members/{world.registrations['m1']}/certificate",
                                     headers=world.auth("member1"))
    assert unconfirmed.status_code == 409 and "待确认" in unconfirmed.json()["message"]


async def test_unit_batch_print_holds_every_active_member(api_http: httpx.AsyncClient, pool: Pool) -> None:
    """The unit admin prints all its members' active certificates in one page; another unit gets
    404, a community 403, and any status other than active 422."""
    world = await build_world(pool)
    u0 = world.city.units[0]
    async with pool.acquire() as conn:
        extra = await add_member(conn, world.city, community_index=1, unit_index=0)
        _, [reg] = await import_cohort(conn, world.city, [extra], at=datetime.now(UTC))
        await member_service.confirm_registrations(conn, SYSTEM_ACTOR, [reg])
    resp = await api_http.get(f"/units/{u0}/certificates", headers=world.auth("unit0"))
    assert resp.status_code == 200, resp.text
    assert resp.text.count('<section class="certificate">') == 2
    assert (await api_http.get(f"/units/{u0}/certificates", headers=world.auth("unit1"))).status_code == 404
    assert (await api_http.get(f"/units/{u0}/certificates", headers=world.auth("staff0"))).status_code == 403
    bad = await api_http.get(f"/units/{u0}/certificates", headers=world.auth("unit0"), params={"status": "paused"})
    assert bad.status_code == 422 and "active" in bad.json()["message"]


async def test_public_check_says_valid_or_not_and_little_else(api_http: httpx.AsyncClient, pool: Pool) -> None:
    """With the right code the check says valid with the community and a masked name (no token
    needed); a wrong code says invalid and nothing more; after a pause the paper is no longer valid."""
    world = await build_world(pool)
    page = (await _print(api_http, world, "member0")).text
    number, code = _NUMBER.findall(page)[0], _CODE.findall(page)[0]
    ok = await api_http.get(f"/certificates/{number}", params={"code": code.lower()})
    assert ok.status_code == 200, ok.text
    body = ok.json()
    # what the QR code holds: the check under the address the printing user reached the API at
    held = check_path(number, code, str(api_http.base_url))
    assert held == f"http://api/certificates/{number}?code={code}" and qr_svg(number, code, "http://api/") in page
    assert (await api_http.get(held)).json() == body
    assert body["valid"] is True and body["member_name"].startswith("张*") and body["community_name"]
    assert "13812345678" not in ok.text and "138" not in (body["member_name"] or "")
    wrong = (await api_http.get(f"/certificates/{number}", params={"code": "ZZZZZZZZ"})).json()
    assert wrong["valid"] is False and wrong["community_name"] is None and wrong["member_name"] is None
    unknown = (await api_http.get("/certificates/BDZ209900000001", params={"code": code})).json()
    assert unknown == {**wrong, "number": "BDZ209900000001"}
    async with pool.acquire() as conn:
        await member_service.pause(conn, SYSTEM_ACTOR, world.registrations["m0"], reason="外派")
    paused = (await api_http.get(f"/certificates/{number}", params={"code": code})).json()
    assert paused["valid"] is False and "暂停" in paused["message"]


async def test_cli_saves_the_certificate_and_refuses_out_of_scope(
    pool: Pool, _migrated: str, temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """`registration certificate ID --out FILE` writes the printable page; another unit's token
    exits 1 with a Chinese message and writes nothing."""
    world = await build_world(pool)
    reg = str(world.registrations["m0"])
    kw = {"dsn": _migrated, "temporal": temporal_env.client.service_client.config.target_host}
    out = tmp_path / "cert.html"
    code, stdout, err = await run_cli(["registration", "certificate", reg, "--out", str(out),
                                       "--token", world.tokens["unit0"]], **kw)
    assert code == 0, err
    assert "已保存" in stdout and "张三丰" in out.read_text("utf-8")
    other = tmp_path / "other.html"
    code, _, err = await run_cli(["registration", "certificate", reg, "--out", str(other),
                                  "--token", world.tokens["unit1"]], **kw)
    assert code == 1 and "不存在" in err and not other.exists()
