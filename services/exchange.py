"""The points exchange 积分兑换 (道德银行): providers list items, members redeem them with the
REDEEMABLE ledger and collect with a one-time code; codes not collected in time lapse and the
points come back.

Providers are co-building units (their unit_admin accounts; the unit must hold a co-building
agreement in force, and an item names a line of its resource list 资源清单) and merchants admitted
to 道德联盟 by an organization department or a community's staff (accounts of the role provider).

Exactly once is the database's job (db/migrations/0016_exchange.sql): the balance row with
CHECK (balance >= 0) kept by the ledger's trigger, one debit and one refund line per redemption,
CHECK (stock >= 0) with a conditional take, state moves `WHERE state = 'issued'`, and the member's
request id UNIQUE per member (a retried redeem answers the same redemption). Expiry is a durable
timer: one RedemptionWorkflow per redemption (workflows/exchange.py; its activity,
activities/exchange.py, lapses the redemption and writes the refund line), with a backstop for the
timers that were lost: the Schedule `exchange-redemption-sweep` (`ensure_sweep_schedule`, made
sure of by every worker at start) runs RedemptionSweepWorkflow every 10 minutes over the
redemptions still waiting after their code expired. The evaluation ledger is never read or written
here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg
import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)

from db import co_building_agreement as agreement_db
from db import directory
from db import exchange_item as item_db
from db import exchange_provider as provider_db
from db import exchange_redemption as redemption_db
from db import member as member_db
from db import points as points_db
from db import resource_item as resource_db
from db.pool import Conn, Pool
from domain import exchange as rules
from domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from domain.scope import HierarchyPath, ScopeFilter, allows, scope_filter
from schemas.account import AccountCreate, CodeDelivery
from schemas.api import Page
from schemas.auth import Actor, Role, ScopeKind
from schemas.exchange import (
    CodeReissued,
    ExchangeBalance,
    ItemCreate,
    ItemView,
    ProviderAdmit,
    ProviderAdmitted,
    ProviderView,
    Redeemed,
    RedeemInput,
    RedemptionState,
    RedemptionView,
    ResourceView,
    ValidityUpdate,
)
from schemas.exchange_contract import RedemptionCollected, RedemptionWorkflowInput, SweepInput, SweepResult
from services import accounts
from services.workflow_calls import put_schedule, signal_if_running, start_once
from workflows.exchange import SWEEP_SCHEDULE_ID, RedemptionSweepWorkflow, RedemptionWorkflow

log = structlog.get_logger(__name__)

_CODE_ATTEMPTS = 5
SWEEP_EVERY = timedelta(minutes=10)


def workflow_id(redemption_id: int) -> str:
    return f"exchange-redemption-{redemption_id}"


# ------------------------------------------------------------------ who acts


def _provider_path(row: dict[str, Any]) -> HierarchyPath:
    return HierarchyPath(district_id=row["provider_district_id"], subdistrict_id=row["provider_subdistrict_id"],
                         community_id=row["provider_community_id"])


def _require(actor: Actor, roles: frozenset[Role], message: str) -> None:
    if actor.role not in roles:
        raise Forbidden(message)


async def _own_provider(conn: Conn, actor: Actor) -> int | None:
    """The provider this actor acts for (None: a unit that has listed nothing yet)."""
    if actor.role is Role.provider:
        return actor.scope_id
    if actor.role is Role.unit_admin and actor.scope_id is not None:
        return await provider_db.select_unit_provider_id(conn, unit_id=actor.scope_id)
    return None


def _member_id(actor: Actor) -> int:
    if actor.role is not Role.member or actor.scope_id is None:
        raise Forbidden("只有党员本人可以兑换")
    return actor.scope_id


# ------------------------------------------------------------------ providers


def _provider_view(row: dict[str, Any]) -> ProviderView:
    return ProviderView(id=row["id"], kind=row["kind"], name=row["name"], community_id=row["community_id"],
                        community_name=row["community_name"], unit_id=row["unit_id"], address=row["address"],
                        admitted_at=row["admitted_at"], items=row["items"])


async def admit_merchant(conn: Conn, actor: Actor, data: ProviderAdmit, *, now: datetime) -> ProviderAdmitted:
    """A merchant joins 道德联盟: its provider row and its keeper's account (setup code shown once)."""
    _require(actor, rules.ADMITTING_ROLES, "只有组织部和社区可以吸纳道德联盟商户")
    place = await _community_place(conn, data.community_id)
    if place is None or not allows(actor, place):   # a foreign community reads as a missing one
        raise NotFound(f"社区 {data.community_id} 不存在或不在您的管辖范围 (community_id)")
    async with conn.transaction():
        provider_id = await provider_db.insert_merchant(
            conn, name=data.name, community_id=data.community_id, address=data.address,
            admitted_by=actor.audit_name, at=now)
        created, _ = await accounts.create_account(conn, actor, AccountCreate(
            phone=data.phone, label=data.contact_name, role=Role.provider, scope_kind=ScopeKind.provider,
            scope_id=provider_id, setup_code_delivery=CodeDelivery.show), now=now)
        row = await provider_db.select_provider(conn, provider_id=provider_id)
    assert row is not None
    log.info("exchange_merchant_admitted", provider_id=provider_id, community_id=data.community_id)
    return ProviderAdmitted(provider=_provider_view(row), account_id=created.account.id,
                            setup_code=created.setup_code)


