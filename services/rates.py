"""The three rates 三率 live for the console's dashboard: 响应率, 解决率 and 满意率 per level over a
period, from the counters migration 0022 keeps in step with needs, tasks, assignments and ratings."""

from __future__ import annotations

from datetime import datetime

from db import rate_month
from db.pool import Conn
from domain.errors import Forbidden, InvalidInput
from domain.evaluation import Period, parse_period, period_of
from domain.local_time import LOCAL_ZONE
from domain.scope import scope_filter
from schemas.auth import STAFF_ROLES, Actor
from schemas.evaluation import EvaluationRule, PeriodKind
from schemas.rates import LiveRates, RatesLevel


def _period(label: str | None, now: datetime) -> Period:
    if label is None:
        local = now.astimezone(LOCAL_ZONE)
        return period_of(PeriodKind.month, f"{local.year}-{local.month:02d}")
    try:
        return parse_period(label)
    except ValueError:
        raise InvalidInput(f"period 格式应为 2026-11 (月)、2026-Q4 (季度) 或 2026 (年): {label}") from None


async def live_rates(
    conn: Conn, actor: Actor, *, level: RatesLevel, period: str | None, now: datetime,
    rule: EvaluationRule | None = None, live: bool = False,
) -> LiveRates:
    """三率 of each group at `level` inside the caller's scope over `period` (default: this month);
    `live`: grouped from the raw tables, not the counters (the benches' baseline)."""
    if actor.role not in STAFF_ROLES:
        raise Forbidden("无权查看三率: 仅社区、街道或组织部的工作人员可以查看")
    p = _period(period, now)
    min_score = (rule or EvaluationRule()).satisfied_min_score
    items = await rate_month.select_rate_counts(
        conn, scope=scope_filter(actor), level=level, month_from=p.start.date(), month_to=p.end.date(),
        satisfied_min_score=min_score, live=live)
    return LiveRates(level=level, period_label=p.label, period_start=p.start, period_end=p.end,
                     satisfied_min_score=min_score, items=items)
