"""Hand-built SWF histories, shaped as boto3 returns them, for the decider's tests.

`History` appends events with increasing ids and remembers which scheduled
event each activity id and timer id belongs to, so a test writes the story of
an execution in a few lines. An instance's id stands for its latest attempt:
after `a#2` (attempt 2 of `a`) is scheduled, `h.failed("a")` fails it.

    h = History({"n": 1})
    h.decision_task()             # DecisionTaskScheduled + DecisionTaskStarted
    decisions = decide(plan, h.events)
    h.respond(decisions)          # DecisionTaskCompleted + what SWF records for each decision
    h.completed("a", {"x": 1})    # ActivityTaskStarted + ActivityTaskCompleted
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import pathlib
import tempfile
from typing import Any

from flowgen.compiler import compile_spec
from flowgen.plan import build_plan
from flowgen.runtime.decider import decide
from flowgen.runtime.ids import split_attempt_id
from flowgen.runtime.plan import (
    EACH,
    INPUT,
    ITEM,
    SHARD_INPUT,
    SHARD_RESULT,
    FlowPlan,
    Generator,
    Source,
    TypeRef,
)

EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)

_PLANS: dict[str, FlowPlan] = {}


def plan_from(text: str) -> FlowPlan:
    """The plan of a spec given as YAML text (cached: specs are shared by many cases)."""
    if text not in _PLANS:
        with tempfile.TemporaryDirectory() as folder:
            path = pathlib.Path(folder) / "spec.yaml"
            path.write_text(text)
            compiled = compile_spec(str(path))
        assert compiled.checked is not None, [
            (d.diagnostic.path, d.diagnostic.message) for d in compiled.diagnostics
        ]
        _PLANS[text] = build_plan(compiled.checked)
    return _PLANS[text]


def sharded(plan: FlowPlan, name: str, shard_size: int) -> FlowPlan:
    """`plan` with activity `name` sharded by hand, `shard_size` instances a shard, as the
    compiler's plan stage builds it (docs: the shard plan)."""
    activity = dataclasses.replace(plan.activity(name), shard_size=shard_size)
    anything = TypeRef("any")
    inner = dataclasses.replace(
        activity,
        requires=(),
        generators=(Generator("item", "source", anything, Source(INPUT, SHARD_INPUT)),),
        inputs=tuple((key, Source(ITEM, "item", key)) for key, _ in activity.inputs),
        max_items=shard_size,
        max_concurrency=activity.shard_share,
        shard_size=None,
    )
    shard = dataclasses.replace(
        plan,
        workflow=f"{plan.workflow}.{name}",
        tags=(),
        input=((SHARD_INPUT, TypeRef("list", anything)),),
        result=((SHARD_RESULT, Source(EACH, name)),),
        result_types=((SHARD_RESULT, TypeRef("list", anything)),),
        activities=(inner,),
        shards=(),
    )
    activities = tuple(activity if a.name == name else a for a in plan.activities)
    return dataclasses.replace(plan, activities=activities, shards=plan.shards + (shard,))


def attributes_key(kind: str, suffix: str = "EventAttributes") -> str:
    return kind[0].lower() + kind[1:] + suffix


