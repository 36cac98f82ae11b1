"""The decider loop and the worker against SWF: moto in process, and botocore's Stubber where moto
cannot go (cancellation requested through a heartbeat).

moto's empty polls sleep a second; most tests drive the loops one poll at a time with that sleep
patched out, so they take no longer than the work they do.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import moto.swf.models
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import ANY, Stubber
from histories import sharded
from moto import mock_aws
from moto_swf import ROOT
from swf_support import (
    FakeActivitySWF,
    FakeClock,
    activity_task,
    attributes,
    country_plan,
    history,
    of_type,
    register,
    start,
)

from flowgen.runtime import polling
from flowgen.runtime.decider import decide
from flowgen.runtime.handlers import handlers_for
from flowgen.runtime.local import LocalRunner
from flowgen.runtime.plan import FlowPlan, Timeouts
from flowgen.runtime.polling import Backoff, DeciderLoop
from flowgen.runtime.swf import client
from flowgen.runtime.worker import Worker

SMALL_INPUT = {"days": ["2026-03-01", "2026-03-02"], "countries": [250, 276]}
ACTIVITIES = "country_flow-v1.0-activities"


@pytest.fixture
def swf(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("COUNTRY_FLOW_FAILURE_RATE", "0")
    with mock_aws():
        swf = client(region="us-east-1")
        register(swf, country_plan())
        yield swf


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto sleeps a second on every empty poll; the step-by-step tests need no such pause."""
    monkeypatch.setattr(moto.swf.models, "sleep", lambda seconds: None)


def _status(swf: Any, plan: FlowPlan, run_id: str, workflow_id: str = "wf-1") -> dict[str, Any]:
    info: dict[str, Any] = swf.describe_workflow_execution(
        domain=plan.domain, execution={"workflowId": workflow_id, "runId": run_id}
    )["executionInfo"]
    return info


def _drive(
    swf: Any, plan: FlowPlan, run_id: str, decider: DeciderLoop, worker: Worker
) -> list[dict[str, Any]]:
    """Poll decider and worker in turn until the execution closes; returns its history."""
    for _ in range(200):
        if _status(swf, plan, run_id)["executionStatus"] == "CLOSED":
            return history(swf, plan, "wf-1", run_id)
        decider.poll_once()
        worker.poll_once()
    raise AssertionError("the execution did not close in 200 rounds")


def _expected_report(plan: FlowPlan) -> dict[str, Any]:
    local = LocalRunner(plan, handlers_for(plan)).run(SMALL_INPUT)
    assert local.status == "COMPLETED"
    result: dict[str, Any] = local.result
    return result


def _with_timeouts(plan: FlowPlan, name: str, **timeouts: int | None) -> FlowPlan:
    activities = tuple(
        (
            dataclasses.replace(a, timeouts=dataclasses.replace(a.timeouts, **timeouts))
            if a.name == name
            else a
        )
        for a in plan.activities
    )
    return dataclasses.replace(plan, activities=activities)


# -- round trips ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_sleep")
def test_round_trip_on_moto_one_poll_at_a_time(swf: Any) -> None:
    plan = country_plan()
    run_id = start(swf, plan, SMALL_INPUT)
    decider = DeciderLoop(plan, swf, identity="decider-1")
    worker = Worker(plan, handlers_for(plan), swf, identity="worker-1")
    assert worker.task_lists == (ACTIVITIES,)
    events = _drive(swf, plan, run_id, decider, worker)
    assert _status(swf, plan, run_id)["closeStatus"] == "COMPLETED"
    (completed,) = of_type(events, "WorkflowExecutionCompleted")
    assert json.loads(completed["result"]) == _expected_report(plan)
    assert json.loads(completed["result"])["report"].startswith("4 fetches, ")
    scheduled = [a["activityId"] for a in of_type(events, "ActivityTaskScheduled")]
    assert scheduled == ["activity_1", *(f"activity_2-{n}" for n in range(4)), "activity_3"]
    assert {a["identity"] for a in of_type(events, "ActivityTaskStarted")} == {"worker-1"}
    # The input envelope carries the attempt; the worker's result is the handler's JSON.
    first = of_type(events, "ActivityTaskScheduled")[1]
    assert json.loads(first["input"])["attempt"] == 1
    assert json.loads(first["input"])["input"]["day"] == "2026-03-01"
    # The execution closed: its history is no longer cached.
    assert decider.cache is not None and len(decider.cache) == 0


def _run_until(target: Callable[[], None], stop: Callable[[], None], done: Callable[[], bool]) -> None:
    """Run a loop in a thread until `done()`, then stop it and wait for the task in hand."""
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not done():
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.02)
    stop()
    thread.join(5)
    assert not thread.is_alive()


