"""docs/running-on-swf.md's moto commands, run as written, so the page cannot drift from what works.

The blocks are found by the comment on the line before each fence: `<!-- moto-server -->` (install
and start the server), `<!-- moto-commands -->` (the flow's commands, run by bash from the
repository root with a clean environment) and `<!-- moto-result -->` (what the starter prints at
the end). Only the port changes: 5000 becomes a free one. The server is moto as it is, and the
example handler fails at its own default rate; the test only sets COUNTRY_FLOW_SEED, which makes
its draws known (two fetches fail once each), so the run is the same every time and shows retries.
The server and every process the commands start are ended in `finally`, and every wait is bounded.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto_swf import ROOT, country_report, failing_attempts, free_port, history, of_type

from flowgen.runtime.ids import split_attempt_id

DOC = ROOT / "docs" / "running-on-swf.md"
PORT = "5000"
# The handler's draws with this seed, at its default failure rate of 0.2, for the block's input: two
# fetches fail once each, so the run retries twice, each after its real 10 s wait.
SEED = "readme-8"
DAYS, COUNTRIES = ["2024-01-01", "2024-01-02"], [250, 276, 380]


def block(marker: str, doc: pathlib.Path = DOC) -> str:
    """The fenced block right after `<!-- marker -->`."""
    found = re.search(rf"^<!-- {marker} -->\n```[a-z]*\n(.*?)^```$", doc.read_text(), re.M | re.S)
    assert found, f"{doc.name} has no block marked <!-- {marker} -->"
    return found.group(1)


def commands(text: str) -> list[list[str]]:
    """The block's commands as argument lists (continuation lines joined, comments dropped)."""
    return [
        shlex.split(line, comments=True) for line in text.replace("\\\n", " ").splitlines() if line.strip()
    ]


def clean_env() -> dict[str, str]:
    """No credentials, profile or region of this machine's, and the test's Python first on PATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "COUNTRY_FLOW_")) and k != "PYTHONPATH"
    }
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env["PATH"] = os.pathsep.join([str(pathlib.Path(sys.executable).parent), env.get("PATH", "")])
    return env


def end(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process's whole session (bash and its background jobs), SIGKILL what lingers."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                process.poll()
                return
            process.poll()
            time.sleep(0.1)


def test_the_moto_commands_are_the_aws_commands_with_an_endpoint() -> None:
    modules = {c[2] for c in commands(block("aws-commands")) if c[:2] == ["python", "-m"]}
    moto = [c for c in commands(block("moto-commands")) if c[:2] == ["python", "-m"]]
    assert (
        modules
        == {c[2] for c in moto}
        == {f"country_flow.{m}" for m in ("register", "decider", "worker", "starter")}
    )
    for command in moto:
        assert command[3:7] == [
            "--endpoint-url",
            f"http://127.0.0.1:{PORT}",
            "--region",
            "us-east-1",
        ], command


def test_readme_gives_the_same_moto_commands() -> None:
    assert block("moto-commands", ROOT / "README.md") == block("moto-commands")


def test_the_server_is_what_the_test_extra_installs() -> None:
    install, serve = commands(block("moto-server"))
    assert install == ["pip", "install", "moto[server]"]
    assert '"moto[server]' in (ROOT / "pyproject.toml").read_text()
    assert serve == ["moto_server", "-p", PORT]
    assert "python -m moto.server -p 5000" in block("moto-server")  # the other form, in the comment


@pytest.fixture
def moto_server(tmp_path: pathlib.Path) -> Iterator[str]:
    """`moto_server -p PORT` as the page starts it, on a free port; yields the port."""
    port = str(free_port())
    _, serve = commands(block("moto-server"))
    log = open(tmp_path / "moto_server.log", "wb")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [port if arg == PORT else arg for arg in serve],
        env=clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp_path / "moto_server.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", int(port)), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "moto_server did not listen in 60 s"
                time.sleep(0.2)
        yield port
    finally:
        end(server)
        log.close()


def test_the_moto_commands_run_the_country_flow_to_completion(
    moto_server: str, tmp_path: pathlib.Path
) -> None:
    script = block("moto-commands").replace(f"127.0.0.1:{PORT}", f"127.0.0.1:{moto_server}")
    assert "COUNTRY_FLOW_FAILURE_RATE" not in script  # the handler's own random failures
    fails = {(d, c): failing_attempts(SEED, 0.2, c, d) for d in DAYS for c in COUNTRIES}
    assert sorted(fails.values()) == [0, 0, 0, 0, 1, 1]
    # Files, not pipes: the decider and the worker the script leaves in the background keep its
    # output open after the script ends.
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        shell = subprocess.Popen(
            ["bash", "-e", "-c", script],
            cwd=ROOT,
            env={**clean_env(), "COUNTRY_FLOW_SEED": SEED},
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        watch(shell, out, moto_server, timeout=120, stall=30)
    finally:
        end(shell)  # bash and the decider and worker it started
    assert shell.returncode == 0, err.read_text(errors="replace")[-3000:]
    lines = out.read_text().splitlines()
    assert lines[:6] == [
        "domain dev: registered, retention 30 days",
        "workflow type country_flow 1.0: registered",
        "workflow type country_flow.activity_2 1.0: registered",
        "activity type country_flow.activity_1 1.0: registered",
        "activity type country_flow.activity_2 1.0: registered",
        "activity type country_flow.activity_3 1.0: registered",
        "registered 6, 0 already as the spec says",
    ]
    ids = json.loads(lines[6])
    assert set(ids) == {"workflowId", "runId"}
    result = json.loads("\n".join(lines[7:]))
    assert result == json.loads(block("moto-result"))
    assert result == country_report(DAYS, COUNTRIES)
    # The failed fetches were retried on moto, each attempt under an activity id of its own.
    events = history(swf_client(moto_server), "dev", ids["workflowId"], ids["runId"])
    assert len(of_type(events, "ActivityTaskFailed")) == 2
    scheduled = [a["activityId"] for a in of_type(events, "ActivityTaskScheduled")]
    assert len(scheduled) == len(set(scheduled)) == 1 + 6 + 2 + 1
    retried = sorted(split_attempt_id(i) for i in scheduled if split_attempt_id(i)[1] > 1)
    expected = [f"activity_2-{n}" for n, key in enumerate(fails) if fails[key]]
    assert retried == [(instance, 2) for instance in expected]


def watch(
    shell: subprocess.Popen[bytes], out: pathlib.Path, port: str, timeout: float, stall: float = 15
) -> None:
    """Wait for the script to end; fail after `timeout` s, or once its execution gets no event for `stall` s."""
    swf = swf_client(port)
    deadline = time.monotonic() + timeout
    seen, since = -1, time.monotonic()
    while shell.poll() is None:
        now = time.monotonic()
        assert now < deadline, f"the commands did not finish in {timeout:.0f} s"
        started = [line for line in out.read_text().splitlines() if line.startswith('{"workflowId"')]
        if started:
            ids = json.loads(started[0])
            execution = {"workflowId": ids["workflowId"], "runId": ids["runId"]}
            count = len(swf.get_workflow_execution_history(domain="dev", execution=execution)["events"])
            if count != seen:
                seen, since = count, now
            assert (
                now - since < stall
            ), f"the execution stalled: no new event in {stall:.0f} s ({seen} events)"
        time.sleep(0.5)


def swf_client(port: str) -> Any:
    return boto3.client(
        "swf",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