class History:
    # The execution's workflow id, which `decide` derives shard ids from.
    workflow_id = "wf-1"

    def __init__(self, workflow_input: Any = None, raw_input: str | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        # (activity, shard) -> its latest StartChildWorkflowExecutionInitiated, and its workflow id.
        self.initiated: dict[tuple[str, int], int] = {}
        self.child_ids: dict[tuple[str, int], str] = {}
        self.child_started: dict[tuple[str, int], int] = {}
        # Activity id, and instance id -> its latest ActivityTaskScheduled.
        self.scheduled: dict[str, int] = {}
        self.started: dict[str, int] = {}
        self.timers: dict[str, int] = {}  # timer id -> its TimerStarted
        self.task = (0, 0)  # the last decision task's DecisionTaskScheduled and DecisionTaskStarted
        text = raw_input if raw_input is not None else json.dumps(workflow_input or {})
        self.add(
            "WorkflowExecutionStarted",
            input=text,
            workflowType={"name": "w", "version": "1"},
            taskList={"name": "decider"},
            childPolicy="TERMINATE",
        )

    # -- raw events ----------------------------------------------------------------------------

    def add(self, kind: str, **attributes: Any) -> int:
        event_id = len(self.events) + 1
        self.events.append(
            {
                "eventId": event_id,
                "eventType": kind,
                "eventTimestamp": EPOCH + datetime.timedelta(seconds=event_id),
                attributes_key(kind): attributes,
            }
        )
        return event_id

    @property
    def last_id(self) -> int:
        return len(self.events)

    # -- decision tasks ------------------------------------------------------------------------

    def decision_task(self) -> None:
        scheduled = self.add("DecisionTaskScheduled", taskList={"name": "decider"})
        self.task = (scheduled, self.add("DecisionTaskStarted", scheduledEventId=scheduled, identity="test"))

    def decision_completed(self) -> int:
        """The last decision task completes (events may have come since it started)."""
        scheduled, started = self.task
        return self.add("DecisionTaskCompleted", scheduledEventId=scheduled, startedEventId=started)

    def respond(self, decisions: list[dict[str, Any]]) -> None:
        """DecisionTaskCompleted, then the events SWF records for `decisions`."""
        completed = self.decision_completed()
        for decision in decisions:
            kind = decision["decisionType"]
            attributes = decision[attributes_key(kind, "DecisionAttributes")]
            if kind == "ScheduleActivityTask":
                self.schedule(
                    attributes["activityId"],
                    attributes["activityType"]["name"],
                    attributes.get("input"),
                    completed,
                )
            elif kind == "StartTimer":
                self.timer_started(
                    attributes["timerId"],
                    int(attributes["startToFireTimeout"]),
                    attributes.get("control"),
                    completed,
                )
            elif kind == "CancelTimer":
                self.timer_canceled(attributes["timerId"], completed)
            elif kind == "RequestCancelActivityTask":
                self.activity_cancel_requested(attributes["activityId"], completed)
            elif kind == "StartChildWorkflowExecution":
                self.child_initiated(attributes, completed)
            else:
                self.add(
                    {
                        "CompleteWorkflowExecution": "WorkflowExecutionCompleted",
                        "FailWorkflowExecution": "WorkflowExecutionFailed",
                        "CancelWorkflowExecution": "WorkflowExecutionCanceled",
                    }[kind],
                    decisionTaskCompletedEventId=completed,
                    **attributes,
                )

    def step(self, plan: FlowPlan) -> list[dict[str, Any]]:
        """A decision task: scheduled, started, decided and responded to. Returns the decisions."""
        self.decision_task()
        decisions = decide(plan, self.events, self.workflow_id)
        self.respond(decisions)
        return decisions

    # -- activity tasks ------------------------------------------------------------------------

    def schedule(
        self, activity_id: str, type_name: str | None = None, input: str | None = None, completed: int = 0
    ) -> int:
        instance, _ = split_attempt_id(activity_id)
        if type_name is None:
            type_name = instance.split("-", 1)[0]
        event_id = self.add(
            "ActivityTaskScheduled",
            activityType={"name": type_name, "version": "1"},
            activityId=activity_id,
            input=input if input is not None else "{}",
            taskList={"name": "tl"},
            decisionTaskCompletedEventId=completed or self.last_id,
        )
        self.scheduled[activity_id] = self.scheduled[instance] = event_id
        return event_id

    def start(self, activity_id: str) -> int:
        event_id = self.add(
            "ActivityTaskStarted", scheduledEventId=self.scheduled[activity_id], identity="worker"
        )
        self.started[activity_id] = event_id
        return event_id

    def _closing(self, activity_id: str, start: bool) -> dict[str, int]:
        ids = {"scheduledEventId": self.scheduled[activity_id]}
        if start:
            ids["startedEventId"] = self.start(activity_id)
        return ids

    def completed(self, activity_id: str, result: Any = None, raw: str | None = None) -> int:
        """The task completes with `result` as JSON, or with the text `raw` as it is."""
        ids = self._closing(activity_id, True)
        if raw is not None:
            return self.add("ActivityTaskCompleted", result=raw, **ids)
        if result is not None:
            return self.add("ActivityTaskCompleted", result=json.dumps(result), **ids)
        return self.add("ActivityTaskCompleted", **ids)

    def failed(self, activity_id: str, reason: str = "ValueError: boom", details: str = "trace") -> int:
        return self.add(
            "ActivityTaskFailed", reason=reason, details=details, **self._closing(activity_id, True)
        )

    def timed_out(self, activity_id: str, timeout_type: str) -> int:
        started = timeout_type not in ("SCHEDULE_TO_START",)
        return self.add(
            "ActivityTaskTimedOut", timeoutType=timeout_type, **self._closing(activity_id, started)
        )

    def canceled(self, activity_id: str) -> int:
        return self.add("ActivityTaskCanceled", **self._closing(activity_id, False))

    def schedule_failed(self, activity_id: str, cause: str, type_name: str | None = None) -> int:
        return self.add(
            "ScheduleActivityTaskFailed",
            activityType={
                "name": type_name or split_attempt_id(activity_id)[0].split("-", 1)[0],
                "version": "1",
            },
            activityId=activity_id,
            cause=cause,
            decisionTaskCompletedEventId=self.last_id,
        )

    def activity_cancel_requested(self, activity_id: str, completed: int = 0) -> int:
        return self.add(
            "ActivityTaskCancelRequested",
            activityId=activity_id,
            decisionTaskCompletedEventId=completed or self.last_id,
        )

    # -- timers and the workflow ---------------------------------------------------------------

    def timer_started(
        self, timer_id: str, seconds: int, control: str | None = None, completed: int = 0
    ) -> int:
        attributes: dict[str, Any] = {
            "timerId": timer_id,
            "startToFireTimeout": str(seconds),
            "decisionTaskCompletedEventId": completed or self.last_id,
        }
        if control is not None:
            attributes["control"] = control
        event_id = self.add("TimerStarted", **attributes)
        self.timers[timer_id] = event_id
        return event_id

    def fired(self, timer_id: str) -> int:
        return self.add("TimerFired", timerId=timer_id, startedEventId=self.timers[timer_id])

    def timer_canceled(self, timer_id: str, completed: int = 0) -> int:
        return self.add(
            "TimerCanceled",
            timerId=timer_id,
            startedEventId=self.timers[timer_id],
            decisionTaskCompletedEventId=completed or self.last_id,
        )

    def start_timer_failed(self, timer_id: str, cause: str = "TIMER_CREATION_RATE_EXCEEDED") -> int:
        return self.add(
            "StartTimerFailed", timerId=timer_id, cause=cause, decisionTaskCompletedEventId=self.last_id
        )

    # -- child workflow executions (shards) -------------------------------------------------------

    def child_initiated(self, decision: dict[str, Any], completed: int = 0) -> int:
        """StartChildWorkflowExecutionInitiated for a StartChildWorkflowExecution's attributes."""
        control = json.loads(decision["control"])
        key = (control["activity"], control["shard"])
        event_id = self.add(
            "StartChildWorkflowExecutionInitiated",
            decisionTaskCompletedEventId=completed or self.last_id,
            **decision,
        )
        self.initiated[key] = event_id
        self.child_ids[key] = decision["workflowId"]
        return event_id

    def _child(self, activity: str, shard: int) -> dict[str, Any]:
        key = (activity, shard)
        return {
            "workflowExecution": {"workflowId": self.child_ids[key], "runId": f"run-{self.initiated[key]}"},
            "workflowType": {"name": f"w.{activity}", "version": "1"},
            "initiatedEventId": self.initiated[key],
        }

    def child_start(self, activity: str, shard: int) -> int:
        event_id = self.add("ChildWorkflowExecutionStarted", **self._child(activity, shard))
        self.child_started[(activity, shard)] = event_id
        return event_id

    def _child_closing(self, activity: str, shard: int) -> dict[str, Any]:
        if (activity, shard) not in self.child_started or self.child_started[
            (activity, shard)
        ] < self.initiated[(activity, shard)]:
            self.child_start(activity, shard)
        return {**self._child(activity, shard), "startedEventId": self.child_started[(activity, shard)]}

    def child_completed(
        self, activity: str, shard: int, results: list[Any] | None = None, raw: str | None = None
    ) -> int:
        text = raw if raw is not None else json.dumps({SHARD_RESULT: results})
        return self.add(
            "ChildWorkflowExecutionCompleted", result=text, **self._child_closing(activity, shard)
        )

    def child_failed(self, activity: str, shard: int, reason: str = "x-0 failed", details: str = "{}") -> int:
        return self.add(
            "ChildWorkflowExecutionFailed",
            reason=reason,
            details=details,
            **self._child_closing(activity, shard),
        )

    def child_timed_out(self, activity: str, shard: int, timeout_type: str = "START_TO_CLOSE") -> int:
        return self.add(
            "ChildWorkflowExecutionTimedOut", timeoutType=timeout_type, **self._child_closing(activity, shard)
        )

    def child_canceled(self, activity: str, shard: int) -> int:
        return self.add(
            "ChildWorkflowExecutionCanceled", details="asked", **self._child_closing(activity, shard)
        )

    def child_terminated(self, activity: str, shard: int) -> int:
        return self.add("ChildWorkflowExecutionTerminated", **self._child_closing(activity, shard))

    def child_start_failed(self, activity: str, shard: int, cause: str) -> int:
        """The last start of the shard failed (SWF records it after the initiated event)."""
        key = (activity, shard)
        return self.add(
            "StartChildWorkflowExecutionFailed",
            workflowType={"name": f"w.{activity}", "version": "1"},
            cause=cause,
            workflowId=self.child_ids[key],
            initiatedEventId=self.initiated[key],
            decisionTaskCompletedEventId=self.last_id,
            control=json.dumps({"activity": activity, "shard": shard}),
        )

    def cancel_requested(self) -> int:
        return self.add("WorkflowExecutionCancelRequested", cause="CHILD_POLICY_APPLIED")


# -- reading decisions -----------------------------------------------------------------------------


def attributes(decision: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = decision[attributes_key(decision["decisionType"], "DecisionAttributes")]
    return value


def summary(decision: dict[str, Any]) -> str:
    """One decision as a short line: `schedule ID`, `timer ID SECONDS`, `complete RESULT`, ..."""
    kind = decision["decisionType"]
    a = attributes(decision)
    if kind == "ScheduleActivityTask":
        return f"schedule {a['activityId']}"
    if kind == "StartTimer":
        return f"timer {a['timerId']} {a['startToFireTimeout']}"
    if kind == "CancelTimer":
        return f"cancel-timer {a['timerId']}"
    if kind == "RequestCancelActivityTask":
        return f"cancel-activity {a['activityId']}"
    if kind == "CompleteWorkflowExecution":
        return f"complete {a['result']}"
    if kind == "FailWorkflowExecution":
        return f"fail {a['reason']}"
    if kind == "CancelWorkflowExecution":
        return "cancel-workflow"
    if kind == "StartChildWorkflowExecution":
        return f"start-child {a['workflowId']}"
    return kind


def summaries(decisions: list[dict[str, Any]]) -> list[str]:
    return [summary(d) for d in decisions]


def task_input(decision: dict[str, Any]) -> Any:
    return json.loads(attributes(decision)["input"])


def inputs_by_id(decisions: list[dict[str, Any]]) -> dict[str, Any]:
    """Activity id -> the `input` part of its task input, for every ScheduleActivityTask."""
    return {
        attributes(d)["activityId"]: task_input(d)["input"]
        for d in decisions
        if d["decisionType"] == "ScheduleActivityTask"
    }
