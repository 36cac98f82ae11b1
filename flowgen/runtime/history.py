"""What a workflow history says: each instance's attempts, results and errors.

`read_history` folds SWF's events (boto3's shape) into an `Execution`; it is
pure, and the decider is a function of what it returns. It never raises on what
a history holds: a history that contradicts itself (an activity task closed or
started that was never scheduled, no WorkflowExecutionStarted) is reported in
`Execution.problem`, and a repeated event counts once.

Child workflow executions (the shards of a sharded activity) are folded into
`Execution.children`, one `Child` per (activity, shard): the decider's `control`
on StartChildWorkflowExecutionInitiated names them, and every later child event
is linked to its initiated event by `initiatedEventId`.

Each attempt of an instance has its own activity id (ids.py): the events of an attempt are
folded into its instance, and an attempt whose id does not follow the instance's attempts (a
history written by a decider that reused ids) is such a contradiction.
"""

from __future__ import annotations

import datetime
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .ids import attempt_id, split_attempt_id

if TYPE_CHECKING:
    from .decider import Memo

# Events that never call for a decision by themselves.
_QUIET = frozenset({"DecisionTaskScheduled", "DecisionTaskStarted", "ActivityTaskStarted"})
# The events that close an execution, and the status each leaves it in.
CLOSE_STATUS = {
    "WorkflowExecutionCompleted": "COMPLETED",
    "WorkflowExecutionFailed": "FAILED",
    "WorkflowExecutionCanceled": "CANCELED",
    "WorkflowExecutionTerminated": "TERMINATED",
    "WorkflowExecutionTimedOut": "TIMED_OUT",
    "WorkflowExecutionContinuedAsNew": "CONTINUED_AS_NEW",
}
_OUTCOMES = {
    "ActivityTaskCompleted": "completed",
    "ActivityTaskFailed": "failed",
    "ActivityTaskTimedOut": "timed_out",
    "ActivityTaskCanceled": "canceled",
}
# The events that close an attempt of an activity task.
_CLOSING = frozenset(
    {"ActivityTaskCompleted", "ActivityTaskFailed", "ActivityTaskTimedOut", "ActivityTaskCanceled"}
)
# The events that close a child workflow execution that started.
_CHILD_CLOSING = frozenset(
    {
        "ChildWorkflowExecutionCompleted",
        "ChildWorkflowExecutionFailed",
        "ChildWorkflowExecutionTimedOut",
        "ChildWorkflowExecutionCanceled",
        "ChildWorkflowExecutionTerminated",
    }
)


@dataclass(frozen=True)
class Error:
    """Why one attempt did not complete."""

    kind: str  # failed | timed_out | schedule_failed | canceled | terminated | start_failed
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
        if self.kind == "start_failed":
            return f"could not be started ({self.name})"
        if self.kind == "terminated":
            return "terminated"
        return "canceled"


@dataclass(slots=True)
class Attempt:
    """When one attempt was scheduled, started and closed, and how it ended (for status and timelines).

    Times are the events' `eventTimestamp` as the history holds them (a datetime from boto3);
    None where the event has none, or has not happened yet. The event ids order them anyway.
    """

    number: int
    scheduled_at: Any
    scheduled_event: int
    started_at: Any = None
    closed_at: Any = None
    closed_event: int = 0
    outcome: str = "open"  # open | completed | failed | timed_out | canceled | schedule_failed

    @property
    def handler_seconds(self) -> float | None:
        """From the worker taking the task to its close: the handler's time (None unless both are known)."""
        started, closed = seconds(self.started_at), seconds(self.closed_at)
        if started is None or closed is None:
            return None
        return max(closed - started, 0.0)


