"""Shared by the SWF tests: the country flow's plan, registration on moto, fakes of SWF and a fake clock."""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import EndpointConnectionError

from flowgen.compiler import compile_spec
from flowgen.plan import build_plan
from flowgen.runtime.plan import FlowPlan
from flowgen.runtime.polling import Clock

ACTIVITY_TIMEOUT_FALLBACK = 3600


@functools.cache
def country_plan() -> FlowPlan:
    plan: FlowPlan = build_plan(compile_spec("specs/country_flow.yaml").checked)
    return plan


def register(client: Any, plan: FlowPlan) -> None:
    """Domain, workflow type and activity types, every timeout explicit (moto crashes on "NONE")."""
    client.register_domain(name=plan.domain, workflowExecutionRetentionPeriodInDays="1")
    client.register_workflow_type(
        domain=plan.domain,
        name=plan.workflow,
        version=plan.version,
        defaultTaskList={"name": plan.task_list},
        defaultExecutionStartToCloseTimeout=str(plan.execution_timeout),
        defaultTaskStartToCloseTimeout=str(plan.decision_timeout or 30),
        defaultChildPolicy=plan.child_policy,
    )
    for activity in plan.activities:
        names = [activity.type_name] + ([activity.revert_type] if activity.revert_type else [])
        t = activity.timeouts
        for name in names:
            client.register_activity_type(
                domain=plan.domain,
                name=name,
                version=activity.version,
                defaultTaskList={"name": activity.task_list},
                defaultTaskScheduleToStartTimeout=str(t.schedule_to_start or ACTIVITY_TIMEOUT_FALLBACK),
                defaultTaskStartToCloseTimeout=str(t.start_to_close or ACTIVITY_TIMEOUT_FALLBACK),
                defaultTaskScheduleToCloseTimeout=str(t.schedule_to_close or ACTIVITY_TIMEOUT_FALLBACK),
                defaultTaskHeartbeatTimeout=str(t.heartbeat or ACTIVITY_TIMEOUT_FALLBACK),
            )


def start(client: Any, plan: FlowPlan, workflow_input: dict[str, Any], workflow_id: str = "wf-1") -> str:
    """Start an execution; returns its run id."""
    response = client.start_workflow_execution(
        domain=plan.domain,
        workflowId=workflow_id,
        workflowType={"name": plan.workflow, "version": plan.version},
        taskList={"name": plan.task_list},
        input=json.dumps(workflow_input),
        executionStartToCloseTimeout=str(plan.execution_timeout),
        taskStartToCloseTimeout=str(plan.decision_timeout or 30),
        childPolicy=plan.child_policy,
    )
    run_id: str = response["runId"]
    return run_id


def history(client: Any, plan: FlowPlan, workflow_id: str, run_id: str) -> list[dict[str, Any]]:
    response = client.get_workflow_execution_history(
        domain=plan.domain, execution={"workflowId": workflow_id, "runId": run_id}
    )
    events: list[dict[str, Any]] = response["events"]
    return events


def attributes(event: dict[str, Any]) -> dict[str, Any]:
    kind = event["eventType"]
    found: dict[str, Any] = event[kind[0].lower() + kind[1:] + "EventAttributes"]
    return found


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [attributes(e) for e in events if e["eventType"] == kind]


class FakeSWF:
    """PollForDecisionTask over a history held in memory, paged as SWF pages it.

    `page_size` (when set) overrides the request's maximumPageSize, so short
    histories still take several pages. `calls` records every request.
    """

    def __init__(self, page_size: int | None = None) -> None:
        self.page_size = page_size
        self.events: list[dict[str, Any]] = []
        self.workflow_id = "wf"
        self.run_id = "run"
        self.calls: list[dict[str, Any]] = []
        self.token = 0

    def poll_for_decision_task(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        ordered = list(reversed(self.events)) if request.get("reverseOrder") else list(self.events)
        size = self.page_size or request["maximumPageSize"]
        offset = int(request.get("nextPageToken", "0"))
        response: dict[str, Any] = {"events": ordered[offset : offset + size]}
        if offset + size < len(ordered):
            response["nextPageToken"] = str(offset + size)
        if "nextPageToken" not in request:
            self.token += 1
            response.update(
                taskToken=f"token-{self.token}",
                workflowExecution={"workflowId": self.workflow_id, "runId": self.run_id},
                workflowType={"name": "country_flow", "version": "1.0"},
                startedEventId=len(self.events),
            )
        return response


class FakeClock(Clock):
    """A clock whose waits jump instead of sleeping; `waits` records each wait asked for."""

    def __init__(self) -> None:
        self.time = 0.0
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self.time

    def wait(self, event: threading.Event, seconds: float) -> bool:
        if event.is_set():
            return True
        with self._lock:
            self.time += seconds
            self.waits.append(seconds)
        time.sleep(0)  # let other threads run, as a real wait would
        return event.is_set()


def activity_task(token: str = "tok", activity_id: str = "activity_1", attempt: int = 1) -> dict[str, Any]:
    """A polled activity task for country_flow's activity_1."""
    return {
        "taskToken": token,
        "activityId": activity_id,
        "startedEventId": 7,
        "workflowExecution": {"workflowId": "wf-1", "runId": "run-1"},
        "activityType": {"name": "country_flow.activity_1", "version": "1.0"},
        "input": json.dumps({"input": {}, "attempt": attempt}),
    }


class FakeActivitySWF:
    """The worker's side of SWF in memory: polls hand out `tasks`, reports are recorded in `reports`.

    While `down(clock time)` is true every call raises botocore's EndpointConnectionError, as when
    the endpoint stays unreachable longer than botocore's retries. `on_empty` runs on each empty
    poll (a test stops the worker there); `on_report` on each report.
    """

    def __init__(
        self,
        tasks: list[dict[str, Any]] | None = None,
        clock: Clock | None = None,
        down: Callable[[float], bool] = lambda now: False,
        on_empty: Callable[[], None] = lambda: None,
        on_report: Callable[[str, dict[str, Any]], None] = lambda kind, request: None,
    ) -> None:
        self.tasks = list(tasks or [])
        self.clock = clock or Clock()
        self.down = down
        self.on_empty = on_empty
        self.on_report = on_report
        self.reports: list[tuple[str, dict[str, Any]]] = []
        self.beats: list[float] = []
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def _call(self, name: str) -> None:
        with self._lock:
            self.calls.append(name)
        if self.down(self.clock.now()):
            raise EndpointConnectionError(endpoint_url="https://swf.invalid")

    def poll_for_activity_task(self, **request: Any) -> dict[str, Any]:
        self._call("poll")
        if self.tasks:
            return self.tasks.pop(0)
        self.on_empty()
        return {"taskToken": ""}

    def record_activity_task_heartbeat(self, **request: Any) -> dict[str, Any]:
        self._call("heartbeat")
        self.beats.append(self.clock.now())
        return {"cancelRequested": False}

    def _report(self, kind: str, request: dict[str, Any]) -> dict[str, Any]:
        self._call(kind)
        self.reports.append((kind, request))
        self.on_report(kind, request)
        return {}

    def respond_activity_task_completed(self, **request: Any) -> dict[str, Any]:
        return self._report("completed", request)

    def respond_activity_task_failed(self, **request: Any) -> dict[str, Any]:
        return self._report("failed", request)

    def respond_activity_task_canceled(self, **request: Any) -> dict[str, Any]:
        return self._report("canceled", request)
