"""Safe upgrades: saved workflow histories replay against the current workflow code.

Every file `tests/histories/<WorkflowType>/<scenario>.json` is a history exported from a real run
(`tests/record_histories.py`, or the Temporal UI's "Download" of a production run). Replaying it
against today's code proves that a workflow started by yesterday's deployment can continue on
today's: a change to the command sequence without `workflow.patched()` fails here, in CI, instead
of failing live workflows with a nondeterminism error after the deploy.

The second half shows the harness has teeth: a small workflow defined here is run on the real
dev server, its history recorded, then replayed against an edited copy (fails) and a patched copy
(passes).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import activity, workflow
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from tests import record_histories
from tests.record_histories import SCENARIOS, TIME_SKIPPING
from workers.registry import all_workflows

HISTORY_DIR = Path(__file__).parent / "histories"


def saved_history_files() -> list[Path]:
    return sorted(HISTORY_DIR.glob("*/*.json"))


def load_history(path: Path) -> WorkflowHistory:
    """A saved history; the file name (without .json) stands for the workflow id."""
    return WorkflowHistory.from_json(path.stem, path.read_text("utf-8"))


def workflow_type_of(history: WorkflowHistory) -> str:
    started = history.events[0].workflow_execution_started_event_attributes
    return started.workflow_type.name


async def replay_failures(histories: Sequence[WorkflowHistory], workflows: Sequence[type]) -> dict[str, str]:
    """Replay each history against `workflows`; return workflow id -> failure, empty when all pass."""

    async def each() -> AsyncIterator[WorkflowHistory]:
        for history in histories:
            yield history

    replayer = Replayer(workflows=list(workflows), data_converter=pydantic_data_converter)
    results = await replayer.replay_workflows(each(), raise_on_replay_failure=False)
    by_run = {h.run_id: h.workflow_id for h in histories}
    return {by_run.get(run, run): f"{type(exc).__name__}: {exc}" for run, exc in results.replay_failures.items()}


# --- the saved histories ------------------------------------------------------------------------


@pytest.mark.parametrize("path", saved_history_files(), ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_saved_history_replays_on_current_code(path: Path) -> None:
    """A history saved from an earlier version replays without nondeterminism on today's workflows."""
    history = load_history(path)
    assert workflow_type_of(history) == path.parent.name, "file the history under its workflow type"
    failures = await replay_failures([history], all_workflows())
    assert failures == {}, (
        "a workflow change breaks runs already in flight: guard it with workflow.patched() "
        "(docs/operations.md). Only if this version never ran in production, re-record with "
        "`python -m tests.record_histories --force`."
    )


def test_every_registered_workflow_type_has_a_saved_history() -> None:
    """Each workflow type the workers run has at least one saved history to replay."""
    saved = {path.parent.name for path in saved_history_files()}
    registered = {workflow._Definition.must_from_class(cls).name or cls.__name__ for cls in all_workflows()}
    missing = sorted(name for name in registered if name not in saved)
    assert missing == [], f"record histories with `python -m tests.record_histories` for {missing}"


# --- the harness catches an unpatched change ----------------------------------------------------


# The samples run unsandboxed: the sandbox would re-import this test module and everything it
# imports (pytest, the registry), which is beside the point here; determinism is what is tested.
@activity.defn(name="replay_sample_greet")
async def greet(name: str) -> str:
    return f"你好, {name}"


async def _greet_twice(name: str) -> str:
    """Greet, then greet the greeting: the two activities every ReplaySample version runs."""
    first = await workflow.execute_activity(greet, name, start_to_close_timeout=timedelta(seconds=10))
    return await workflow.execute_activity(greet, first, start_to_close_timeout=timedelta(seconds=10))


@workflow.defn(name="ReplaySample", sandboxed=False)
class SampleV1:
    """The deployed version: greet, then greet again."""

    @workflow.run
    async def run(self, name: str) -> str:
        return await _greet_twice(name)