def seconds(raw: Any) -> float | None:
    """An eventTimestamp as seconds since the epoch: boto3 gives datetimes; JSON, text or numbers."""
    if isinstance(raw, datetime.datetime):
        if raw.tzinfo is None:
            raw = raw.replace(tzinfo=datetime.UTC)
        return float(raw.timestamp())
    if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
        return float(raw)
    if isinstance(raw, str):
        try:
            return seconds(datetime.datetime.fromisoformat(raw))
        except ValueError:
            return None
    return None


@dataclass(slots=True)
class Instance:
    """One instance's story so far, over its attempts (one per instance, every decision task: slots)."""

    instance_id: str
    attempts: int = 0
    open: bool = False
    completed: bool = False
    # The result as SWF holds it, JSON text; the decider checks and decodes it into `value`.
    result_text: str | None = None
    value: Any = None
    error: Error | None = None
    input: str | None = None
    # Retry timer of the attempt `timer_attempt`: "open" or "fired". A canceled timer stays "open"
    # (the instance must not run again) and `timer_canceled` holds its TimerCanceled (id, time).
    timer: str = ""
    timer_attempt: int = 0
    timer_canceled: tuple[int, Any] | None = None
    cancel_requested: bool = False
    # Event id of the failure that exhausted it, for a stable "first failure".
    closed_event: int = 0
    # Every attempt so far, oldest first: what `status` and `timeline` show.
    history: list[Attempt] = field(default_factory=list)


@dataclass(slots=True)
class Child:
    """One shard of a sharded activity: its child workflow execution's story so far."""

    activity: str
    shard: int
    workflow_id: str = ""
    # StartChildWorkflowExecution decisions that SWF recorded (initiated or failed to start).
    attempts: int = 0
    open: bool = False  # initiated, not closed yet
    started: bool = False
    completed: bool = False
    # The child's result as SWF holds it; the decider decodes it into `value` when it reads it.
    result_text: str | None = None
    value: Any = None
    error: Error | None = None
    # The wait before starting again after a start that failed (as Instance's retry timer).
    timer: str = ""
    timer_attempt: int = 0
    timer_canceled: tuple[int, Any] | None = None
    closed_event: int = 0
    # Every start so far, oldest first, as an Instance's attempts: what `timeline` shows.
    history: list[Attempt] = field(default_factory=list)


# How a child execution's closing event ends its bar in a timeline.
_CHILD_OUTCOMES = {
    "ChildWorkflowExecutionCompleted": "completed",
    "ChildWorkflowExecutionFailed": "failed",
    "ChildWorkflowExecutionTimedOut": "timed_out",
    "ChildWorkflowExecutionCanceled": "canceled",
    "ChildWorkflowExecutionTerminated": "canceled",
}


@dataclass
class Execution:
    started: bool = False
    input: str | None = None
    instances: dict[str, Instance] = field(default_factory=dict)
    # (activity, shard) -> that shard's child execution.
    children: dict[tuple[str, int], Child] = field(default_factory=dict)
    open_timers: set[str] = field(default_factory=set)
    cancel_requested: bool = False
    last_event_id: int = 0
    # Whether anything happened since the last decision task completed.
    has_news: bool = True
    # Why the history cannot be trusted (the first contradiction found), or None.
    problem: str | None = None
    # For status and timelines: when it started and closed (eventTimestamp, as held), the
    # time of its last event, and how it closed (SWF's status: OPEN until a closing event).
    started_at: Any = None
    closed_at: Any = None
    last_at: Any = None
    status: str = "OPEN"
    # From a `HistoryFolder`: how many events were folded before this fold, and the instances
    # and shards its new events changed (None: a whole read, where everything is new). What
    # `decide` derived at the previous task is brought up to date from these (decider.Memo).
    since: int = field(default=0, compare=False)
    changed: frozenset[str] | None = field(default=None, compare=False)
    changed_children: frozenset[tuple[str, int]] | None = field(default=None, compare=False)

    def instance(self, instance_id: str) -> Instance:
        found = self.instances.get(instance_id)
        if found is None:
            found = self.instances[instance_id] = Instance(instance_id)
        return found

    def child(self, activity: str, shard: int) -> Child:
        found = self.children.get((activity, shard))
        if found is None:
            found = self.children[(activity, shard)] = Child(activity, shard)
        return found


