"""FastAPI dependencies every route uses: the pool, the Temporal client, the calling actor.

The app factory (`api.app.create_app`) puts the pool and client on `app.state`; the actor comes
from the bearer token (see services/tokens.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from temporalio.client import Client

from db.pool import Pool
from domain.errors import Unauthenticated
from schemas.auth import Actor


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
