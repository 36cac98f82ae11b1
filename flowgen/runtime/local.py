"""Run a plan in one process, without AWS, on the same `decide` that runs on SWF.

The runner keeps an SWF-shaped history in memory, applies the decider's
decisions to it, runs handlers in a thread pool and keeps a simulated clock,
so timers and retry backoff take no real time. Faults (failures, each kind of
time-out, failed scheduling) can be injected per attempt for tests.

Values go through the same offloading as on SWF (payloads.py): with the spec's
`payloads`, every value over the threshold is kept in a store (in memory unless
one is given, such as a `FolderStore`) and the history holds its reference;
without, a value over SWF's limit fails as it would there.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import heapq
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .decider import decide
from .handlers import handler_key
from .ids import REVERT_SUFFIX, split_attempt_id
from .limits import MAX_PAYLOAD
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
        `cancel_at`, once the simulated clock reaches that many seconds (at the start of the
        next decision task, or when the clock would pass it waiting for a timer): the run may
        well end first, since handlers take no simulated time.

        The input is typed as the generated `WorkflowInput`: dates may be `datetime.date`.
        An input over SWF's limit in a flow without `payloads` is refused (ValueError), as SWF would.
        """
        text = dumps(dict(workflow_input or {}))
        if not self.payloads.active and len(text) > MAX_PAYLOAD:
            raise ValueError(too_large("the workflow input", len(text)))
        text = self.payloads.offload(text, self.workflow_id, "input")
        return _Execution(self, text, cancel_after, cancel_at).run()


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


