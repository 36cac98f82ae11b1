"""A sharded flow end to end, every part in its own OS process, on moto's server with child workflows.

moto 5 has no child workflow executions: `tests/moto_swf_children.py` adds them to moto's models,
and the server this module starts runs in this process, so it has them. The generated package of
tests/e2e/shard_flow.yaml is built into a temporary folder; its `register`, `decider` and two
`worker` processes and its `starter` run against the server as in tests/test_e2e_processes.py.

The flow shards `square` (13 instances, shards of 5, 5 and 3, two open at a time) and `skip`
(shards of 4, `on_failure: continue`); instances fail by their input, so the result is known:
some `square` instances are retried after a 1 s timer inside their shards, and every `skip` of a
multiple of 3 fails for good and counts as None. The spec's payload threshold is 20 characters, so
every shard's input and result is kept in the server's S3, and the decider finds SWF and S3
through botocore's AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import json
import pathlib
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from moto_swf import (
    AWS_ENV,
    REGION,
    ROOT,
    Processes,
    build_package,
    execution_info,
    history,
    moto_server,
    of_type,
    process_env,
    run_main,
    wait_closed,
)
from moto_swf_children import extended

from flowgen.runtime.payloads import is_reference, parse_reference
from flowgen.runtime.swf import client as swf_client

E2E = ROOT / "tests" / "e2e"
NUMBERS = list(range(1, 14))


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with extended(), moto_server() as url:
        yield url


@pytest.fixture(scope="module")
def shard_flow(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return build_package(E2E / "shard_flow.yaml", tmp_path_factory.mktemp("packages"))


run = run_main


def test_a_sharded_flow_with_failures_and_retries_as_processes(
    endpoint: str, shard_flow: pathlib.Path, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    swf = swf_client(region=REGION, endpoint_url=endpoint)
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint)
    s3.create_bucket(Bucket="flowgen-e2e-shards")
    domain = "e2e-shards"
    aws = ["--endpoint-url", endpoint, "--region", REGION, "--domain", domain]
    env = process_env(shard_flow, ROOT, E2E)
    processes = Processes(tmp_path / "logs", env)
    execution: tuple[str, str] | None = None
    try:
        registered = run(env, "shard_flow.register", *aws)
        assert registered.returncode == 0, registered.stdout + registered.stderr
        processes.start(
            "decider",
            [
                sys.executable,
                "-m",
                "shard_flow.decider",
                "--region",
                REGION,
                "--domain",
                domain,
                "--identity",
                "decider",
            ],
            env={**env, "AWS_ENDPOINT_URL": endpoint},
        )
        processes.module("worker-1", "shard_flow.worker", *aws, "--identity", "worker-1")
        processes.module("worker-2", "shard_flow.worker", *aws, "--identity", "worker-2")
        started = run(env, "shard_flow.starter", *aws, "--input", json.dumps({"numbers": NUMBERS}))
        assert started.returncode == 0, started.stderr
        ids = json.loads(started.stdout)
        execution = (ids["workflowId"], ids["runId"])
        wait_closed(swf, domain, *execution, timeout=150)
    except BaseException:
        print(processes.tails())
        raise
    finally:
        processes.close()
    events = history(swf, domain, *execution)
    assert execution_info(swf, domain, *execution)["closeStatus"] == "COMPLETED", processes.tails()
    (done,) = of_type(events, "WorkflowExecutionCompleted")
    squares = [n * n for n in NUMBERS]
    assert is_reference(done["result"])  # the result is in S3
    key = parse_reference(done["result"]).key
    assert json.loads(s3.get_object(Bucket="flowgen-e2e-shards", Key=key)["Body"].read()) == {
        "squares": squares,
        "total": sum(v + 1 for v in squares if v % 3),
    }
    # The parent ran no square or skip itself: 3 + 4 shards, each a child execution.
    scheduled = [a["activityId"] for a in of_type(events, "ActivityTaskScheduled")]
    assert scheduled == ["total"]
    initiated = [a["workflowId"] for a in of_type(events, "StartChildWorkflowExecutionInitiated")]
    workflow_id = execution[0]
    assert initiated == [f"{workflow_id}.square.{k}" for k in range(3)] + [
        f"{workflow_id}.skip.{k}" for k in range(4)
    ]
    assert len(of_type(events, "ChildWorkflowExecutionCompleted")) == 7
    # Every shard's input and result went through S3: SWF holds references.
    assert all(is_reference(a["input"]) for a in of_type(events, "StartChildWorkflowExecutionInitiated"))
    assert all(is_reference(a["result"]) for a in of_type(events, "ChildWorkflowExecutionCompleted"))
    # Inside the first square shard (1 to 5): 4 failed once and was retried after its 1 s timer.
    child = execution_info_of_child(swf, domain, f"{workflow_id}.square.0")
    child_events = history(swf, domain, *child)
    assert [a["activityId"] for a in of_type(child_events, "ActivityTaskScheduled")] == [
        "square-0",
        "square-1",
        "square-2",
        "square-3",
        "square-4",
        "square-3#2",
    ]
    assert [t["startToFireTimeout"] for t in of_type(child_events, "TimerStarted")] == ["1"]
    # 7 (in the second shard) failed twice and completed on its third attempt.
    second = history(swf, domain, *execution_info_of_child(swf, domain, f"{workflow_id}.square.1"))
    assert "square-1#3" in [a["activityId"] for a in of_type(second, "ActivityTaskScheduled")]
    # One decider served the parent and every shard.
    assert {a["identity"] for a in of_type(child_events, "DecisionTaskStarted")} == {"decider"}


def execution_info_of_child(swf: Any, domain: str, workflow_id: str) -> tuple[str, str]:
    """The (workflow id, run id) of the closed child execution with this workflow id."""
    # moto ignores executionFilter: the ids are compared here.
    infos = swf.list_closed_workflow_executions(domain=domain, startTimeFilter={"oldestDate": 0})
    found = [i for i in infos["executionInfos"] if i["execution"]["workflowId"] == workflow_id]
    assert len(found) == 1, found
    return workflow_id, found[0]["execution"]["runId"]