# eventType -> the key of its attributes: "ActivityTaskScheduled" -> "activityTaskScheduledEventAttributes".
_KEYS: dict[str, str] = {}


def _attributes(event: dict[str, Any]) -> dict[str, Any]:
    kind = event["eventType"]
    key = _KEYS.get(kind)
    if key is None:
        key = _KEYS[kind] = kind[0].lower() + kind[1:] + "EventAttributes"
    attributes: dict[str, Any] = event.get(key, {})
    return attributes


def read_history(events: list[dict[str, Any]]) -> Execution:
    """The state of an execution from its history, oldest event first.

    It runs on every decision task over the whole history (unless the decider's poller folds
    only the new events with a `HistoryFolder`), so it is kept to one pass that does nothing
    for the events that say nothing (half of a history: decision tasks scheduled and started,
    activity tasks started).
    """
    folder = HistoryFolder()
    execution = folder.execution
    if events:
        # Pages come oldest first (or newest first): the largest id is at one end.
        first, last = int(events[0].get("eventId", 1)), int(events[-1].get("eventId", len(events)))
        execution.last_event_id = max(first, last)
        execution.last_at = (events[-1] if last >= first else events[0]).get("eventTimestamp")
    folder.fold_events(events, 0)
    answered = folder.answered
    execution.has_news = answered is None
    for event in reversed(events):
        if execution.has_news or int(event.get("eventId", 0)) <= (answered or 0):
            break
        execution.has_news = (
            event["eventType"] not in _QUIET and event["eventType"] != "DecisionTaskCompleted"
        )
    if not execution.started:
        execution.problem = (
            "the history has no WorkflowExecutionStarted event, so the workflow input is unknown"
        )
    return execution


