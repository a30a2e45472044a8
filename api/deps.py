"""FastAPI dependencies every route uses: the pool, the Temporal client, the calling actor.

The app factory (`api.app.create_app`) puts the pool and client on `app.state`; the actor comes
from the bearer token (see services/tokens.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
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


async def current_actor(request: Request, pool: Annotated[Pool, Depends(get_pool)]) -> Actor:
    """The actor behind the `Authorization: Bearer <token>` header, or 401."""
    from services.tokens import authenticate  # the token service owns hashing and lookup

    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("缺少访问令牌: 请在请求头中提供 Authorization: Bearer <令牌>")
    async with pool.acquire() as conn:
        return await authenticate(conn, token.strip())


PoolDep = Annotated[Pool, Depends(get_pool)]
ClientDep = Annotated[Client, Depends(get_client)]
ActorDep = Annotated[Actor, Depends(current_actor)]