@workflow.defn(name="ReplaySample", sandboxed=False)
class SampleV2Unpatched:
    """An edit that inserts a timer before the first greeting, shipped without a patch."""

    @workflow.run
    async def run(self, name: str) -> str:
        await workflow.sleep(timedelta(minutes=5))
        return await _greet_twice(name)


@workflow.defn(name="ReplaySample", sandboxed=False)
class SampleV2Patched:
    """The same edit behind `workflow.patched`: old runs keep their old command sequence."""

    @workflow.run
    async def run(self, name: str) -> str:
        if workflow.patched("replay-sample-wait-first"):
            await workflow.sleep(timedelta(minutes=5))
        return await _greet_twice(name)


@pytest.fixture
async def sample_history(client: Client, task_queue: str) -> WorkflowHistory:
    """A finished run of SampleV1 on the real dev server, as exported JSON read back."""
    async with Worker(client, task_queue=task_queue, workflows=[SampleV1], activities=[greet]):
        handle = await client.start_workflow(
            SampleV1.run, "党员", id=f"replay-sample-{uuid.uuid4().hex[:8]}", task_queue=task_queue
        )
        assert await handle.result() == "你好, 你好, 党员"
        history = await handle.fetch_history()
    # Round-trip through JSON: that is the form saved under tests/histories.
    return WorkflowHistory.from_json(history.workflow_id, history.to_json())


async def test_replay_passes_on_unchanged_code(sample_history: WorkflowHistory) -> None:
    """The recorded history replays cleanly on the code that produced it."""
    assert await replay_failures([sample_history], [SampleV1]) == {}


async def test_replay_fails_when_commands_change_without_a_patch(sample_history: WorkflowHistory) -> None:
    """Inserting a timer without `workflow.patched()` is reported as nondeterminism on replay."""
    failures = await replay_failures([sample_history], [SampleV2Unpatched])
    assert list(failures) == [sample_history.workflow_id]
    assert failures[sample_history.workflow_id].startswith("NondeterminismError")
    with pytest.raises(workflow.NondeterminismError):
        await Replayer(workflows=[SampleV2Unpatched], data_converter=pydantic_data_converter).replay_workflow(
            sample_history
        )


async def test_replay_passes_when_the_change_is_patched(sample_history: WorkflowHistory) -> None:
    """The same change behind `workflow.patched()` replays the old history without error."""
    assert await replay_failures([sample_history], [SampleV2Patched]) == {}


# --- the recorder keeps working -----------------------------------------------------------------


@pytest.mark.parametrize("workflow_type", sorted(SCENARIOS))
async def test_recorder_scenario_runs_and_replays(
    workflow_type: str, ts_env: WorkflowEnvironment, client: Client, task_queue: str
) -> None:
    """Each recording scenario still runs to completion on today's code, so histories can be re-recorded."""
    scenario_client = ts_env.client if workflow_type in TIME_SKIPPING else client
    recorded = await SCENARIOS[workflow_type](scenario_client, task_queue)
    assert recorded
    histories = [history for _, history in recorded]
    assert {workflow_type_of(h) for h in histories} == {workflow_type}
    assert await replay_failures(histories, all_workflows()) == {}


async def test_a_workflow_test_can_save_its_history(
    client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`save_from_test` files a run's history under its workflow type only when SBD_RECORD_HISTORIES=1."""
    monkeypatch.setattr(record_histories, "HISTORY_DIR", tmp_path)
    async with Worker(client, task_queue=task_queue, workflows=[SampleV1], activities=[greet]):
        handle = await client.start_workflow(
            SampleV1.run, "党员", id=f"replay-sample-{uuid.uuid4().hex[:8]}", task_queue=task_queue
        )
        await handle.result()
    monkeypatch.delenv("SBD_RECORD_HISTORIES", raising=False)
    assert await record_histories.save_from_test(handle, "sample") is None
    monkeypatch.setenv("SBD_RECORD_HISTORIES", "1")
    saved = await record_histories.save_from_test(handle, "sample")
    assert saved == tmp_path / "ReplaySample" / "sample.json"
    assert await replay_failures([load_history(saved)], [SampleV1]) == {}
