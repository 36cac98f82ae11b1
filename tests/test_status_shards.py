"""`status` of a sharded flow on moto, in process: the shards' instances counted under their activity.

tests/e2e/shard_flow.yaml runs on moto extended with child workflows (tests/moto_swf_children.py)
and S3 (its payloads threshold sends every shard's input and result there), the decider and a
worker polled in turn, timers on a virtual clock. `status --json` then follows the child
executions: `square`'s 13 instances run in 3 shards and `skip`'s in 4, and every count is known
from the handlers (tests/e2e/shard_flow_handlers.py) and asserted exactly.
"""

from __future__ import annotations

import itertools
import json
import pathlib
import sys
from collections.abc import Callable, Iterator
from typing import Any
from xml.etree import ElementTree

import moto.swf.models.history_event as moto_history
import moto_swf_children
import pytest
from moto import mock_aws
from moto_swf import AWS_ENV, REGION, ROOT, ManualClock, execution_info, no_empty_poll_sleep

from flowgen.runtime import entry
from flowgen.runtime.plan import FlowPlan
from flowgen.runtime.polling import DeciderLoop
from flowgen.runtime.register import register
from flowgen.runtime.swf import client as swf_client
from flowgen.runtime.worker import Worker
from tests.histories import plan_from

E2E = ROOT / "tests" / "e2e"
if str(E2E) not in sys.path:
    sys.path.append(str(E2E))

import shard_flow_handlers as handlers  # noqa: E402

PLAN: FlowPlan = plan_from((E2E / "shard_flow.yaml").read_text())
NUMBERS = list(range(1, 14))
WORKFLOW_ID = "shards-1"


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import boto3

    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    no_empty_poll_sleep(monkeypatch)
    ticks = itertools.count(1_714_557_600)
    monkeypatch.setattr(moto_history, "unix_time", lambda: float(next(ticks)))
    with moto_swf_children.extended(), mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket="flowgen-e2e-shards")
        found = swf_client(region=REGION)
        register(PLAN, found)
        yield found


def run_flow(client: Any, clock: ManualClock, square: Callable[..., Any] = handlers.square) -> str:
    """Start the flow on 1..13 and poll the decider and a worker until it closes; the run id."""
    run_id = str(
        client.start_workflow_execution(
            domain=PLAN.domain,
            workflowId=WORKFLOW_ID,
            workflowType={"name": PLAN.workflow, "version": PLAN.version},
            taskList={"name": PLAN.task_list},
            input=json.dumps({"numbers": NUMBERS}),
            executionStartToCloseTimeout=str(PLAN.execution_timeout),
            taskStartToCloseTimeout=str(PLAN.decision_timeout),
            childPolicy=PLAN.child_policy,
        )["runId"]
    )
    decider = DeciderLoop(PLAN, client, identity="decider")
    worker = Worker(
        PLAN, {"square": square, "skip": handlers.skip, "total": handlers.total}, client, identity="worker"
    )
    for _ in range(2000):
        if execution_info(client, PLAN.domain, WORKFLOW_ID, run_id)["executionStatus"] == "CLOSED":
            return run_id
        busy = decider.poll_once()
        for task_list in worker.task_lists:
            busy = worker.poll_once(task_list) or busy
        if not busy and not clock.fire_next():
            break
    raise AssertionError(f"{WORKFLOW_ID} did not close")


def status(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = entry.status_main(PLAN, ["--region", REGION, "--workflow-id", WORKFLOW_ID, *argv], "status")
    out, err = capsys.readouterr()
    return code, out, err


def counts(**found: int) -> dict[str, int]:
    keys = ("instances", "completed", "failed", "open", "waiting", "retrying", "reverted", "attempts")
    return {key: found.get(key, 0) for key in keys}


def failures(data: dict[str, Any], activity: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = data["activities"][activity]["failures"]
    return found


def activities(data: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {name: {k: v for k, v in a.items() if k in counts()} for name, a in data["activities"].items()}


def test_status_counts_a_completed_sharded_flow_across_its_shards(
    client: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    clock = ManualClock.install(monkeypatch)
    run_id = run_flow(client, clock)
    code, out, err = status(capsys, "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert (data["run_id"], data["status"], data["failure"], data["problem"]) == (
        run_id,
        "COMPLETED",
        None,
        None,
    )
    assert activities(data) == {
        # 4, 8 and 12 fail their first attempt, 7 its first two: 13 + 3 + 2 attempts.
        "square": counts(instances=13, completed=13, attempts=18),
        # The squares that are multiples of 3 (of 3, 6, 9, 12) fail for good, under on_failure: continue.
        "skip": counts(instances=13, completed=9, failed=4, attempts=13),
        "total": counts(instances=1, completed=1, attempts=1),
    }
    # Each failed instance named as the parent's decider names it: its index over every shard
    # (skip-2 ran as skip-2 of shard 0, skip-11 as skip-3 of shard 2) and its generator values,
    # read from S3 where the shards' inputs are.
    assert [(f["instance"], f["values"], f["attempts"], f["error"]) for f in failures(data, "skip")] == [
        (f"skip-{i}", {"v": v}, 1, f"ValueError: {v} is a multiple of 3")
        for i, v in ((2, 9), (5, 36), (8, 81), (11, 144))
    ]
    assert data["activities"]["square"]["failures"] == []

    picture = tmp_path / "shards.svg"
    code, _, err = status(capsys, "--timeline", str(picture))
    assert (code, err) == (0, "")
    root = ElementTree.fromstring(picture.read_text())
    assert root.tag.endswith("svg")
    shown = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    assert "square" in shown and "skip" in shown and "total" in shown


def test_status_counts_a_sharded_flow_that_fails_inside_a_shard(
    client: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def square(n: int, context: Any) -> dict[str, int]:
        if n == 7:  # in the second shard (6 to 10): fails every attempt
            raise RuntimeError("7 is out of luck")
        return {"v": n * n}

    clock = ManualClock.install(monkeypatch)
    run_flow(client, clock, square)
    code, out, err = status(capsys, "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert (data["status"], data["failure"]) == (
        "FAILED",
        "square-6 (n=7) failed after 3 attempts: RuntimeError: 7 is out of luck",
    )
    assert activities(data) == {
        # Shard 0 (1 to 5) completed, shard 1 (6 to 10) failed on 7 after its other four
        # completed, shard 2 (11 to 13) never started: the flow failed first.
        "square": counts(instances=13, completed=9, failed=1, waiting=3, attempts=12),
        # Not expanded: its generator reads every square, and square failed.
        "skip": counts(),
        "total": counts(instances=1, waiting=1),
    }
    assert failures(data, "square") == [
        {"instance": "square-6", "values": {"n": 7}, "attempts": 3, "error": "RuntimeError: 7 is out of luck"}
    ]