def test_round_trip_with_the_run_loops(swf: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """DeciderLoop.run and Worker.run (two poller threads) in turn until the execution closes.

    They take turns rather than run side by side: an activity that completes while a decision
    task is in flight is lost by the decider as it stands (see test_news_during_a_decision_task).
    """
    monkeypatch.setattr(moto.swf.models, "sleep", lambda seconds: time.sleep(0.05))
    plan = country_plan()
    run_id = start(swf, plan, SMALL_INPUT)
    decider = DeciderLoop(plan, swf)
    task_list = {"domain": plan.domain, "taskList": {"name": plan.task_list}}
    activities = {"domain": plan.domain, "taskList": {"name": ACTIVITIES}}
    threads_seen: set[str] = set()

    def fetch(**kwargs: Any) -> dict[str, int]:
        threads_seen.add(threading.current_thread().name)
        time.sleep(0.2)  # long enough for both pollers to hold a task
        return {"rows": kwargs["country_id"] % 7}

    handlers = {**handlers_for(plan), "activity_2": fetch}
    for _ in range(10):
        if _status(swf, plan, run_id)["executionStatus"] == "CLOSED":
            break
        stop = threading.Event()
        _run_until(
            lambda stop=stop: decider.run(stop),  # type: ignore[misc]
            stop.set,
            lambda: swf.count_pending_decision_tasks(**task_list)["count"] == 0,
        )
        worker = Worker(plan, handlers, swf, concurrency=2)
        _run_until(
            worker.run, worker.stop, lambda: swf.count_pending_activity_tasks(**activities)["count"] == 0
        )
    assert _status(swf, plan, run_id)["closeStatus"] == "COMPLETED"
    (completed,) = of_type(history(swf, plan, "wf-1", run_id), "WorkflowExecutionCompleted")
    assert json.loads(completed["result"]) == {"report": "4 fetches, 16 rows"}  # (250 % 7 + 276 % 7) * 2
    assert len(threads_seen) == 2


def test_news_during_a_decision_task_is_not_lost() -> None:
    """An activity that completes while a decision task is in flight still gets its decision.

    SWF schedules a new decision task after the DecisionTaskCompleted; the events it must act on
    come before that DecisionTaskCompleted, after the DecisionTaskStarted it answers.
    """
    plan = country_plan()
    t0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    raw: list[tuple[str, dict[str, Any]]] = [
        ("WorkflowExecutionStarted", {"input": json.dumps({"days": ["2026-03-01"], "countries": [250]})}),
        ("DecisionTaskScheduled", {}),
        ("DecisionTaskStarted", {"scheduledEventId": 2}),
        ("DecisionTaskCompleted", {"scheduledEventId": 2, "startedEventId": 3}),
        (
            "ActivityTaskScheduled",
            {"activityId": "activity_1", "activityType": {"name": "country_flow.activity_1"}},
        ),
        ("ActivityTaskStarted", {"scheduledEventId": 5}),
        ("DecisionTaskScheduled", {}),  # a signal, or one of moto's extra decision tasks
        ("DecisionTaskStarted", {"scheduledEventId": 7}),
        ("ActivityTaskCompleted", {"scheduledEventId": 5, "startedEventId": 6, "result": '{"run_id":"r"}'}),
        ("DecisionTaskCompleted", {"scheduledEventId": 7, "startedEventId": 8}),
        ("DecisionTaskScheduled", {}),
        ("DecisionTaskStarted", {"scheduledEventId": 11}),
    ]
    events = [
        {
            "eventId": n,
            "eventType": kind,
            "eventTimestamp": t0 + datetime.timedelta(seconds=n),
            kind[0].lower() + kind[1:] + "EventAttributes": attrs,
        }
        for n, (kind, attrs) in enumerate(raw, start=1)
    ]
    assert decide(plan, events[:8]) == []  # activity_1 still running when this task started
    scheduled = [
        d["scheduleActivityTaskDecisionAttributes"]["activityId"]
        for d in decide(plan, events)
        if d["decisionType"] == "ScheduleActivityTask"
    ]
    assert scheduled == ["activity_2-0"]


@pytest.mark.usefixtures("no_sleep")
def test_empty_polls_on_moto(swf: Any) -> None:
    plan = country_plan()
    assert DeciderLoop(plan, swf).poll_once() is False
    assert DeciderLoop(plan, swf, cache=False).poll_once() is False
    assert Worker(plan, {}, swf).poll_once() is False


# -- the decider ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_sleep")
def test_a_decide_that_raises_leaves_the_task_uncompleted(
    swf: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    plan = country_plan()
    run_id = start(swf, plan, SMALL_INPUT)

    def broken(
        plan: FlowPlan, events: list[dict[str, Any]], workflow_id: str = "", *rest: Any
    ) -> list[dict[str, Any]]:
        raise RuntimeError("a bug in decide")

    monkeypatch.setattr(polling, "decide", broken)
    decider = DeciderLoop(plan, swf)
    with caplog.at_level(logging.ERROR, logger="flowgen.runtime.polling"):
        assert decider.poll_once() is True
    assert "decide() failed" in caplog.text and "RuntimeError: a bug in decide" in caplog.text
    assert "wf-1" in caplog.text
    kinds = [e["eventType"] for e in history(swf, plan, "wf-1", run_id)]
    assert kinds == ["WorkflowExecutionStarted", "DecisionTaskScheduled", "DecisionTaskStarted"]
    assert decider.cache is not None and len(decider.cache) == 0
    # Nothing is lost: the task is still started; once it times out, a decider gets it again.
    assert _status(swf, plan, run_id)["executionStatus"] == "OPEN"


@pytest.mark.usefixtures("no_sleep")
def test_decider_leaves_tasks_of_another_workflow_version_alone(
    swf: Any, caplog: pytest.LogCaptureFixture
) -> None:
    plan = country_plan()
    start(swf, plan, SMALL_INPUT)
    other = dataclasses.replace(plan, version="2.0")
    with caplog.at_level(logging.ERROR, logger="flowgen.runtime.polling"):
        assert DeciderLoop(other, swf).poll_once() is True
    assert "country_flow 1.0 reached the decider of country_flow 2.0" in caplog.text


@pytest.mark.usefixtures("no_sleep")
def test_decider_decides_shard_workflow_types_with_their_plans(swf: Any) -> None:
    """One decider serves the workflow and its shards: each task goes to the plan its type names."""
    plan = sharded(country_plan(), "activity_2", 2)
    shard = plan.shards[0]
    swf.register_workflow_type(
        domain=plan.domain,
        name=shard.workflow,
        version=shard.version,
        defaultTaskList={"name": shard.task_list},
        defaultExecutionStartToCloseTimeout=str(shard.execution_timeout),
        defaultTaskStartToCloseTimeout=str(shard.decision_timeout or 30),
        defaultChildPolicy=shard.child_policy,
    )
    items = [
        {"day": "2026-03-01", "country_id": 250, "run_id": "r", "source": "s"},
        {"day": "2026-03-02", "country_id": 276, "run_id": "r", "source": "s"},
    ]
    run_id = start(swf, shard, {"items": items}, workflow_id="wf-1.activity_2.0")
    parent_run = start(swf, plan, SMALL_INPUT)
    decider = DeciderLoop(plan, swf)
    assert decider.poll_once() and decider.poll_once()
    scheduled = of_type(history(swf, plan, "wf-1.activity_2.0", run_id), "ActivityTaskScheduled")
    assert [(a["activityId"], json.loads(a["input"])["input"]) for a in scheduled] == [
        ("activity_2-0", items[0]),
        ("activity_2-1", items[1]),
    ]
    parent = of_type(history(swf, plan, "wf-1", parent_run), "ActivityTaskScheduled")
    assert [a["activityId"] for a in parent] == ["activity_1"]


# -- the worker -----------------------------------------------------------------------------------


def _first_activity(swf: Any, plan: FlowPlan) -> str:
    """Start an execution and let the decider schedule activity_1; returns the run id."""
    run_id = start(swf, plan, SMALL_INPUT)
    assert DeciderLoop(plan, swf).poll_once()
    return run_id


def _run_activity_1(swf: Any, plan: FlowPlan, handler: Callable[..., Any]) -> dict[str, Any]:
    """Run activity_1 with `handler`; returns the attributes of the event that closed it."""
    run_id = _first_activity(swf, plan)
    assert Worker(plan, {"activity_1": handler}, swf).poll_once() is True
    events = history(swf, plan, "wf-1", run_id)
    closed = [
        e for e in events if e["eventType"].startswith("ActivityTask") and "Sched" not in e["eventType"]
    ]
    assert closed[0]["eventType"] == "ActivityTaskStarted"
    return {"type": closed[-1]["eventType"], **attributes(closed[-1])}


def _boom() -> dict[str, str]:
    raise ValueError("boom: the API said no")


@pytest.mark.usefixtures("no_sleep")
def test_handler_exception_fails_the_task_with_class_message_and_traceback(swf: Any) -> None:
    plan = country_plan()
    closed = _run_activity_1(swf, plan, _boom)
    assert closed["type"] == "ActivityTaskFailed"
    assert closed["reason"] == "ValueError: boom: the API said no"
    assert closed["details"].startswith("Traceback (most recent call last):")
    assert 'raise ValueError("boom: the API said no")' in closed["details"]
    assert closed["details"].rstrip().endswith("ValueError: boom: the API said no")


@pytest.mark.usefixtures("no_sleep")
def test_a_failed_task_fails_the_workflow_through_the_decider(swf: Any) -> None:
    plan = country_plan()
    run_id = _first_activity(swf, plan)
    Worker(plan, {"activity_1": _boom}, swf).poll_once()
    decider = DeciderLoop(plan, swf)
    for _ in range(5):
        decider.poll_once()
    status = _status(swf, plan, run_id)
    assert (status["executionStatus"], status["closeStatus"]) == ("CLOSED", "FAILED")
    (failed,) = of_type(history(swf, plan, "wf-1", run_id), "WorkflowExecutionFailed")
    assert failed["reason"] == "activity_1 failed after 1 attempt: ValueError: boom: the API said no"


@pytest.mark.usefixtures("no_sleep")
def test_reason_is_clipped_to_256_and_details_to_32768(swf: Any) -> None:
    def loud() -> None:
        raise RuntimeError("x" * 50_000)

    closed = _run_activity_1(swf, country_plan(), loud)
    assert closed["type"] == "ActivityTaskFailed"
    assert len(closed["reason"]) == 256 and closed["reason"].startswith("RuntimeError: xxx")
    assert len(closed["details"]) == 32_768


@pytest.mark.usefixtures("no_sleep")
def test_result_over_32768_characters_fails_clearly(swf: Any) -> None:
    # Without the spec's payloads key (the country flow has one): nowhere to keep a larger value.
    plan = dataclasses.replace(country_plan(), payloads=None)
    closed = _run_activity_1(swf, plan, lambda: {"run_id": "x" * 40_000})
    assert closed["type"] == "ActivityTaskFailed"
    message = (
        "the result of activity_1 is 40,013 characters as JSON; SWF allows 32,768: "
        "set payloads.s3 in the spec to keep larger values in S3"
    )
    assert closed["reason"] == f"ResultTooLarge: {message}"
    assert closed["details"] == message


@pytest.mark.usefixtures("no_sleep")
def test_unknown_activity_type_fails_with_a_clear_reason(swf: Any) -> None:
    plan = country_plan()
    run_id = _first_activity(swf, plan)
    assert Worker(plan, {"activity_3": _boom}, swf).poll_once()
    (failed,) = of_type(history(swf, plan, "wf-1", run_id), "ActivityTaskFailed")
    assert failed["reason"] == (
        "UnknownActivityType: this worker has no handler for activity type country_flow.activity_1 (it runs "
        "country_flow.activity_3)"
    )


@pytest.mark.usefixtures("no_sleep")
def test_worker_logs_carry_the_task_coordinates(swf: Any, caplog: pytest.LogCaptureFixture) -> None:
    plan = country_plan()
    run_id = _first_activity(swf, plan)
    with caplog.at_level(logging.INFO, logger="flowgen.runtime.worker"):
        Worker(plan, {"activity_1": _boom}, swf).poll_once()
    started, failed = [r for r in caplog.records if r.name == "flowgen.runtime.worker"]
    assert (started.levelno, failed.levelno) == (logging.INFO, logging.WARNING)
    for record in (started, failed):
        assert (record.domain, record.workflow_id, record.run_id, record.activity_id) == (  # type: ignore[attr-defined]
            "dev",
            "wf-1",
            run_id,
            "activity_1",
        )
        assert record.getMessage().startswith(f"dev/wf-1/{run_id}/activity_1: ")
    assert "started country_flow.activity_1 attempt 1" in started.getMessage()
    assert "failed after" in failed.getMessage() and "ValueError: boom" in failed.getMessage()


def test_worker_serves_every_task_list_of_its_activities() -> None:
    plan = country_plan()
    moved = dataclasses.replace(
        plan,
        activities=tuple(
            dataclasses.replace(a, task_list="reports") if a.name == "activity_3" else a
            for a in plan.activities
        ),
    )
    fake: Any = object()
    assert Worker(moved, {}, fake).task_lists == (ACTIVITIES, "reports")
    assert Worker(moved, {}, fake, task_list="reports").task_lists == ("reports",)
    with pytest.raises(ValueError, match="concurrency"):
        Worker(moved, {}, fake, concurrency=0)


# -- heartbeats -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_sleep")
def test_heartbeat_thread_keeps_a_slow_task_alive(swf: Any) -> None:
    """With a 1 s heartbeat timeout moto times the task out unless the thread heartbeats."""
    plan = _with_timeouts(country_plan(), "activity_1", heartbeat=1)
    beats: list[float] = []
    swf.meta.events.register("before-call.swf.RecordActivityTaskHeartbeat", lambda **_: beats.append(1.0))

    def slow() -> dict[str, str]:
        time.sleep(2)
        return {"run_id": "r"}

    closed = _run_activity_1(swf, plan, slow)
    assert closed["type"] == "ActivityTaskCompleted"
    assert json.loads(closed["result"]) == {"run_id": "r"}
    assert 4 <= len(beats) <= 7  # every third of a second for two seconds
    time.sleep(0.5)
    assert len(beats) <= 7  # and the thread stopped with the task


def _stubbed() -> tuple[Any, Stubber]:
    swf = boto3.client("swf", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return swf, Stubber(swf)


def _activity_task(activity_id: str = "activity_1") -> dict[str, Any]:
    return {
        "taskToken": "tok",
        "activityId": activity_id,
        "startedEventId": 7,
        "workflowExecution": {"workflowId": "wf-1", "runId": "run-1"},
        "activityType": {"name": "country_flow.activity_1", "version": "1.0"},
        "input": json.dumps({"input": {}, "attempt": 3}),
    }


def _poll_request() -> dict[str, Any]:
    return {"domain": "dev", "taskList": {"name": ACTIVITIES}, "identity": "w"}


def test_cancel_requested_on_a_handler_heartbeat_reports_canceled() -> None:
    swf, stubber = _stubbed()
    seen: dict[str, Any] = {}

    def cooperative(context: Any) -> dict[str, str]:
        seen.update(attempt=context.attempt, workflow=context.workflow_id, run=context.run_id)
        context.heartbeat("half way")
        if context.cancel_requested:
            raise InterruptedError("asked to stop")
        return {"run_id": "r"}

    stubber.add_response("poll_for_activity_task", _activity_task(), _poll_request())
    stubber.add_response(
        "record_activity_task_heartbeat",
        {"cancelRequested": True},
        {"taskToken": "tok", "details": "half way"},
    )
    stubber.add_response("respond_activity_task_canceled", {}, {"taskToken": "tok", "details": ANY})
    with stubber:
        assert Worker(country_plan(), {"activity_1": cooperative}, swf, identity="w").poll_once()
        stubber.assert_no_pending_responses()
    assert seen == {"attempt": 3, "workflow": "wf-1", "run": "run-1"}


def test_cancel_requested_on_a_background_heartbeat_reaches_the_handler() -> None:
    swf, stubber = _stubbed()
    plan = _with_timeouts(country_plan(), "activity_1", heartbeat=3)  # a beat each second

    def waits_for_cancel(context: Any) -> dict[str, str]:
        deadline = time.monotonic() + 5
        while not context.cancel_requested:
            assert time.monotonic() < deadline, "no cancellation came"
            time.sleep(0.02)
        raise InterruptedError("canceled")

    stubber.add_response("poll_for_activity_task", _activity_task(), _poll_request())
    stubber.add_response("record_activity_task_heartbeat", {"cancelRequested": True}, {"taskToken": "tok"})
    stubber.add_response("respond_activity_task_canceled", {}, {"taskToken": "tok", "details": ANY})
    with stubber:
        began = time.monotonic()
        assert Worker(plan, {"activity_1": waits_for_cancel}, swf, identity="w").poll_once()
        stubber.assert_no_pending_responses()
    assert 0.9 < time.monotonic() - began < 1.9


def test_a_canceled_handler_that_completes_anyway_reports_completed() -> None:
    swf, stubber = _stubbed()

    def stubborn(context: Any) -> dict[str, str]:
        context.heartbeat("")
        return {"run_id": "r"}

    stubber.add_response("poll_for_activity_task", _activity_task(), _poll_request())
    stubber.add_response("record_activity_task_heartbeat", {"cancelRequested": True}, {"taskToken": "tok"})
    stubber.add_response(
        "respond_activity_task_completed", {}, {"taskToken": "tok", "result": '{"run_id":"r"}'}
    )
    with stubber:
        assert Worker(country_plan(), {"activity_1": stubborn}, swf, identity="w").poll_once()
        stubber.assert_no_pending_responses()


# -- SIGTERM --------------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_sleep")
def test_sigterm_stops_polling_after_the_task_in_hand(swf: Any) -> None:
    plan = country_plan()
    run_id = _first_activity(swf, plan)
    worker = Worker(plan, handlers_for(plan), swf)
    assert worker.poll_once()  # activity_1
    assert DeciderLoop(plan, swf).poll_once()  # schedules the four activity_2 instances
    handled: list[int] = []

    def fetch(country_id: int, day: Any, run_id: str, source: str) -> dict[str, int]:
        os.kill(os.getpid(), signal.SIGTERM)
        # The signal is handled in the main thread; the task in hand goes on regardless.
        assert worker.stop_event.wait(5)
        handled.append(country_id)
        return {"rows": 1}

    worker.handlers["activity_2"] = fetch
    restore = worker.install_signal_handlers()
    try:
        assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN)
        worker.run()
    finally:
        restore()
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    assert handled == [250]
    events = history(swf, plan, "wf-1", run_id)
    completed = of_type(events, "ActivityTaskCompleted")
    assert len(completed) == 2 and json.loads(completed[1]["result"]) == {"rows": 1}
    pending = swf.count_pending_activity_tasks(domain=plan.domain, taskList={"name": ACTIVITIES})
    assert pending["count"] == 3


def test_signal_handlers_only_from_the_main_thread() -> None:
    worker = Worker(country_plan(), {}, object())  # type: ignore[arg-type]
    errors: list[BaseException] = []

    def install() -> None:
        try:
            worker.install_signal_handlers()
        except RuntimeError as error:
            errors.append(error)

    thread = threading.Thread(target=install)
    thread.start()
    thread.join()
    assert [str(e) for e in errors] == ["signal handlers can only be installed from the main thread"]


def test_timeouts_helper_keeps_the_others() -> None:
    plan = _with_timeouts(country_plan(), "activity_1", heartbeat=1)
    assert plan.activity("activity_1").timeouts == Timeouts(300, 600, 900, 1)
    assert plan.activity("activity_2").timeouts.heartbeat == 60


# -- a handler that raises what is not an Exception -------------------------------------------------


def _serve_until_empty(worker: Worker, swf: FakeActivitySWF) -> None:
    """Worker.run (one poller thread) until its tasks are all served; fails if a poller died first."""
    swf.on_empty = worker.stop
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    assert worker.stop_event.is_set(), "the poller thread ended before serving every task"


@pytest.mark.parametrize(
    ("raised", "reason"),
    [
        (SystemExit(3), "SystemExit: 3"),
        (KeyboardInterrupt("from the handler"), "KeyboardInterrupt: from the handler"),
        (GeneratorExit(), "GeneratorExit: "),
    ],
)
def test_a_handler_raising_a_base_exception_fails_the_task_and_the_worker_serves_on(
    raised: BaseException, reason: str
) -> None:
    calls: list[int] = []

    def handler() -> dict[str, str]:
        calls.append(1)
        if len(calls) == 1:
            raise raised
        return {"run_id": "r"}

    swf = FakeActivitySWF([activity_task("tok-1"), activity_task("tok-2")])
    _serve_until_empty(Worker(country_plan(), {"activity_1": handler}, swf, identity="w"), swf)  # type: ignore[arg-type]
    (failed_kind, failed), (completed_kind, completed) = swf.reports
    assert (failed_kind, failed["taskToken"], failed["reason"]) == ("failed", "tok-1", reason)
    assert failed["details"].startswith("Traceback (most recent call last):")
    assert (completed_kind, completed) == ("completed", {"taskToken": "tok-2", "result": '{"run_id":"r"}'})


def _signal_worker(mode: str) -> tuple[subprocess.Popen[str], Callable[[], str]]:
    """Start tests/signal_worker.py; returns it and a function reading its next stdout line."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "signal_worker.py"), mode],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline


def _finish(process: subprocess.Popen[str]) -> tuple[list[dict[str, Any]], str]:
    try:
        out, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"the worker did not exit after the signal:\n{err}") from None
    return [json.loads(line) for line in out.splitlines()], err


def test_sigterm_finishes_and_reports_the_task_in_hand_then_exits_non_zero() -> None:
    process, readline = _signal_worker("finish")
    assert readline() == "started\n"
    process.send_signal(signal.SIGTERM)
    reports, err = _finish(process)
    assert reports == [
        {"report": "completed", "taskToken": "tok", "result": '{"run_id":"finished after the signal"}'}
    ]
    assert process.returncode == 128 + signal.SIGTERM, err


def test_a_second_sigint_fails_the_hung_task_in_hand_then_exits_non_zero() -> None:
    process, readline = _signal_worker("hang")
    assert readline() == "started\n"
    process.send_signal(signal.SIGINT)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    reports, err = _finish(process)
    assert [(r["report"], r["taskToken"]) for r in reports] == [("failed", "tok")], err
    assert reports[0]["reason"].startswith("WorkerStopped: ")
    assert "SIGINT" in reports[0]["reason"]
    assert process.returncode == 128 + signal.SIGINT, err


# -- an exception that cannot be printed -----------------------------------------------------------


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("__str__ raised")


class _Unrepresentable(Exception):
    def __str__(self) -> str:
        raise SystemExit("__str__ raised SystemExit")

    def __repr__(self) -> str:
        raise KeyboardInterrupt("__repr__ raised KeyboardInterrupt")


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (_Unprintable("secret"), "_Unprintable: _Unprintable('secret')"),
        (_Unrepresentable("secret"), "_Unrepresentable"),
    ],
)
def test_an_exception_whose_str_raises_still_fails_the_task(error: Exception, reason: str) -> None:
    def handler() -> None:
        raise error

    swf = FakeActivitySWF()
    worker = Worker(country_plan(), {"activity_1": handler}, swf, identity="w")  # type: ignore[arg-type]
    worker.handle(activity_task())  # type: ignore[arg-type]
    ((kind, failed),) = swf.reports
    assert (kind, failed["reason"]) == ("failed", reason)
    assert failed["details"]


# -- SWF unreachable for longer than botocore's retries ---------------------------------------------


def _runtime_lines(caplog: pytest.LogCaptureFixture, level: int = logging.WARNING) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("flowgen.runtime") and r.levelno >= level]


def test_a_result_is_kept_and_reported_once_the_endpoint_is_back(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    swf = FakeActivitySWF(clock=clock, down=lambda now: now < 500)
    plan = _with_timeouts(country_plan(), "activity_1", heartbeat=None)  # start_to_close 600 s
    worker = Worker(plan, {"activity_1": lambda: {"run_id": "r"}}, swf, identity="w", clock=clock)  # type: ignore[arg-type]
    with caplog.at_level(logging.DEBUG, logger="flowgen.runtime"):
        worker.handle(activity_task())  # type: ignore[arg-type]
    assert swf.reports == [("completed", {"taskToken": "tok", "result": '{"run_id":"r"}'})]
    assert 500 <= clock.now() <= 560
    # Capped exponential backoff: waits of 1 s, 2 s ... (each half to all of it) up to 60 s.
    assert max(clock.waits) <= 60 and len(swf.calls) <= 8 + 500 // 30
    lines = _runtime_lines(caplog)
    assert len(lines) == 2  # could not report, reported after N attempts
    assert not any(r.exc_info for r in lines)


@pytest.mark.parametrize(
    ("timeouts", "deadline"),
    [
        ({"heartbeat": None}, 600),  # start_to_close
        ({"heartbeat": None, "start_to_close": None}, 900),  # schedule_to_close
        ({"heartbeat": None, "start_to_close": None, "schedule_to_close": None}, 86_400),  # the execution's
    ],
)
def test_a_result_is_abandoned_with_one_line_once_the_task_cannot_be_open(
    caplog: pytest.LogCaptureFixture, timeouts: dict[str, int | None], deadline: int
) -> None:
    clock = FakeClock()
    swf = FakeActivitySWF(clock=clock, down=lambda now: True)
    plan = _with_timeouts(country_plan(), "activity_1", **timeouts)
    worker = Worker(plan, {"activity_1": lambda: {"run_id": "r"}}, swf, identity="w", clock=clock)  # type: ignore[arg-type]
    with caplog.at_level(logging.DEBUG, logger="flowgen.runtime"):
        worker.handle(activity_task())  # type: ignore[arg-type]
    assert swf.reports == []
    assert clock.now() == deadline  # the last try falls on the deadline itself
    assert max(clock.waits) <= 60 and len(swf.calls) <= 8 + deadline // 30
    (abandoned,) = [r for r in _runtime_lines(caplog, logging.ERROR)]
    assert "abandoned" in abandoned.getMessage()
    assert len(_runtime_lines(caplog)) == 2  # could not report, abandoned


def test_the_worker_polls_back_off_and_log_the_outage_once(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    swf = FakeActivitySWF([activity_task()], clock=clock, down=lambda now: now < 300)
    plan = _with_timeouts(country_plan(), "activity_1", heartbeat=None)
    worker = Worker(plan, {"activity_1": lambda: {"run_id": "r"}}, swf, identity="w", clock=clock)  # type: ignore[arg-type]
    with caplog.at_level(logging.DEBUG, logger="flowgen.runtime"):
        _serve_until_empty(worker, swf)
    assert swf.reports == [("completed", {"taskToken": "tok", "result": '{"run_id":"r"}'})]
    assert 300 <= clock.now() <= 360
    assert max(clock.waits) <= 60 and swf.calls.count("poll") <= 8 + 300 // 30
    down, back = [r for r in _runtime_lines(caplog) if "polling" in r.getMessage()]
    assert "failed" in down.getMessage() and "works again" in back.getMessage()
    assert not down.exc_info
    assert len(_runtime_lines(caplog)) == 2


def test_the_decider_polls_back_off_and_log_the_outage_once(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    stop = threading.Event()
    polls: list[float] = []

    class Unreachable:
        def poll_for_decision_task(self, **request: Any) -> dict[str, Any]:
            polls.append(clock.now())
            if clock.now() < 300:
                raise EndpointConnectionError(endpoint_url="https://swf.invalid")
            stop.set()
            return {"taskToken": ""}

    decider = DeciderLoop(country_plan(), Unreachable())  # type: ignore[arg-type]
    with caplog.at_level(logging.DEBUG, logger="flowgen.runtime"):
        decider.run(stop, clock=clock)
    assert 300 <= polls[-1] <= 360
    assert max(clock.waits) <= 60 and len(polls) <= 8 + 300 // 30
    down, back = _runtime_lines(caplog)
    assert "failed" in down.getMessage() and "works again" in back.getMessage()
    assert not down.exc_info


def test_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    assert [Backoff(jitter=lambda: 1.0).next() for _ in range(1)] == [1.0]
    top = Backoff(jitter=lambda: 1.0)
    assert [top.next() for _ in range(9)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    bottom = Backoff(jitter=lambda: 0.0)
    assert [bottom.next() for _ in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    top.reset()
    assert top.next() == 1


# -- the automatic heartbeat runs only while a timeout bounds the handler ----------------------------


def _heartbeat_threads(token: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"heartbeat-{token[:8]}" and t.is_alive()]


@pytest.mark.parametrize(
    ("timeouts", "beats"),
    [
        # every 20 s until start_to_close: 20, 40 ... 280
        (
            {"heartbeat": 60, "start_to_close": 300, "schedule_to_close": 900},
            [20.0 * n for n in range(1, 15)],
        ),
        # no start_to_close: every 10 s until schedule_to_close: 10 ... 110
        (
            {"heartbeat": 30, "start_to_close": None, "schedule_to_close": 120},
            [10.0 * n for n in range(1, 12)],
        ),
        # neither: no automatic heartbeat at all, the handler must beat itself
        ({"heartbeat": 30, "start_to_close": None, "schedule_to_close": None}, []),
    ],
)
def test_the_automatic_heartbeat_stops_when_no_timeout_bounds_the_handler(
    timeouts: dict[str, int | None], beats: list[float]
) -> None:
    clock = FakeClock()
    swf = FakeActivitySWF(clock=clock)
    plan = _with_timeouts(country_plan(), "activity_1", **timeouts)
    token = "hb-token"
    seen: dict[str, Any] = {}

    def hung() -> dict[str, str]:
        # Stands for a handler that never returns: it waits (in real time) until the heartbeat
        # thread, whose waits jump the fake clock, has given up.
        deadline = time.monotonic() + 5
        while _heartbeat_threads(token):
            assert time.monotonic() < deadline, "the heartbeat thread never stopped"
            time.sleep(0.01)
        seen["beats"] = list(swf.beats)
        return {"run_id": "r"}

    worker = Worker(plan, {"activity_1": hung}, swf, identity="w", clock=clock)  # type: ignore[arg-type]
    worker.handle(activity_task(token))  # type: ignore[arg-type]
    assert seen["beats"] == beats
    assert [kind for kind, _ in swf.reports] == ["completed"]


def test_a_heartbeat_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    # Beats every 20 s until 300 s; SWF is unreachable from 50 s to 150 s (beats at 60 ... 140).
    swf = FakeActivitySWF(clock=clock, down=lambda now: 50 <= now < 150)
    plan = _with_timeouts(
        country_plan(), "activity_1", heartbeat=60, start_to_close=300, schedule_to_close=900
    )
    token = "outage-token"

    def hung() -> dict[str, str]:
        deadline = time.monotonic() + 5
        while _heartbeat_threads(token):
            assert time.monotonic() < deadline, "the heartbeat thread never stopped"
            time.sleep(0.01)
        clock.time = 200.0  # SWF is back for the report
        return {"run_id": "r"}

    worker = Worker(plan, {"activity_1": hung}, swf, identity="w", clock=clock)  # type: ignore[arg-type]
    with caplog.at_level(logging.DEBUG):
        worker.handle(activity_task(token))  # type: ignore[arg-type]
    assert swf.beats == [20.0, 40.0, 160.0, 180.0, 200.0, 220.0, 240.0, 260.0, 280.0]
    # Each line starts with the task's ids: "dev/wf-1/run-1/activity_1: ..."
    said = [(r.levelno, r.getMessage().split(": ", 1)[1]) for r in caplog.records]
    outage = [
        text
        for level, text in said
        if level >= logging.WARNING and "heartbeat" in text and "stop" not in text
    ]
    assert len(outage) == 2, said
    assert outage[0].startswith("heartbeat failed: EndpointConnectionError")
    assert outage[1] == "heartbeats reach SWF again"
    # The beats that failed in between are at DEBUG only: 60, 80, 100, 120 and 140 less the first.
    again = [r for r in caplog.records if "heartbeat failed again" in r.getMessage()]
    assert len(again) == 4 and all(r.levelno == logging.DEBUG for r in again)
    assert [kind for kind, _ in swf.reports] == ["completed"]


def test_the_handler_heartbeats_itself_when_no_timeout_bounds_it() -> None:
    swf = FakeActivitySWF()
    plan = _with_timeouts(
        country_plan(), "activity_1", heartbeat=30, start_to_close=None, schedule_to_close=None
    )

    def beats(context: Any) -> dict[str, str]:
        context.heartbeat("one")
        context.heartbeat("two")
        return {"run_id": "r"}

    Worker(plan, {"activity_1": beats}, swf, identity="w").handle(activity_task())  # type: ignore[arg-type]
    assert len(swf.beats) == 2


def test_the_docs_state_the_heartbeat_rule_in_the_same_words() -> None:
    def rule(doc: str) -> str:
        text = " ".join((ROOT / "docs" / doc).read_text(encoding="utf-8").split())
        start = text.index("When an activity has a `heartbeat` timeout, the worker heartbeats")
        return text[start : text.index("kept alive forever.", start)]

    assert rule("engine.md") == rule("spec-language.md")
    assert "until `start_to_close` has passed" in rule("engine.md")
