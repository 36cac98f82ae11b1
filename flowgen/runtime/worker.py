"""The activity worker: polls task lists, runs handlers, reports outcomes to SWF.

Each task runs through `task.run_task`, exactly as in the local runner: the
input envelope `{"input": {...}, "attempt": N}` is decoded into the handler's
keyword arguments, its result is encoded (a result over 32,768 characters fails
the task with a clear reason rather than being cut) and an exception becomes a
failure with reason `ErrorClass: message` and the traceback as details.

While a task runs, a background thread heartbeats every third of the
activity's heartbeat timeout; a heartbeat answered with `cancelRequested`
marks the task's context as canceled, and a handler that then raises is
reported as canceled rather than failed.

SIGTERM (after `install_signal_handlers()`) stops polling; a task in hand is
finished and reported first. A poll already in flight is waited for (SWF holds
it up to 60 s), and a task it brings is run too, so no task is abandoned.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from .ids import REVERT_SUFFIX
from .limits import MAX_PAYLOAD, MAX_REASON
from .plan import ActivityPlan, FlowPlan
from .swf import default_identity, stop_on_signals
from .task import Outcome, TaskContext, run_task
from .values import clip

if TYPE_CHECKING:
    from mypy_boto3_swf import SWFClient
    from mypy_boto3_swf.type_defs import ActivityTaskTypeDef

log = logging.getLogger(__name__)

# Heartbeat this often, as a fraction of the heartbeat timeout.
HEARTBEAT_FRACTION = 1 / 3


class TaskLog(logging.LoggerAdapter[logging.Logger]):
    """Prefixes each message with `domain/workflow id/run id/activity id` and passes them as `extra`."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        extra = dict(self.extra or {})
        kwargs["extra"] = {**extra, **kwargs.get("extra", {})}
        where = "/".join(str(extra.get(k, "")) for k in ("domain", "workflow_id", "run_id", "activity_id"))
        return f"{where}: {msg}", kwargs


class Heartbeat:
    """Heartbeats for one task: the handler's own (`beat`) and a background thread's."""

    def __init__(self, client: SWFClient, token: str, logger: TaskLog) -> None:
        self.client = client
        self.token = token
        self.log = logger
        self.cancel = threading.Event()
        self.count = 0
        self._details = ""
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self, details: str) -> bool:
        """Record a heartbeat with `details` (kept for the background beats); True if canceled."""
        with self._lock:
            self._details = details
        return self._send(details)

    def start(self, interval: float) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name=f"heartbeat-{self.token[:8]}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread is not None:
            # A beat in flight is bounded by the client's timeouts; don't hold up the report for it.
            self._thread.join(timeout=5)

    def _run(self, interval: float) -> None:
        while not self._done.wait(interval):
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
            if self._done.is_set():
                return self.cancel.is_set()
            if error.response.get("Error", {}).get("Code") == "UnknownResourceFault":
                # The task timed out or its execution closed: nobody waits for its result.
                self.log.warning(
                    "heartbeat refused, the task is no longer open; asking it to stop: %s", error
                )
                self.cancel.set()
            else:
                self.log.warning("heartbeat failed: %s", error)
            return self.cancel.is_set()
        except BotoCoreError as error:
            self.log.warning("heartbeat failed: %s", error)
            return self.cancel.is_set()
        self.count += 1
        if response.get("cancelRequested") and not self.cancel.is_set():
            self.log.info("cancellation requested")
            self.cancel.set()
        return self.cancel.is_set()