async def _community_place(conn: Conn, community_id: int) -> HierarchyPath | None:
    path = await directory.select_scope_path(conn, scope_kind="community", scope_id=community_id)
    return None if path.community_id is None else path


async def list_providers(conn: Conn, actor: Actor, *, limit: int, offset: int) -> Page[ProviderView]:
    _require(actor, rules.OVERSEEING_ROLES, "只有组织部、街道和社区可以查看兑换商户")
    total, rows = await provider_db.select_providers(conn, scope=scope_filter(actor), limit=limit, offset=offset)
    return Page(items=[_provider_view(r) for r in rows], total=total, limit=limit, offset=offset)


# ------------------------------------------------------------------ items


def _item_view(row: dict[str, Any]) -> ItemView:
    return ItemView(**{k: row[k] for k in ItemView.model_fields})


async def _acting_provider_for_listing(conn: Conn, actor: Actor, data: ItemCreate, *, now: datetime) -> int:
    _require(actor, rules.PROVIDER_ROLES, "只有共建单位和道德联盟商户可以上架兑换物品")
    assert actor.scope_id is not None
    if actor.role is Role.provider:
        if data.resource_item_id is not None:
            raise InvalidInput("商户的物品不对应资源清单, 请不要填写 resource_item_id")
        return actor.scope_id
    community_id = await agreement_db.select_active_community(conn, unit_id=actor.scope_id, now=now)
    if community_id is None:
        raise Forbidden("本单位没有生效的共建协议, 不能上架兑换物品")
    if data.resource_item_id is None or not await resource_db.unit_holds(
            conn, resource_item_id=data.resource_item_id, unit_id=actor.scope_id):
        raise InvalidInput("请选择本单位资源清单中的条目 (resource_item_id)")
    return await provider_db.ensure_unit_provider(conn, unit_id=actor.scope_id, community_id=community_id,
                                                  admitted_by=actor.audit_name, at=now)


async def create_item(conn: Conn, actor: Actor, data: ItemCreate, *, now: datetime) -> ItemView:
    async with conn.transaction():
        provider_id = await _acting_provider_for_listing(conn, actor, data, now=now)
        if data.community_id is not None and await _community_place(conn, data.community_id) is None:
            raise InvalidInput(f"社区 {data.community_id} 不存在 (community_id)")
        if data.district_id is not None and not await directory.scope_subject_exists(
                conn, scope_kind="district", scope_id=data.district_id):
            raise InvalidInput(f"区 {data.district_id} 不存在 (district_id)")
        fields = data.model_dump()
        if data.community_id is None and data.district_id is None:   # the provider's own community
            provider = await provider_db.select_provider(conn, provider_id=provider_id)
            assert provider is not None
            fields["community_id"] = provider["community_id"]
        item_id = await item_db.insert_item(conn, provider_id=provider_id, data=fields,
                                            created_by=actor.audit_name, at=now)
        row = await item_db.select_item(conn, item_id=item_id)
    assert row is not None
    log.info("exchange_item_listed", item_id=item_id, provider_id=provider_id, stock=data.stock)
    return _item_view(row)


