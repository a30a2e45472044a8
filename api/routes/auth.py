"""Sign-in for people: password or SMS code, server-side sessions in an HttpOnly cookie, sign-out.

Cookies: `sbd_session` (HttpOnly, SameSite=Lax) carries the session token; `sbd_csrf` (readable
by the page, SameSite=Strict) carries the CSRF token the page echoes in `X-CSRF-Token` on every
state-changing call. Both are Secure when the app is served over https.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response

from api.deps import ActorDep, NowDep, PoolDep, get_pool
from api.errors import ErrorBody
from api.rate_limits import brake
from db.pool import Pool
from domain import sign_in as rules
from domain.errors import Unauthenticated
from schemas.account import CodeLoginRequest, CodeRequest, LoginRequest, Me, PasswordSetupRequest
from services import sign_in

router = APIRouter(prefix="/auth", tags=["auth 登录"])

_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "手机号或密码 (验证码) 错误, 或未登录"},
    423: {"model": ErrorBody, "description": "连续失败 5 次, 账号锁定 15 分钟"},
}


def _set_cookies(request: Request, response: Response, signed: sign_in.SignedIn) -> None:
    secure = request.url.scheme == "https"
    max_age = int(rules.SESSION_ABSOLUTE.total_seconds())
    response.set_cookie(sign_in.SESSION_COOKIE, signed.session_token, max_age=max_age, path="/",
                        httponly=True, samesite="lax", secure=secure)
    response.set_cookie(sign_in.CSRF_COOKIE, signed.csrf_token, max_age=max_age, path="/",
                        httponly=False, samesite="strict", secure=secure)


def _clear_cookies(request: Request, response: Response) -> None:
    secure = request.url.scheme == "https"
    response.delete_cookie(sign_in.SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure)
    response.delete_cookie(sign_in.CSRF_COOKIE, path="/", httponly=False, samesite="strict", secure=secure)


@router.post("/login", response_model=Me, summary="手机号 + 密码登录", responses=_ERRORS)
async def login(request: Request, response: Response, pool: PoolDep, now: NowDep, body: LoginRequest) -> Me:
    await brake(request, route="auth_login", code=body.phone)
    async with pool.acquire() as conn:
        signed = await sign_in.login_with_password(conn, phone=body.phone, password=body.password, now=now)
    _set_cookies(request, response, signed)
    return signed.me


@router.post("/otp/request", status_code=202, summary="获取短信验证码")
async def request_code(request: Request, pool: PoolDep, now: NowDep, body: CodeRequest,
                       background: BackgroundTasks) -> dict[str, str]:
    """Always 202 with the same answer, whether or not the phone has an account (no enumeration).

    The SMS goes out after the answer, so its time does not tell either.
    """
    await brake(request, route="auth_otp_request", code=body.phone)
    async with pool.acquire() as conn:
        code = await sign_in.request_code(conn, phone=body.phone, now=now)
    if code is not None:
        background.add_task(_send_code, pool, body.phone, code)
    return {"message": "如该手机号已开通账号, 验证码已发送, 5 分钟内有效"}


async def _send_code(pool: Pool, phone: str, code: str) -> None:
    async with pool.acquire() as conn:
        await sign_in.send_code_sms(conn, phone=phone, code=code, purpose=rules.CodePurpose.login)


@router.post("/otp/login", response_model=Me, summary="手机号 + 短信验证码登录", responses=_ERRORS)
async def login_with_code(request: Request, response: Response, pool: PoolDep, now: NowDep,
                          body: CodeLoginRequest) -> Me:
    await brake(request, route="auth_otp_login", code=body.phone)
    async with pool.acquire() as conn:
        signed = await sign_in.login_with_code(conn, phone=body.phone, code=body.code, now=now)
    _set_cookies(request, response, signed)
    return signed.me


@router.post("/password/setup", response_model=Me, summary="凭验证码或初始设置码设置密码并登录",
             responses=_ERRORS)
async def setup_password(request: Request, response: Response, pool: PoolDep, now: NowDep,
                         body: PasswordSetupRequest) -> Me:
    """First sign-in (the setup code from account creation) or a reset (an SMS code); other sessions end."""
    await brake(request, route="auth_password_setup", code=body.phone)
    async with pool.acquire() as conn:
        signed = await sign_in.setup_password(conn, phone=body.phone, code=body.code,
                                              new_password=body.new_password, now=now)
    _set_cookies(request, response, signed)
    return signed.me


async def _optional_session(request: Request, pool: Annotated[Pool, Depends(get_pool)],
                            now: NowDep) -> sign_in.SessionActor | None:
    """The caller's live session (CSRF checked: a page elsewhere cannot sign a person out), or None."""
    token = request.cookies.get(sign_in.SESSION_COOKIE)
    if request.headers.get("authorization") is not None or not token:
        return None
    async with pool.acquire() as conn:
        try:
            session = await sign_in.authenticate_session(conn, token, now=now)
        except Unauthenticated:
            return None   # already ended: nothing to revoke, the cookies are cleared all the same
    sign_in.check_csrf(session, cookie=request.cookies.get(sign_in.CSRF_COOKIE),
                       header=request.headers.get(sign_in.CSRF_HEADER))
    return session


@router.post("/logout", status_code=204, summary="退出登录",
             responses={403: {"model": ErrorBody, "description": "缺少或错误的 X-CSRF-Token"}})
async def logout(request: Request, pool: PoolDep, now: NowDep,
                 session: Annotated[sign_in.SessionActor | None, Depends(_optional_session)]) -> Response:
    """Revokes the session and clears both cookies; signing out twice is harmless."""
    if session is not None:
        async with pool.acquire() as conn:
            await sign_in.sign_out(conn, session, now=now)
    response = Response(status_code=204)
    _clear_cookies(request, response)
    return response


@router.get("/me", response_model=Me, summary="当前登录者", responses=_ERRORS)
async def who_am_i(request: Request, pool: PoolDep, actor: ActorDep) -> Me:
    session: sign_in.SessionActor | None = getattr(request.state, "session", None)
    async with pool.acquire() as conn:
        return await sign_in.me(conn, actor, expires_at=None if session is None else session.expires_at)