class _Execution:
    def __init__(
        self, runner: LocalRunner, input_text: str, cancel_after: int | None, cancel_at: float | None
    ) -> None:
        self.runner = runner
        self.plan = runner.plan
        self.input_text = input_text
        self.cancel_after = cancel_after
        self.cancel_at = cancel_at
        self.events: list[dict[str, Any]] = []
        self.now = 0.0
        self.timers: list[tuple[float, int, str]] = []
        self.timer_started: dict[str, int] = {}
        self.running: dict[concurrent.futures.Future[Outcome], tuple[int, int]] = {}
        self.decision_pending = False
        self.decisions_made = 0
        self.attempt_of: dict[int, int] = {}  # ActivityTaskScheduled event id -> attempt
        self.done: set[str] = set()
        self.seen: set[str] = set()

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
        """A DEBUG line stamped with the simulated clock (seconds since the run started)."""
        if log.isEnabledFor(logging.DEBUG):
            log.debug("[t=%ss] " + message, f"{self.now:g}", *args)

    def run(self) -> Result:
        self.add(
            "WorkflowExecutionStarted",
            input=self.input_text,
            workflowType={"name": self.plan.workflow, "version": self.plan.version},
            taskList={"name": self.plan.task_list},
        )
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(self.runner.workers, 1)) as pool:
            while True:
                if self.now > self.plan.execution_timeout:
                    self.add("WorkflowExecutionTimedOut", timeoutType="START_TO_CLOSE")
                    return self._result("TIMED_OUT", reason="execution_timeout reached")
                if self.decision_pending:
                    closed = self._decide(pool)
                    if closed is not None:
                        return closed
                    continue
                if self.running:
                    finished, _ = concurrent.futures.wait(
                        list(self.running), return_when=concurrent.futures.FIRST_COMPLETED
                    )
                    # Report in scheduling order, so equal runs give equal histories.
                    for future in sorted(finished, key=lambda f: self.running[f][0]):
                        scheduled, started = self.running.pop(future)
                        self._close_task(scheduled, started, future.result())
                    continue
                if self.cancel_at is not None and (not self.timers or self.timers[0][0] > self.cancel_at):
                    # Nothing happens before the request: the clock moves to it.
                    self.now = max(self.now, self.cancel_at)
                    self._request_cancel()
                    continue
                if self.timers:
                    fire_at, _, timer_id = heapq.heappop(self.timers)
                    if timer_id not in self.timer_started:
                        continue  # canceled
                    self.now = max(self.now, fire_at)
                    self.add("TimerFired", timerId=timer_id, startedEventId=self.timer_started.pop(timer_id))
                    self.debug("timer %s fired", timer_id)
                    continue
                raise StuckError("nothing is running or waiting, and the decider did not close the workflow")

    def _request_cancel(self) -> None:
        self.cancel_at = None
        self.add("WorkflowExecutionCancelRequested")
        self.debug("cancellation requested")

    def _decide(self, pool: concurrent.futures.ThreadPoolExecutor) -> Result | None:
        if self.cancel_after is not None and self.decisions_made >= self.cancel_after:
            self.cancel_after = None
            self._request_cancel()
        if self.cancel_at is not None and self.now >= self.cancel_at:
            self._request_cancel()
        self.decision_pending = False
        scheduled = self.add("DecisionTaskScheduled", taskList={"name": self.plan.task_list})
        started = self.add("DecisionTaskStarted", scheduledEventId=scheduled)
        payloads = self.runner.payloads
        events = payloads.resolve_events(self.events) if payloads.active else self.events
        decisions = payloads.offload_decisions(decide(self.plan, events), self.runner.workflow_id, RUN_ID)
        self.decisions_made += 1
        if self.decisions_made > self.runner.max_decisions:
            raise StuckError(f"more than {self.runner.max_decisions} decision tasks")
        completed = self.add("DecisionTaskCompleted", scheduledEventId=scheduled, startedEventId=started)
        for decision in decisions:
            closed = self._apply(decision, completed, pool)
            if closed is not None:
                return closed
        return None

    def _apply(
        self, decision: dict[str, Any], completed: int, pool: concurrent.futures.ThreadPoolExecutor
    ) -> Result | None:
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
            heapq.heappush(self.timers, (fire_at, event_id, timer_id))
            self.debug("timer %s started, fires at t=%ss%s", timer_id, f"{fire_at:g}", _purpose(attributes))
        elif kind == "CancelTimer":
            timer_id = attributes["timerId"]
            started = self.timer_started.pop(timer_id, None)
            if started is not None:
                self.add("TimerCanceled", timerId=timer_id, startedEventId=started)
                self.debug("timer %s canceled", timer_id)
        elif kind == "RequestCancelActivityTask":
            self.add("ActivityTaskCancelRequested", activityId=attributes["activityId"])
        elif kind == "CompleteWorkflowExecution":
            self.add("WorkflowExecutionCompleted", result=attributes.get("result"))
            text = attributes.get("result")
            text = self.runner.payloads.resolve(text, "the workflow result") if text else None
            result = json.loads(text) if text else None
            return self._result("COMPLETED", result=result)
        elif kind == "FailWorkflowExecution":
            self.add(
                "WorkflowExecutionFailed", reason=attributes.get("reason"), details=attributes.get("details")
            )
            details = json.loads(attributes["details"]) if attributes.get("details") else None
            return self._result("FAILED", reason=attributes.get("reason", ""), details=details)
        elif kind == "CancelWorkflowExecution":
            self.add("WorkflowExecutionCanceled", details=attributes.get("details"))
            return self._result("CANCELED", reason=attributes.get("details", ""))
        else:
            raise ValueError(f"the local runner does not support the decision {kind}")
        return None

    def _schedule(
        self, attributes: dict[str, Any], completed: int, pool: concurrent.futures.ThreadPoolExecutor
    ) -> None:
        activity_id = attributes["activityId"]
        type_name = attributes["activityType"]["name"]
        # Each attempt has its own id (ids.py): `a-1#2` is attempt 2 of the instance `a-1`.
        instance, attempt = split_attempt_id(activity_id)
        fault = self.runner.fault(instance, attempt) if self.runner.fault else None
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
        if not instance.endswith(REVERT_SUFFIX):
            self.seen.add(instance)
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
            self._close_task(scheduled, started, outcome)
            return
        known = self.plan.by_type(type_name)
        assert known is not None, type_name  # the decider schedules only the plan's types
        activity, revert = known
        context = TaskContext(
            domain=self.plan.domain,
            workflow_id=self.runner.workflow_id,
            run_id=RUN_ID,
            activity_id=activity_id,
            attempt=attempt,
        )
        handler = self.runner.handlers[handler_key(activity, revert)]  # all present: checked in LocalRunner()
        payloads = self.runner.payloads
        future = pool.submit(run_task, activity, handler, attributes.get("input"), context, revert, payloads)
        self.running[future] = (scheduled, started)

    def _close_task(self, scheduled: int, started: int, outcome: Outcome) -> None:
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
            if not instance.endswith(REVERT_SUFFIX):
                self.done.add(instance)
        if self.runner.on_progress:
            self.runner.on_progress(len(self.done), len(self.seen))

    def _result(self, status: str, **fields: Any) -> Result:
        self.debug("workflow %s", status)
        for future in self.running:
            future.cancel()
        return Result(status=status, history=self.events, seconds=self.now, **fields)