async def _member_place(conn: Conn, member_id: int) -> rules.MemberPlace | None:
    place = await member_db.select_home_place(conn, member_id=member_id)
    return None if place is None else rules.MemberPlace(community_id=place[0], district_id=place[1])


async def list_items(conn: Conn, actor: Actor, *, now: datetime, limit: int, offset: int) -> Page[ItemView]:
    """A member: what they may redeem now; a provider: its own; staff: providers inside their scope."""
    if actor.role is Role.member:
        place = await _member_place(conn, _member_id(actor))
        if place is None:
            return Page(items=[], total=0, limit=limit, offset=offset)
        where = item_db.ItemFilter(member_community_id=place.community_id, member_district_id=place.district_id,
                                   redeemable_at=now)
    elif actor.role in rules.PROVIDER_ROLES:
        provider_id = await _own_provider(conn, actor)
        if provider_id is None:
            return Page(items=[], total=0, limit=limit, offset=offset)
        where = item_db.ItemFilter(provider_id=provider_id)
    else:
        where = item_db.ItemFilter(scope=scope_filter(actor))
    total, rows = await item_db.select_items(conn, where=where, limit=limit, offset=offset)
    return Page(items=[_item_view(r) for r in rows], total=total, limit=limit, offset=offset)


async def _visible_item(conn: Conn, actor: Actor, item_id: int, *, now: datetime) -> dict[str, Any]:
    """The item if this actor may see it; else the same NotFound as a missing one."""
    missing = NotFound(f"兑换物品 {item_id} 不存在")
    row = await item_db.select_item(conn, item_id=item_id)
    if row is None:
        raise missing
    if actor.role is Role.member:
        place = await _member_place(conn, _member_id(actor))
        if place is None or not rules.may_redeem(place, community_id=row["community_id"],
                                                 district_id=row["district_id"]):
            raise missing
    elif actor.role in rules.PROVIDER_ROLES:
        if row["provider_id"] != await _own_provider(conn, actor):
            raise missing
    elif not allows(actor, _provider_path(row)):
        raise missing
    return row


async def get_item(conn: Conn, actor: Actor, item_id: int, *, now: datetime) -> ItemView:
    return _item_view(await _visible_item(conn, actor, item_id, now=now))


async def _own_item(conn: Conn, actor: Actor, item_id: int, *, now: datetime) -> dict[str, Any]:
    _require(actor, rules.PROVIDER_ROLES, "只有上架该物品的单位或商户可以修改")
    return await _visible_item(conn, actor, item_id, now=now)


async def set_stock(conn: Conn, actor: Actor, item_id: int, stock: int, *, now: datetime) -> ItemView:
    await _own_item(conn, actor, item_id, now=now)
    await item_db.update_stock(conn, item_id=item_id, stock=stock, now=now)
    row = await item_db.select_item(conn, item_id=item_id)
    assert row is not None
    log.info("exchange_stock_set", item_id=item_id, stock=stock)
    return _item_view(row)


async def set_validity(conn: Conn, actor: Actor, item_id: int, data: ValidityUpdate, *, now: datetime) -> ItemView:
    """The item's redeeming window and collection time limit; codes already issued keep theirs."""
    await _own_item(conn, actor, item_id, now=now)
    await item_db.update_validity(conn, item_id=item_id, valid_from=data.valid_from, valid_until=data.valid_until,
                                  collect_hours=data.collect_hours, now=now)
    row = await item_db.select_item(conn, item_id=item_id)
    assert row is not None
    log.info("exchange_validity_set", item_id=item_id)
    return _item_view(row)


