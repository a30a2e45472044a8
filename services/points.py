"""A member's own points 我的积分: both ledgers' balances and every line with its reason."""

from __future__ import annotations

from dataclasses import asdict

from db import points as points_db
from db.points import MemberLineRow
from db.pool import Conn
from domain.points import line_reason
from domain.scope import own_member_id
from schemas.api import Page
from schemas.auth import Actor
from schemas.points import MyPoints, PointsLedger, PointsLine, PointsSource


def _line(row: MemberLineRow) -> PointsLine:
    source = (PointsSource.task if row.task_id is not None
              else PointsSource.service_record if row.service_record_id is not None
              else PointsSource.other)
    reason = line_reason(task_title=row.task_title, record_category=row.record_category,
                         hours=row.hours, campaign_name=row.campaign_name, points=row.points)
    return PointsLine.model_validate({**asdict(row), "source": source, "reason": reason})


async def my_points(conn: Conn, actor: Actor, *, ledger: PointsLedger | None, limit: int,
                    offset: int) -> MyPoints:
    """For the member themself only (every other role is refused before any lookup)."""
    member_id = own_member_id(actor)
    balance = await points_db.select_member_balance(conn, member_id=member_id)
    services, hours = await points_db.select_member_service_totals(conn, member_id=member_id)
    total, rows = await points_db.select_member_lines(
        conn, member_id=member_id, ledger=ledger.value if ledger else None, limit=limit, offset=offset)
    return MyPoints(
        evaluation_balance=balance["evaluation"], redeemable_balance=balance["redeemable"],
        service_count=services, service_hours=hours,
        lines=Page(items=[_line(r) for r in rows], total=total, limit=limit, offset=offset),
    )
