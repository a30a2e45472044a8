"""Log lines from workflows and activities are JSON carrying their Temporal identity."""

from __future__ import annotations

import json
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    import structlog

    from telemetry.temporal_context import LogContextInterceptor


@activity.defn(name="log_context_probe_activity")
async def probe_activity(marker: str) -> str:
    structlog.get_logger("probe").info("probe_activity_ran", marker=marker)
    return marker


@workflow.defn(name="LogContextProbe")
class LogContextProbe:
    @workflow.run
    async def run(self, marker: str) -> str:
        workflow.logger.info("probe_workflow_ran %s", marker)
        return await workflow.execute_activity(
            probe_activity, marker, start_to_close_timeout=timedelta(seconds=10)
        )


def _lines_with(marker: str) -> list[dict[str, object]]:
    # Imported here, not at module level: the workflow sandbox re-imports this module, and the
    # test configuration module is not sandbox-safe.
    from tests.conftest import LOG_CAPTURE

    found = []
    for line in LOG_CAPTURE.read_text(encoding="utf-8").splitlines():
        if marker in line:
            found.append(json.loads(line))  # every captured line is JSON, or this raises
    return found


async def test_workflow_and_activity_lines_carry_workflow_id_and_activity(
    client: Client, task_queue: str
) -> None:
    """workflow.logger and structlog-in-an-activity both emit JSON with workflow_id and run_id."""
    marker = f"m{task_queue}"
    async with Worker(client, task_queue=task_queue, workflows=[LogContextProbe],
                      activities=[probe_activity], interceptors=[LogContextInterceptor()]):
        await client.execute_workflow(LogContextProbe.run, marker, id=marker, task_queue=task_queue)
    lines = _lines_with(marker)
    workflow_line = next(line for line in lines if "probe_workflow_ran" in str(line["event"]))
    activity_line = next(line for line in lines if line["event"] == "probe_activity_ran")
    assert workflow_line["workflow_id"] == marker and workflow_line["workflow_type"] == "LogContextProbe"
    assert activity_line["workflow_id"] == marker and activity_line["run_id"]
    assert activity_line["activity"] == "log_context_probe_activity" and activity_line["attempt"] == 1
    # the attempt's start and its end in this process, around the activity's own line
    events = [line["event"] for line in lines if line.get("activity") == "log_context_probe_activity"]
    assert events == ["activity_started", "probe_activity_ran", "activity_finished"], events
    finished = next(line for line in lines if line["event"] == "activity_finished")
    assert finished["outcome"] == "completed" and finished["attempt"] == 1 and finished["activity_id"]