class HistoryFolder:
    """`read_history` resumable: folds a history's events as they come, task after task.

    `fold(new_events)` folds the events that follow those folded so far and returns the
    execution as `read_history` would over all of them. It returns None, and folds nothing
    more ever, whenever that cannot be vouched for: the events' ids do not run on from the
    last one folded (a gap, a reorder, another history), or the history holds a contradiction
    (`Execution.problem`) or no WorkflowExecutionStarted; the caller then reads the whole
    history with `read_history`, which says what is wrong.
    """

    def __init__(self) -> None:
        self.execution = Execution()
        # How many events were folded: they are events 1, 2, 3...
        self.count = 0
        self.broken = False
        # ActivityTaskScheduled event id -> the instance and the attempt it scheduled.
        self.by_scheduled: dict[int, tuple[Instance, int]] = {}
        self.timer_controls: dict[str, dict[str, Any]] = {}
        # StartChildWorkflowExecutionInitiated event id -> the child and the start it recorded.
        self.by_initiated: dict[int, tuple[Child, int]] = {}
        # The DecisionTaskStarted that the last completed decision task answered: that
        # decision saw everything up to it, and nothing after it.
        self.answered: int | None = None
        # The id of the last event that calls for a decision (what `has_news` compares).
        self.news = 0
        # The instances and shards that the events folded since the last `fold` changed.
        self.changed: set[str] = set()
        self.changed_children: set[tuple[str, int]] = set()
        # What `decide` derived from this fold, kept with it for the next task (decider.Memo).
        self.memo: Memo | None = None

    def fold(self, new_events: list[dict[str, Any]]) -> Execution | None:
        """The execution after `new_events` too; None when only a whole read can say (see above).

        What it returns shares its instances and children with the folder (they are folded
        on); its own mappings are copies, so a reader may replace entries without harm.
        """
        if self.broken:
            return None
        first = self.count + 1
        if [event.get("eventId") for event in new_events] != list(range(first, first + len(new_events))):
            self.broken = True
            return None
        since = self.count
        self.changed.clear()
        self.changed_children.clear()
        self.fold_events(new_events, since)
        self.count += len(new_events)
        execution = self.execution
        if new_events:
            execution.last_event_id = self.count
            execution.last_at = new_events[-1].get("eventTimestamp")
        if execution.problem is not None or not execution.started:
            self.broken = True
            return None
        return Execution(
            started=True,
            input=execution.input,
            instances=dict(execution.instances),
            children=dict(execution.children),
            open_timers=set(execution.open_timers),
            cancel_requested=execution.cancel_requested,
            last_event_id=execution.last_event_id,
            has_news=self.answered is None or self.news > self.answered,
            started_at=execution.started_at,
            closed_at=execution.closed_at,
            last_at=execution.last_at,
            status=execution.status,
            since=since,
            changed=frozenset(self.changed),
            changed_children=frozenset(self.changed_children),
        )

    def fold_events(self, events: list[dict[str, Any]], start: int) -> None:
        """Fold `events`, the first of which is at `start` in the history (its position)."""
        execution = self.execution
        by_scheduled, by_initiated = self.by_scheduled, self.by_initiated
        timer_controls = self.timer_controls
        answered, news = self.answered, self.news
        # Bound once: a whole read notes a change per event that says something.
        changed, changed_children = self.changed.add, self.changed_children.add
        for position, event in enumerate(events, start):
            kind = event["eventType"]
            if kind in _QUIET:
                if kind == "ActivityTaskStarted" and execution.problem is None:
                    scheduled = _event_id(_attributes(event).get("scheduledEventId"))
                    known = by_scheduled.get(scheduled)
                    if known is None:
                        execution.problem = _orphan(event, kind, scheduled, position)
                    elif known[0].history and known[0].history[-1].number == known[1]:
                        known[0].history[-1].started_at = event.get("eventTimestamp")
                continue
            if kind == "DecisionTaskCompleted":
                started = event.get("decisionTaskCompletedEventAttributes", {}).get("startedEventId")
                answered = (
                    int(started) if started is not None else int(event.get("eventId", position + 1)) - 1
                )
                continue
            news = _event_id(event.get("eventId", position + 1))
            attributes = _attributes(event)
            if kind in _CLOSING:
                scheduled = _event_id(attributes.get("scheduledEventId"))
                closed = by_scheduled.get(scheduled)
                if closed is None:
                    # Its activity id is unknown, so its instance might be redone: the caller fails.
                    execution.problem = execution.problem or _orphan(event, kind, scheduled, position)
                    continue
                instance, attempt = closed
                if not instance.open or attempt != instance.attempts:
                    continue  # a second close of an attempt already closed: the first one stands
                changed(instance.instance_id)
                instance.open = False
                instance.closed_event = int(event.get("eventId", position + 1))
                if instance.history:
                    record = instance.history[-1]
                    record.closed_at, record.closed_event = event.get("eventTimestamp"), instance.closed_event
                    record.outcome = _OUTCOMES[kind]
                if kind == "ActivityTaskCompleted":
                    instance.completed = True
                    instance.result_text = attributes.get("result")
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
                    instance.error = Error(
                        "canceled", "CANCELED", "canceled", str(attributes.get("details", ""))
                    )
            elif kind == "ActivityTaskScheduled":
                activity_id = str(attributes.get("activityId", ""))
                key, attempt = split_attempt_id(activity_id)
                instance = execution.instance(key)
                if instance.open and attempt == instance.attempts:
                    pass  # the open attempt's event again (SWF never repeats one): still one attempt
                elif not instance.open and attempt == instance.attempts + 1:
                    instance.attempts += 1
                    instance.open = True
                    instance.error = None
                    instance.input = attributes.get("input")
                    instance.history.append(
                        Attempt(
                            instance.attempts,
                            event.get("eventTimestamp"),
                            int(event.get("eventId", position + 1)),
                        )
                    )
                else:
                    execution.problem = execution.problem or _out_of_turn(
                        event, kind, activity_id, instance, position
                    )
                    continue
                changed(key)
                by_scheduled[int(event.get("eventId", position + 1))] = (instance, instance.attempts)
            elif kind in _CHILD_CLOSING or kind == "ChildWorkflowExecutionStarted":
                initiated = _event_id(attributes.get("initiatedEventId"))
                linked = by_initiated.get(initiated)
                if linked is None:
                    execution.problem = execution.problem or _orphan_child(event, kind, initiated, position)
                    continue
                child, attempt = linked
                if not child.open or attempt != child.attempts:
                    continue  # a repeated event: the first one stands
                changed_children((child.activity, child.shard))
                if kind == "ChildWorkflowExecutionStarted":
                    child.started = True
                    if child.history:
                        child.history[-1].started_at = event.get("eventTimestamp")
                    continue
                child.open = False
                child.closed_event = int(event.get("eventId", position + 1))
                if child.history:
                    record = child.history[-1]
                    record.closed_at, record.closed_event = event.get("eventTimestamp"), child.closed_event
                    record.outcome = _CHILD_OUTCOMES[kind]
                child.error = _child_error(kind, attributes)
                if child.error is None:
                    child.completed = True
                    child.result_text = attributes.get("result")
            elif kind == "StartChildWorkflowExecutionInitiated":
                shard = _shard_control(attributes.get("control"))
                if shard is None:
                    # Not the decider's own: which shard it runs is unknown, so it might be started twice.
                    execution.problem = execution.problem or (
                        f"event {_event_id(event.get('eventId', position + 1))} ({kind}) has no shard control"
                    )
                    continue
                child = execution.child(*shard)
                changed_children(shard)
                if not child.open:
                    child.attempts += 1
                    child.open = True
                    child.started = False
                    child.error = None
                    event_id = int(event.get("eventId", position + 1))
                    child.history.append(Attempt(child.attempts, event.get("eventTimestamp"), event_id))
                child.workflow_id = str(attributes.get("workflowId", ""))
                by_initiated[int(event.get("eventId", position + 1))] = (child, child.attempts)
            elif kind == "StartChildWorkflowExecutionFailed":
                shard = _shard_control(attributes.get("control"))
                linked = by_initiated.get(_event_id(attributes.get("initiatedEventId")))
                if shard is not None:
                    child = execution.child(*shard)
                elif linked is not None:
                    child = linked[0]
                else:
                    execution.problem = execution.problem or (
                        f"event {_event_id(event.get('eventId', position + 1))} ({kind}) names no shard"
                    )
                    continue
                if child.completed or child.started:
                    continue  # it runs or ran: a stray failure of another start says nothing of it
                changed_children((child.activity, child.shard))
                if not child.open:
                    child.attempts += 1  # refused before it was initiated: still one start
                child.open = child.started = False
                cause = str(attributes.get("cause", "UNKNOWN"))
                child.error = Error("start_failed", cause, f"could not be started: {cause}")
                child.closed_event = int(event.get("eventId", position + 1))
                at = event.get("eventTimestamp")
                if not (child.history and child.history[-1].number == child.attempts):
                    child.history.append(Attempt(child.attempts, at, child.closed_event))
                record = child.history[-1]
                record.closed_at, record.closed_event, record.outcome = (
                    at,
                    child.closed_event,
                    "schedule_failed",
                )
            elif kind == "WorkflowExecutionStarted":
                execution.started = True
                execution.input = attributes.get("input")
                execution.started_at = event.get("eventTimestamp")
            elif kind in CLOSE_STATUS:
                execution.status = CLOSE_STATUS[kind]
                execution.closed_at = event.get("eventTimestamp")
            elif kind == "WorkflowExecutionCancelRequested":
                execution.cancel_requested = True
            elif kind == "ScheduleActivityTaskFailed":
                activity_id = str(attributes.get("activityId", ""))
                key, attempt = split_attempt_id(activity_id)
                instance = execution.instance(key)
                if instance.open or attempt != instance.attempts + 1:
                    execution.problem = execution.problem or _out_of_turn(
                        event, kind, activity_id, instance, position
                    )
                    continue
                changed(key)
                instance.attempts += 1
                instance.open = False
                cause = str(attributes.get("cause", "UNKNOWN"))
                instance.error = Error("schedule_failed", cause, f"could not be scheduled: {cause}")
                instance.closed_event = int(event.get("eventId", position + 1))
                at = event.get("eventTimestamp")
                record = Attempt(
                    instance.attempts, at, instance.closed_event, None, at, instance.closed_event
                )
                record.outcome = "schedule_failed"
                instance.history.append(record)
            elif kind == "ActivityTaskCancelRequested":
                key, _ = split_attempt_id(str(attributes.get("activityId", "")))
                execution.instance(key).cancel_requested = True
                changed(key)
            elif kind == "TimerStarted":
                timer_id = str(attributes.get("timerId", ""))
                execution.open_timers.add(timer_id)
                control = _control(attributes.get("control"))
                timer_controls[timer_id] = control
                if control.get("kind") == "retry":
                    instance = execution.instance(control["activity_id"])
                    instance.timer, instance.timer_attempt = "open", int(control["attempt"])
                    instance.timer_canceled = None
                    changed(instance.instance_id)
                elif control.get("kind") == "restart":
                    child = execution.child(control["activity"], control["shard"])
                    child.timer, child.timer_attempt = "open", int(control["attempt"])
                    child.timer_canceled = None
                    changed_children((child.activity, child.shard))
            elif kind in ("TimerFired", "TimerCanceled", "StartTimerFailed"):
                timer_id = str(attributes.get("timerId", ""))
                execution.open_timers.discard(timer_id)
                control = timer_controls.get(timer_id, {})
                if kind == "StartTimerFailed":
                    # The wait could not be set up; retry without it rather than stall.
                    control = (
                        _retry_control_from_id(timer_id) or _restart_control_from_id(timer_id) or control
                    )
                if kind == "TimerCanceled":
                    # Only timelines read when: the decider sees the timer as still "open".
                    when = (_event_id(event.get("eventId", position + 1)), event.get("eventTimestamp"))
                    if control.get("kind") == "retry":
                        execution.instance(control["activity_id"]).timer_canceled = when
                    elif control.get("kind") == "restart":
                        execution.child(control["activity"], control["shard"]).timer_canceled = when
                elif control.get("kind") == "retry":
                    instance = execution.instance(control["activity_id"])
                    instance.timer, instance.timer_attempt = "fired", int(control["attempt"])
                    changed(instance.instance_id)
                elif control.get("kind") == "restart":
                    child = execution.child(control["activity"], control["shard"])
                    child.timer, child.timer_attempt = "fired", int(control["attempt"])
                    changed_children((child.activity, child.shard))
        self.answered, self.news = answered, news


