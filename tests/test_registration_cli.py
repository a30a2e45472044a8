"""The registration CLI drives the same use cases as the API, as the system actor or a token."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.testing import WorkflowEnvironment

from db.pool import Pool
from schemas.auth import Role, ScopeKind
from services.tokens import issue_token
from tests.cli_runner import run_cli
from tests.test_registration_seed import add_member, import_cohort, seed_city


async def test_cli_confirms_in_bulk_and_refuses_with_chinese_messages(
    pool: Pool, _migrated: str, temporal_env: WorkflowEnvironment
) -> None:
    """`registration confirm` activates a batch; a blank reject reason and another community's
    token are refused with exit 1 and a Chinese message."""
    async with pool.acquire() as conn:
        city = await seed_city(conn, communities=2)
        members = [await add_member(conn, city) for _ in range(3)]
        _, ids = await import_cohort(conn, city, members, at=datetime.now(UTC))
        _, other_token = await issue_token(conn, role=Role.community_staff, scope_kind=ScopeKind.community,
                                           scope_id=city.communities[1], label="别的社区")
    kw = {"dsn": _migrated, "temporal": temporal_env.client.service_client.config.target_host}
    code, out, err = await run_cli(["registration", "confirm", str(ids[0]), str(ids[1])], **kw)
    assert code == 0, err
    assert out.count("状态 active") == 2
    code, out, _ = await run_cli(["registration", "reject", str(ids[2]), "--reason", " "], **kw)
    assert code == 1 and "原因" in out
    code, out, _ = await run_cli(["registration", "withdraw", str(ids[2]), "--token", other_token], **kw)
    assert code == 1 and "不存在" in out   # another community's registration is answered as missing
    code, out, err = await run_cli(["registration", "withdraw", str(ids[2]), "--reason", "本人申请"], **kw)
    assert code == 0 and "withdrawn" in out, err
