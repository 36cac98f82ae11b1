"""The activity worker: polls task lists, runs handlers, reports outcomes to SWF.

Each task runs through `task.run_task`, exactly as in the local runner: the
input envelope `{"input": {...}, "attempt": N}` is decoded into the handler's
keyword arguments, its result is encoded (a result over 32,768 characters fails
the task with a clear reason rather than being cut, unless the spec has
`payloads`: then an input that is a reference is read from S3 first, and a
result over the threshold is stored there, see payloads.py) and an exception becomes a
failure with reason `ErrorClass: message` and the traceback as details. So does
SystemExit or KeyboardInterrupt raised by a handler: its poller goes on serving.

Heartbeats: while a timeout bounds the handler, a background thread heartbeats
every third of the activity's heartbeat timeout: until `start_to_close` has
passed, or `schedule_to_close` when `start_to_close` is none. With neither,
there is no automatic heartbeat (it would keep a hung handler alive forever):
the handler calls `context.heartbeat()` itself. A heartbeat answered with
`cancelRequested` marks the task's context as canceled, and a handler that then
raises is reported as canceled rather than failed.

Reporting: when SWF cannot be reached, the outcome is kept and its report
retried with capped exponential backoff until the task can no longer be open
(its timeouts, counted from when this worker received it, say when); then one
line says the result is abandoned and why. Never silently.

Signals (after `install_signal_handlers()`): the first SIGTERM or SIGINT stops
polling; the tasks in hand finish and are reported, then `run` returns and
`signaled` holds the signal (the worker's main exits 128 + its number). A poll
already in flight is waited for (SWF holds it up to 60 s), and a task it brings
is run too, so no task is abandoned. A second signal fails the tasks still
running (reason `WorkerStopped`) and returns at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from .handlers import handler_key
from .limits import MAX_PAYLOAD, MAX_REASON
from .payloads import PayloadError, Payloads, for_plan
from .plan import ActivityPlan, FlowPlan
from .polling import Backoff, Clock, Outage, describe, unreachable
from .swf import default_identity, on_signals
from .task import Outcome, TaskContext, run_task
from .values import clip

if TYPE_CHECKING:
    from mypy_boto3_swf import SWFClient
    from mypy_boto3_swf.type_defs import ActivityTaskTypeDef

log = logging.getLogger(__name__)

# Heartbeat this often, as a fraction of the heartbeat timeout.
HEARTBEAT_FRACTION = 1 / 3
# After a second signal, how long the poller threads get to finish the reports they are making.
STOP_GRACE = 2.0


class TaskLog(logging.LoggerAdapter[logging.Logger]):
    """Prefixes each message with `domain/workflow id/run id/activity id` and passes them as `extra`."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        extra = dict(self.extra or {})
        kwargs["extra"] = {**extra, **kwargs.get("extra", {})}
        where = "/".join(str(extra.get(k, "")) for k in ("domain", "workflow_id", "run_id", "activity_id"))
        return f"{where}: {msg}", kwargs