def _event_id(raw: Any) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return -1


def _orphan(event: dict[str, Any], kind: str, scheduled: int, position: int) -> str:
    return (
        f"event {_event_id(event.get('eventId', position + 1))} ({kind}) is for scheduled event "
        f"{scheduled}, which is not in the history"
    )


def _orphan_child(event: dict[str, Any], kind: str, initiated: int, position: int) -> str:
    return (
        f"event {_event_id(event.get('eventId', position + 1))} ({kind}) is for initiated event "
        f"{initiated}, which is not in the history"
    )


def _child_error(kind: str, attributes: dict[str, Any]) -> Error | None:
    """Why a child execution closed without completing; None when it completed."""
    details = str(attributes.get("details", "") or "")
    if kind == "ChildWorkflowExecutionFailed":
        reason = str(attributes.get("reason", "") or "")
        return Error("failed", "ChildWorkflowFailed", reason or "failed", details)
    if kind == "ChildWorkflowExecutionTimedOut":
        timeout = str(attributes.get("timeoutType", "UNKNOWN"))
        return Error("timed_out", timeout, f"timed out ({timeout})")
    if kind == "ChildWorkflowExecutionCanceled":
        return Error("canceled", "CANCELED", "canceled", details)
    if kind == "ChildWorkflowExecutionTerminated":
        return Error("terminated", "TERMINATED", "terminated")
    return None


