"""Every failure as JSON `{code, message}` with a Chinese message and a fitting status.

Bad input never yields a 500: validation errors name the fields, and values Postgres refuses
(an integer out of range, a malformed value) are the caller's input errors, 422.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import asyncpg.exceptions._base as asyncpg_client_errors
import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import DomainError

log = structlog.get_logger(__name__)

_LOCATIONS = {"query": "查询参数", "path": "路径参数", "body": "请求体", "header": "请求头"}

_HTTP_MESSAGES = {
    404: ("not_found", "请求的地址不存在"),
    405: ("method_not_allowed", "该地址不支持此请求方法"),
}


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    where = _LOCATIONS.get(parts[0], parts[0]) if parts else ""
    field = ".".join(parts[1:]) if len(parts) > 1 else ""
    return f"{where} {field}".strip()


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return JSONResponse(status_code=exc.status, content={"code": exc.code, "message": exc.message})


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    fields = sorted({_field_name(e.get("loc", ())) for e in errors})
    message = "输入无效, 请检查: " + "、".join(fields) if fields else "输入无效"
    # The raw `input` may echo personal data or huge bodies back; keep location, type and reason.
    detail = [{"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")} for e in errors]
    return JSONResponse(
        status_code=422,
        content={"code": "invalid_input", "message": message, "errors": jsonable_encoder(detail)},
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, message = _HTTP_MESSAGES.get(exc.status_code, ("http_error", str(exc.detail)))
    return JSONResponse(
        status_code=exc.status_code, content={"code": code, "message": message},
        headers=getattr(exc, "headers", None),
    )


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    # Two kinds: asyncpg's client-side DataError when a value cannot be encoded for its parameter
    # (an id beyond bigint), and the server's class 22 errors (bad number or date text). Both are
    # the caller's input, not a server fault.
    log.info("request_data_error", path=request.url.path, error_type=type(exc).__name__)
    return JSONResponse(
        status_code=422,
        content={"code": "invalid_input", "message": "输入无效: 数值超出范围或包含不允许的字符"},
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # A bug, not the caller's fault: logged with its traceback (the log processor masks personal
    # data), answered in the same JSON shape as every other error.
    log.error("request_failed", path=request.url.path, method=request.method, exc_info=exc)
    return JSONResponse(
        status_code=500, content={"code": "internal_error", "message": "服务器内部错误, 请稍后重试或联系管理员"}
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(asyncpg.DataError, _data_error)
    app.add_exception_handler(asyncpg_client_errors.DataError, _data_error)
    app.add_exception_handler(Exception, _unexpected_error)
