"""The registration certificate 报到证 over HTTP: print one, print a unit's batch, check a paper.

The check (`GET /certificates/{number}?code=...`) needs no token: a community worker holding a
paper certificate asks whether it is genuine and in force, and learns only that, the community
and a masked name.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from api.deps import ActorDep, IdPath, PoolDep
from api.rate_limits import brake
from schemas.certificate import CertificateCheck
from schemas.text import Text
from services import certificate as certificates

router = APIRouter(tags=["certificates 报到证"])

_HTML: dict[int | str, dict[str, Any]] = {200: {"content": {"text/html": {}}, "description": "可打印的报到证 (A5)"}}


@router.get("/registrations/members/{registration_id}/certificate", response_class=HTMLResponse,
            responses=_HTML, summary="打印报到证 (本人、所在单位、报到社区)")
async def member_certificate(request: Request, pool: PoolDep, actor: ActorDep, registration_id: IdPath) -> HTMLResponse:
    async with pool.acquire() as conn:
        view = await certificates.member_certificate(conn, actor, registration_id)
    return HTMLResponse(certificates.render([view], title=f"报到证 {view.number}", base_url=str(request.base_url)))


@router.get("/units/{unit_id}/certificates", response_class=HTMLResponse, responses=_HTML,
            summary="批量打印本单位党员的报到证")
async def unit_certificates(request: Request, pool: PoolDep, actor: ActorDep, unit_id: IdPath,
                            status: Annotated[Text, Query(max_length=20)] = "active") -> HTMLResponse:
    async with pool.acquire() as conn:
        views = await certificates.unit_certificates(conn, actor, unit_id, status=status)
    return HTMLResponse(certificates.render(views, title=f"报到证 (单位 {unit_id}, {len(views)} 份)",
                                            base_url=str(request.base_url)))


@router.get("/certificates/{number}", response_model=CertificateCheck, summary="核验报到证 (无需令牌)")
async def check_certificate(
    request: Request,
    pool: PoolDep,
    number: Annotated[Text, Path(min_length=1, max_length=40)],
    code: Annotated[Text, Query(min_length=1, max_length=40, description="报到证上的校验码")],
) -> CertificateCheck:
    await brake(request, route="certificate_check", code=f"{number}/{code}")
    async with pool.acquire() as conn:
        return await certificates.check_certificate(conn, number, code)
