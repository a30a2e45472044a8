"""`up --demo`, evaluation part: keep the periodic schedules in place and evaluate the demo city.

Runs after the campaign part. The run covers the last complete quarter, as the quarterly schedule
would (述职评议考核 is done on a finished quarter), which the demo's past (demo/past.py) filled; a
second `up --demo` in the same quarter finds the finished run and starts none. Unit feedback workbooks go to the worker's reports directory, and
each unit gets an inbox notice naming its workbook (plus group-robot deliveries where it has one).
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from temporalio.client import Client

from db.pool import Pool
from domain.evaluation import previous_period
from schemas.evaluation import PeriodKind
from services import evaluation
from services.delivery import kick_dispatcher

log = structlog.get_logger(__name__)


async def run_demo_evaluation(pool: Pool, client: Client, *, task_queue: str) -> int:
    """Ensure the schedules, evaluate the demo city's last complete quarter once; the run id."""
    await evaluation.ensure_schedules(client, task_queue=task_queue)
    period = previous_period(PeriodKind.quarter, datetime.now(UTC))
    label = period.label
    async with pool.acquire() as conn:
        done = [r for r in await evaluation.list_runs(conn, limit=50)
                if r.period_label == label and r.campaign_id is None and r.status.value == "done"]
    if done:
        return done[0].id
    run_id = await evaluation.start_run(pool, client, task_queue=task_queue,
                                        period=period)
    result = await evaluation.wait_run(client, run_id)
    # Unit notices may include group-robot deliveries: wake the dispatcher instead of waiting for it.
    await kick_dispatcher(client, task_queue, reason="evaluation")
    log.info("demo_evaluation_done", run_id=run_id, members=result.members, reports=result.reports)
    return run_id
