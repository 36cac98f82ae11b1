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

import datetime
import json
import pathlib
import tempfile
from typing import Any

from flowgen.compiler import compile_spec
from flowgen.plan import build_plan
from flowgen.runtime.decider import decide
from flowgen.runtime.ids import split_attempt_id
from flowgen.runtime.plan import FlowPlan

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


def attributes_key(kind: str, suffix: str = "EventAttributes") -> str:
    return kind[0].lower() + kind[1:] + suffix


class History:
    def __init__(self, workflow_input: Any = None, raw_input: str | None = None) -> None:
        self.events: list[dict[str, Any]] = []
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
        decisions = decide(plan, self.events)
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
