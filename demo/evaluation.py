"""`up --demo`, evaluation part: keep the periodic schedules in place and evaluate the demo city.

Runs after the campaign part. The run covers the current quarter up to now (so the newcomer sees
figures without waiting for a quarter to end); a second `up --demo` in the same quarter finds the
finished run and starts none. Unit feedback workbooks go to the worker's reports directory, and
each unit gets an inbox notice naming its workbook (plus group-robot deliveries where it has one).
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from temporalio.client import Client

from db.pool import Pool
from domain.evaluation import period_of
from domain.local_time import LOCAL_ZONE
from schemas.evaluation import PeriodKind
from services import evaluation
from services.delivery import kick_dispatcher

log = structlog.get_logger(__name__)


def current_quarter_label(now: datetime) -> str:
    local = now.astimezone(LOCAL_ZONE)
    return f"{local.year}-Q{(local.month - 1) // 3 + 1}"


async def run_demo_evaluation(pool: Pool, client: Client, *, task_queue: str) -> int:
    """Ensure the schedules, evaluate the demo city's current quarter once; the run id."""
    await evaluation.ensure_schedules(client, task_queue=task_queue)
    label = current_quarter_label(datetime.now(UTC))
    async with pool.acquire() as conn:
        done = [r for r in await evaluation.list_runs(conn, limit=50)
                if r.period_label == label and r.campaign_id is None and r.status.value == "done"]
    if done:
        return done[0].id
    run_id = await evaluation.start_run(pool, client, task_queue=task_queue,
                                        period=period_of(PeriodKind.quarter, label))
    result = await evaluation.wait_run(client, run_id)
    # Unit notices may include group-robot deliveries: wake the dispatcher instead of waiting for it.
    await kick_dispatcher(client, task_queue, reason="evaluation")
    log.info("demo_evaluation_done", run_id=run_id, members=result.members, reports=result.reports)
    return run_id