async def list_resources(conn: Conn, actor: Actor, *, limit: int, offset: int) -> Page[ResourceView]:
    """A co-building unit's resource list 资源清单, to pick the line an item comes from."""
    _require(actor, frozenset({Role.unit_admin}), "只有共建单位可以查看本单位资源清单")
    assert actor.scope_id is not None
    total, rows = await resource_db.select_unit_resources(conn, unit_id=actor.scope_id, limit=limit, offset=offset)
    return Page(items=[ResourceView(**r) for r in rows], total=total, limit=limit, offset=offset)


async def withdraw_item(conn: Conn, actor: Actor, item_id: int, *, now: datetime) -> ItemView:
    """下架: members no longer see it; codes already issued can still be collected."""
    await _own_item(conn, actor, item_id, now=now)
    await item_db.withdraw(conn, item_id=item_id, now=now)
    row = await item_db.select_item(conn, item_id=item_id)
    assert row is not None
    return _item_view(row)


# ------------------------------------------------------------------ redemptions


def _redemption_view(actor: Actor, row: dict[str, Any]) -> RedemptionView:
    as_provider = actor.role in rules.PROVIDER_ROLES
    return RedemptionView(
        id=row["id"], item_id=row["item_id"], item_name=row["item_name"], provider_name=row["provider_name"],
        collect_at=row["collect_at"], member_id=None if as_provider else row["member_id"],
        member_name=rules.shown_member_name(actor, row["member_name"]), points=row["points"], state=row["state"],
        created_at=row["created_at"], expires_at=row["expires_at"], collected_at=row["collected_at"])


class _Replayed(Exception):
    """This member's request id was taken meanwhile: the call is a retry of one that committed."""


async def _insert_with_fresh_code(conn: Conn, **fields: Any) -> tuple[int | None, str]:
    """Insert the redemption with a new code (drawn again on the rare clash with a waiting one)."""
    for _ in range(_CODE_ATTEMPTS):
        code = rules.new_code()
        try:
            async with conn.transaction():   # a savepoint: a clash undoes only this insert
                found = await redemption_db.insert_redemption(conn, code_hash=rules.code_hash(code), **fields)
        except asyncpg.UniqueViolationError:
            continue
        return found, code
    raise Conflict("暂时无法生成兑换码, 请重试")


async def _fresh_code(conn: Conn, redemption_id: int) -> str | None:
    """Replace an issued redemption's code with a new one; None if it is no longer issued."""
    for _ in range(_CODE_ATTEMPTS):
        code = rules.new_code()
        try:
            async with conn.transaction():
                replaced = await redemption_db.replace_code(conn, redemption_id=redemption_id,
                                                            code_hash=rules.code_hash(code))
        except asyncpg.UniqueViolationError:
            continue
        return code if replaced else None
    raise Conflict("暂时无法生成兑换码, 请重试")


async def _start_expiry(client: Client, row: dict[str, Any], task_queue: str) -> None:
    await start_once(client, RedemptionWorkflow.run,
                     RedemptionWorkflowInput(redemption_id=row["id"], expires_at=row["expires_at"]),
                     workflow_id=workflow_id(row["id"]), task_queue=task_queue)


async def _replay(conn: Conn, actor: Actor, row: dict[str, Any], *, client: Client, task_queue: str) -> Redeemed:
    """A retried redeem: the same redemption, with a new code (the first answer's code, if it ever
    arrived, stops working) while it waits to be collected."""
    code = await _fresh_code(conn, row["id"]) if row["state"] == RedemptionState.issued else None
    if code is None:
        raise Conflict("该兑换请求已处理 (兑换已领取或已过期), 请在“我的兑换”中查看", code="already_redeemed")
    await _start_expiry(client, row, task_queue)   # in case the first call stopped before starting it
    balance, _ = await points_db.select_redeemable(conn, member_id=row["member_id"])
    return Redeemed(redemption=_redemption_view(actor, row), code=code, balance=balance)


