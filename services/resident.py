"""The residents' doors, without accounts, as real platforms open them with a link or QR code.

- A grid's need-placing code 点单码: community staff issue it (shown once, only its hash kept; a
  new one revokes the old), post it in the compound, and residents place needs with it. The need
  waits for the community's verification 核查 like any other; the duplicate check applies.
- A task's rating code 评价码: issued with a task made from a resident's need (services/dispatch.py)
  or re-issued by staff here; the resident rates once with it before it expires.
- A placed need's follow link: its token is shown once in the receipt (only its hash kept) and
  reads the need's state, category, dates and the community's answer, nothing personal.
- The public board 晒单 of a community: its closed tasks, when, by how many members, the rating.

Each code can first be "opened" (what it leads to), so a page says at once when a code is wrong,
replaced, spent or expired, before the resident writes anything.

Members never see either code: only staff in scope may issue them.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import structlog
from temporalio.client import Client

from db import directory as directory_db
from db import grid_need_code as code_db
from db import hierarchy as hierarchy_db
from db import need as need_db
from db import resident_rating as rating_db
from db import task as task_db
from db.need import GridPlaceRow
from db.pool import Conn, Pool
from domain import need_rules, task_rules
from domain.dispatch_policy import DEFAULT_POLICY
from domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from domain.pii import mask_text
from domain.scope import allows
from schemas.auth import STAFF_ROLES, Actor
from schemas.dispatch import (
    GridNeedCodeIssued,
    NeedCreate,
    NeedStatus,
    RateInput,
    ResidentNeedCreate,
    ResidentNeedReceipt,
    ResidentRateInput,
    ResidentRateResult,
    ResidentRatingCodeIssued,
)
from schemas.resident import FollowedNeed, NeedCodeOpens, PublicBoard, RatingCodeOpens
from services import dispatch
from services.tokens import hash_token

log = structlog.get_logger(__name__)

RESIDENT_ACTOR_PREFIX = "resident:grid_code:"


def _require_staff_role(actor: Actor) -> None:
    if actor.role not in STAFF_ROLES:
        raise Forbidden("无权操作: 仅所在社区、街道或组织部的工作人员可以签发居民码")


def _require_staff_of(actor: Actor, place: GridPlaceRow | None, missing: NotFound) -> None:
    """Staff whose scope holds the place; a place elsewhere is answered as a missing one."""
    if place is None:
        raise missing
    if not allows(actor, place.path):
        raise missing


async def issue_grid_need_code(conn: Conn, actor: Actor, grid_id: int, *, now: datetime) -> GridNeedCodeIssued:
    """Issue the grid's need-placing code 点单码; the previous one stops working."""
    _require_staff_role(actor)
    async with conn.transaction():
        place = await need_db.select_grid_place(conn, grid_id=grid_id)
        _require_staff_of(actor, place, NotFound(f"网格 {grid_id} 不存在"))
        code = "sbd_need_" + secrets.token_urlsafe(18)
        code_id = await code_db.replace_code(conn, grid_id=grid_id, code_hash=hash_token(code),
                                             issued_by=actor.audit_name, at=now)
        log.info("grid_need_code_issued", grid_id=grid_id, code_id=code_id)
        return GridNeedCodeIssued(grid_id=grid_id, code=code, issued_at=now)


async def open_need_code(conn: Conn, code: str) -> NeedCodeOpens:
    """Where a grid's code places a need, and the categories a resident may pick."""
    live = await code_db.select_live_code(conn, code_hash=hash_token(code))
    if live is None:
        raise NotFound(task_rules.REFUSAL_BAD_NEED_CODE, code="bad_need_code")
    label = await hierarchy_db.select_grid_label(conn, grid_id=live.grid_id)
    assert label is not None  # the code's grid exists (foreign key)
    categories = [c.name for c in await need_db.select_categories(conn)]
    return NeedCodeOpens(grid_name=label.grid_name, community_id=label.community_id,
                         community_name=label.community_name, categories=categories,
                         micro_wish_category=need_rules.MICRO_WISH_CATEGORY)


async def place_need_as_resident(conn: Conn, data: ResidentNeedCreate, *, now: datetime) -> ResidentNeedReceipt:
    """A resident places a need with their grid's code; it waits for the community's 核查. Only a
    micro-wish names a donor (who may stay anonymous). The receipt carries the follow link's token."""
    if (data.donor_name or data.donor_anonymous) and data.category != need_rules.MICRO_WISH_CATEGORY:
        raise InvalidInput(need_rules.REFUSAL_DONOR_NOT_MICRO_WISH)
    if not need_rules.resident_phone_ok(data.resident_phone):
        raise InvalidInput(need_rules.REFUSAL_BAD_PHONE)
    async with conn.transaction():
        code = await code_db.select_live_code(conn, code_hash=hash_token(data.code))
        if code is None:
            raise NotFound(task_rules.REFUSAL_BAD_NEED_CODE, code="bad_need_code")
        place = await need_db.select_grid_place(conn, grid_id=code.grid_id)
        assert place is not None  # the code's grid exists (foreign key)
        need = NeedCreate(category=data.category, grid_id=code.grid_id, urgency=data.urgency,
                          description=data.description, resident_name=data.resident_name,
                          resident_phone=data.resident_phone, donor_name=data.donor_name,
                          donor_anonymous=data.donor_anonymous)
        row = await dispatch.record_need(conn, place=place, data=need,
                                         created_by=f"{RESIDENT_ACTOR_PREFIX}{code.id}", now=now)
        follow = "sbd_follow_" + secrets.token_urlsafe(24)
        await need_db.set_follow_token_hash(conn, need_id=row.id, token_hash=hash_token(follow))
        message = f"需求已提交 (编号 {row.id}), 社区核查后将安排党员服务。"
        if row.likely_duplicate:
            message += f" 您近期已提交过相同需求 (编号 {row.duplicate_of}), 社区将一并处理。"
        return ResidentNeedReceipt(need_id=row.id, status=row.status, deadline_at=row.deadline_at,
                                   likely_duplicate=row.likely_duplicate, message=message,
                                   follow_token=follow)


