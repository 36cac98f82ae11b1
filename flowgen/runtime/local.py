"""Run a plan in one process, without AWS, on the same `decide` that runs on SWF.

The runner keeps an SWF-shaped history in memory, applies the decider's
decisions to it, runs handlers in a thread pool and keeps a simulated clock,
so timers and retry backoff take no real time. Faults (failures, each kind of
time-out, failed scheduling) can be injected per attempt for tests.

A sharded activity's shards are child workflow executions, as on SWF: when the
parent decides StartChildWorkflowExecution, the runner starts an execution of
the shard plan on the same clock, decided by the same `decide`, and records the
child's events in the parent's history as SWF does (initiated, started, and
completed, failed, timed out or terminated). A child's history is dropped once
the parent has its result. Faults and progress name an instance of a shard by
its place in the whole activity (`activity_2-4312`), as if it were not sharded.

Values go through the same offloading as on SWF (payloads.py): with the spec's
`payloads`, every value over the threshold is kept in a store (in memory unless
one is given, such as a `FolderStore`) and the history holds its reference;
without, a value over SWF's limit fails as it would there.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime
import heapq
import itertools
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .decider import Memo, decide
from .handlers import handler_key
from .history import Execution, HistoryFolder
from .ids import REVERT_SUFFIX, split_attempt_id
from .limits import MAX_OPEN_CHILDREN, MAX_PAYLOAD
from .payloads import MemoryStore, Payloads, Store, for_plan, too_large
from .plan import FlowPlan
from .task import Outcome, TaskContext, run_task
from .values import dumps

log = logging.getLogger(__name__)
EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
RUN_ID = "local"
# A fault for one attempt, given the instance's id and the attempt number: "fail",
# "schedule_failed" or an SWF time-out type.
Fault = Callable[[str, int], str | None]
TIMEOUT_TYPES = ("START_TO_CLOSE", "SCHEDULE_TO_START", "SCHEDULE_TO_CLOSE", "HEARTBEAT")
_WAKES_DECIDER = frozenset(
    {
        "WorkflowExecutionStarted",
        "ActivityTaskCompleted",
        "ActivityTaskFailed",
        "ActivityTaskTimedOut",
        "ActivityTaskCanceled",
        "ScheduleActivityTaskFailed",
        "TimerFired",
        "StartTimerFailed",
        "WorkflowExecutionCancelRequested",
        "StartChildWorkflowExecutionFailed",
        "ChildWorkflowExecutionStarted",
        "ChildWorkflowExecutionCompleted",
        "ChildWorkflowExecutionFailed",
        "ChildWorkflowExecutionTimedOut",
        "ChildWorkflowExecutionCanceled",
        "ChildWorkflowExecutionTerminated",
    }
)


class StuckError(RuntimeError):
    """Nothing runs, nothing waits, and the decider closes nothing: a decider bug."""


@dataclass(frozen=True)
class Result:
    status: str  # COMPLETED | FAILED | CANCELED | TIMED_OUT
    result: Any = None
    reason: str = ""
    details: Any = None
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0  # simulated time the run took


class LocalRunner:
    def __init__(
        self,
        plan: FlowPlan,
        handlers: Mapping[str, Callable[..., Any]],
        workers: int = 4,
        fault: Fault | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        workflow_id: str = "local",
        # Per execution: a shard's decision tasks count apart from its parent's.
        max_decisions: int = 100_000,
        store: Store | None = None,
    ) -> None:
        self.plan = plan
        self.handlers = dict(handlers)
        self.workers = workers
        self.fault = fault
        self.on_progress = on_progress
        self.workflow_id = workflow_id
        self.max_decisions = max_decisions
        self.payloads: Payloads = for_plan(plan, store if store is not None else MemoryStore())
        missing = [name for name in _handler_keys(plan) if name not in self.handlers]
        if missing:
            raise ValueError(
                f"no handler for {', '.join(missing)}; an external activity needs a stand-in "
                "(--handler ACTIVITY=package.module:function)"
            )

    def run(
        self,
        workflow_input: Mapping[str, Any] | None = None,
        cancel_after: int | None = None,
        cancel_at: float | None = None,
    ) -> Result:
        """Run to the end. `cancel_after` requests cancellation after that many decisions;
        `cancel_at`, once the simulated clock reaches that many seconds (before the next decision
        task, or when the clock would pass it waiting for a timer): the run may well end first,
        since handlers take no simulated time.

        The input is typed as the generated `WorkflowInput`: dates may be `datetime.date`.
        An input over SWF's limit in a flow without `payloads` is refused (ValueError), as SWF would.
        """
        text = dumps(dict(workflow_input or {}))
        if not self.payloads.active and len(text) > MAX_PAYLOAD:
            raise ValueError(too_large("the workflow input", len(text)))
        text = self.payloads.offload(text, self.workflow_id, "input")
        return _Simulation(self).run(text, cancel_after, cancel_at)


def _purpose(attributes: dict[str, Any]) -> str:
    """What a timer the decider started is for, from its control: the retry it waits for."""
    try:
        control = json.loads(attributes.get("control") or "{}")
    except ValueError:
        return ""
    if isinstance(control, dict) and control.get("kind") == "retry":
        return f" (the wait to retry {control.get('activity_id')} after attempt {control.get('attempt')})"
    return ""


def _handler_keys(plan: FlowPlan) -> list[str]:
    """The handler of every activity type a run may schedule: each activity, and each revert."""
    keys = []
    for activity in plan.activities:
        keys.append(handler_key(activity))
        if activity.revert is not None:
            keys.append(handler_key(activity, revert=True))
    return keys


# A running activity task: its execution, its ActivityTaskScheduled and ActivityTaskStarted.
_Task = tuple["_Execution", int, int]


class _Simulation:
    """Every execution of one run (the workflow and its shards) on one clock and one thread pool."""

    def __init__(self, runner: LocalRunner) -> None:
        self.runner = runner
        self.plans = runner.plan.workflow_plans()
        self.now = 0.0
        self.sequence = itertools.count()
        # (fire at, sequence, execution, timer id)
        self.timers: list[tuple[float, int, _Execution, str]] = []
        self.running: dict[concurrent.futures.Future[Outcome], tuple[int, _Task]] = {}
        # Open executions, oldest first; their workflow ids.
        self.open: list[_Execution] = []
        self.workflow_ids: set[str] = set()
        self.done: set[str] = set()
        self.seen: set[str] = set()
        # When the workflow is asked to cancel, on the simulated clock (--cancel-after).
        self.cancel_at: float | None = None

    def debug(self, message: str, *args: Any) -> None:
        """A DEBUG line stamped with the simulated clock (seconds since the run started)."""
        if log.isEnabledFor(logging.DEBUG):
            log.debug("[t=%ss] " + message, f"{self.now:g}", *args)

    def run(self, input_text: str, cancel_after: int | None, cancel_at: float | None = None) -> Result:
        root = _Execution(self, self.runner.plan, self.runner.workflow_id, cancel_after=cancel_after)
        self.cancel_at = cancel_at
        root.start(input_text)
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(self.runner.workers, 1)) as pool:
            try:
                return self._loop(root, pool)
            finally:
                for future in self.running:
                    future.cancel()

    def _loop(self, root: _Execution, pool: concurrent.futures.ThreadPoolExecutor) -> Result:
        while True:
            for execution in [e for e in self.open if self.now > e.deadline]:
                execution.close("TIMED_OUT", reason="execution_timeout reached")
            if root.result is not None:
                return root.result
            if self.cancel_at is not None and self.now >= self.cancel_at:
                self.cancel_at = None
                root.add("WorkflowExecutionCancelRequested")
                root.debug("cancellation requested")
            # Tasks that already finished are reported before deciding, so one decision task
            # answers all of them, as SWF's would when its workers are fast.
            self._collect([f for f in self.running if f.done()])
            pending = [e for e in self.open if e.decision_pending]
            if pending:
                for execution in pending:
                    if execution.result is None:
                        execution.decide(pool)
                continue
            if self.running:
                finished, _ = concurrent.futures.wait(
                    list(self.running), return_when=concurrent.futures.FIRST_COMPLETED
                )
                self._collect(list(finished))
                continue
            if self.cancel_at is not None and (not self.timers or self.timers[0][0] > self.cancel_at):
                self.now = max(self.now, self.cancel_at)  # nothing happens before the request
                continue
            if self.timers:
                fire_at, _, execution, timer_id = heapq.heappop(self.timers)
                if timer_id not in execution.timer_started or execution.result is not None:
                    continue  # canceled, or its execution closed
                self.now = max(self.now, fire_at)
                started = execution.timer_started.pop(timer_id)
                execution.add("TimerFired", timerId=timer_id, startedEventId=started)
                execution.debug("timer %s fired", timer_id)
                continue
            raise StuckError("nothing is running or waiting, and the decider did not close the workflow")

    def _collect(self, finished: list[concurrent.futures.Future[Outcome]]) -> None:
        # Report in scheduling order, so equal runs give equal histories.
        for future in sorted(finished, key=lambda f: self.running[f][0]):
            _, (execution, scheduled, started) = self.running.pop(future)
            if execution.result is None:
                execution.close_task(scheduled, started, future.result())

    def progress(self) -> None:
        if self.runner.on_progress:
            self.runner.on_progress(len(self.done), len(self.seen))


class _Execution:
    def __init__(
        self,
        simulation: _Simulation,
        plan: FlowPlan,
        workflow_id: str,
        cancel_after: int | None = None,
        parent: tuple[_Execution, int] | None = None,
    ) -> None:
        self.simulation = simulation
        self.runner = simulation.runner
        self.plan = plan
        self.workflow_id = workflow_id
        self.cancel_after = cancel_after
        # A shard's parent execution and its StartChildWorkflowExecutionInitiated event; where
        # the shard's first instance is in the whole activity.
        self.parent = parent
        self.offset = 0
        self.revert_indices: dict[int, Any] | None = None
        self.events: list[dict[str, Any]] = []
        self.timer_started: dict[str, int] = {}
        self.decision_pending = False
        self.decisions_made = 0
        # The history folded so far, and what `decide` kept of the last task: as the poller does.
        self.folder = HistoryFolder()
        self.attempt_of: dict[int, int] = {}  # ActivityTaskScheduled event id -> attempt
        self.deadline = simulation.now + plan.execution_timeout
        self.result: Result | None = None
        # Open children: initiated event id -> the child; and the started event of each.
        self.children: dict[int, _Execution] = {}
        self.child_started: dict[int, int] = {}

    @property
    def now(self) -> float:
        return self.simulation.now

    def add(self, kind: str, **attributes: Any) -> int:
        event_id = len(self.events) + 1
        name = kind[0].lower() + kind[1:] + "EventAttributes"
        event = {
            "eventId": event_id,
            "eventType": kind,
            "eventTimestamp": EPOCH + datetime.timedelta(seconds=self.now),
            name: attributes,
        }
        self.events.append(event)
        if kind in _WAKES_DECIDER:
            self.decision_pending = True
        return event_id

    def debug(self, message: str, *args: Any) -> None:
        if self.parent is not None and log.isEnabledFor(logging.DEBUG):
            message = f"{self.workflow_id}: {message}"
        self.simulation.debug(message, *args)

    def start(self, input_text: str, **parent: Any) -> None:
        self.simulation.open.append(self)
        self.simulation.workflow_ids.add(self.workflow_id)
        self.add(
            "WorkflowExecutionStarted",
            input=input_text,
            workflowType={"name": self.plan.workflow, "version": self.plan.version},
            taskList={"name": self.plan.task_list},
            childPolicy=self.plan.child_policy,
            executionStartToCloseTimeout=str(self.plan.execution_timeout),
            **parent,
        )

    # -- decision tasks ----------------------------------------------------------------------------

    def decide(self, pool: concurrent.futures.ThreadPoolExecutor) -> None:
        if self.cancel_after is not None and self.decisions_made >= self.cancel_after:
            self.cancel_after = None
            self.add("WorkflowExecutionCancelRequested")
        self.decision_pending = False
        scheduled = self.add("DecisionTaskScheduled", taskList={"name": self.plan.task_list})
        started = self.add("DecisionTaskStarted", scheduledEventId=scheduled)
        events, execution, memo = self._fold()
        decided = decide(self.plan, events, self.workflow_id, execution, memo)
        decisions = self.runner.payloads.offload_decisions(decided, self.workflow_id, RUN_ID)
        self.decisions_made += 1
        if self.decisions_made > self.runner.max_decisions:
            raise StuckError(f"more than {self.runner.max_decisions} decision tasks")
        completed = self.add("DecisionTaskCompleted", scheduledEventId=scheduled, startedEventId=started)
        for decision in decisions:
            self._apply(decision, completed, pool)
            if self.result is not None:
                return

    def _fold(self) -> tuple[list[dict[str, Any]], Execution | None, Memo]:
        """As the poller reads a task: the new events (payload references resolved) folded on,
        with the memo of the last task; when that cannot be vouched for, the whole history
        resolved and folded again (the events are what `decide` reads if even that fails)."""
        payloads = self.runner.payloads
        if payloads.active:
            execution = self.folder.fold(payloads.resolve_events(self.events, self.folder.count))
        else:
            execution = self.folder.fold(self.events[self.folder.count :])
        events = self.events
        if execution is None:
            events = payloads.resolve_events(self.events) if payloads.active else self.events
            self.folder = HistoryFolder()  # a history only a whole read can judge: decide reads it
            execution = self.folder.fold(events)
        if self.folder.memo is None:
            self.folder.memo = Memo()
        return events, execution, self.folder.memo

    def _apply(
        self, decision: dict[str, Any], completed: int, pool: concurrent.futures.ThreadPoolExecutor
    ) -> None:
        kind = decision["decisionType"]
        attributes = decision[kind[0].lower() + kind[1:] + "DecisionAttributes"]
        if kind == "ScheduleActivityTask":
            self._schedule(attributes, completed, pool)
        elif kind == "StartTimer":
            timer_id = attributes["timerId"]
            event_id = self.add(
                "TimerStarted",
                timerId=timer_id,
                startToFireTimeout=attributes["startToFireTimeout"],
                control=attributes.get("control"),
                decisionTaskCompletedEventId=completed,
            )
            self.timer_started[timer_id] = event_id
            fire_at = self.now + int(attributes["startToFireTimeout"])
            heapq.heappush(self.simulation.timers, (fire_at, next(self.simulation.sequence), self, timer_id))
            self.debug("timer %s started, fires at t=%ss%s", timer_id, f"{fire_at:g}", _purpose(attributes))
        elif kind == "CancelTimer":
            timer_id = attributes["timerId"]
            started = self.timer_started.pop(timer_id, None)
            if started is not None:
                self.add("TimerCanceled", timerId=timer_id, startedEventId=started)
                self.debug("timer %s canceled", timer_id)
        elif kind == "RequestCancelActivityTask":
            self.add("ActivityTaskCancelRequested", activityId=attributes["activityId"])
        elif kind == "StartChildWorkflowExecution":
            self._start_child(attributes, completed)
        elif kind == "CompleteWorkflowExecution":
            self.add("WorkflowExecutionCompleted", result=attributes.get("result"))
            text = attributes.get("result")
            # The history keeps the reference (a parent's ChildWorkflowExecutionCompleted too).
            shown = self.runner.payloads.resolve(text, "the workflow result") if text else None
            result = json.loads(shown) if shown else None
            self.close("COMPLETED", result=result)
        elif kind == "FailWorkflowExecution":
            self.add(
                "WorkflowExecutionFailed", reason=attributes.get("reason"), details=attributes.get("details")
            )
            details = json.loads(attributes["details"]) if attributes.get("details") else None
            self.close("FAILED", reason=attributes.get("reason", ""), details=details)
        elif kind == "CancelWorkflowExecution":
            self.add("WorkflowExecutionCanceled", details=attributes.get("details"))
            self.close("CANCELED", reason=attributes.get("details", ""))
        else:
            raise ValueError(f"the local runner does not support the decision {kind}")

    # -- closing -----------------------------------------------------------------------------------

    def close(self, status: str, **fields: Any) -> None:
        """The execution closed: its children follow the child policy, its parent hears of it."""
        if status == "TIMED_OUT":
            self.add("WorkflowExecutionTimedOut", timeoutType="START_TO_CLOSE")
        elif status == "TERMINATED":
            self.add("WorkflowExecutionTerminated", cause="CHILD_POLICY_APPLIED")
        self.debug("workflow %s", status)
        self.result = Result(status=status, history=self.events, seconds=self.now, **fields)
        self.simulation.open.remove(self)
        self.simulation.workflow_ids.discard(self.workflow_id)
        for child in list(self.children.values()):
            # TERMINATE ends the children with the parent. The run ends with the workflow, so a
            # child told to cancel (REQUEST_CANCEL) or left running (ABANDON) goes no further
            # here either; on SWF it would.
            child.close("TERMINATED")
        if self.parent is not None:
            self.parent[0].child_closed(self)

    def child_closed(self, child: _Execution) -> None:
        assert child.parent is not None and child.result is not None
        initiated = child.parent[1]
        if self.children.pop(initiated, None) is None or self.result is not None:
            return  # closed by this execution's own close: nothing to record
        ids: dict[str, Any] = {
            "workflowExecution": {"workflowId": child.workflow_id, "runId": RUN_ID},
            "workflowType": {"name": child.plan.workflow, "version": child.plan.version},
            "initiatedEventId": initiated,
            "startedEventId": self.child_started.pop(initiated),
        }
        result = child.result
        if result.status == "COMPLETED":
            completed = child.events[-1]["workflowExecutionCompletedEventAttributes"]
            self.add("ChildWorkflowExecutionCompleted", result=completed.get("result"), **ids)
        elif result.status == "FAILED":
            failed = child.events[-1]["workflowExecutionFailedEventAttributes"]
            self.add(
                "ChildWorkflowExecutionFailed",
                reason=failed.get("reason"),
                details=failed.get("details"),
                **ids,
            )
        elif result.status == "TIMED_OUT":
            self.add("ChildWorkflowExecutionTimedOut", timeoutType="START_TO_CLOSE", **ids)
        elif result.status == "CANCELED":
            self.add("ChildWorkflowExecutionCanceled", details=result.reason, **ids)
        else:
            self.add("ChildWorkflowExecutionTerminated", **ids)
        # What the parent needs is in its own history now; the child's is let go.
        child.events = []
        child.result = dataclasses.replace(result, history=[])

    # -- child executions --------------------------------------------------------------------------

    def _start_child(self, attributes: dict[str, Any], completed: int) -> None:
        workflow_id = attributes["workflowId"]
        workflow_type = attributes["workflowType"]
        initiated = self.add(
            "StartChildWorkflowExecutionInitiated", decisionTaskCompletedEventId=completed, **attributes
        )
        plan = self.simulation.plans.get(workflow_type["name"])
        cause = None
        if plan is None or plan.version != workflow_type["version"]:
            cause = "WORKFLOW_TYPE_DOES_NOT_EXIST"
        elif workflow_id in self.simulation.workflow_ids:
            cause = "WORKFLOW_ALREADY_RUNNING"
        elif len(self.children) >= MAX_OPEN_CHILDREN:
            cause = "OPEN_CHILDREN_LIMIT_EXCEEDED"
        if cause is not None or plan is None:
            self.add(
                "StartChildWorkflowExecutionFailed",
                workflowType=workflow_type,
                workflowId=workflow_id,
                cause=cause,
                initiatedEventId=initiated,
                decisionTaskCompletedEventId=completed,
                control=attributes.get("control"),
            )
            self.debug("child %s could not start: %s", workflow_id, cause)
            return
        child = _Execution(self.simulation, plan, workflow_id, parent=(self, initiated))
        child.offset = _offset(self.plan, attributes.get("control"))
        self.children[initiated] = child
        child.start(
            attributes.get("input") or "",
            parentWorkflowExecution={"workflowId": self.workflow_id, "runId": RUN_ID},
            parentInitiatedEventId=initiated,
        )
        self.child_started[initiated] = self.add(
            "ChildWorkflowExecutionStarted",
            workflowExecution={"workflowId": workflow_id, "runId": RUN_ID},
            workflowType=workflow_type,
            initiatedEventId=initiated,
        )
        self.debug("child %s started", workflow_id)

    def whole_id(self, instance: str) -> str:
        """An instance's id as in the whole activity: a shard's `a-3` is `a-(offset + 3)`."""
        if self.parent is None:
            return instance
        name, _, index = instance.rpartition("-")
        if not (name and index.isascii() and index.isdigit()):
            return instance
        if self.plan.activities[0].reverting:
            # A revert shard's `a-3` reverts the instance its fourth item names: `a-N.revert`.
            return f"{name}-{self._revert_indices().get(int(index), index)}{REVERT_SUFFIX}"
        return f"{name}-{self.offset + int(index)}"

    def _revert_indices(self) -> dict[int, Any]:
        """A revert shard's instance -> the index in the whole activity of the instance it reverts."""
        if self.revert_indices is None:
            self.revert_indices = {}
            try:
                items = json.loads(self.events[0]["workflowExecutionStartedEventAttributes"]["input"])[
                    "items"
                ]
                self.revert_indices = {n: int(item["index"]) for n, item in enumerate(items)}
            except (ValueError, KeyError, TypeError):
                pass  # a stored payload's reference: the instances keep the revert shard's own numbers
        return self.revert_indices

    # -- activity tasks ----------------------------------------------------------------------------

    def _schedule(
        self, attributes: dict[str, Any], completed: int, pool: concurrent.futures.ThreadPoolExecutor
    ) -> None:
        activity_id = attributes["activityId"]
        type_name = attributes["activityType"]["name"]
        # Each attempt has its own id (ids.py): `a-1#2` is attempt 2 of the instance `a-1`.
        instance, attempt = split_attempt_id(activity_id)
        whole = self.whole_id(instance)
        fault = self.runner.fault(whole, attempt) if self.runner.fault else None
        self.debug(
            "%s %s (attempt %d)", "retry: scheduled" if attempt > 1 else "scheduled", activity_id, attempt
        )
        if fault == "schedule_failed":
            self.add(
                "ScheduleActivityTaskFailed",
                activityId=activity_id,
                activityType=attributes["activityType"],
                cause="ACTIVITY_CREATION_RATE_EXCEEDED",
                decisionTaskCompletedEventId=completed,
            )
            return
        scheduled = self.add("ActivityTaskScheduled", decisionTaskCompletedEventId=completed, **attributes)
        self.attempt_of[scheduled] = attempt
        if not whole.endswith(REVERT_SUFFIX):
            self.simulation.seen.add(whole)
        if fault in ("SCHEDULE_TO_START", "SCHEDULE_TO_CLOSE"):
            self.add("ActivityTaskTimedOut", timeoutType=fault, scheduledEventId=scheduled)
            self.debug("%s (attempt %d) timed out: %s", activity_id, attempt, fault)
            return
        started = self.add("ActivityTaskStarted", scheduledEventId=scheduled, identity="local")
        if fault in ("START_TO_CLOSE", "HEARTBEAT"):
            self.add(
                "ActivityTaskTimedOut", timeoutType=fault, scheduledEventId=scheduled, startedEventId=started
            )
            self.debug("%s (attempt %d) timed out: %s", activity_id, attempt, fault)
            return
        if fault == "fail":
            outcome = Outcome(reason="InjectedFault: a test injected this failure", details="")
            self.close_task(scheduled, started, outcome)
            return
        known = self.plan.by_type(type_name)
        assert known is not None, type_name  # the decider schedules only the plan's types
        activity, revert = known
        context = TaskContext(
            domain=self.plan.domain,
            workflow_id=self.workflow_id,
            run_id=RUN_ID,
            activity_id=activity_id,
            attempt=attempt,
        )
        handler = self.runner.handlers[handler_key(activity, revert)]  # all present: checked in LocalRunner()
        payloads = self.runner.payloads
        future = pool.submit(run_task, activity, handler, attributes.get("input"), context, revert, payloads)
        self.simulation.running[future] = (next(self.simulation.sequence), (self, scheduled, started))

    def close_task(self, scheduled: int, started: int, outcome: Outcome) -> None:
        activity_id = self.events[scheduled - 1]["activityTaskScheduledEventAttributes"]["activityId"]
        attempt = self.attempt_of.get(scheduled, 1)
        if outcome.failed:
            self.debug("%s (attempt %d) failed: %s", activity_id, attempt, outcome.reason)
            self.add(
                "ActivityTaskFailed",
                reason=outcome.reason,
                details=outcome.details,
                scheduledEventId=scheduled,
                startedEventId=started,
            )
        else:
            attributes: dict[str, Any] = {"scheduledEventId": scheduled, "startedEventId": started}
            if outcome.result is not None:
                attributes["result"] = outcome.result
            self.add("ActivityTaskCompleted", **attributes)
            self.debug("%s (attempt %d) completed", activity_id, attempt)
            instance, _ = split_attempt_id(activity_id)
            whole = self.whole_id(instance)
            if not whole.endswith(REVERT_SUFFIX):
                self.simulation.done.add(whole)
        self.simulation.progress()


def _offset(plan: FlowPlan, control: Any) -> int:
    """Where a shard's first instance is in its whole activity, from the shard's control."""
    try:
        data = json.loads(control or "{}")
        activity = plan.activity(data["activity"])
        return int(data["shard"]) * int(activity.shard_size or 0)
    except (ValueError, KeyError, TypeError):
        return 0