class Worker:
    """Runs the plan's handlers for the activity tasks on its task lists.

    `handlers` maps activity type names to functions (revert types are
    `ACTIVITY.revert`); `handlers_for(plan)` builds it from the spec.
    `task_list` defaults to every task list of the plan's non-external
    activities; `concurrency` is the number of poller threads per task list,
    so the tasks run at once on each.
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
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self.plan = plan
        self.handlers = dict(handlers)
        self.client = client
        self.identity = identity or default_identity("worker")
        self.concurrency = concurrency
        self.domain = domain or plan.domain
        if task_list is None:
            lists = [a.task_list for a in plan.activities if not a.external]
        elif isinstance(task_list, str):
            lists = [task_list]
        else:
            lists = list(task_list)
        self.task_lists: tuple[str, ...] = tuple(dict.fromkeys(lists))
        if not self.task_lists:
            raise ValueError(f"{plan.workflow} has no activity for this worker to run: give task_list")
        self.stop_event = threading.Event()
        self._activities = {a.name: a for a in plan.activities}

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
        for thread in threads:
            # Short joins keep the main thread responsive to signals.
            while thread.is_alive():
                thread.join(0.5)
        log.info("worker %s stopped", self.identity)

    def stop(self) -> None:
        """Stop polling; tasks in hand are finished and reported."""
        self.stop_event.set()

    def install_signal_handlers(self, signals: Iterable[int] = (signal.SIGTERM,)) -> Callable[[], None]:
        """Make SIGTERM (or `signals`) call `stop()`. Main thread only; returns a function that undoes it."""
        return stop_on_signals(self.stop_event, signals)

    def _serve(self, task_list: str) -> None:
        while not self.stop_event.is_set():
            try:
                self.poll_once(task_list)
            except Exception:
                # botocore already retried; pause a moment rather than spin while SWF is unreachable.
                log.exception("polling %s/%s failed", self.domain, task_list)
                self.stop_event.wait(1)

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
        token = task["taskToken"]
        execution = task["workflowExecution"]
        type_name = task["activityType"]["name"]
        version = task["activityType"]["version"]
        activity_id = task["activityId"]
        input_text = task.get("input")
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
            self._report(token, outcome, logger, canceled=False)
            return outcome
        activity, handler, revert = found
        heartbeat = Heartbeat(self.client, token, logger)
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
        began = time.monotonic()
        if activity.timeouts.heartbeat:
            heartbeat.start(activity.timeouts.heartbeat * HEARTBEAT_FRACTION)
        try:
            outcome = run_task(activity, handler, input_text, context, revert)
        finally:
            heartbeat.stop()
        seconds = time.monotonic() - began
        canceled = outcome.failed and heartbeat.cancel.is_set()
        if canceled:
            logger.warning("canceled after %.1f s: %s", seconds, outcome.reason)
        elif outcome.failed:
            logger.warning("failed after %.1f s: %s", seconds, outcome.reason)
        else:
            logger.info("completed in %.1f s", seconds)
        self._report(token, outcome, logger, canceled)
        return outcome

    def _find(self, type_name: str, version: str) -> tuple[ActivityPlan, Callable[..., Any], bool] | str:
        """The activity, handler and whether it is a revert; or why this worker cannot run it."""
        revert = type_name.endswith(REVERT_SUFFIX)
        activity = self._activities.get(type_name[: -len(REVERT_SUFFIX)] if revert else type_name)
        handler = self.handlers.get(type_name)
        if activity is None or handler is None or (revert and activity.revert is None):
            served = ", ".join(sorted(self.handlers)) or "nothing"
            return f"this worker has no handler for activity type {type_name} (it runs {served})"
        if activity.version != version:
            return f"this worker runs {type_name} version {activity.version}, not version {version}"
        return activity, handler, revert

    def _report(self, token: str, outcome: Outcome, logger: TaskLog, canceled: bool) -> None:
        try:
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
        except (ClientError, BotoCoreError) as error:
            # Most often UnknownResourceFault: the task timed out or its execution closed meanwhile.
            logger.warning("could not report the outcome to SWF: %s", error)


def _attempt(input_text: str | None) -> int:
    """The attempt number from the input envelope; 1 when it has none."""
    try:
        envelope = json.loads(input_text) if input_text else {}
    except ValueError:
        return 1
    attempt = envelope.get("attempt") if isinstance(envelope, dict) else None
    return attempt if isinstance(attempt, int) and not isinstance(attempt, bool) else 1
