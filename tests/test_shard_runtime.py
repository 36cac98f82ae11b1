"""Sharded activities on the local runner: shards are child executions on the simulated clock,
decided by the same `decide` as the parent, and the flow's result is what it would be unsharded.

The shard plans are built by hand (`tests.histories.sharded`), as the compiler builds them, so
these tests hold the runtime to the plan contract whatever the compiler chooses.
"""

from __future__ import annotations

import json
from typing import Any

from flowgen.runtime.local import LocalRunner, Result
from flowgen.runtime.plan import FlowPlan
from tests.histories import plan_from, sharded
from tests.swf_support import of_type

H = "tests.flow_handlers"


def _spec(retry: str = "1", on_failure: str = "fail_workflow", max_concurrency: int = 10) -> str:
    return f"""\
flowgen: 1
domain: d
workflow:
  name: w
  version: "1"
  execution_timeout: 1d
  input: {{n: int}}
  result: {{vs: "fan[*].v", total: after.total}}
defaults:
  task_list: tl
  timeouts: {{schedule_to_start: 5m, start_to_close: 10m}}
  retry: 0
activities:
  fan:
    handler: "{H}:compute"
    generators: {{i: {{range: [0, 23]}}}}
    max_concurrency: {max_concurrency}
    inputs: {{i: generator.i, n: input.n}}
    outputs: {{v: int}}
    retry: {retry}
    on_failure: {on_failure}
  after:
    handler: "{H}:compute"
    requires: [fan]
    inputs: {{vs: "fan[*].v"}}
    outputs: {{total: int}}
"""


def fan(i: int, n: int) -> dict[str, int]:
    return {"v": i * n}


def after(vs: list[int | None]) -> dict[str, int]:
    return {"total": sum(v or 0 for v in vs)}


HANDLERS = {"fan": fan, "after": after}


def _run(plan: FlowPlan, failing: dict[str, int] | None = None, **options: Any) -> Result:
    """Run with instance id -> how many of its first attempts fail."""
    faults = failing or {}

    def fault(instance: str, attempt: int) -> str | None:
        return "fail" if attempt <= faults.get(instance, 0) else None

    return LocalRunner(plan, HANDLERS, fault=fault, **options).run({"n": 3})


EXPECTED = {"vs": [i * 3 for i in range(23)], "total": 3 * sum(range(23))}


def test_a_sharded_flow_completes_with_the_unsharded_result_and_retries_failing_instances() -> None:
    plain = plan_from(_spec())
    plan = sharded(plain, "fan", 5)
    failing = {"fan-7": 1, "fan-13": 1, "fan-22": 1}
    unsharded = _run(plain, failing)
    result = _run(plan, failing)
    assert unsharded.status == result.status == "COMPLETED", result.reason
    assert result.result == unsharded.result == EXPECTED
    # The parent ran no instance itself: five shards of 5, 5, 5, 5 and 3 instances.
    assert [a["activityId"] for a in of_type(result.history, "ActivityTaskScheduled")] == ["after"]
    started = of_type(result.history, "StartChildWorkflowExecutionInitiated")
    assert [a["workflowId"] for a in started] == [f"local.fan.{k}" for k in range(5)]
    assert [len(json.loads(a["input"])["items"]) for a in started] == [5, 5, 5, 5, 3]
    assert json.loads(started[1]["input"])["items"][2] == {"i": 7, "n": 3}
    assert len(of_type(result.history, "ChildWorkflowExecutionCompleted")) == 5


def test_shards_keep_max_concurrency_across_all_of_them() -> None:
    # max_concurrency 10 with shards of 5: two shards open at a time, each running 5 at a time.
    plan = sharded(plan_from(_spec()), "fan", 5)
    result = _run(plan)
    open_now, most = 0, 0
    for event in result.history:
        if event["eventType"] == "ChildWorkflowExecutionStarted":
            open_now += 1
            most = max(most, open_now)
        elif event["eventType"] == "ChildWorkflowExecutionCompleted":
            open_now -= 1
    assert most == 2


def test_an_instance_failing_for_good_under_on_failure_continue_gives_none() -> None:
    plan = sharded(plan_from(_spec(on_failure="continue")), "fan", 5)
    result = _run(plan, {"fan-8": 2, "fan-20": 2})
    assert result.status == "COMPLETED", result.reason
    vs = [None if i in (8, 20) else i * 3 for i in range(23)]
    assert result.result == {"vs": vs, "total": sum(v or 0 for v in vs)}


def test_an_instance_failing_for_good_fails_its_shard_and_the_workflow() -> None:
    plan = sharded(plan_from(_spec()), "fan", 5)
    result = _run(plan, {"fan-12": 2})
    assert result.status == "FAILED"
    # Told as if unsharded: the instance by its place in the whole activity, its axis values.
    assert result.reason == _run(plan_from(_spec()), {"fan-12": 2}).reason
    assert (
        result.reason == "fan-12 (i=12) failed after 2 attempts: InjectedFault: a test injected this failure"
    )
    assert result.details["instance"] == "fan-12" and result.details["values"] == {"i": 12}
    assert result.details["shard"] == 2 and result.details["workflow_id"] == "local.fan.2"


def test_a_shard_that_times_out_fails_the_workflow() -> None:
    # A shard's execution timeout is the parent's: an instance waiting a day for its retry runs
    # the shard out of time, and the parent hears ChildWorkflowExecutionTimedOut.
    text = _spec(retry="{max_retries: 1, interval: 1d}").replace(
        "execution_timeout: 1d", "execution_timeout: 2d"
    )
    plan = sharded(plan_from(text), "fan", 5)
    timeouts = plan.shards[0]
    plan = FlowPlan.from_data(
        {**plan.to_data(), "shards": [{**timeouts.to_data(), "execution_timeout": 3600}]}
    )
    result = _run(plan, {"fan-3": 1})
    assert result.status == "FAILED"
    assert result.reason == "fan shard 0 (instances 0 to 4) timed out (START_TO_CLOSE)"
