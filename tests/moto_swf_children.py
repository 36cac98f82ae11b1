"""moto's SWF with child workflow executions and cancellation requests, for tests.

moto 5 has no StartChildWorkflowExecution decision, no child events, no
RequestCancelWorkflowExecution action and no RequestCancelExternalWorkflowExecution
decision; it never applies a child policy. This module adds them to moto's own
models, in the test process, so they work under `mock_aws` and under a
`ThreadedMotoServer` started in the same process alike. Generated code never
depends on it: it stands in for SWF, whose API reference gives every event's
name and fields here.

Public API:

- `install()` patches moto (idempotent); `uninstall()` puts moto back;
  `extended()` is a context manager that does both (an already installed
  extension stays installed).
- `OPEN_CHILDREN_LIMIT`: the open children an execution may have (SWF's 1,000);
  a test may lower it to meet OPEN_CHILDREN_LIMIT_EXCEEDED.

What SWF does, and so this module:

- **StartChildWorkflowExecution.** The decision fails at once, with
  StartChildWorkflowExecutionFailed and `initiatedEventId` 0, when the type is
  unknown or deprecated, when a default it needs is missing, or when the parent
  has too many open children. Otherwise the parent's history gets
  StartChildWorkflowExecutionInitiated, then (after the task's other decisions)
  either StartChildWorkflowExecutionFailed with WORKFLOW_ALREADY_RUNNING or
  ChildWorkflowExecutionStarted. The child is an ordinary execution in the same
  domain, decided by whoever polls its task list; its WorkflowExecutionStarted
  names `parentWorkflowExecution` and `parentInitiatedEventId`.
- **A child closes**: the parent gets ChildWorkflowExecutionCompleted, Failed,
  TimedOut, Canceled or Terminated, and a decision task.
- **Child policy.** The reference applies an execution's child policy to its
  open children when it is terminated (TerminateWorkflowExecution's
  `childPolicy` overrides it) or times out: TERMINATE terminates them (cause
  CHILD_POLICY_APPLIED), REQUEST_CANCEL records WorkflowExecutionCancelRequested
  (same cause) and schedules a decision task, ABANDON does nothing. A parent that
  completes, fails or is cancelled by its decider leaves its children running.
- **Cancellation.** RequestCancelWorkflowExecution, and the
  RequestCancelExternalWorkflowExecution decision, record
  WorkflowExecutionCancelRequested in the target and schedule a decision task;
  the decision also records RequestCancelExternalWorkflowExecutionInitiated and
  then ExternalWorkflowExecutionCancelRequested, or
  RequestCancelExternalWorkflowExecutionFailed when no such open execution
  exists. moto already has the CancelWorkflowExecution decision.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import moto.swf.models.history_event as moto_history
from moto.core.utils import unix_time
from moto.swf.models import SWFBackend
from moto.swf.models.workflow_execution import WorkflowExecution
from moto.swf.models.workflow_type import WorkflowType
from moto.swf.responses import SWFResponse
from moto.swf.utils import decapitalize

OPEN_CHILDREN_LIMIT = 1000

NEW_EVENT_TYPES = (
    "StartChildWorkflowExecutionInitiated",
    "StartChildWorkflowExecutionFailed",
    "ChildWorkflowExecutionStarted",
    "ChildWorkflowExecutionCompleted",
    "ChildWorkflowExecutionFailed",
    "ChildWorkflowExecutionTimedOut",
    "ChildWorkflowExecutionCanceled",
    "ChildWorkflowExecutionTerminated",
    "WorkflowExecutionCancelRequested",
    "RequestCancelExternalWorkflowExecutionInitiated",
    "ExternalWorkflowExecutionCancelRequested",
    "RequestCancelExternalWorkflowExecutionFailed",
)

# A decision that closes the execution; what the task decided before it takes effect first.
_CLOSING_DECISIONS = frozenset(
    {"CompleteWorkflowExecution", "FailWorkflowExecution", "CancelWorkflowExecution"}
)

# The event a child closes with, the parent's event for it, and the fields it passes on.
_CHILD_CLOSED = {
    "COMPLETED": ("WorkflowExecutionCompleted", "ChildWorkflowExecutionCompleted", ("result",)),
    "FAILED": ("WorkflowExecutionFailed", "ChildWorkflowExecutionFailed", ("reason", "details")),
    "TIMED_OUT": ("WorkflowExecutionTimedOut", "ChildWorkflowExecutionTimedOut", ("timeoutType",)),
    "CANCELED": ("WorkflowExecutionCanceled", "ChildWorkflowExecutionCanceled", ("details",)),
    "TERMINATED": ("WorkflowExecutionTerminated", "ChildWorkflowExecutionTerminated", ()),
}

_MISSING = object()
_originals: list[tuple[object, str, object]] = []  # (owner, name, what it held), in patch order


@dataclass
class _Child:
    """A child execution as its parent started it."""

    parent: WorkflowExecution
    execution: WorkflowExecution
    initiated_event_id: int
    started_event_id: int = 0
    started: dict[str, Any] = field(default_factory=dict)  # WorkflowExecutionStarted's fields


# -- events ---------------------------------------------------------------------------------------


def _record(execution: WorkflowExecution, kind: str, found: dict[str, Any]) -> int:
    """Append an event with exactly these attributes (moto's own events drop 0 and empty values)."""
    with execution.threading_lock:
        event = moto_history.HistoryEvent(execution.next_event_id(), kind)
        event.event_attributes = {key: value for key, value in found.items() if value is not None}
        execution._events.append(event)
    return event.event_id


def _children(execution: WorkflowExecution) -> list[_Child]:
    found: list[_Child] | None = getattr(execution, "_flowgen_children", None)
    if found is None:
        found = []
        execution._flowgen_children = found  # type: ignore[attr-defined]
    return found


def _parent_link(execution: WorkflowExecution) -> _Child | None:
    link: _Child | None = getattr(execution, "_flowgen_parent", None)
    return link


def _request_cancel(execution: WorkflowExecution, found: dict[str, Any]) -> None:
    execution.cancel_requested = True
    _record(execution, "WorkflowExecutionCancelRequested", found)
    execution.schedule_decision_task()


def _closed(execution: WorkflowExecution, child_policy: str | None) -> None:
    """After any close: apply the child policy (when it applies), then tell the parent."""
    if execution.close_timestamp is None:
        execution.close_timestamp = unix_time()
    if child_policy is not None:
        for child in _children(execution):
            if not child.execution.open:
                continue
            if child_policy == "TERMINATE":
                _terminate(child.execution, cause="CHILD_POLICY_APPLIED")
            elif child_policy == "REQUEST_CANCEL":
                _request_cancel(child.execution, {"cause": "CHILD_POLICY_APPLIED"})
    link = _parent_link(execution)
    if link is None:
        return
    parent = link.parent
    parent.open_counts["openChildWorkflowExecutions"] -= 1
    if not parent.open:
        return
    closing, kind, passed = _CHILD_CLOSED[str(execution.close_status)]
    last = next(e for e in reversed(execution._events) if e.event_type == closing)
    found: dict[str, Any] = {
        "workflowExecution": execution.to_short_dict(),
        "workflowType": execution.workflow_type.to_short_dict(),
    }
    found.update({name: last.event_attributes.get(name) for name in passed})
    found["initiatedEventId"] = link.initiated_event_id
    found["startedEventId"] = link.started_event_id
    _record(parent, kind, found)
    parent.schedule_decision_task()


def _terminate(
    self: WorkflowExecution,
    child_policy: str | None = None,
    details: Any = None,
    reason: str | None = None,
    cause: str = "OPERATOR_INITIATED",
) -> None:
    policy = child_policy or self.child_policy
    self.execution_status = "CLOSED"
    self.close_status = "TERMINATED"
    self.close_cause = cause
    self.close_timestamp = unix_time()
    found = {"reason": reason, "details": details, "childPolicy": policy, "cause": cause}
    _record(self, "WorkflowExecutionTerminated", found)
    _closed(self, policy)


# -- decisions ------------------------------------------------------------------------------------

Deferred = Callable[[], None]


def _start_child(parent: WorkflowExecution, completed_id: int, given: dict[str, Any]) -> Deferred | None:
    """Initiate a child now; return what starts it once the task's other decisions are recorded."""
    workflow_id: str = given["workflowId"]
    named: dict[str, str] = given["workflowType"]
    control = given.get("control")

    def failed(cause: str, initiated_event_id: int = 0) -> None:
        found = {
            "workflowType": named,
            "cause": cause,
            "workflowId": workflow_id,
            "initiatedEventId": initiated_event_id,
            "decisionTaskCompletedEventId": completed_id,
            "control": control,
        }
        _record(parent, "StartChildWorkflowExecutionFailed", found)
        parent.should_schedule_decision_next = True

    kind: WorkflowType | None = parent.domain.get_type(  # type: ignore[assignment]
        "workflow", named["name"], named["version"], ignore_empty=True
    )
    if kind is None:
        failed("WORKFLOW_TYPE_DOES_NOT_EXIST")
        return None
    if kind.status == "DEPRECATED":
        failed("WORKFLOW_TYPE_DEPRECATED")
        return None
    execution_timeout = given.get("executionStartToCloseTimeout") or kind.default_execution_start_to_close_timeout  # type: ignore[attr-defined]
    task_list = (given.get("taskList") or {}).get("name") or kind.task_list
    task_timeout = given.get("taskStartToCloseTimeout") or kind.default_task_start_to_close_timeout  # type: ignore[attr-defined]
    child_policy = given.get("childPolicy") or kind.default_child_policy  # type: ignore[attr-defined]
    for value, cause in (
        (execution_timeout, "DEFAULT_EXECUTION_START_TO_CLOSE_TIMEOUT_UNDEFINED"),
        (task_list, "DEFAULT_TASK_LIST_UNDEFINED"),
        (task_timeout, "DEFAULT_TASK_START_TO_CLOSE_TIMEOUT_UNDEFINED"),
        (child_policy, "DEFAULT_CHILD_POLICY_UNDEFINED"),
    ):
        if not value:
            failed(cause)
            return None
    if parent.open_counts["openChildWorkflowExecutions"] >= OPEN_CHILDREN_LIMIT:
        failed("OPEN_CHILDREN_LIMIT_EXCEEDED")
        return None
    # Counted from initiation, so that one task's decisions cannot overshoot the limit.
    parent.open_counts["openChildWorkflowExecutions"] += 1
    settings = {
        "input": given.get("input"),
        "executionStartToCloseTimeout": execution_timeout,
        "taskStartToCloseTimeout": task_timeout,
        "childPolicy": child_policy,
        "taskList": {"name": task_list},
        "taskPriority": given.get("taskPriority") or kind.default_task_priority,  # type: ignore[attr-defined]
        "workflowType": kind.to_short_dict(),
        "tagList": given.get("tagList"),
        "lambdaRole": given.get("lambdaRole") or kind.default_lambda_role,  # type: ignore[attr-defined]
    }
    initiated = {
        "workflowId": workflow_id,
        "workflowType": kind.to_short_dict(),
        "control": control,
        "input": settings["input"],
        "executionStartToCloseTimeout": execution_timeout,
        "taskList": settings["taskList"],
        "taskPriority": settings["taskPriority"],
        "decisionTaskCompletedEventId": completed_id,
        "childPolicy": child_policy,
        "taskStartToCloseTimeout": task_timeout,
        "tagList": settings["tagList"],
        "lambdaRole": settings["lambdaRole"],
    }
    initiated_event_id = _record(parent, "StartChildWorkflowExecutionInitiated", initiated)

    def start() -> None:
        if parent.domain.get_workflow_execution(workflow_id, raise_if_none=False) is not None:
            parent.open_counts["openChildWorkflowExecutions"] -= 1
            failed("WORKFLOW_ALREADY_RUNNING", initiated_event_id)
            return
        execution = WorkflowExecution(
            parent.domain,
            kind,
            workflow_id,
            task_list=task_list,
            child_policy=child_policy,
            execution_start_to_close_timeout=execution_timeout,
            task_start_to_close_timeout=task_timeout,
            workflow_input=settings["input"],
            tag_list=settings["tagList"],
        )
        execution.parent = parent.to_short_dict()  # type: ignore[assignment]
        link = _Child(parent, execution, initiated_event_id, started=settings)
        execution._flowgen_parent = link  # type: ignore[attr-defined]
        _children(parent).append(link)
        parent.domain.add_workflow_execution(execution)
        # The parent learns of the child before anyone can poll the child's first task.
        started = {
            "workflowExecution": execution.to_short_dict(),
            "workflowType": kind.to_short_dict(),
            "initiatedEventId": initiated_event_id,
        }
        link.started_event_id = _record(parent, "ChildWorkflowExecutionStarted", started)
        parent.should_schedule_decision_next = True
        execution.start()

    return start


def _request_cancel_external(
    execution: WorkflowExecution, completed_id: int, given: dict[str, Any]
) -> Deferred:
    workflow_id: str = given["workflowId"]
    run_id: str | None = given.get("runId")
    control = given.get("control")
    initiated = {
        "workflowId": workflow_id,
        "runId": run_id,
        "decisionTaskCompletedEventId": completed_id,
        "control": control,
    }
    initiated_event_id = _record(execution, "RequestCancelExternalWorkflowExecutionInitiated", initiated)

    def deliver() -> None:
        target = execution.domain.get_workflow_execution(
            workflow_id, run_id=run_id, raise_if_none=False, raise_if_closed=True
        )
        if target is None:
            found = {
                "workflowId": workflow_id,
                "runId": run_id,
                "cause": "UNKNOWN_EXTERNAL_WORKFLOW_EXECUTION",
                "initiatedEventId": initiated_event_id,
                "decisionTaskCompletedEventId": completed_id,
                "control": control,
            }
            _record(execution, "RequestCancelExternalWorkflowExecutionFailed", found)
        else:
            asked = {
                "externalWorkflowExecution": execution.to_short_dict(),
                "externalInitiatedEventId": initiated_event_id,
            }
            _request_cancel(target, asked)
            found = {"workflowExecution": target.to_short_dict(), "initiatedEventId": initiated_event_id}
            _record(execution, "ExternalWorkflowExecutionCancelRequested", found)
        execution.should_schedule_decision_next = True

    return deliver


# -- the patches ----------------------------------------------------------------------------------


def _patched_methods() -> dict[str, Any]:
    """WorkflowExecution's replaced methods, each wrapping moto's own where it can."""
    handle_decisions = WorkflowExecution.handle_decisions
    start = WorkflowExecution.start
    complete = WorkflowExecution.complete
    fail = WorkflowExecution.fail
    cancel = WorkflowExecution.cancel
    timeout = WorkflowExecution.timeout
    to_medium_dict = WorkflowExecution.to_medium_dict

    def handle_decisions_with_children(
        self: WorkflowExecution, event_id: int, decisions: list[dict[str, Any]]
    ) -> None:
        deferred: list[Deferred | None] = []

        def run_deferred() -> None:
            while deferred:
                action = deferred.pop(0)
                if action is not None:
                    action()

        for decision in decisions:
            kind = decision["decisionType"]
            given = decision.get(f"{decapitalize(kind)}DecisionAttributes", {})
            if kind == "StartChildWorkflowExecution":
                deferred.append(_start_child(self, event_id, given))
            elif kind == "RequestCancelExternalWorkflowExecution":
                deferred.append(_request_cancel_external(self, event_id, given))
            else:
                if kind in _CLOSING_DECISIONS:
                    run_deferred()
                handle_decisions(self, event_id, [decision])
                # moto's handler counts the decision task done once per call; it is done once, below.
                self.open_counts["openDecisionTasks"] += 1
        run_deferred()
        self.open_counts["openDecisionTasks"] -= 1

    def start_with_parent(self: WorkflowExecution) -> None:
        link = _parent_link(self)
        if link is None:
            start(self)
            return
        self.start_timestamp = unix_time()
        found = dict(link.started)
        found["parentWorkflowExecution"] = link.parent.to_short_dict()
        found["parentInitiatedEventId"] = link.initiated_event_id
        _record(self, "WorkflowExecutionStarted", found)
        self.schedule_decision_task()

    def complete_and_tell(self: WorkflowExecution, event_id: int, result: Any = None) -> None:
        complete(self, event_id, result)
        _closed(self, None)

    def fail_and_tell(
        self: WorkflowExecution, event_id: int, details: Any = None, reason: Any = None
    ) -> None:
        fail(self, event_id, details, reason)
        _closed(self, None)

    def cancel_and_tell(self: WorkflowExecution, event_id: int, details: Any = None) -> None:
        cancel(self, event_id, details)
        if not self.open:  # moto may refuse it (CancelWorkflowExecutionFailed)
            _closed(self, None)

    def time_out_and_tell(self: WorkflowExecution, what: Any) -> None:
        timeout(self, what)
        _closed(self, self.child_policy)

    def to_medium_dict_with_parent(self: WorkflowExecution) -> dict[str, Any]:
        found: dict[str, Any] = to_medium_dict(self)
        if self.parent:
            found["parent"] = self.parent
        return found

    return {
        "handle_decisions": handle_decisions_with_children,
        "start": start_with_parent,
        "complete": complete_and_tell,
        "fail": fail_and_tell,
        "cancel": cancel_and_tell,
        "timeout": time_out_and_tell,
        "terminate": _terminate,
        "to_medium_dict": to_medium_dict_with_parent,
    }


def _backend_request_cancel(
    self: SWFBackend, domain_name: str, workflow_id: str, run_id: str | None = None
) -> None:
    self._process_timeouts()
    domain = self._get_domain(domain_name)
    execution = domain.get_workflow_execution(workflow_id, run_id=run_id, raise_if_closed=True)
    assert execution is not None  # moto raised UnknownResourceFault otherwise
    _request_cancel(execution, {})


def _response_request_cancel(self: SWFResponse) -> str:
    params = self._params
    self._check_string(params.get("domain"))
    self._check_string(params.get("workflowId"))
    self._check_none_or_string(params.get("runId"))
    self.swf_backend.request_cancel_workflow_execution(  # type: ignore[attr-defined]
        params["domain"], params["workflowId"], params.get("runId")
    )
    return ""


def _patch(owner: object, name: str, value: object) -> None:
    _originals.append((owner, name, vars(owner).get(name, _MISSING)))
    setattr(owner, name, value)


def installed() -> bool:
    return bool(_originals)


def install() -> None:
    """Extend moto's SWF in this process (idempotent). Install before starting a ThreadedMotoServer."""
    if _originals:
        return
    _patch(
        moto_history,
        "SUPPORTED_HISTORY_EVENT_TYPES",
        moto_history.SUPPORTED_HISTORY_EVENT_TYPES + NEW_EVENT_TYPES,
    )
    for name, method in _patched_methods().items():
        _patch(WorkflowExecution, name, method)
    _patch(SWFBackend, "request_cancel_workflow_execution", _backend_request_cancel)
    _patch(SWFResponse, "request_cancel_workflow_execution", _response_request_cancel)


def uninstall() -> None:
    """Put moto back as it was (idempotent)."""
    while _originals:
        owner, name, value = _originals.pop()
        if value is _MISSING:
            delattr(owner, name)
        else:
            setattr(owner, name, value)


@contextlib.contextmanager
def extended() -> Iterator[None]:
    """moto extended inside the block; left installed afterwards if it was installed before."""
    already = installed()
    install()
    try:
        yield
    finally:
        if not already:
            uninstall()
