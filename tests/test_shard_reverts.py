"""Reverts of a sharded activity, on the local runner: every instance that completed is reverted
exactly once, last first, whether the failure is downstream or inside a shard; the compiler
builds the revert shard plan that runs them in child executions (docs/engine.md, "Shards")."""

from __future__ import annotations

import json
import threading

from flowgen.runtime.local import LocalRunner, Result
from flowgen.runtime.plan import FlowPlan
from tests.histories import plan_from
from tests.swf_support import of_type

H = "tests.flow_handlers"


def _spec(on_failure: str = "fail_workflow", retry: int = 0) -> str:
    return f"""\
flowgen: 1
domain: d
workflow:
  name: w
  version: "1"
  execution_timeout: 1d
  input: {{n: int}}
  result: {{total: after.total}}
defaults:
  task_list: tl
  timeouts: {{schedule_to_start: 5m, start_to_close: 10m}}
  retry: 0
activities:
  fan:
    handler: "{H}:compute"
    generators: {{i: {{range: [0, 23]}}}}
    max_items: 23
    shard_size: 5
    max_concurrency: 1
    inputs: {{i: generator.i, n: input.n}}
    outputs: {{v: int}}
    revert: "{H}:undo"
    retry: {retry}
    on_failure: {on_failure}
  after:
    handler: "{H}:compute"
    requires: [fan]
    inputs: {{vs: "fan[*].v"}}
    outputs: {{total: int}}
"""


class _Calls:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reverted: list[tuple[int, int]] = []

    def fan(self, i: int, n: int) -> dict[str, int]:
        return {"v": i * n}

    def undo(self, i: int, n: int, result: dict[str, int]) -> None:
        with self.lock:
            self.reverted.append((i, result["v"]))

    def after(self, vs: list[int | None]) -> dict[str, int]:
        return {"total": sum(v or 0 for v in vs)}


def _run(plan: FlowPlan, failing: set[str], calls: _Calls, fail_reverts: set[str] = frozenset()) -> Result:
    def fault(instance: str, attempt: int) -> str | None:
        return "fail" if instance in failing or instance in fail_reverts else None

    handlers = {"fan": calls.fan, "fan.revert": calls.undo, "after": calls.after}
    return LocalRunner(plan, handlers, fault=fault).run({"n": 3})


def test_the_compiler_builds_a_revert_shard_plan() -> None:
    plan = plan_from(_spec())
    assert [s.workflow for s in plan.shards] == ["w.fan", "w.fan.revert"]
    forward, undo = plan.shard_plan("fan"), plan.revert_shard_plan("fan")
    assert forward.activities[0].revert == f"{H}:undo"  # a shard reverts its own instances on failure
    inner = undo.activities[0]
    fan = plan.activity("fan")
    assert inner.reverting and inner.revert is None and inner.continue_on_failure
    assert inner.type_name == fan.revert_type == "w.fan.revert"
    assert (inner.task_list, inner.timeouts, inner.retry) == (fan.task_list, fan.timeouts, fan.retry)
    assert plan.by_type("w.fan.revert") == (fan, True)
    assert undo.by_type("w.fan.revert") == (inner, True)
    assert FlowPlan.from_data(json.loads(json.dumps(plan.to_data()))) == plan


def test_a_downstream_failure_reverts_every_instance_of_every_shard_last_first() -> None:
    calls = _Calls()
    result = _run(plan_from(_spec()), {"after"}, calls)
    assert result.status == "FAILED"
    assert calls.reverted == [(i, 3 * i) for i in range(22, -1, -1)]
    started = of_type(result.history, "StartChildWorkflowExecutionInitiated")
    reverts = [a for a in started if a["workflowType"]["name"] == "w.fan.revert"]
    assert [a["workflowId"] for a in reverts] == [f"local.fan.revert.{k}" for k in range(4, -1, -1)]
    assert result.details["reverts"] == {
        f"fan shard {k} (instances {5 * k} to {min(5 * k + 4, 22)})": "reverted" for k in range(5)
    }


def test_a_failure_inside_a_shard_reverts_what_completed_there_and_in_earlier_shards() -> None:
    calls = _Calls()
    result = _run(plan_from(_spec()), {"fan-12"}, calls)
    assert result.status == "FAILED"
    assert result.reason.startswith("fan-12 (i=12) failed after 1 attempt")
    # Shard 2 reverts its own 11 and 10 before failing; the parent then reverts shards 1 and 0.
    assert calls.reverted == [(i, 3 * i) for i in range(11, -1, -1)]


def test_instances_failing_for_good_under_on_failure_continue_are_not_reverted() -> None:
    calls = _Calls()
    result = _run(plan_from(_spec(on_failure="continue")), {"fan-7", "after"}, calls)
    assert result.status == "FAILED"
    assert calls.reverted == [(i, 3 * i) for i in range(22, -1, -1) if i != 7]


def test_a_revert_failing_for_good_fails_its_revert_shard_and_the_others_still_run() -> None:
    calls = _Calls()
    result = _run(plan_from(_spec()), {"after"}, calls, fail_reverts={"fan-8.revert"})
    assert result.status == "FAILED"
    assert calls.reverted == [(i, 3 * i) for i in range(22, -1, -1) if i != 8]
    reverts = result.details["reverts"]
    assert reverts["fan shard 1 (instances 5 to 9)"].startswith("revert failed: 1 of 5 reverts failed")
    assert reverts["fan shard 0 (instances 0 to 4)"] == "reverted"
