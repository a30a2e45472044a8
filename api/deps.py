"""FastAPI dependencies every route uses: the pool, the Temporal client, the calling actor.

The app factory (`api.app.create_app`) puts the pool and client on `app.state`; the actor comes
from the bearer token (see services/tokens.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from temporalio.client import Client

from db.pool import Pool
from domain.errors import Unauthenticated
from schemas.api import MAX_PAGE_SIZE
from schemas.auth import Actor
from schemas.settings import DEFAULT_TASK_QUEUE


def get_pool(request: Request) -> Pool:
    pool: Pool = request.app.state.pool
    return pool


def get_client(request: Request) -> Client:
    client: Client = request.app.state.temporal_client
    return client


# Declared as the OpenAPI security scheme of every route that needs a token (so the document says
# which routes answer 401); the refusal itself is ours, in the API's error shape.
_bearer = HTTPBearer(auto_error=False, description="访问令牌: Authorization: Bearer <令牌>")


async def current_actor(
    pool: Annotated[Pool, Depends(get_pool)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The actor behind the `Authorization: Bearer <token>` header, or 401."""
    from services.tokens import authenticate  # the token service owns hashing and lookup

    token = credentials.credentials.strip() if credentials is not None else ""
    if not token:
        raise Unauthenticated("缺少访问令牌: 请在请求头中提供 Authorization: Bearer <令牌>")
    async with pool.acquire() as conn:
        return await authenticate(conn, token)


PoolDep = Annotated[Pool, Depends(get_pool)]
ClientDep = Annotated[Client, Depends(get_client)]
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
IdPath = Annotated[int, Path(ge=1, le=BIGINT_MAX)]
IdQuery = Annotated[int | None, Query(ge=1, le=BIGINT_MAX)]
Text = Annotated[str | None, Query(min_length=1, max_length=100)]