async def redeem(pool: Pool, client: Client, actor: Actor, item_id: int, data: RedeemInput, *,
                 now: datetime, task_queue: str) -> Redeemed:
    """Debit the member's redeemable points once, take one from stock, issue a one-time code, and
    start the timer that returns the points if nobody collects. All or nothing, in one transaction."""
    member_id = _member_id(actor)
    async with pool.acquire() as conn:
        item = await _visible_item(conn, actor, item_id, now=now)
        earlier = await redemption_db.select_by_request(conn, member_id=member_id, request_id=data.request_id)
        if earlier is not None:
            if earlier["item_id"] != item_id:
                raise InvalidInput("该请求编号已用于另一件物品的兑换 (request_id)")
            return await _replay(conn, actor, earlier, client=client, task_queue=task_queue)
        try:
            async with conn.transaction():
                balance, _ = await points_db.select_redeemable(conn, member_id=member_id, lock=True)
                if balance < item["points"]:
                    raise Conflict(f"可兑换积分不足: 需要 {item['points']:g} 分, 现有 {balance:g} 分",
                                   code="insufficient_points")
                if not await item_db.take_one(conn, item_id=item_id, now=now):
                    raise Conflict("该物品已兑完或不在兑换期内", code="out_of_stock")
                expires = rules.expires_at(now=now, collect_hours=item["collect_hours"],
                                           valid_until=item["valid_until"])
                redemption_id, code = await _insert_with_fresh_code(
                    conn, item_id=item_id, member_id=member_id, request_id=data.request_id,
                    points=item["points"], now=now, expires_at=expires)
                if redemption_id is None:
                    raise _Replayed
                try:
                    await points_db.debit_redemption(conn, member_id=member_id, redemption_id=redemption_id,
                                                     points=item["points"], item_name=item["name"], at=now)
                except asyncpg.CheckViolationError:   # the balance row's CHECK: spent meanwhile
                    raise Conflict("可兑换积分不足", code="insufficient_points") from None
                row = await redemption_db.select_redemption(conn, redemption_id=redemption_id)
                balance_after, _ = await points_db.select_redeemable(conn, member_id=member_id)
        except _Replayed:
            again = await redemption_db.select_by_request(conn, member_id=member_id, request_id=data.request_id)
            assert again is not None
            return await _replay(conn, actor, again, client=client, task_queue=task_queue)
    assert row is not None
    await _start_expiry(client, row, task_queue)
    log.info("exchange_redeemed", redemption_id=row["id"], item_id=item_id, member_id=member_id)
    return Redeemed(redemption=_redemption_view(actor, row), code=code, balance=balance_after)


async def reissue_code(conn: Conn, actor: Actor, redemption_id: int) -> CodeReissued:
    """The member's new code for a redemption waiting to be collected (the old one stops working)."""
    member_id = _member_id(actor)
    row = await redemption_db.select_redemption(conn, redemption_id=redemption_id)
    if row is None or row["member_id"] != member_id:
        raise NotFound(f"兑换记录 {redemption_id} 不存在")
    code = await _fresh_code(conn, redemption_id)
    if code is None:
        raise Conflict("该兑换已领取或已过期, 没有可用的兑换码")
    return CodeReissued(redemption=_redemption_view(actor, row), code=code)


