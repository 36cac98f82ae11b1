"""The tests' moto extension (moto_swf_children.py): child workflows and cancellation, as SWF has them.

Each test drives a parent by hand-written decisions through boto3, against moto in this process
(`mock_aws`), and asserts every new event's attributes exactly, field by field as SWF's API
reference names them. The last test does the same against a ThreadedMotoServer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import botocore.exceptions
import moto.swf.models
import moto_swf_children
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer
from moto.swf.models.workflow_execution import WorkflowExecution
from moto.swf.responses import SWFResponse
from moto_swf import AWS_ENV, REGION, attributes, history, skip_ahead

DOMAIN = "children"
PARENT = {"name": "parent", "version": "1"}
CHILD = {"name": "child", "version": "1"}
ROLE = "arn:aws:iam::123456789012:role/lambda"


def register(client: Any) -> None:
    client.register_domain(name=DOMAIN, workflowExecutionRetentionPeriodInDays="1")
    defaults = {
        "defaultTaskStartToCloseTimeout": "60",
        "defaultExecutionStartToCloseTimeout": "3600",
        "defaultChildPolicy": "TERMINATE",
    }
    client.register_workflow_type(domain=DOMAIN, **PARENT, defaultTaskList={"name": "parents"}, **defaults)
    client.register_workflow_type(domain=DOMAIN, **CHILD, defaultTaskList={"name": "children"}, **defaults)
    client.register_workflow_type(domain=DOMAIN, name="bare", version="1")  # no defaults at all
    client.register_workflow_type(domain=DOMAIN, name="old", version="1", **defaults)
    client.deprecate_workflow_type(domain=DOMAIN, workflowType={"name": "old", "version": "1"})


@pytest.fixture
def swf(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(moto.swf.models, "sleep", lambda seconds: None)  # an empty poll returns at once
    with moto_swf_children.extended(), mock_aws():
        client = boto3.client("swf", region_name=REGION)
        register(client)
        yield client


# -- helpers --------------------------------------------------------------------------------------


def start(client: Any, workflow_id: str = "parent-1", **extra: Any) -> dict[str, str]:
    run = client.start_workflow_execution(domain=DOMAIN, workflowId=workflow_id, workflowType=PARENT, **extra)
    return {"workflowId": workflow_id, "runId": run["runId"]}


def decide(client: Any, task_list: str, *decisions: dict[str, Any]) -> dict[str, Any]:
    """Take the next decision task of the list and answer it; the task as polled."""
    task: dict[str, Any] = client.poll_for_decision_task(domain=DOMAIN, taskList={"name": task_list})
    assert task.get("taskToken"), f"no decision task on {task_list}"
    client.respond_decision_task_completed(taskToken=task["taskToken"], decisions=list(decisions))
    return task


def no_decision_task(client: Any, task_list: str) -> bool:
    task = client.poll_for_decision_task(domain=DOMAIN, taskList={"name": task_list})
    return not task.get("taskToken")


def events(client: Any, execution: dict[str, str]) -> list[dict[str, Any]]:
    return history(client, DOMAIN, execution["workflowId"], execution["runId"])


def kinds(found: list[dict[str, Any]]) -> list[str]:
    return [e["eventType"] for e in found]


def the(found: list[dict[str, Any]], kind: str) -> tuple[int, dict[str, Any]]:
    """The one event of this kind: its id and attributes."""
    matching = [e for e in found if e["eventType"] == kind]
    assert len(matching) == 1, f"{len(matching)} {kind} events in {kinds(found)}"
    return matching[0]["eventId"], attributes(matching[0])


def last_completed(found: list[dict[str, Any]]) -> int:
    event_id: int = [e for e in found if e["eventType"] == "DecisionTaskCompleted"][-1]["eventId"]
    return event_id


def info(client: Any, execution: dict[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = client.describe_workflow_execution(domain=DOMAIN, execution=execution)
    return found


def start_child(workflow_id: str = "child-1", **extra: Any) -> dict[str, Any]:
    given = {"workflowId": workflow_id, "workflowType": CHILD, **extra}
    return {
        "decisionType": "StartChildWorkflowExecution",
        "startChildWorkflowExecutionDecisionAttributes": given,
    }


def close(kind: str, **given: Any) -> dict[str, Any]:
    return {"decisionType": kind, kind[0].lower() + kind[1:] + "DecisionAttributes": given}


def cancel_external(workflow_id: str, **extra: Any) -> dict[str, Any]:
    given = {"workflowId": workflow_id, **extra}
    return {
        "decisionType": "RequestCancelExternalWorkflowExecution",
        "requestCancelExternalWorkflowExecutionDecisionAttributes": given,
    }


def with_child(client: Any, *then: dict[str, Any], **parent: Any) -> tuple[dict[str, str], dict[str, str]]:
    """A parent that started child-1, its next task answered with `then`; (parent, child)."""
    execution = start(client, **parent)
    decide(client, "parents", start_child())
    _, started = the(events(client, execution), "ChildWorkflowExecutionStarted")
    decide(client, "parents", *then)  # the task ChildWorkflowExecutionStarted scheduled
    return execution, started["workflowExecution"]


def child_closed(client: Any, parent: dict[str, str], child: dict[str, str], kind: str) -> dict[str, Any]:
    """The parent's event for its child's close; checks the ids it refers to and the new decision task."""
    found = events(client, parent)
    initiated, _ = the(found, "StartChildWorkflowExecutionInitiated")
    started, _ = the(found, "ChildWorkflowExecutionStarted")
    closed_id, closed = the(found, kind)
    assert closed.pop("workflowExecution") == child
    assert closed.pop("workflowType") == CHILD
    assert closed.pop("initiatedEventId") == initiated
    assert closed.pop("startedEventId") == started
    assert kinds(found)[closed_id:] == ["DecisionTaskScheduled"]
    assert info(client, parent)["openCounts"]["openChildWorkflowExecutions"] == 0
    return closed


# -- StartChildWorkflowExecution --------------------------------------------------------------


def test_a_child_starts_with_the_decisions_attributes_and_its_result_reaches_the_parent(swf: Any) -> None:
    parent = start(swf)
    decide(
        swf,
        "parents",
        start_child(
            control="shard 0",
            input='{"items": [1, 2]}',
            executionStartToCloseTimeout="600",
            taskList={"name": "shards"},
            taskPriority="5",
            taskStartToCloseTimeout="30",
            childPolicy="ABANDON",
            tagList=["shard"],
            lambdaRole=ROLE,
        ),
    )
    found = events(swf, parent)
    initiated_id, initiated = the(found, "StartChildWorkflowExecutionInitiated")
    assert initiated == {
        "workflowId": "child-1",
        "workflowType": CHILD,
        "control": "shard 0",
        "input": '{"items": [1, 2]}',
        "executionStartToCloseTimeout": "600",
        "taskList": {"name": "shards"},
        "taskPriority": "5",
        "decisionTaskCompletedEventId": last_completed(found),
        "childPolicy": "ABANDON",
        "taskStartToCloseTimeout": "30",
        "tagList": ["shard"],
        "lambdaRole": ROLE,
    }
    _, started = the(found, "ChildWorkflowExecutionStarted")
    child = started["workflowExecution"]
    assert set(child) == {"workflowId", "runId"} and child["workflowId"] == "child-1"
    assert started == {"workflowExecution": child, "workflowType": CHILD, "initiatedEventId": initiated_id}
    assert kinds(found)[initiated_id - 1 :] == [
        "StartChildWorkflowExecutionInitiated",
        "ChildWorkflowExecutionStarted",
        "DecisionTaskScheduled",
    ]
    assert info(swf, parent)["openCounts"]["openChildWorkflowExecutions"] == 1
    assert info(swf, child)["executionInfo"]["parent"] == parent

    # The child is an execution of its own, on the task list the decision named.
    assert kinds(events(swf, child)) == ["WorkflowExecutionStarted", "DecisionTaskScheduled"]
    _, child_started = the(events(swf, child), "WorkflowExecutionStarted")
    assert child_started == {
        "input": '{"items": [1, 2]}',
        "executionStartToCloseTimeout": "600",
        "taskStartToCloseTimeout": "30",
        "childPolicy": "ABANDON",
        "taskList": {"name": "shards"},
        "taskPriority": "5",
        "workflowType": CHILD,
        "tagList": ["shard"],
        "parentWorkflowExecution": parent,
        "parentInitiatedEventId": initiated_id,
        "lambdaRole": ROLE,
    }
    assert no_decision_task(swf, "children")
    decide(swf, "parents")
    task = decide(swf, "shards", close("CompleteWorkflowExecution", result='{"rows": 2}'))
    assert task["workflowExecution"] == child

    assert child_closed(swf, parent, child, "ChildWorkflowExecutionCompleted") == {"result": '{"rows": 2}'}
    decide(swf, "parents", close("CompleteWorkflowExecution"))


def test_a_childs_type_defaults_fill_in_what_the_decision_leaves_out(swf: Any) -> None:
    parent = start(swf)
    decide(swf, "parents", start_child())
    found = events(swf, parent)
    _, initiated = the(found, "StartChildWorkflowExecutionInitiated")
    assert initiated == {
        "workflowId": "child-1",
        "workflowType": CHILD,
        "executionStartToCloseTimeout": "3600",
        "taskList": {"name": "children"},
        "decisionTaskCompletedEventId": last_completed(found),
        "childPolicy": "TERMINATE",
        "taskStartToCloseTimeout": "60",
    }
    child = the(found, "ChildWorkflowExecutionStarted")[1]["workflowExecution"]
    assert decide(swf, "children")["workflowExecution"] == child


def test_a_failed_child_passes_its_reason_and_details(swf: Any) -> None:
    parent, child = with_child(swf)
    decide(swf, "children", close("FailWorkflowExecution", reason="boom", details="the traceback"))
    closed = child_closed(swf, parent, child, "ChildWorkflowExecutionFailed")
    assert closed == {"reason": "boom", "details": "the traceback"}


def test_a_child_times_out(swf: Any) -> None:
    parent = start(swf)
    decide(swf, "parents", start_child(executionStartToCloseTimeout="5"))
    child = the(events(swf, parent), "ChildWorkflowExecutionStarted")[1]["workflowExecution"]
    with skip_ahead(10):  # moto checks time-outs on the next call, against its clock
        assert info(swf, child)["executionInfo"]["closeStatus"] == "TIMED_OUT"
    assert child_closed(swf, parent, child, "ChildWorkflowExecutionTimedOut") == {
        "timeoutType": "START_TO_CLOSE"
    }


def test_a_terminated_child(swf: Any) -> None:
    parent, child = with_child(swf)
    swf.terminate_workflow_execution(domain=DOMAIN, workflowId="child-1", reason="by hand")
    assert child_closed(swf, parent, child, "ChildWorkflowExecutionTerminated") == {}
    _, terminated = the(events(swf, child), "WorkflowExecutionTerminated")
    assert terminated == {"reason": "by hand", "childPolicy": "TERMINATE", "cause": "OPERATOR_INITIATED"}


def test_a_parent_cancels_its_child_which_closes_as_canceled(swf: Any) -> None:
    parent = start(swf)
    decide(swf, "parents", start_child())
    child = the(events(swf, parent), "ChildWorkflowExecutionStarted")[1]["workflowExecution"]
    decide(swf, "children")  # the child's first task: nothing to do yet
    decide(swf, "parents", cancel_external("child-1", runId=child["runId"], control="stop"))
    found = events(swf, parent)
    initiated_id, initiated = the(found, "RequestCancelExternalWorkflowExecutionInitiated")
    assert initiated == {
        "workflowId": "child-1",
        "runId": child["runId"],
        "decisionTaskCompletedEventId": last_completed(found),
        "control": "stop",
    }
    requested_id, requested = the(found, "ExternalWorkflowExecutionCancelRequested")
    assert requested == {"workflowExecution": child, "initiatedEventId": initiated_id}
    assert kinds(found)[requested_id:] == ["DecisionTaskScheduled"]

    _, asked = the(events(swf, child), "WorkflowExecutionCancelRequested")
    assert asked == {"externalWorkflowExecution": parent, "externalInitiatedEventId": initiated_id}
    assert info(swf, child)["executionInfo"]["cancelRequested"] is True
    decide(swf, "parents")
    decide(swf, "children", close("CancelWorkflowExecution", details="stopped"))
    assert child_closed(swf, parent, child, "ChildWorkflowExecutionCanceled") == {"details": "stopped"}


def test_cancelling_an_execution_that_is_not_open_fails(swf: Any) -> None:
    parent = start(swf)
    decide(swf, "parents", cancel_external("nobody", control="c"))
    found = events(swf, parent)
    initiated_id, _ = the(found, "RequestCancelExternalWorkflowExecutionInitiated")
    failed_id, failed = the(found, "RequestCancelExternalWorkflowExecutionFailed")
    assert failed == {
        "workflowId": "nobody",
        "cause": "UNKNOWN_EXTERNAL_WORKFLOW_EXECUTION",
        "initiatedEventId": initiated_id,
        "decisionTaskCompletedEventId": last_completed(found),
        "control": "c",
    }
    assert kinds(found)[failed_id:] == ["DecisionTaskScheduled"]


# -- StartChildWorkflowExecutionFailed --------------------------------------------------------


@pytest.mark.parametrize(
    ("decision", "cause"),
    [
        (start_child(workflowType={"name": "nope", "version": "1"}), "WORKFLOW_TYPE_DOES_NOT_EXIST"),
        (start_child(workflowType={"name": "old", "version": "1"}), "WORKFLOW_TYPE_DEPRECATED"),
        (
            start_child(workflowType={"name": "bare", "version": "1"}),
            "DEFAULT_EXECUTION_START_TO_CLOSE_TIMEOUT_UNDEFINED",
        ),
        (
            start_child(workflowType={"name": "bare", "version": "1"}, executionStartToCloseTimeout="60"),
            "DEFAULT_TASK_LIST_UNDEFINED",
        ),
        (
            start_child(
                workflowType={"name": "bare", "version": "1"},
                executionStartToCloseTimeout="60",
                taskList={"name": "bare"},
            ),
            "DEFAULT_TASK_START_TO_CLOSE_TIMEOUT_UNDEFINED",
        ),
        (
            start_child(
                workflowType={"name": "bare", "version": "1"},
                executionStartToCloseTimeout="60",
                taskList={"name": "bare"},
                taskStartToCloseTimeout="10",
            ),
            "DEFAULT_CHILD_POLICY_UNDEFINED",
        ),
    ],
)
def test_a_child_that_cannot_start_fails_without_an_initiated_event(
    swf: Any, decision: dict[str, Any], cause: str
) -> None:
    parent = start(swf)
    decision["startChildWorkflowExecutionDecisionAttributes"]["control"] = "shard 3"
    decide(swf, "parents", decision)
    found = events(swf, parent)
    failed_id, failed = the(found, "StartChildWorkflowExecutionFailed")
    named = decision["startChildWorkflowExecutionDecisionAttributes"]["workflowType"]
    assert failed == {
        "workflowType": named,
        "cause": cause,
        "workflowId": "child-1",
        "initiatedEventId": 0,
        "decisionTaskCompletedEventId": last_completed(found),
        "control": "shard 3",
    }
    assert "StartChildWorkflowExecutionInitiated" not in kinds(found)
    assert kinds(found)[failed_id:] == ["DecisionTaskScheduled"]
    assert info(swf, parent)["openCounts"]["openChildWorkflowExecutions"] == 0


def test_a_child_whose_id_is_running_fails_after_its_initiated_event(swf: Any) -> None:
    parent = start(swf)
    start(swf, "busy")
    decide(swf, "parents", start_child("busy"), start_child("parent-1"))
    found = events(swf, parent)
    initiated = [e["eventId"] for e in found if e["eventType"] == "StartChildWorkflowExecutionInitiated"]
    failures = [attributes(e) for e in found if e["eventType"] == "StartChildWorkflowExecutionFailed"]
    completed = last_completed(found)
    assert failures == [
        {
            "workflowType": CHILD,
            "cause": "WORKFLOW_ALREADY_RUNNING",
            "workflowId": workflow_id,
            "initiatedEventId": initiated_id,
            "decisionTaskCompletedEventId": completed,
        }
        for workflow_id, initiated_id in zip(["busy", "parent-1"], initiated, strict=True)
    ]
    # Every decision of the task is recorded before any child starts (or fails to).
    assert kinds(found)[completed:] == [
        "StartChildWorkflowExecutionInitiated",
        "StartChildWorkflowExecutionInitiated",
        "StartChildWorkflowExecutionFailed",
        "StartChildWorkflowExecutionFailed",
        "DecisionTaskScheduled",
    ]


def test_two_children_of_one_task_with_the_same_id(swf: Any) -> None:
    parent = start(swf)
    decide(swf, "parents", start_child("twin"), start_child("twin"))
    found = events(swf, parent)
    assert [e["eventType"] for e in found][last_completed(found) :] == [
        "StartChildWorkflowExecutionInitiated",
        "StartChildWorkflowExecutionInitiated",
        "ChildWorkflowExecutionStarted",
        "StartChildWorkflowExecutionFailed",
        "DecisionTaskScheduled",
    ]
    assert the(found, "StartChildWorkflowExecutionFailed")[1]["cause"] == "WORKFLOW_ALREADY_RUNNING"


def test_too_many_open_children(swf: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto_swf_children, "OPEN_CHILDREN_LIMIT", 2)
    parent = start(swf)
    decide(swf, "parents", start_child("a"), start_child("b"), start_child("c"))
    found = events(swf, parent)
    assert len([e for e in found if e["eventType"] == "ChildWorkflowExecutionStarted"]) == 2
    _, failed = the(found, "StartChildWorkflowExecutionFailed")
    assert (failed["workflowId"], failed["cause"], failed["initiatedEventId"]) == (
        "c",
        "OPEN_CHILDREN_LIMIT_EXCEEDED",
        0,
    )
    # A closed child makes room again.
    swf.terminate_workflow_execution(domain=DOMAIN, workflowId="a")
    decide(swf, "parents", start_child("d"))
    assert the(events(swf, parent), "StartChildWorkflowExecutionFailed")[1]["workflowId"] == "c"


# -- child policies ----------------------------------------------------------------------------


def test_terminating_a_parent_terminates_its_children_under_terminate(swf: Any) -> None:
    parent, child = with_child(swf, childPolicy="TERMINATE")
    swf.terminate_workflow_execution(domain=DOMAIN, workflowId="parent-1")
    _, terminated = the(events(swf, child), "WorkflowExecutionTerminated")
    assert terminated == {"childPolicy": "TERMINATE", "cause": "CHILD_POLICY_APPLIED"}
    assert info(swf, child)["executionInfo"]["closeStatus"] == "TERMINATED"
    # The parent is closed: nothing more is recorded in its history.
    assert kinds(events(swf, parent))[-1] == "WorkflowExecutionTerminated"


def test_terminating_a_parent_asks_its_children_to_cancel_under_request_cancel(swf: Any) -> None:
    parent, child = with_child(swf, childPolicy="REQUEST_CANCEL")
    decide(swf, "children")
    swf.terminate_workflow_execution(domain=DOMAIN, workflowId="parent-1")
    found = events(swf, child)
    requested_id, requested = the(found, "WorkflowExecutionCancelRequested")
    assert requested == {"cause": "CHILD_POLICY_APPLIED"}
    assert kinds(found)[requested_id:] == ["DecisionTaskScheduled"]
    assert info(swf, child)["executionInfo"]["executionStatus"] == "OPEN"
    assert info(swf, child)["executionInfo"]["cancelRequested"] is True
    decide(swf, "children", close("CancelWorkflowExecution"))
    assert info(swf, child)["executionInfo"]["closeStatus"] == "CANCELED"
    assert kinds(events(swf, parent))[-1] == "WorkflowExecutionTerminated"


def test_terminating_a_parent_leaves_its_children_under_abandon(swf: Any) -> None:
    parent, child = with_child(swf, childPolicy="ABANDON")
    before = kinds(events(swf, child))
    swf.terminate_workflow_execution(domain=DOMAIN, workflowId="parent-1")
    assert kinds(events(swf, child)) == before
    decide(swf, "children", close("CompleteWorkflowExecution"))
    assert info(swf, child)["executionInfo"]["closeStatus"] == "COMPLETED"
    assert kinds(events(swf, parent))[-1] == "WorkflowExecutionTerminated"


def test_terminate_workflow_executions_child_policy_overrides_the_parents(swf: Any) -> None:
    _, child = with_child(swf, childPolicy="ABANDON")
    swf.terminate_workflow_execution(domain=DOMAIN, workflowId="parent-1", childPolicy="TERMINATE")
    assert the(events(swf, child), "WorkflowExecutionTerminated")[1]["cause"] == "CHILD_POLICY_APPLIED"


def test_a_parent_that_times_out_applies_its_child_policy(swf: Any) -> None:
    parent, child = with_child(swf, childPolicy="TERMINATE", executionStartToCloseTimeout="5")
    with skip_ahead(10):
        assert info(swf, parent)["executionInfo"]["closeStatus"] == "TIMED_OUT"
    _, timed_out = the(events(swf, parent), "WorkflowExecutionTimedOut")
    assert timed_out == {"timeoutType": "START_TO_CLOSE", "childPolicy": "TERMINATE"}
    _, terminated = the(events(swf, child), "WorkflowExecutionTerminated")
    assert terminated == {"childPolicy": "TERMINATE", "cause": "CHILD_POLICY_APPLIED"}


def test_a_parent_its_decider_closes_leaves_its_children_running(swf: Any) -> None:
    """The reference applies the child policy on TerminateWorkflowExecution and time-outs only."""
    parent, child = with_child(swf, close("CompleteWorkflowExecution"), childPolicy="TERMINATE")
    assert info(swf, parent)["executionInfo"]["closeStatus"] == "COMPLETED"
    assert info(swf, child)["executionInfo"]["executionStatus"] == "OPEN"
    decide(swf, "children", close("CompleteWorkflowExecution"))
    assert kinds(events(swf, parent))[-1] == "WorkflowExecutionCompleted"


# -- RequestCancelWorkflowExecution ------------------------------------------------------------


def test_request_cancel_workflow_execution(swf: Any) -> None:
    execution = start(swf)
    decide(swf, "parents")
    swf.request_cancel_workflow_execution(domain=DOMAIN, workflowId="parent-1")
    found = events(swf, execution)
    requested_id, requested = the(found, "WorkflowExecutionCancelRequested")
    assert requested == {}
    assert kinds(found)[requested_id:] == ["DecisionTaskScheduled"]
    assert info(swf, execution)["executionInfo"]["cancelRequested"] is True

    decide(swf, "parents", close("CancelWorkflowExecution", details="reverted"))
    found = events(swf, execution)
    _, canceled = the(found, "WorkflowExecutionCanceled")
    assert canceled == {"details": "reverted", "decisionTaskCompletedEventId": last_completed(found)}
    assert info(swf, execution)["executionInfo"]["closeStatus"] == "CANCELED"

    for workflow_id, run_id in (
        ("parent-1", {}),
        ("nobody", {}),
        ("parent-1", {"runId": execution["runId"]}),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            swf.request_cancel_workflow_execution(domain=DOMAIN, workflowId=workflow_id, **run_id)
        assert refused.value.response["Error"]["Code"] == "UnknownResourceFault"


# -- installing ------------------------------------------------------------------------------


def test_install_is_idempotent_and_uninstall_puts_moto_back() -> None:
    was_installed = moto_swf_children.installed()
    before = vars(WorkflowExecution)["handle_decisions"]
    with moto_swf_children.extended():
        moto_swf_children.install()
        patched = vars(WorkflowExecution)["handle_decisions"]
        with moto_swf_children.extended():
            pass
        assert moto_swf_children.installed()
        assert vars(WorkflowExecution)["handle_decisions"] is patched
        assert hasattr(SWFResponse, "request_cancel_workflow_execution")
    assert moto_swf_children.installed() == was_installed
    assert vars(WorkflowExecution)["handle_decisions"] is before
    if not was_installed:
        assert patched is not before
        assert not hasattr(SWFResponse, "request_cancel_workflow_execution")
        assert (
            "ChildWorkflowExecutionStarted" not in moto.swf.models.history_event.SUPPORTED_HISTORY_EVENT_TYPES
        )


# -- under a server ---------------------------------------------------------------------------


def test_under_a_threaded_moto_server(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(moto.swf.models, "sleep", lambda seconds: None)
    with moto_swf_children.extended():
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            client = boto3.client("swf", region_name=REGION, endpoint_url=f"http://{host}:{port}")
            register(client)
            parent, child = with_child(client)
            _, child_started = the(events(client, child), "WorkflowExecutionStarted")
            assert child_started["parentWorkflowExecution"] == parent
            decide(client, "children", close("CompleteWorkflowExecution", result="done"))
            assert child_closed(client, parent, child, "ChildWorkflowExecutionCompleted") == {
                "result": "done"
            }
            client.request_cancel_workflow_execution(domain=DOMAIN, workflowId="parent-1")
            assert kinds(events(client, parent))[-2:] == [
                "WorkflowExecutionCancelRequested",
                "DecisionTaskScheduled",
            ]
        finally:
            server.stop()
