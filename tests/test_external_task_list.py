"""An external activity that names no task list, on moto: scheduled on a list of its own, left
alone by the generated Python worker, and completed by this test acting as the outside worker.

Once such an activity went to the Python activities' task list (`defaults.task_list`, else
`WORKFLOW-activities`), where the generated worker took every attempt and failed it: it has no
handler for a type it does not run. The flow is built here into a folder of its own and driven one
poll at a time, as tests/test_e2e_moto.py drives the example flows.
"""

from __future__ import annotations

import importlib
import json
import pathlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws
from moto_swf import AWS_ENV, REGION, ROOT, execution_info, history, no_empty_poll_sleep, of_type

SPEC = """\
flowgen: 1
domain: ext
workflow:
  name: external_flow
  version: "7"
  execution_timeout: 1h
  input: {n: int}
  result:
    prepared: prepare.v
    rows: load.rows
    reported: report.v
DEFAULTS
activities:
  prepare:
    handler: tests.flow_handlers:compute
    inputs: {n: input.n}
    outputs: {v: int}
  load:
    external: true               # no task_list: not the Python worker's
    requires: [prepare]
    inputs: {v: prepare.v}
    outputs: {rows: int}
  report:
    handler: tests.flow_handlers:compute
    requires: [load]
    inputs: {rows: load.rows}
    outputs: {v: int}
"""
# The Python activities' task list: flowgen's default, or one `defaults` names (which the
# external activity does not follow).
PYTHON_LISTS = {"": "external_flow-v7-activities", "defaults: {task_list: python-work}": "python-work"}


def activity(kind: dict[str, str]) -> str:
    """The spec's activity name of an activity type (a type name may carry the workflow's as a prefix)."""
    return kind["name"].rsplit(".", 1)[-1]


@pytest.fixture(params=sorted(PYTHON_LISTS), ids=["no-defaults", "defaults-task-list"])
def package(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[tuple[Any, str]]:
    """The built package's modules (flow, worker, engine.polling) and its Python task list."""
    spec = tmp_path / "external_flow.yaml"
    spec.write_text(SPEC.replace("DEFAULTS", request.param))
    out = tmp_path / "packages" / "external_flow"
    built = subprocess.run(
        [sys.executable, "-m", "flowgen", "build", "-q", "--out", str(out), str(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    sys.path.insert(0, str(out.parent))
    try:
        modules = {
            m: importlib.import_module(f"external_flow.{m}") for m in ("flow", "worker", "engine.polling")
        }
        yield modules, PYTHON_LISTS[request.param]
    finally:
        sys.path.remove(str(out.parent))
        for name in [m for m in sys.modules if m == "external_flow" or m.startswith("external_flow.")]:
            del sys.modules[name]


@pytest.fixture
def swf(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    no_empty_poll_sleep(monkeypatch)
    with mock_aws():
        import boto3

        yield boto3.client("swf", region_name=REGION)


def test_an_external_activity_without_a_task_list_is_left_to_the_outside_worker(
    package: tuple[dict[str, Any], str], swf: Any
) -> None:
    from tests.flow_handlers import compute

    modules, python_list = package
    flow, worker_module = modules["flow"], modules["worker"]
    plan = flow.PLAN
    external = "external_flow-v7-external"
    assert plan.activity("load").task_list == external
    assert (python_list,) == flow.WORKER_TASK_LISTS
    assert set(flow.ACTIVITY_TASK_LISTS) == {python_list, external}
    register = importlib.import_module("external_flow.engine.register").register
    assert not register(plan, swf).drift
    started = swf.start_workflow_execution(
        domain="ext",
        workflowId="ext-1",
        workflowType={"name": "external_flow", "version": "7"},
        input=json.dumps({"n": 5}),
    )
    ids = ("ext-1", started["runId"])
    decider = modules["engine.polling"].DeciderLoop(plan, swf, identity="decider")
    python = worker_module.Worker(worker_module.spec_handlers(), swf, identity="python")
    assert python.task_lists == (python_list,)  # the worker never polls the external list
    outside = 0
    for _ in range(50):
        if execution_info(swf, "ext", *ids)["executionStatus"] == "CLOSED":
            break
        busy = decider.poll_once()
        for task_list in python.task_lists:
            busy = python.poll_once(task_list) or busy
        # The outside worker: polls the external list, completes with the declared outputs.
        task = swf.poll_for_activity_task(domain="ext", taskList={"name": external}, identity="outside")
        if task.get("taskToken"):
            assert (activity(task["activityType"]), task["activityType"]["version"]) == ("load", "7")
            assert set(json.loads(task["input"])["input"]) == {"v"}
            swf.respond_activity_task_completed(taskToken=task["taskToken"], result=json.dumps({"rows": 42}))
            outside += 1
            busy = True
        assert busy, "nothing to do, yet the execution is open"
    events = history(swf, "ext", *ids)
    assert execution_info(swf, "ext", *ids)["closeStatus"] == "COMPLETED"
    assert outside == 1
    assert of_type(events, "ActivityTaskFailed") == []
    scheduled = {
        activity(a["activityType"]): a["taskList"]["name"] for a in of_type(events, "ActivityTaskScheduled")
    }
    assert scheduled == {"prepare": python_list, "load": external, "report": python_list}
    by_event = {e["eventId"]: e for e in events}
    starters = {
        activity(by_event[a["scheduledEventId"]]["activityTaskScheduledEventAttributes"]["activityType"]): a[
            "identity"
        ]
        for a in of_type(events, "ActivityTaskStarted")
    }
    assert starters == {"prepare": "python", "load": "outside", "report": "python"}
    (done,) = of_type(events, "WorkflowExecutionCompleted")
    prepared = compute(n=5)["v"]
    assert json.loads(done["result"]) == {"prepared": prepared, "rows": 42, "reported": compute(rows=42)["v"]}
