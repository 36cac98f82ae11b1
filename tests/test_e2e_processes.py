"""End to end with every part in its own OS process, against a moto server this module starts.

moto's `ThreadedMotoServer` listens on 127.0.0.1 on a port the OS picks; the generated packages'
`register`, `starter`, `decider` and `worker` mains run as `python -m PKG.MAIN --endpoint-url ...`,
with dummy credentials, `PYTHONPATH` = the packages' folder plus the repository root, from the
repository root. Every process is ended and the server stopped in `finally` blocks; every wait is
bounded.

The server is moto as it is: nothing in it is patched. Each attempt of an activity has its own id,
so moto's refusal of an id used before never meets a retry; timers fire after their real wait (the
country flow's retries wait 10 s); time-outs are real too: 2 s heartbeats in
tests/e2e/slow_flow.yaml, the country flow's 30 s decision time-out, each noticed by moto on the
next API call (the surviving processes' polls).
"""

from __future__ import annotations

import datetime
import json
import pathlib
import signal
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from moto_swf import (
    AWS_ENV,
    GENERATED,
    REGION,
    ROOT,
    Processes,
    attributes,
    build_package,
    country_report,
    event_during_a_decision_task,
    execution_info,
    failing_attempts,
    history,
    moto_server,
    of_type,
    process_env,
    run_main,
    scheduled_while_open,
    timers_for_open_activities,
    wait_closed,
    wait_for,
)

if str(GENERATED) not in sys.path:
    sys.path.append(str(GENERATED))

from country_flow.engine.swf import client as swf_client

E2E = ROOT / "tests" / "e2e"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    import moto_swf_children

    # These runs stand for SWF with moto as it ships: retries included, no extension of ours.
    assert not moto_swf_children.installed(), "a test left the child-workflow extension installed"
    with moto_server() as url:
        yield url
    assert not moto_swf_children.installed()