class Heartbeat:
    """Heartbeats for one task: the handler's own (`beat`) and a background thread's."""

    def __init__(self, client: SWFClient, token: str, logger: TaskLog, clock: Clock | None = None) -> None:
        self.client = client
        self.token = token
        self.log = logger
        self.clock = clock or Clock()
        self.cancel = threading.Event()
        self.count = 0
        # When the last heartbeat call ended, answered or not: SWF's heartbeat timeout runs from
        # no earlier than that.
        self.last: float | None = None
        self._details = ""
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._failing = False
        self._thread: threading.Thread | None = None

    def beat(self, details: str) -> bool:
        """Record a heartbeat with `details` (kept for the background beats); True if canceled."""
        with self._lock:
            self._details = details
        return self._send(details)

    def start(self, interval: float, until: float, bound: str) -> None:
        """Heartbeat every `interval` seconds until the clock reaches `until` (when `bound` has passed)."""
        self._thread = threading.Thread(
            target=self._run, args=(interval, until, bound), name=f"heartbeat-{self.token[:8]}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread is not None:
            # A beat in flight is bounded by the client's timeouts; don't hold up the report for it.
            self._thread.join(timeout=5)

    def _run(self, interval: float, until: float, bound: str) -> None:
        while not self.clock.wait(self._done, interval):
            if self.clock.now() >= until:
                # SWF has timed the task out by now; beating on would only keep a hung handler's
                # thread busy. The handler's own heartbeats still go through.
                self.log.warning("still running after its %s: automatic heartbeats stop", bound)
                return
            with self._lock:
                details = self._details
            self._send(details)

    def _send(self, details: str) -> bool:
        request: dict[str, Any] = {"taskToken": self.token}
        if details:
            request["details"] = details
        try:
            response = self.client.record_activity_task_heartbeat(**request)
        except ClientError as error:
            self.last = self.clock.now()
            if self._done.is_set():
                return self.cancel.is_set()
            if error.response.get("Error", {}).get("Code") == "UnknownResourceFault":
                # The task timed out or its execution closed: nobody waits for its result.
                self.log.warning(
                    "heartbeat refused, the task is no longer open; asking it to stop: %s", error
                )
                self.cancel.set()
            else:
                self._failed(error)
            return self.cancel.is_set()
        except BotoCoreError as error:
            self.last = self.clock.now()
            self._failed(error)
            return self.cancel.is_set()
        self.last = self.clock.now()
        self.count += 1
        if self._failing:
            self._failing = False
            self.log.warning("heartbeats reach SWF again")
        if response.get("cancelRequested") and not self.cancel.is_set():
            self.log.info("cancellation requested")
            self.cancel.set()
        return self.cancel.is_set()

    def _failed(self, error: BaseException) -> None:
        # One line when heartbeats start failing and one when they work again, not one a beat.
        if not self._failing:
            self._failing = True
            self.log.warning("heartbeat failed: %s (logging again when one gets through)", describe(error))
        else:
            self.log.debug("heartbeat failed again: %s", describe(error))


@dataclass
class _Task:
    """A task this worker holds: from its poll until its outcome is reported (or abandoned)."""

    token: str
    log: TaskLog
    activity: ActivityPlan | None
    received: float
    heartbeat: Heartbeat | None = None
    # "running", then "reporting" (its outcome claimed by one thread), then "done".
    state: str = "running"


class Worker:
    """Runs the plan's handlers for the activity tasks on its task lists.

    `handlers` maps activity names to functions (reverts are
    `ACTIVITY.revert`); `handlers_for(plan)` builds it from the spec. A
    task's activity type name says which activity it is (through the plan).
    `task_list` defaults to `plan.worker_task_lists()`, the lists of the
    Python activities (never one that only external activities use); `concurrency` is the number
    of poller threads per task list, so the tasks run at once on each. `clock` is for tests.
    `payloads` reads and stores values too large for SWF (default: the plan's S3 bucket, through
    boto3's default configuration).
    """

    def __init__(
        self,
        plan: FlowPlan,
        handlers: Mapping[str, Callable[..., Any]],
        client: SWFClient,
        task_list: str | Sequence[str] | None = None,
        identity: str | None = None,
        concurrency: int = 1,
        domain: str | None = None,
        clock: Clock | None = None,
        payloads: Payloads | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self.plan = plan
        self.handlers = dict(handlers)
        self.client = client
        self.identity = identity or default_identity("worker")
        self.concurrency = concurrency
        self.domain = domain or plan.domain
        self.clock = clock or Clock()
        self.payloads = payloads if payloads is not None else for_plan(plan)
        if task_list is None:
            lists = list(plan.worker_task_lists())
        elif isinstance(task_list, str):
            lists = [task_list]
        else:
            lists = list(task_list)
        self.task_lists: tuple[str, ...] = tuple(dict.fromkeys(lists))
        if not self.task_lists:
            raise ValueError(f"{plan.workflow} has no activity for this worker to run: give task_list")
        self.stop_event = threading.Event()
        # Set by a second signal: stop now, failing the tasks still running.
        self.abandon_event = threading.Event()
        # The first signal that stopped the worker, if one did.
        self.signaled: int | None = None
        self._tasks: dict[int, _Task] = {}
        self._lock = threading.Lock()

    # -- running -----------------------------------------------------------------------------------

    def run(self) -> None:
        """Serve every task list until `stop()` (or a signal, after `install_signal_handlers`)."""
        threads = [
            threading.Thread(
                target=self._serve, args=(task_list,), name=f"poller-{task_list}-{n}", daemon=True
            )
            for task_list in self.task_lists
            for n in range(self.concurrency)
        ]
        log.info(
            "worker %s polling %s in %s with %d thread(s) each",
            self.identity,
            ", ".join(self.task_lists),
            self.domain,
            self.concurrency,
        )
        for thread in threads:
            thread.start()
        noticed: int | None = None
        while any(thread.is_alive() for thread in threads):
            if self.signaled is not None and noticed is None:
                noticed = self.signaled
                log.warning(
                    "worker %s got %s: polling stops; %d task(s) in hand finish and are reported "
                    "(send the signal again to fail them now)",
                    self.identity,
                    _signal_name(noticed),
                    self._holding(),
                )
            if self.abandon_event.is_set():
                self._fail_running()
                break
            # Short joins keep the main thread responsive to signals.
            next(thread for thread in threads if thread.is_alive()).join(0.2)
        log.info("worker %s stopped", self.identity)

    def stop(self) -> None:
        """Stop polling; tasks in hand are finished and reported."""
        self.stop_event.set()

    def install_signal_handlers(self, signals: Iterable[int] = (signal.SIGTERM,)) -> Callable[[], None]:
        """Make SIGTERM (or `signals`) stop the worker, a second one abandon the tasks in hand.

        Main thread only; returns a function that undoes it.
        """
        return on_signals(self._on_signal, signals)

    def _on_signal(self, signum: int) -> None:
        # Runs in the main thread between two bytecodes: only set flags; `run` does the rest.
        if self.signaled is None:
            self.signaled = signum
            self.stop_event.set()
        else:
            self.abandon_event.set()

    def _serve(self, task_list: str) -> None:
        outage = Outage(f"polling {self.domain}/{task_list}", self.clock, log)
        while not self.stop_event.is_set():
            try:
                self.poll_once(task_list)
            except Exception as error:
                # botocore already retried: wait longer and longer rather than spin while SWF is away.
                self.clock.wait(self.stop_event, outage.failed(error))
            else:
                outage.succeeded()

    def poll_once(self, task_list: str | None = None) -> bool:
        """Poll `task_list` (default: the first) once and run the task it brings; whether one came."""
        task = self.client.poll_for_activity_task(
            domain=self.domain, taskList={"name": task_list or self.task_lists[0]}, identity=self.identity
        )
        if not task.get("taskToken"):
            return False  # an empty poll (moto leaves the key out; SWF sends it empty)
        self.handle(task)
        return True

    # -- one task ----------------------------------------------------------------------------------

    def handle(self, task: ActivityTaskTypeDef) -> Outcome:
        """Run one polled task and report its outcome; returns the outcome."""
        received = self.clock.now()
        token = task["taskToken"]
        execution = task["workflowExecution"]
        type_name = task["activityType"]["name"]
        version = task["activityType"]["version"]
        activity_id = task["activityId"]
        input_text = task.get("input")
        # One that cannot be read is read again by run_task, which fails the attempt saying why.
        with contextlib.suppress(PayloadError):
            if input_text:
                input_text = self.payloads.resolve(input_text, f"the input of {activity_id}")
        attempt = _attempt(input_text)
        logger = TaskLog(
            log,
            {
                "domain": self.domain,
                "workflow_id": execution["workflowId"],
                "run_id": execution["runId"],
                "activity_id": activity_id,
                "activity_type": type_name,
                "attempt": attempt,
            },
        )
        found = self._find(type_name, version)
        if isinstance(found, str):
            outcome = Outcome(reason=clip(f"UnknownActivityType: {found}", MAX_REASON), details="")
            logger.warning("failed: %s", outcome.reason)
            held = self._hold(_Task(token, logger, None, received))
            self._report(held, outcome, canceled=False)
            return outcome
        activity, handler, revert = found
        heartbeat = Heartbeat(self.client, token, logger, self.clock)
        held = self._hold(_Task(token, logger, activity, received, heartbeat))
        context = TaskContext(
            domain=self.domain,
            workflow_id=execution["workflowId"],
            run_id=execution["runId"],
            activity_id=activity_id,
            attempt=attempt,
            _beat=heartbeat.beat,
            _cancel=heartbeat.cancel,
        )
        logger.info("started %s attempt %d", type_name, attempt)
        automatic = _automatic_heartbeat(activity)
        if automatic is not None:
            interval, limit, bound = automatic
            heartbeat.start(interval, received + limit, bound)
        try:
            outcome = run_task(activity, handler, input_text, context, revert, self.payloads)
        finally:
            heartbeat.stop()
        took = self.clock.now() - received
        canceled = outcome.failed and heartbeat.cancel.is_set()
        if canceled:
            logger.warning("canceled after %.1f s: %s", took, outcome.reason)
        elif outcome.failed:
            logger.warning("failed after %.1f s: %s", took, outcome.reason)
        else:
            logger.info("completed in %.1f s", took)
        self._report(held, outcome, canceled)
        return outcome

    def _find(self, type_name: str, version: str) -> tuple[ActivityPlan, Callable[..., Any], bool] | str:
        """The activity, handler and whether it is a revert; or why this worker cannot run it."""
        known = self.plan.by_type(type_name)
        activity, revert = known if known is not None else (None, False)
        handler = None
        if activity is not None:
            handler = self.handlers.get(handler_key(activity, revert))
        if activity is None or handler is None:
            served = ", ".join(sorted(self._served())) or "nothing"
            return f"this worker has no handler for activity type {type_name} (it runs {served})"
        if activity.version != version:
            return f"this worker runs {type_name} version {activity.version}, not version {version}"
        return activity, handler, revert

    def _served(self) -> list[str]:
        """The activity types this worker has handlers for."""
        served = []
        for activity in self.plan.activities:
            if handler_key(activity) in self.handlers:
                served.append(activity.type_name)
            if activity.revert_type is not None and handler_key(activity, revert=True) in self.handlers:
                served.append(activity.revert_type)
        return served

    # -- reporting ---------------------------------------------------------------------------------

    def _hold(self, task: _Task) -> _Task:
        with self._lock:
            self._tasks[id(task)] = task
        return task

    def _holding(self) -> int:
        with self._lock:
            return sum(1 for task in self._tasks.values() if task.state != "done")

    def _claim(self, task: _Task) -> bool:
        """Take the right to report `task`'s outcome; False when another thread has it (or had it)."""
        with self._lock:
            if task.state != "running":
                return False
            task.state = "reporting"
            return True

    def _release(self, task: _Task) -> None:
        with self._lock:
            task.state = "done"
            self._tasks.pop(id(task), None)

    def _deadline(self, task: _Task) -> tuple[float, str]:
        """When the task can no longer be open, and which timeout says so.

        Every bound is counted from when this worker received the task (or, for the heartbeat
        timeout, from its last heartbeat call), which is no earlier than SWF starts counting: so
        a report is never given up while SWF might still take it. The execution timeout bounds
        every task, even one whose own timeouts are all none.
        """
        plan = self.plan
        bounds = [
            (task.received + plan.execution_timeout, f"the execution timeout ({plan.execution_timeout} s)")
        ]
        timeouts = task.activity.timeouts if task.activity is not None else None
        if timeouts is not None:
            if timeouts.start_to_close is not None:
                seconds = timeouts.start_to_close
                bounds.append((task.received + seconds, f"its start_to_close ({seconds} s)"))
            if timeouts.schedule_to_close is not None:
                seconds = timeouts.schedule_to_close
                bounds.append((task.received + seconds, f"its schedule_to_close ({seconds} s)"))
            if timeouts.heartbeat is not None:
                last = task.heartbeat.last if task.heartbeat and task.heartbeat.last else task.received
                seconds = timeouts.heartbeat
                bounds.append((max(last, task.received) + seconds, f"its heartbeat timeout ({seconds} s)"))
        return min(bounds)

    def _report(self, task: _Task, outcome: Outcome, canceled: bool) -> None:
        """Report `outcome`, retrying while SWF cannot be reached and the task may still be open."""
        if not self._claim(task):
            task.log.warning("not reported: the worker already failed this task when it was stopped")
            return
        try:
            self._report_claimed(task, outcome, canceled)
        finally:
            self._release(task)

    def _report_claimed(self, task: _Task, outcome: Outcome, canceled: bool) -> None:
        what = "failure" if outcome.failed else "result"
        backoff = Backoff()
        failures = 0
        began = self.clock.now()
        while True:
            try:
                self._respond(task.token, outcome, canceled)
            except (ClientError, BotoCoreError) as error:
                if not unreachable(error):
                    # Most often UnknownResourceFault: the task timed out or its execution closed.
                    task.log.warning("could not report the %s to SWF: %s", what, describe(error))
                    return
                now = self.clock.now()
                deadline, bound = self._deadline(task)
                if now >= deadline:
                    task.log.error(
                        "%s abandoned: SWF could not be reached for %.0f s (%s) and %s has passed, "
                        "so the task is closed",
                        what,
                        now - began,
                        describe(error),
                        bound,
                    )
                    return
                if failures == 0:
                    task.log.warning(
                        "could not report the %s to SWF (%s); keeping it and retrying for up to %.0f s, "
                        "until %s has passed",
                        what,
                        describe(error),
                        deadline - now,
                        bound,
                    )
                failures += 1
                # The last try falls on the deadline itself.
                if self.clock.wait(self.abandon_event, min(backoff.next(), deadline - now)):
                    task.log.error("%s abandoned: the worker was stopped while SWF was unreachable", what)
                    return
                continue
            if failures:
                task.log.warning(
                    "reported the %s to SWF after %d failed attempt(s) over %.0f s",
                    what,
                    failures,
                    self.clock.now() - began,
                )
            return

    def _respond(self, token: str, outcome: Outcome, canceled: bool) -> None:
        if not outcome.failed:
            if outcome.result is None:
                self.client.respond_activity_task_completed(taskToken=token)
            else:
                self.client.respond_activity_task_completed(taskToken=token, result=outcome.result)
        elif canceled:
            text = f"{outcome.reason}\n{outcome.details}" if outcome.details else str(outcome.reason)
            self.client.respond_activity_task_canceled(taskToken=token, details=clip(text, MAX_PAYLOAD))
        else:
            self.client.respond_activity_task_failed(
                taskToken=token,
                reason=clip(str(outcome.reason), MAX_REASON),
                details=clip(outcome.details, MAX_PAYLOAD),
            )

    def _fail_running(self) -> None:
        """After a second signal: fail every task whose handler still runs, once, and let go."""
        name = _signal_name(self.signaled)
        with self._lock:
            tasks = list(self._tasks.values())
        for task in tasks:
            if not self._claim(task):
                continue
            reason = f"WorkerStopped: the worker got {name} twice and stopped before the handler returned"
            try:
                self._respond(task.token, Outcome(reason=reason, details=""), canceled=False)
            except (ClientError, BotoCoreError) as error:
                task.log.error("could not fail the task as the worker stops: %s", describe(error))
            else:
                task.log.warning("failed as the worker stops: %s", reason)
            finally:
                self._release(task)
        # Reports already under way (retrying while SWF is away) give up at the abandon event.
        end = time.monotonic() + STOP_GRACE
        while self._holding() and time.monotonic() < end:
            time.sleep(0.05)
        with self._lock:
            left = [task for task in self._tasks.values() if task.state != "done"]
        for task in left:
            task.log.error("outcome abandoned: the worker stopped while it was being reported")


def _automatic_heartbeat(activity: ActivityPlan) -> tuple[float, int, str] | None:
    """(interval, for how long, what bounds it) of the background heartbeat; None when there is none.

    Only while a timeout bounds the handler: start_to_close, else schedule_to_close. With neither,
    beating on would keep a hung handler alive forever, so the handler must heartbeat itself.
    """
    timeouts = activity.timeouts
    if not timeouts.heartbeat:
        return None
    interval = timeouts.heartbeat * HEARTBEAT_FRACTION
    if timeouts.start_to_close is not None:
        return interval, timeouts.start_to_close, f"start_to_close ({timeouts.start_to_close} s)"
    if timeouts.schedule_to_close is not None:
        return interval, timeouts.schedule_to_close, f"schedule_to_close ({timeouts.schedule_to_close} s)"
    return None


def _signal_name(signum: int | None) -> str:
    try:
        return signal.Signals(signum).name if signum is not None else "a signal"
    except ValueError:
        return f"signal {signum}"


def _attempt(input_text: str | None) -> int:
    """The attempt number from the input envelope; 1 when it has none."""
    try:
        envelope = json.loads(input_text) if input_text else {}
    except ValueError:
        return 1
    attempt = envelope.get("attempt") if isinstance(envelope, dict) else None
    return attempt if isinstance(attempt, int) and not isinstance(attempt, bool) else 1
