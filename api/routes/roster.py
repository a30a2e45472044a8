"""Roster upload (花名册导入): `POST /imports` with a .xlsx or .csv file, all or nothing.

Organization departments, subdistricts and community staff import within their scope (a row
outside it is an error of that row); unit admins import their own unit's members.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse

from api.deps import ActorDep, ClientDep, PoolDep, TaskQueueDep
from domain.errors import InvalidInput
from schemas.roster import ImportErrorReport, ImportResult, RosterKind
from services.roster_import import RosterInvalid, check_may_import, import_roster

router = APIRouter(tags=["roster 花名册导入"])

MAX_UPLOAD_BYTES = 512 * 1024 * 1024


@router.post(
    "/imports",
    response_model=ImportResult,
    summary="导入花名册 (区划 / 单位 / 党员)",
    responses={422: {"model": ImportErrorReport, "description": "文件有误, 未导入任何数据; errors 列出每一处"}},
)
async def upload_roster(
    pool: PoolDep,
    client: ClientDep,
    actor: ActorDep,
    task_queue: TaskQueueDep,
    file: Annotated[UploadFile, File(description=".xlsx 或 .csv (UTF-8 或 GBK)")],
    kind: Annotated[RosterKind | None, Form(description="名册类型; 不填则按表头判断")] = None,
    dry_run: Annotated[bool, Form(description="只检查, 不写入")] = False,
) -> ImportResult | JSONResponse:
    check_may_import(actor)
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInput("文件过大 (超过512MB): 请按区或街道拆分后分别导入")
    if not data:
        raise InvalidInput("上传的文件是空的: 请选择填写好的花名册")
    try:
        return await import_roster(
            pool, data, kind=kind, actor=actor, client=client, file_name=file.filename or "upload",
            dry_run=dry_run, task_queue=task_queue,
        )
    except RosterInvalid as exc:
        report = ImportErrorReport(code=exc.code, message=exc.message, errors=exc.errors)
        return JSONResponse(status_code=422, content=report.model_dump())