@pytest.fixture
def swf(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    return swf_client(region=REGION, endpoint_url=endpoint)


run = run_main


def held_decision_task(events: list[dict[str, Any]]) -> bool:
    """Whether a decision task was started and neither completed nor timed out."""
    started = {attributes(e)["scheduledEventId"] for e in events if e["eventType"] == "DecisionTaskStarted"}
    ended = {
        attributes(e)["scheduledEventId"]
        for e in events
        if e["eventType"] in ("DecisionTaskCompleted", "DecisionTaskTimedOut")
    }
    return bool(started - ended)


# -- the engine bug these tests found --------------------------------------------------------------

# The decider once acted only on events after the last DecisionTaskCompleted, so an event that
# landed between a decision task's start and its completion was never decided on, and a run
# stalled when no later event came (here: the last retry timer fired during a decision).


def test_an_event_during_a_decision_task_is_decided_on_by_the_next_one() -> None:
    from country_flow.decider import decide

    events = event_during_a_decision_task()
    assert decide(events[:16]) == []  # task 16: activity_2-1 still open
    decisions = decide(events)  # task 21
    assert [d["scheduleActivityTaskDecisionAttributes"]["activityId"] for d in decisions] == ["activity_3"]


# -- the country flow: 5 days x 20 countries, failing at random, its decider killed and restarted ---

DAYS = [(datetime.date(2026, 3, 1) + datetime.timedelta(days=n)).isoformat() for n in range(5)]
COUNTRIES = list(range(1, 21))
# The handler's own failure rate (COUNTRY_FLOW_FAILURE_RATE is left unset) and a seed that makes its
# draws known: 18 attempts fail, never twice in a row, so each retry waits one real 10 s timer.
SEED, RATE = "seed-3", 0.2


def test_country_flow_with_a_decider_and_two_workers_as_processes(
    endpoint: str, swf: Any, tmp_path: pathlib.Path
) -> None:
    fails = {(d, c): failing_attempts(SEED, RATE, c, d) for d in DAYS for c in COUNTRIES}
    assert max(fails.values()) == 1 and sum(fails.values()) == 18
    domain = "e2e-country"
    aws = ["--endpoint-url", endpoint, "--region", REGION, "--domain", domain]
    env = process_env(GENERATED, ROOT, COUNTRY_FLOW_SEED=SEED)
    assert "COUNTRY_FLOW_FAILURE_RATE" not in env
    processes = Processes(tmp_path / "logs", env)
    try:
        registered = run(env, "country_flow.register", *aws)
        assert registered.returncode == 0, registered.stdout + registered.stderr
        processes.module("decider-1", "country_flow.decider", *aws, "--identity", "decider-1")
        processes.module("worker-1", "country_flow.worker", *aws, "--identity", "worker-1")
        processes.module("worker-2", "country_flow.worker", *aws, "--identity", "worker-2")
        started = run(
            env, "country_flow.starter", *aws, "--input", json.dumps({"days": DAYS, "countries": COUNTRIES})
        )
        assert started.returncode == 0, started.stderr
        ids = json.loads(started.stdout)
        execution = (ids["workflowId"], ids["runId"])

        def completed() -> int:
            return len(of_type(history(swf, domain, *execution), "ActivityTaskCompleted"))

        # Kill the decider part way, with no chance to finish what it holds.
        wait_for("40 activities to complete", lambda: completed() >= 40, timeout=90)
        processes.kill("decider-1")
        held = held_decision_task(history(swf, domain, *execution))
        print(f"decider-1 killed {'holding' if held else 'not holding'} a decision task")
        if held:
            # SWF hands a decision task that its decider never completed to another decider once
            # the decision timeout (30 s) passes; moto checks on the next call (these, say).
            wait_for(
                "the held decision task to time out",
                lambda: bool(of_type(history(swf, domain, *execution), "DecisionTaskTimedOut")),
                timeout=45,
            )
        # Workers finish what is scheduled, but nothing new is scheduled without a decider.
        before = len(of_type(history(swf, domain, *execution), "ActivityTaskScheduled"))
        time.sleep(2)
        assert len(of_type(history(swf, domain, *execution), "ActivityTaskScheduled")) == before
        processes.module("decider-2", "country_flow.decider", *aws, "--identity", "decider-2")
        wait_closed(swf, domain, *execution, timeout=150)
    except BaseException:
        print(processes.tails())
        (tmp_path / "history.json").write_text(
            json.dumps(history(swf, domain, *execution), default=str, indent=1)
        )
        print("history:", tmp_path / "history.json")
        raise
    finally:
        processes.close()
    info = execution_info(swf, domain, *execution)
    events = history(swf, domain, *execution)
    assert info["closeStatus"] == "COMPLETED", processes.tails()
    (done,) = of_type(events, "WorkflowExecutionCompleted")
    assert json.loads(done["result"]) == country_report(DAYS, COUNTRIES)
    assert json.loads(done["result"])["report"].startswith("100 fetches, ")
    # Every failure is in the history, each retry after its 10 s timer, under an id of its own.
    assert len(of_type(events, "ActivityTaskFailed")) == 18
    assert [int(t["startToFireTimeout"]) for t in of_type(events, "TimerStarted")] == [10] * 18
    scheduled = sorted(a["activityId"] for a in of_type(events, "ActivityTaskScheduled"))
    assert scheduled == sorted(
        ["activity_1", "activity_3"]
        + [f"activity_2-{n}" for n in range(100)]
        + [f"activity_2-{n}#2" for n, key in enumerate(fails) if fails[key]]
    )
    # Nothing scheduled twice while open, across the decider's death and restart.
    assert scheduled_while_open(events) == [] and timers_for_open_activities(events) == []
    deciders = {a["identity"] for a in of_type(events, "DecisionTaskStarted")}
    assert {"decider-1", "decider-2"} <= deciders
    assert {a["identity"] for a in of_type(events, "ActivityTaskStarted")} == {"worker-1", "worker-2"}
    # Ended by SIGTERM after reporting what it held: it says so in its exit status, 128 + SIGTERM.
    assert processes.started["worker-1"].returncode == 128 + signal.SIGTERM


# -- a worker killed mid-task ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def slow_flow(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """tests/e2e/slow_flow.yaml built into a temporary folder; returns the folder that holds it."""
    return build_package(E2E / "slow_flow.yaml", tmp_path_factory.mktemp("packages"))


def test_a_worker_killed_mid_task_is_retried_on_the_other_after_its_heartbeat_times_out(
    endpoint: str, swf: Any, slow_flow: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    domain = "e2e-slow"
    aws = ["--endpoint-url", endpoint, "--region", REGION, "--domain", domain]
    markers = tmp_path / "markers"
    markers.mkdir()
    env = process_env(slow_flow, ROOT, E2E, SLOW_FLOW_MARKERS=str(markers))
    processes = Processes(tmp_path / "logs", env)
    try:
        registered = run(env, "slow_flow.register", *aws)
        assert registered.returncode == 0, registered.stdout + registered.stderr
        processes.module("decider", "slow_flow.decider", *aws, "--identity", "decider")
        for name in ("worker-1", "worker-2"):
            processes.start(
                name,
                [sys.executable, "-m", "slow_flow.worker", *aws, "--identity", name],
                env={**env, "SLOW_FLOW_WORKER": name},
            )
        started = run(
            env, "slow_flow.starter", *aws, "--input", json.dumps({"label": "parcel-7", "seconds": 60})
        )
        assert started.returncode == 0, started.stderr
        ids = json.loads(started.stdout)
        execution = (ids["workflowId"], ids["runId"])
        wait_for("a worker to start the task", lambda: any(markers.iterdir()), timeout=30)
        (first,) = list(markers.iterdir())
        pid = int(first.name.split("-")[1])
        holder = next(name for name, p in processes.started.items() if p.pid == pid)
        assert holder.startswith("worker-")
        time.sleep(1)  # mid-task: heartbeating
        processes.kill(holder)
        killed_at = time.monotonic()
        wait_closed(swf, domain, *execution, timeout=60)
        took = time.monotonic() - killed_at
    except BaseException:
        print(processes.tails())
        raise
    finally:
        processes.close()
    survivor = "worker-2" if holder == "worker-1" else "worker-1"
    events = history(swf, domain, *execution)
    info = execution_info(swf, domain, *execution)
    assert info["closeStatus"] == "COMPLETED"
    (done,) = of_type(events, "WorkflowExecutionCompleted")
    assert json.loads(done["result"]) == {"label": "parcel-7", "worker": survivor, "attempt": 2}
    (timed_out,) = of_type(events, "ActivityTaskTimedOut")
    assert timed_out["timeoutType"] == "HEARTBEAT"
    assert timed_out["details"] == "working on parcel-7"  # the last heartbeat's details
    starts = [a["identity"] for a in of_type(events, "ActivityTaskStarted")]
    assert starts == [holder, survivor]
    kinds = [e["eventType"] for e in events if e["eventType"].startswith("ActivityTask")]
    assert kinds == [
        "ActivityTaskScheduled",
        "ActivityTaskStarted",
        "ActivityTaskTimedOut",
        "ActivityTaskScheduled",
        "ActivityTaskStarted",
        "ActivityTaskCompleted",
    ]
    assert scheduled_while_open(events) == []
    assert took < 30  # a 2 s heartbeat time-out, not the 5 min start-to-close
    assert sorted(m.name.split("-")[0] for m in markers.iterdir()) == ["1", "2"]


# -- a fan-in over 32,768 characters, its values in the moto server's S3 ----------------------------


@pytest.fixture(scope="module")
def big_flow(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """tests/e2e/big_flow.yaml built into a temporary folder; returns the folder that holds it."""
    return build_package(E2E / "big_flow.yaml", tmp_path_factory.mktemp("packages"))


def test_a_fan_in_over_32768_characters_goes_through_s3(
    endpoint: str, swf: Any, big_flow: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """The decider finds both SWF and S3 through botocore's AWS_ENDPOINT_URL alone; the worker and
    the starter through --endpoint-url. `starter --wait` prints the result it reads from S3."""
    import boto3

    sys.path.insert(0, str(E2E))
    try:
        import big_flow_handlers
    finally:
        sys.path.remove(str(E2E))

    domain = "e2e-big"
    bucket = "flowgen-e2e-payloads"
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint)
    s3.create_bucket(Bucket=bucket)
    aws = ["--endpoint-url", endpoint, "--region", REGION, "--domain", domain]
    env = process_env(big_flow, ROOT, E2E)
    processes = Processes(tmp_path / "logs", env)
    note = "n" * 33_000
    try:
        registered = run(env, "big_flow.register", *aws)
        assert registered.returncode == 0, registered.stdout + registered.stderr
        processes.start(
            "decider",
            [sys.executable, "-m", "big_flow.decider", "--region", REGION, "--domain", domain],
            env={**env, "AWS_ENDPOINT_URL": endpoint},
        )
        processes.module("worker", "big_flow.worker", *aws, "--concurrency", "4")
        args = ["--workflow-id", "big-1", "--wait", "--input", json.dumps({"size": 1000, "note": note})]
        started = run(env, "big_flow.starter", *aws, *args, timeout=150)
    except BaseException:
        print(processes.tails())
        raise
    finally:
        processes.close()
    assert started.returncode == 0, started.stderr + processes.tails()
    first, _, rest = started.stdout.partition("\n")
    ids = json.loads(first)
    joined = "".join(big_flow_handlers.label(n, 1000) for n in range(40))
    assert json.loads(rest) == {"total": 73_000, "joined": joined}
    events = history(swf, domain, ids["workflowId"], ids["runId"])
    assert all(len(json.dumps(event, default=str)) < 2_000 for event in events)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    # The input; the fan-in, and the join's result, which is also the workflow's.
    assert len(keys) == 3
    assert len([k for k in keys if k.startswith("runs/big_flow/big-1/input/")]) == 1
    assert len([k for k in keys if k.startswith(f"runs/big_flow/big-1/{ids['runId']}/")]) == 2


# -- --log-format json ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def log_flow(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """tests/e2e/log_flow.yaml built into a temporary folder; returns the folder that holds it."""
    return build_package(E2E / "log_flow.yaml", tmp_path_factory.mktemp("packages"))


def test_decider_and_worker_log_one_json_object_a_line_with_their_ids(
    endpoint: str, swf: Any, log_flow: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    domain = "e2e-logs"
    aws = ["--endpoint-url", endpoint, "--region", REGION, "--domain", domain]
    env = process_env(log_flow, ROOT, E2E)
    processes = Processes(tmp_path / "logs", env)
    json_logs = ["--log-format", "json"]
    try:
        registered = run(env, "log_flow.register", *aws)
        assert registered.returncode == 0, registered.stdout + registered.stderr
        processes.module("decider", "log_flow.decider", *aws, *json_logs, "--identity", "decider")
        processes.module("worker", "log_flow.worker", *aws, *json_logs, "--identity", "worker")
        started = run(env, "log_flow.starter", *aws, "--input", json.dumps({"numbers": [3, 4]}))
        assert started.returncode == 0, started.stderr
        ids = json.loads(started.stdout)
        wait_closed(swf, domain, ids["workflowId"], ids["runId"], timeout=60)
    except BaseException:
        print(processes.tails())
        raise
    finally:
        processes.close()
    assert execution_info(swf, domain, ids["workflowId"], ids["runId"])["closeStatus"] == "COMPLETED"
    execution = {"domain": domain, "workflow_id": ids["workflowId"], "run_id": ids["runId"]}
    lines: dict[str, list[dict[str, Any]]] = {}
    for name in ("decider", "worker"):
        text = processes.log(name)
        assert text.endswith("\n")
        lines[name] = [json.loads(line) for line in text.splitlines()]  # every line one JSON object
        for data in lines[name]:
            assert isinstance(data, dict) and {"time", "level", "logger", "message"} <= set(data), data
            assert "Traceback" not in json.dumps(data)
    # The decider's line about the execution carries its ids.
    (closed,) = [d for d in lines["decider"] if "closed with" in d["message"]]
    assert {k: closed[k] for k in execution} == execution
    # Every line of the worker about a task carries the execution, activity, instance and attempt.
    tasks = [d for d in lines["worker"] if "activity_id" in d]
    # A task's message starts with where it ran (domain/workflow id/run id/activity id: ...).
    said = [d["message"].split(": ", 1)[1].split()[0] for d in tasks]
    assert sorted((d["instance"], d["attempt"], word) for d, word in zip(tasks, said, strict=True)) == [
        ("square-0", 1, "completed"),
        ("square-0", 1, "started"),
        ("square-1", 1, "failed"),
        ("square-1", 1, "started"),
        ("square-1", 2, "completed"),
        ("square-1", 2, "started"),
    ]
    for data in tasks:
        assert {k: data[k] for k in execution} == execution
        assert data["activity_type"] == "log_flow.square"
        assert data["activity_id"] == data["instance"] + (
            "" if data["attempt"] == 1 else f"#{data['attempt']}"
        )
    # Lines that are about no task (the worker starting and stopping) carry no task ids.
    assert all("instance" not in d for d in lines["worker"] if d not in tasks)
