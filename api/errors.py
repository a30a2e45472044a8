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
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import DomainError, TooManyRequests

log = structlog.get_logger(__name__)


class FieldError(BaseModel):
    """One reason a request was refused as invalid: where, which rule, what it says."""

    loc: list[str | int]
    type: str | None = None
    msg: str | None = None


class ErrorBody(BaseModel):
    """The body of every error answer (4xx and 5xx)."""

    code: str = Field(description="稳定的机器可读错误码, 如 not_found、forbidden、invalid_input")
    message: str = Field(description="给人看的中文说明")
    errors: list[FieldError] | None = Field(default=None, description="输入无效时, 每一处错误")


# Which statuses an operation can answer with, documented once for every route (see
# `document_error_responses`); a route may declare more of its own (e.g. the import's 422 report).
_ERROR_DESCRIPTIONS = {
    "401": "缺少或无效的访问令牌",
    "403": "当前角色无权进行此操作",
    "404": "对象不存在, 或不在您的管辖范围内 (两者的回答相同)",
    "409": "与当前状态冲突 (如已确认、已结束), message 说明原因",
    "422": "输入无效, message 与 errors 指出字段",
    "429": "请求过于频繁, 请稍后再试 (Retry-After 给出秒数)",
}
_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}


def document_error_responses(schema: dict[str, Any], *, rate_limited: set[tuple[str, str]]) -> dict[str, Any]:
    """The generated OpenAPI document with the error answers every operation can really give.

    401/403 on operations that need a token (they carry a `security` requirement), 404 on those
    naming an object (path parameters or a body), 409 on every state-changing POST and on every
    operation naming an object, 422 on any
    with input, 429 on the rate-limited public routes; all with the `ErrorBody` shape, replacing
    FastAPI's own 422 model, which this API never sends.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["ErrorBody"] = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = components["ErrorBody"].pop("$defs", {})
    components.update(defs)
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for path, operations in schema.get("paths", {}).items():
        for method, op in operations.items():
            codes: list[str] = []
            if op.get("security"):
                codes += ["401", "403"]
            has_input = bool(op.get("parameters")) or "requestBody" in op
            if "{" in path or "requestBody" in op:
                codes.append("404")
            if method == "post" or "{" in path:   # a write, or an object whose state may refuse (a
                codes.append("409")                # certificate of an ended registration, a preview)
            if has_input:
                codes.append("422")
            if (method.upper(), path) in rate_limited:
                codes.append("429")
            responses = op.setdefault("responses", {})
            for code in codes:
                existing = responses.get(code)
                own = (existing or {}).get("content", {}).get("application/json", {}).get("schema")
                if own is not None and own != {"$ref": "#/components/schemas/HTTPValidationError"}:
                    # the route's own model, plus the generic shape for the framework's refusals
                    existing["content"]["application/json"]["schema"] = {"anyOf": [own, _ERROR_REF]}
                    continue
                responses[code] = {
                    "description": _ERROR_DESCRIPTIONS[code],
                    "content": {"application/json": {"schema": _ERROR_REF}},
                }
    return schema

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
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else None
    return JSONResponse(status_code=exc.status, content={"code": exc.code, "message": exc.message},
                        headers=headers)


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


def not_found_response() -> JSONResponse:
    """The API's JSON 404, for routes that answer "not found" themselves."""
    code, message = _HTTP_MESSAGES[404]
    return JSONResponse(status_code=404, content={"code": code, "message": message})


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
