"""A rollout: versions 1 and 2 of one flow side by side in one domain, against a moto server.

tests/e2e/rollout_flow.yaml is built twice into folders of their own, as version 1 and as version
2 (whose activity input and result literals say `release-2`), and each build runs as its own OS
processes, as in tests/test_e2e_processes.py: `register`, a decider, a worker and the starters.
Executions of both versions are started at once, so both deciders poll while both versions'
decision tasks are pending, and both workers while both versions' activity tasks are.

flowgen's default task lists carry the version, so each version's tasks reach only its own
processes: every run completes with its own release's result, no decision task times out (as it
does when a decider is handed the other version's task and leaves it) and no activity task fails
(as it does when a worker is handed the other version's). With shared task lists, each of the
twelve decision tasks and six activity tasks below is about as likely to reach the wrong version
as the right one.

Then v1 is drained, checked as docs/running-on-swf.md says (its open executions by type and
version), and stopped.
"""

from __future__ import annotations

import datetime
import json
import pathlib
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto_swf import (
    AWS_ENV,
    GENERATED,
    REGION,
    ROOT,
    Processes,
    execution_info,
    history,
    moto_server,
    of_type,
    process_env,
    run_main,
    wait_closed,
)

if str(GENERATED) not in sys.path:
    sys.path.append(str(GENERATED))

from country_flow.engine.swf import client as swf_client

