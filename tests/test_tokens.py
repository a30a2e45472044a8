"""Bearer tokens: stored only as hashes, scoped by role, refused when revoked or missing."""

from __future__ import annotations

import hashlib
import re
import uuid

import httpx
import pytest

from db.pool import Conn
from domain.errors import InvalidInput, NotFound, Unauthenticated
from schemas.auth import Role, ScopeKind
from services.tokens import authenticate, issue_token, list_tokens, revoke_token
from tests.api_fixtures import ApiCity, api_city_fixture, api_http_fixture  # noqa: F401


async def test_only_hash_is_stored(conn: Conn) -> None:
    """The plaintext never appears in api_token; its SHA-256 hex digest does."""
    token_id, token = await issue_token(
        conn, role=Role.org_department, scope_kind=ScopeKind.city, scope_id=None, label="测试"
    )
    assert token.startswith("sbd_") and len(token) > 40
    row = await conn.fetchrow("SELECT * FROM api_token WHERE id = $1", token_id)
    assert row is not None
    assert token not in [str(v) for v in row.values()]
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    actor = await authenticate(conn, token)
    assert actor.role is Role.org_department and actor.token_id == token_id


async def test_revoked_token_no_longer_authenticates(conn: Conn) -> None:
    """After revoke, authenticate raises Unauthenticated with a Chinese message."""
    token_id, token = await issue_token(
        conn, role=Role.org_department, scope_kind=ScopeKind.city, scope_id=None, label="测试"
    )
    await revoke_token(conn, token_id=token_id)
    with pytest.raises(Unauthenticated, match="吊销"):
        await authenticate(conn, token)
    assert token_id not in {t.id for t in await list_tokens(conn)}
    with pytest.raises(NotFound):
        await revoke_token(conn, token_id=10**15)


@pytest.mark.parametrize(
    ("role", "kind", "scope_id"),
    [
        (Role.community_staff, ScopeKind.district, 1),
        (Role.member, ScopeKind.community, 1),
        (Role.org_department, ScopeKind.subdistrict, 1),
        (Role.org_department, ScopeKind.city, 5),
        (Role.unit_admin, ScopeKind.unit, None),
    ],
)
async def test_role_scope_mismatch_refused(
    conn: Conn, role: Role, kind: ScopeKind, scope_id: int | None
) -> None:
    """A role can only hold the scopes it works in (e.g. community staff → a community)."""
    with pytest.raises(InvalidInput):
        await issue_token(conn, role=role, scope_kind=kind, scope_id=scope_id, label="x")


async def test_scope_must_exist(conn: Conn) -> None:
    """A token for a community that does not exist is refused."""
    with pytest.raises(NotFound, match="社区"):
        await issue_token(
            conn, role=Role.community_staff, scope_kind=ScopeKind.community, scope_id=10**15, label="x"
        )


async def test_revoked_token_is_401_json(api_http: httpx.AsyncClient, api_city: ApiCity) -> None:
    """A revoked token gets 401 {code: unauthenticated} with a Chinese message."""
    resp = await api_http.get("/members", headers={"Authorization": f"Bearer {api_city.revoked_token}"})
    assert resp.status_code == 401
    assert resp.json() == {"code": "unauthenticated", "message": "访问令牌已被吊销: 请联系管理员重新签发"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer sbd_nope"}])
async def test_missing_or_unknown_token_is_401(
    api_http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    """No header, another scheme or an unknown token all answer 401 JSON."""
    resp = await api_http.get("/members", headers=headers)
    assert resp.status_code == 401
    assert resp.json()["code"] == "unauthenticated"
    assert "令牌" in resp.json()["message"]


async def test_api_token_admin_is_city_org_only(api_http: httpx.AsyncClient, api_city: ApiCity) -> None:
    """Only the city organization department issues tokens over the API; the new token works."""
    body = {"role": "community_staff", "scope_kind": "community",
            "scope_id": api_city.community["A"], "label": "API签发"}
    denied = await api_http.post("/tokens", json=body, headers=api_city.auth("org_d1"))
    assert denied.status_code == 403
    issued = await api_http.post("/tokens", json=body, headers=api_city.auth("org_city"))
    assert issued.status_code == 201
    token = issued.json()["token"]
    resp = await api_http.get("/communities", headers={"Authorization": f"Bearer {token}"})
    assert [c["id"] for c in resp.json()["items"]] == [api_city.community["A"]]
    revoked = await api_http.post(f"/tokens/{issued.json()['id']}/revoke", headers=api_city.auth("org_city"))
    assert revoked.status_code == 204
    resp = await api_http.get("/communities", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401


def test_cli_issue_list_revoke(pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`token issue` prints the plaintext once; `token list` never shows it; `token revoke` works."""
    from typer.testing import CliRunner

    from cli.main import app

    monkeypatch.setenv("DATABASE_URL", pg_dsn)
    runner = CliRunner()
    label = f"命令行{uuid.uuid4().hex[:6]}"
    issued = runner.invoke(app, ["token", "issue", "--role", "org_department", "--label", label])
    assert issued.exit_code == 0, issued.output
    token = issued.output.strip().splitlines()[-1]
    assert token.startswith("sbd_")
    match = re.search(r"令牌 (\d+) 已签发", issued.output)
    assert match is not None, issued.output
    token_id = int(match.group(1))
    listed = runner.invoke(app, ["token", "list"])
    assert listed.exit_code == 0 and label in listed.output and token not in listed.output
    assert hashlib.sha256(token.encode()).hexdigest() not in listed.output
    wrong = runner.invoke(app, ["token", "issue", "--role", "member", "--community", "1", "--label", "x"])
    assert wrong.exit_code == 1 and "角色" in wrong.output
    assert runner.invoke(app, ["token", "revoke", str(token_id)]).exit_code == 0
    assert label not in runner.invoke(app, ["token", "list"]).output
