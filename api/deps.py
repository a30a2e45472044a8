"""FastAPI dependencies every route uses: the pool, the Temporal client, the clock, the calling actor.

The app factory (`api.app.create_app`) puts the pool, client and clock on `app.state`. The actor
comes from the bearer token when an `Authorization` header is present (machine clients, see
services/tokens.py), else from the `sbd_session` cookie of a person who signed in
(services/sign_in.py). A cookie-authenticated state-changing request must also carry the CSRF
double-submit header; checking it here covers every route that takes `ActorDep`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field
from temporalio.client import Client

from db.pool import Pool
from domain.errors import Forbidden, Unauthenticated
from domain.scope import PROVIDER_CONFINED
from domain.sign_in import NOT_SIGNED_IN
from schemas.api import MAX_PAGE_SIZE, GroupPageParams
from schemas.auth import Actor, Role
from schemas.settings import DEFAULT_TASK_QUEUE
from schemas.text import Text
from services import sign_in


def get_pool(request: Request) -> Pool:
    pool: Pool = request.app.state.pool
    return pool


def get_client(request: Request) -> Client:
    client: Client = request.app.state.temporal_client
    return client


def system_clock() -> datetime:
    return datetime.now(UTC)


def get_now(request: Request) -> datetime:
    """The current time from the app's clock (tests inject one to move time without sleeping)."""
    clock: Callable[[], datetime] = getattr(request.app.state, "clock", system_clock)
    return clock()


# Declared as the OpenAPI security schemes of every route that needs a caller (so the document
# says which routes answer 401); the refusal itself is ours, in the API's error shape.
_bearer = HTTPBearer(auto_error=False, description="访问令牌: Authorization: Bearer <令牌>")
_session_cookie = APIKeyCookie(name=sign_in.SESSION_COOKIE, auto_error=False,
                               description="登录会话 (POST /auth/login 设置); 修改数据时须带 X-CSRF-Token")


async def any_actor(
    request: Request,
    pool: Annotated[Pool, Depends(get_pool)],
    now: Annotated[datetime, Depends(get_now)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session_token: Annotated[str | None, Depends(_session_cookie)],
) -> Actor:
    """The actor behind `Authorization: Bearer <token>`, or behind the session cookie; else 401.

    A bearer header, when present, decides alone. For a session, POST/PUT/PATCH/DELETE also need
    `X-CSRF-Token` equal to the `sbd_csrf` cookie (403 `csrf` otherwise). The session is kept on
    `request.state.session` for the /auth routes.
    """
    from services.tokens import authenticate  # the token service owns hashing and lookup

    if request.headers.get("authorization") is not None:
        token = credentials.credentials.strip() if credentials is not None else ""
        if not token:
            raise Unauthenticated("缺少访问令牌: 请在请求头中提供 Authorization: Bearer <令牌>")
        async with pool.acquire() as conn:
            return await authenticate(conn, token)
    if not session_token:
        raise Unauthenticated(NOT_SIGNED_IN)
    async with pool.acquire() as conn:
        session = await sign_in.authenticate_session(conn, session_token, now=now)
    if request.method not in sign_in.SAFE_METHODS:
        sign_in.check_csrf(session, cookie=request.cookies.get(sign_in.CSRF_COOKIE),
                           header=request.headers.get(sign_in.CSRF_HEADER))
    request.state.session = session
    return session.actor


# Paths a merchant's account (role provider) may call: the points exchange and its own sign-in.
PROVIDER_PATHS = ("/exchange/", "/auth/")


async def current_actor(request: Request, actor: Annotated[Actor, Depends(any_actor)]) -> Actor:
    """`any_actor`, confined: a merchant's account (role provider) is refused everywhere but
    the points exchange and sign-in, before any lookup, so no other route needs to know the role."""
    if actor.role is Role.provider and not request.url.path.startswith(PROVIDER_PATHS):
        raise Forbidden(PROVIDER_CONFINED)
    return actor


PoolDep = Annotated[Pool, Depends(get_pool)]
ClientDep = Annotated[Client, Depends(get_client)]
NowDep = Annotated[datetime, Depends(get_now)]
ActorDep = Annotated[Actor, Depends(current_actor)]


def get_task_queue(request: Request) -> str:
    """The workers' task queue; the app factory may set it on app.state, else the default."""
    task_queue: str = getattr(request.app.state, "task_queue", DEFAULT_TASK_QUEUE)
    return task_queue


TaskQueueDep = Annotated[str, Depends(get_task_queue)]

BIGINT_MAX = 2**63 - 1

# Shared parameter types: ids are positive bigints, so anything else is a 422 before any query.
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="每页条数 (1-500)")]
Offset = Annotated[int, Query(ge=0, le=BIGINT_MAX, description="跳过的条数")]
# A list of groups with a rate: order, and limit (none: every group) and offset.
GroupPageQuery = Annotated[GroupPageParams, Query()]
IdPath = Annotated[int, Path(ge=1, le=BIGINT_MAX)]
IdQuery = Annotated[int | None, Query(ge=1, le=BIGINT_MAX)]
IdField = Annotated[int | None, Field(ge=1, le=BIGINT_MAX)]   # the same, in a query-parameter model
TextQuery = Annotated[Text | None, Query(min_length=1, max_length=100)]