def shard_control(activity: str, shard: int) -> str:
    """The `control` of a shard's StartChildWorkflowExecution: what maps its events back to it."""
    return json.dumps({"activity": activity, "shard": shard}, separators=(",", ":"))


def _shard_control(raw: Any) -> tuple[str, int] | None:
    data = _control(raw)
    activity, shard = data.get("activity"), data.get("shard")
    if isinstance(activity, str) and type(shard) is int and shard >= 0:
        return activity, shard
    return None


def _out_of_turn(
    event: dict[str, Any], kind: str, activity_id: str, instance: Instance, position: int
) -> str:
    """Why an attempt's id does not follow its instance's attempts."""
    attempts = f"{instance.attempts} attempt{'s' if instance.attempts != 1 else ''}"
    if instance.open:
        expected = f"{_shown(attempt_id(instance.instance_id, instance.attempts))} is still open"
    else:
        expected = f"the next is {_shown(attempt_id(instance.instance_id, instance.attempts + 1))}"
    return (
        f"event {_event_id(event.get('eventId', position + 1))} ({kind}) has activity id {_shown(activity_id)}, "
        f"but {_shown(instance.instance_id)} had {attempts} and {expected} (each attempt has its own id)"
    )


def _shown(text: str) -> str:
    """An id from the history as a message may quote it: short, and escaped unless printable."""
    short = text if len(text) <= 60 else text[:57] + "..."
    return short if short.isprintable() and short else json.dumps(short)