async def follow_need(conn: Conn, token: str) -> FollowedNeed:
    """The need's state as its follow link reads it; the community's answer with any phone or ID
    number in it masked."""
    row = await need_db.select_followed_need(conn, token_hash=hash_token(token))
    if row is None:
        raise NotFound(need_rules.REFUSAL_BAD_FOLLOW_TOKEN, code="bad_follow_token")
    label, next_step = need_rules.RESIDENT_STATUS_TEXT[row.status]
    return FollowedNeed(need_id=row.id, status=NeedStatus(row.status), status_label=label, next_step=next_step,
                        category=row.category, placed_at=row.created_at, decided_at=row.decided_at,
                        decision_text=None if row.reject_reason is None else mask_text(row.reject_reason),
                        service_at=row.task_window_start, closed_at=row.task_closed_at)


async def public_board(conn: Conn, community_id: int, *, limit: int, offset: int) -> PublicBoard:
    """The community's completed services 晒单, newest first: no names, phones or free text."""
    name = await directory_db.select_scope_name(conn, scope_kind="community", scope_id=community_id)
    if name is None:
        raise NotFound(need_rules.REFUSAL_COMMUNITY_MISSING, code="community_missing")
    total, items = await task_db.select_board(conn, community_id=community_id, limit=limit, offset=offset)
    return PublicBoard(community_id=community_id, community_name=name, total=total, offset=offset, items=items)


async def reissue_rating_code(
    conn: Conn, actor: Actor, task_id: int, *, now: datetime, rating_window: timedelta | None = None
) -> ResidentRatingCodeIssued:
    """Community staff (re)issue a task's resident rating code 评价码, e.g. when the resident lost it."""
    _require_staff_role(actor)
    async with conn.transaction():
        place = await task_db.select_task_place(conn, task_id=task_id)
        _require_staff_of(actor, place, NotFound(f"任务 {task_id} 不存在"))
        task = await task_db.select_task(conn, task_id=task_id)
        assert task is not None
        code, expires_at = await dispatch.issue_rating_code(
            conn, task_id=task_id, window_end=task.view.window_end, issued_by=actor.audit_name, now=now,
            rating_window=rating_window or DEFAULT_POLICY.rating_window)
        log.info("rating_code_issued", task_id=task_id)
        return ResidentRatingCodeIssued(task_id=task_id, code=code, expires_at=expires_at)


async def _usable_rating_token(conn: Conn, code: str, *, now: datetime) -> rating_db.RatingTokenRow:
    """The rating code's row when it can still be used; else the refusal naming why."""
    token = await rating_db.select_rating_token(conn, token_hash=hash_token(code))
    if token is None:
        raise NotFound(task_rules.REFUSAL_BAD_RATING_CODE, code="bad_rating_code")
    if token.used_at is not None:
        raise Conflict(task_rules.REFUSAL_RATING_CODE_USED, code="rating_code_used")
    if token.expires_at <= now:
        raise Conflict(task_rules.REFUSAL_RATING_CODE_EXPIRED, code="rating_code_expired")
    return token


async def open_rating_code(conn: Conn, code: str, *, now: datetime) -> RatingCodeOpens:
    """The service a rating code rates, or why the code cannot be used."""
    token = await _usable_rating_token(conn, code, now=now)
    row = await task_db.select_task(conn, task_id=token.task_id)
    assert row is not None  # the code's task exists (foreign key)
    task = row.view
    name = await directory_db.select_scope_name(conn, scope_kind="community", scope_id=task.community_id)
    return RatingCodeOpens(task_id=token.task_id, category=task.category, community_name=name or "",
                           served_on=task.window_start, expires_at=token.expires_at,
                           ready=task.status.value in task_rules.RATEABLE_STATUSES)


async def rate_as_resident(pool: Pool, client: Client, data: ResidentRateInput, *, now: datetime) -> ResidentRateResult:
    """The resident rates the service with the task's code: once, before it expires. A refusal by
    the workflow (not done yet, already rated) leaves the code unspent.

    No connection is held while the workflow records the rating (its activity needs one from the
    same pool): the code is checked, the rating sent, then the code spent. Two uses at once both
    reach the workflow, which takes the first rating and refuses the second as already rated."""
    async with pool.acquire() as conn:
        token = await _usable_rating_token(conn, data.code, now=now)
    task_id = token.task_id
    rated = await dispatch.send_rating(client, task_id, RateInput(score=data.score, comment=data.comment))
    async with pool.acquire() as conn:
        await rating_db.mark_rating_token_used(conn, task_id=task_id, at=now)
    log.info("resident_rated", task_id=task_id, score=rated.score, follow_up=rated.follow_up)
    message = "感谢您的评价!" + (" 社区将尽快回访跟进。" if rated.follow_up else "")
    return ResidentRateResult(task_id=task_id, score=rated.score, message=message)
