"""What a workflow history says: each instance's attempts, results and errors.

`read_history` folds SWF's events (boto3's shape) into an `Execution`; it is
pure, and the decider is a function of what it returns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# Events that never call for a decision by themselves.
_QUIET = frozenset({"DecisionTaskScheduled", "DecisionTaskStarted", "ActivityTaskStarted"})


@dataclass(frozen=True)
class Error:
    """Why one attempt did not complete."""

    kind: str  # failed | timed_out | schedule_failed | canceled
    name: str  # what retry.errors matches: exception class, time-out type or SWF cause
    reason: str
    details: str = ""

    def describe(self) -> str:
        if self.kind == "failed":
            return self.reason or self.name
        if self.kind == "timed_out":
            return f"timed out ({self.name})"
        if self.kind == "schedule_failed":
            return f"could not be scheduled ({self.name})"
        return "canceled"


@dataclass
class Instance:
    """One activity id's story so far."""

    activity_id: str
    attempts: int = 0
    open: bool = False
    completed: bool = False
    result: Any = None
    error: Error | None = None
    input: str | None = None
    # Retry timer of the attempt `timer_attempt`: "open" or "fired".
    timer: str = ""
    timer_attempt: int = 0
    cancel_requested: bool = False
    # Event id of the failure that exhausted it, for a stable "first failure".
    closed_event: int = 0


@dataclass
class Execution:
    input: str | None = None
    instances: dict[str, Instance] = field(default_factory=dict)
    open_timers: set[str] = field(default_factory=set)
    cancel_requested: bool = False
    last_event_id: int = 0
    # Whether anything happened since the last decision task completed.
    has_news: bool = True

    def instance(self, activity_id: str) -> Instance:
        found = self.instances.get(activity_id)
        if found is None:
            found = self.instances[activity_id] = Instance(activity_id)
        return found


def _attributes(event: dict[str, Any]) -> dict[str, Any]:
    kind = event["eventType"]
    name = kind[0].lower() + kind[1:] + "EventAttributes"
    attributes: dict[str, Any] = event.get(name, {})
    return attributes


def read_history(events: list[dict[str, Any]]) -> Execution:
    execution = Execution()
    by_scheduled: dict[int, str] = {}
    timer_controls: dict[str, dict[str, Any]] = {}
    last_completed = -1
    for position, event in enumerate(events):
        kind = event["eventType"]
        attributes = _attributes(event)
        event_id = int(event.get("eventId", position + 1))
        execution.last_event_id = max(execution.last_event_id, event_id)
        if kind == "DecisionTaskCompleted":
            last_completed = position
        elif kind == "WorkflowExecutionStarted":
            execution.input = attributes.get("input")
        elif kind == "WorkflowExecutionCancelRequested":
            execution.cancel_requested = True
        elif kind == "ActivityTaskScheduled":
            instance = execution.instance(attributes["activityId"])
            by_scheduled[event_id] = instance.activity_id
            instance.attempts += 1
            instance.open = True
            instance.error = None
            instance.input = attributes.get("input")
        elif kind == "ScheduleActivityTaskFailed":
            instance = execution.instance(attributes["activityId"])
            instance.attempts += 1
            instance.open = False
            cause = str(attributes.get("cause", "UNKNOWN"))
            instance.error = Error("schedule_failed", cause, f"could not be scheduled: {cause}")
            instance.closed_event = event_id
        elif kind in (
            "ActivityTaskCompleted",
            "ActivityTaskFailed",
            "ActivityTaskTimedOut",
            "ActivityTaskCanceled",
        ):
            activity_id = by_scheduled.get(int(attributes.get("scheduledEventId", -1)))
            if activity_id is None:
                continue
            instance = execution.instance(activity_id)
            instance.open = False
            instance.closed_event = event_id
            if kind == "ActivityTaskCompleted":
                instance.completed = True
                raw = attributes.get("result")
                instance.result = json.loads(raw) if raw else None
            elif kind == "ActivityTaskFailed":
                reason = str(attributes.get("reason", ""))
                name = reason.split(":", 1)[0].strip() or "Error"
                instance.error = Error("failed", name, reason, str(attributes.get("details", "")))
            elif kind == "ActivityTaskTimedOut":
                timeout = str(attributes.get("timeoutType", "UNKNOWN"))
                instance.error = Error(
                    "timed_out", timeout, f"timed out ({timeout})", str(attributes.get("details", ""))
                )
            else:
                instance.error = Error("canceled", "CANCELED", "canceled", str(attributes.get("details", "")))
        elif kind == "ActivityTaskCancelRequested":
            execution.instance(attributes["activityId"]).cancel_requested = True
        elif kind == "TimerStarted":
            timer_id = attributes["timerId"]
            execution.open_timers.add(timer_id)
            control = _control(attributes.get("control"))
            timer_controls[timer_id] = control
            if control.get("kind") == "retry":
                instance = execution.instance(control["activity_id"])
                instance.timer, instance.timer_attempt = "open", int(control["attempt"])
        elif kind in ("TimerFired", "TimerCanceled", "StartTimerFailed"):
            timer_id = attributes["timerId"]
            execution.open_timers.discard(timer_id)
            control = timer_controls.get(timer_id, {})
            if kind == "StartTimerFailed":
                # The wait could not be set up; retry without it rather than stall.
                control = _retry_control_from_id(timer_id) or control
            if control.get("kind") == "retry" and kind != "TimerCanceled":
                instance = execution.instance(control["activity_id"])
                instance.timer, instance.timer_attempt = "fired", int(control["attempt"])
    tail = events[last_completed + 1 :]
    execution.has_news = last_completed < 0 or any(e["eventType"] not in _QUIET for e in tail)
    return execution


def _control(raw: Any) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# Retry timer ids embed the attempt and the activity id, so a StartTimerFailed
# (which carries no control) can still be traced to its instance.
RETRY_TIMER_PREFIX = "retry-"


def _retry_control_from_id(timer_id: str) -> dict[str, Any] | None:
    if not timer_id.startswith(RETRY_TIMER_PREFIX):
        return None
    attempt, _, activity_id = timer_id[len(RETRY_TIMER_PREFIX) :].partition("-")
    if not attempt.isdigit() or not activity_id:
        return None
    return {"kind": "retry", "attempt": int(attempt), "activity_id": activity_id}