E2E = ROOT / "tests" / "e2e"
SPEC = E2E / "rollout_flow.yaml"
DOMAIN = "e2e-rollout"
RUNS = 3  # executions of each version


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def swf(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    return swf_client(region=REGION, endpoint_url=endpoint)


def build(version: str, out: pathlib.Path, edit: Callable[[str], str] = lambda text: text) -> pathlib.Path:
    """The rollout flow at `version`, built into `out`; returns `out` (the packages' folder).
    `edit` changes the spec's text first."""
    text = SPEC.read_text().replace('version: "1"', f'version: "{version}"')
    text = edit(text.replace("release-1", f"release-{version}"))
    out.mkdir()
    spec = out / "rollout_flow.yaml"
    spec.write_text(text)
    built = subprocess.run(
        [sys.executable, "-m", "flowgen", "build", "-q", "--out", str(out / "rollout_flow"), str(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    return out


def open_executions(swf: Any, name: str, version: str) -> list[dict[str, str]]:
    """The open executions of one workflow type version: how to see that a version is drained
    (docs/running-on-swf.md). moto ignores `typeFilter`, so the type is compared here too."""
    pages = swf.get_paginator("list_open_workflow_executions").paginate(
        domain=DOMAIN,
        startTimeFilter={"oldestDate": datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)},
        typeFilter={"name": name, "version": version},
    )
    wanted = {"name": name, "version": version}
    return [e["execution"] for page in pages for e in page["executionInfos"] if e["workflowType"] == wanted]


def test_two_versions_side_by_side_each_run_only_by_its_own_processes(
    endpoint: str, swf: Any, tmp_path: pathlib.Path
) -> None:
    aws = ["--endpoint-url", endpoint, "--region", REGION]
    envs = {
        v: process_env(build(v, tmp_path / f"v{v}"), ROOT, E2E, ROLLOUT_WORKER=f"worker-v{v}") for v in "12"
    }
    processes = Processes(tmp_path / "logs", envs["1"])
    runs: dict[str, list[tuple[str, str]]] = {"1": [], "2": []}
    try:
        # Deploy v1, then v2 beside it: each registers, and runs a decider and a worker.
        for v, env in envs.items():
            registered = run_main(env, "rollout_flow.register", *aws)
            assert registered.returncode == 0, registered.stdout + registered.stderr
            assert "warning" not in registered.stdout  # no task list of v1's is v2's
            for role in ("decider", "worker"):
                args = [sys.executable, "-m", f"rollout_flow.{role}", *aws, "--identity", f"{role}-v{v}"]
                processes.start(f"{role}-v{v}", args, env=env)
        # Start executions of both versions at once, each with its own version's starter.
        starters = [
            (
                v,
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "rollout_flow.starter",
                        *aws,
                        "--input",
                        json.dumps({"name": f"n{n}"}),
                    ],
                    cwd=ROOT,
                    env=envs[v],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
            for n in range(RUNS)
            for v in "12"
        ]
        for v, starter in starters:
            out, err = starter.communicate(timeout=60)
            assert starter.returncode == 0, err
            ids = json.loads(out)
            runs[v].append((ids["workflowId"], ids["runId"]))
        for v in "12":
            for execution in runs[v]:
                wait_closed(swf, DOMAIN, *execution, timeout=90)
        # Drain v1: nothing of it is open, so its processes stop; v2 goes on alone.
        assert open_executions(swf, "rollout_flow", "1") == []
        for role in ("decider", "worker"):
            stopped = processes.started[f"{role}-v1"]
            stopped.send_signal(signal.SIGTERM)
            stopped.wait(30)
        last = swf.start_workflow_execution(
            domain=DOMAIN,
            workflowId="after-v1-stopped",
            workflowType={"name": "rollout_flow", "version": "2"},
            input=json.dumps({"name": "last"}),
        )
        runs["2"].append(("after-v1-stopped", last["runId"]))
        wait_closed(swf, DOMAIN, *runs["2"][-1], timeout=60)
    except BaseException:
        print(processes.tails())
        raise
    finally:
        # v2 keeps running in a real rollout; here everything ends with the test.
        processes.close()
    for v in "12":
        for execution, name in zip(runs[v], [f"n{n}" for n in range(RUNS)] + ["last"], strict=False):
            events = history(swf, DOMAIN, *execution)
            kinds = {e["eventType"] for e in events}
            info = execution_info(swf, DOMAIN, *execution)
            assert info["workflowType"] == {"name": "rollout_flow", "version": v}
            assert info["closeStatus"] == "COMPLETED", sorted(kinds)
            assert "DecisionTaskTimedOut" not in kinds
            assert "ActivityTaskFailed" not in kinds
            (done,) = of_type(events, "WorkflowExecutionCompleted")
            assert json.loads(done["result"]) == {
                "greeting": f"hello {name} from release-{v} (worker-v{v})",
                "release": f"release-{v}",
            }
            deciders = {e["identity"] for e in of_type(events, "DecisionTaskStarted")}
            assert deciders == {f"decider-v{v}"}
            assert {e["identity"] for e in of_type(events, "ActivityTaskStarted")} == {f"worker-v{v}"}


PINNED_DOMAIN = "e2e-rollout-pinned"


def _pinned(text: str) -> str:
    """The rollout flow in a domain of its own, with `greet`'s activity type version pinned."""
    text = text.replace(f"domain: {DOMAIN}\n", f"domain: {PINNED_DOMAIN}\n")
    return text.replace("  greet:\n", '  greet:\n    version: "pinned"\n', 1)


def test_a_pinned_activity_type_runs_v2_on_v2s_task_list(
    endpoint: str, swf: Any, tmp_path: pathlib.Path
) -> None:
    """v1 registers rollout_flow.greet version `pinned` with v1's task list as its default; v2's
    `register` notes that (exit 0), and a v2 execution schedules the type on v2's own list, where
    v2's worker takes it."""
    aws = ["--endpoint-url", endpoint, "--region", REGION]
    envs = {
        v: process_env(build(v, tmp_path / f"v{v}", _pinned), ROOT, E2E, ROLLOUT_WORKER=f"worker-v{v}")
        for v in "12"
    }
    outputs = {}
    for v, env in envs.items():
        registered = run_main(env, "rollout_flow.register", *aws)
        assert registered.returncode == 0, registered.stdout + registered.stderr
        outputs[v] = registered.stdout.splitlines()
    assert "activity type rollout_flow.greet pinned: registered" in outputs["1"]
    assert (
        "activity type rollout_flow.greet pinned: already registered (note: it keeps its registered default "
        "task list, rollout_flow-v1-activities, not the spec's rollout_flow-v2-activities; flowgen's decider "
        "names the task list on every task it schedules, so nothing breaks)"
    ) in outputs["2"]
    # Only v2 runs: a task on v1's list would wait there for a worker that never comes.
    processes = Processes(tmp_path / "logs", envs["2"])
    try:
        for role in ("decider", "worker"):
            args = [sys.executable, "-m", f"rollout_flow.{role}", *aws, "--identity", f"{role}-v2"]
            processes.start(f"{role}-v2", args)
        started = swf.start_workflow_execution(
            domain=PINNED_DOMAIN,
            workflowId="pinned-v2",
            workflowType={"name": "rollout_flow", "version": "2"},
            input=json.dumps({"name": "p"}),
        )
        wait_closed(swf, PINNED_DOMAIN, "pinned-v2", started["runId"], timeout=60)
    except BaseException:
        print(processes.tails())
        raise
    finally:
        processes.close()
    events = history(swf, PINNED_DOMAIN, "pinned-v2", started["runId"])
    assert execution_info(swf, PINNED_DOMAIN, "pinned-v2", started["runId"])["closeStatus"] == "COMPLETED"
    (scheduled,) = of_type(events, "ActivityTaskScheduled")
    assert scheduled["activityType"] == {"name": "rollout_flow.greet", "version": "pinned"}
    assert scheduled["taskList"] == {"name": "rollout_flow-v2-activities"}
    (done,) = of_type(events, "WorkflowExecutionCompleted")
    assert json.loads(done["result"]) == {
        "greeting": "hello p from release-2 (worker-v2)",
        "release": "release-2",
    }