async def confirm(pool: Pool, client: Client, actor: Actor, code: str, *, now: datetime) -> RedemptionView:
    """The provider confirms the code on collection: issued → collected, once."""
    _require(actor, rules.PROVIDER_ROLES, "只有提供该物品的单位或商户可以核销兑换码")
    digits = rules.normalized_code(code)
    invalid = NotFound("兑换码无效, 请核对后重新输入 (code)")
    if len(digits) != rules.CODE_DIGITS:
        raise invalid
    async with pool.acquire() as conn:
        row = await redemption_db.select_by_code(conn, code_hash=rules.code_hash(digits))
        if row is None or row["provider_id"] != await _own_provider(conn, actor):
            raise invalid
        if not await redemption_db.mark_collected(conn, redemption_id=row["id"], by=actor.audit_name, now=now):
            again = await redemption_db.select_redemption(conn, redemption_id=row["id"])
            assert again is not None
            if again["state"] == RedemptionState.collected:
                raise Conflict(f"该兑换码已于 {again['collected_at']:%Y-%m-%d %H:%M} 核销, 不能重复核销 (code)",
                               code="already_collected")
            raise Conflict("该兑换码已过期, 不能核销; 积分退回党员 (code)", code="expired")
        done = await redemption_db.select_redemption(conn, redemption_id=row["id"])
    assert done is not None
    # a lost signal is harmless: at the lapse the workflow's activity finds the redemption collected
    await signal_if_running(client, workflow_id(row["id"]), RedemptionWorkflow.collected,
                            RedemptionCollected(redemption_id=row["id"]))
    log.info("exchange_collected", redemption_id=row["id"])
    return _redemption_view(actor, done)


async def list_redemptions(conn: Conn, actor: Actor, *, item_id: int | None, state: RedemptionState | None,
                           limit: int, offset: int) -> Page[RedemptionView]:
    """A member: their own; a provider: of its items (names masked); staff: providers inside their scope."""
    member_id = provider_id = None
    scope = ScopeFilter()   # a member's or a provider's own, whatever the hierarchy
    if actor.role is Role.member:
        member_id = _member_id(actor)
    elif actor.role in rules.PROVIDER_ROLES:
        provider_id = await _own_provider(conn, actor)
        if provider_id is None:
            return Page(items=[], total=0, limit=limit, offset=offset)
    else:
        scope = scope_filter(actor)
    total, rows = await redemption_db.select_redemptions(
        conn, member_id=member_id, provider_id=provider_id, scope=scope, item_id=item_id,
        state=None if state is None else state.value, limit=limit, offset=offset)
    return Page(items=[_redemption_view(actor, r) for r in rows], total=total, limit=limit, offset=offset)


async def my_balance(conn: Conn, actor: Actor) -> ExchangeBalance:
    balance, ledger = await points_db.select_redeemable(conn, member_id=_member_id(actor))
    return ExchangeBalance(balance=balance, ledger_sum=ledger)


# ------------------------------------------------------------------ the expiry backstop


def sweep_schedule(*, task_queue: str, every: timedelta = SWEEP_EVERY, sweep: SweepInput | None = None,
                   schedule_id: str = SWEEP_SCHEDULE_ID) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(RedemptionSweepWorkflow.run, sweep or SweepInput(),
                                           id=schedule_id, task_queue=task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        # A sweep still going when the next is due (a long outage's backlog) is not doubled.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_sweep_schedule(client: Client, *, task_queue: str, every: timedelta = SWEEP_EVERY,
                                sweep: SweepInput | None = None, schedule_id: str = SWEEP_SCHEDULE_ID) -> str:
    """Create the sweep's Schedule, or update it in place (a changed task queue or interval takes
    effect); its id. Every worker calls this at start, so N workers still make one schedule."""
    return await put_schedule(client, schedule_id, sweep_schedule(task_queue=task_queue, every=every, sweep=sweep,
                                                                 schedule_id=schedule_id))


async def sweep_now(client: Client, *, task_queue: str, grace: timedelta = timedelta(minutes=10),
                    now: datetime) -> SweepResult:
    """One sweep at once (after an outage, without waiting for the schedule), waited for; safe
    beside a scheduled one: each redemption lapses and is refunded once."""
    return await client.execute_workflow(
        RedemptionSweepWorkflow.run, SweepInput(grace_seconds=grace.total_seconds()),
        id=f"{SWEEP_SCHEDULE_ID}-now-{now:%Y%m%dT%H%M%S%f}", task_queue=task_queue)