def _control(raw: Any) -> dict[str, Any]:
    """A timer's control, as the decider wrote it; {} for anything else (another decider's)."""
    if not raw or not isinstance(raw, str):
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    if data.get("kind") == "retry" and not (
        isinstance(data.get("activity_id"), str) and type(data.get("attempt")) is int
    ):
        return {}
    if data.get("kind") == "restart" and not (
        isinstance(data.get("activity"), str)
        and type(data.get("shard")) is int
        and type(data.get("attempt")) is int
    ):
        return {}
    return data


# Retry timer ids embed the attempt and the activity id, so a StartTimerFailed
# (which carries no control) can still be traced to its instance.
RETRY_TIMER_PREFIX = "retry-"


def _retry_control_from_id(timer_id: str) -> dict[str, Any] | None:
    if not timer_id.startswith(RETRY_TIMER_PREFIX):
        return None
    attempt, _, activity_id = timer_id[len(RETRY_TIMER_PREFIX) :].partition("-")
    if not (attempt.isascii() and attempt.isdigit()) or not activity_id:
        return None
    return {"kind": "retry", "attempt": int(attempt), "activity_id": activity_id}


# A shard's restart timer (after a start that failed): `restart-ATTEMPT-SHARD-ACTIVITY`.
RESTART_TIMER_PREFIX = "restart-"


def _restart_control_from_id(timer_id: str) -> dict[str, Any] | None:
    if not timer_id.startswith(RESTART_TIMER_PREFIX):
        return None
    attempt, _, rest = timer_id[len(RESTART_TIMER_PREFIX) :].partition("-")
    shard, _, activity = rest.partition("-")
    numbers = attempt + shard
    if not (numbers.isascii() and numbers.isdigit() and attempt and shard) or not activity:
        return None
    return {"kind": "restart", "activity": activity, "shard": int(shard), "attempt": int(attempt)}
