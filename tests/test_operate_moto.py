"""`python -m PACKAGE.status`, `.cancel` and `.terminate` against executions on moto, in process.

Each execution runs through the generated packages as in test_e2e_moto.py (the decider and
workers polled in turn, timers on a virtual clock), then the commands' `main`s are called as a
shell would, and their output is compared whole
(`FLOWGEN_UPDATE_GOLDEN=1` rewrites the golden table). moto's event times come from a counter (one
second an event), so the text table is the same on every run: tests/status/ holds it.
"""

from __future__ import annotations

import itertools
import json
import os
import pathlib
import sys
from collections.abc import Callable, Iterator
from typing import Any
from xml.etree import ElementTree

import moto.swf.models.history_event as moto_history
import moto_swf_children
import pytest
from moto import mock_aws
from moto_swf import AWS_ENV, GENERATED, REGION, ManualClock, execution_info, no_empty_poll_sleep

if str(GENERATED) not in sys.path:
    sys.path.append(str(GENERATED))

import order_flow.cancel
import order_flow.flow
import order_flow.starter
import order_flow.status
import order_flow.terminate
from order_flow.engine.polling import DeciderLoop
from order_flow.engine.register import register
from order_flow.engine.swf import client as swf_client

from examples import order_flow as shop

GOLDEN = pathlib.Path(__file__).parent / "status"
PLAN = order_flow.flow.PLAN
ORDER = {
    "order_id": "ord-1001",
    "customer_id": "cus-alice",
    "items": {"BOOK-001": 2, "PEN-004": 3},
    "shipping_address": "1 Rue de la Paix, Paris",
    "coupon": "WELCOME10",
    "placed_at": "2024-05-01T10:00:00+00:00",
}
# 2024-05-01 10:00:00 UTC, then one second per event.
EPOCH = 1_714_557_600


class Env:
    def __init__(self, client: Any, clock: ManualClock) -> None:
        self.client = client
        self.clock = clock


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    no_empty_poll_sleep(monkeypatch)
    clock = ManualClock.install(monkeypatch)
    ticks = itertools.count(EPOCH)
    monkeypatch.setattr(moto_history, "unix_time", lambda: float(next(ticks)))
    shop.reset()
    with moto_swf_children.extended(), mock_aws():
        client = swf_client(region=REGION)
        register(PLAN, client)
        yield Env(client, clock)
    shop.reset()


def workers(env: Env, **replace: Callable[..., Any]) -> list[Any]:
    from order_flow.worker import Worker, spec_handlers

    handlers: Any = {**spec_handlers(), **replace}
    return [Worker(handlers, env.client, identity="worker")]


def start(env: Env, workflow_id: str = "order-1") -> str:
    response = env.client.start_workflow_execution(
        domain=PLAN.domain,
        workflowId=workflow_id,
        workflowType={"name": PLAN.workflow, "version": PLAN.version},
        taskList={"name": PLAN.task_list},
        input=json.dumps(ORDER),
        executionStartToCloseTimeout=str(PLAN.execution_timeout),
        taskStartToCloseTimeout=str(PLAN.decision_timeout),
        childPolicy=PLAN.child_policy,
    )
    return str(response["runId"])


def rounds(env: Env, polls: list[Any]) -> Callable[[], bool]:
    """One round each call: the decider polls, then each worker on each of its task lists; when
    none had work, the next timer fires. False once nothing was left to do."""
    decider = DeciderLoop(PLAN, env.client, identity="decider")

    def one_round() -> bool:
        busy = decider.poll_once()
        for worker in polls:
            for task_list in worker.task_lists:
                busy = worker.poll_once(task_list) or busy
        return busy or env.clock.fire_next()

    return one_round


def drive(
    env: Env, run_id: str, polls: list[Any], rounds_at_most: int = 500, workflow_id: str = "order-1"
) -> None:
    """Poll the decider and workers until the execution closes, or `rounds_at_most` rounds pass."""
    one_round = rounds(env, polls)
    for _ in range(rounds_at_most):
        if execution_info(env.client, PLAN.domain, workflow_id, run_id)["executionStatus"] == "CLOSED":
            return
        if not one_round():
            return


def run(
    main: Callable[[list[str]], int], argv: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    code = main(["--region", REGION, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def status_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code, out, err = run(order_flow.status.main, ["--workflow-id", "order-1", "--json", *argv], capsys)
    assert (code, err) == (0, "")
    data: dict[str, Any] = json.loads(out)
    return data


def counts(**found: int) -> dict[str, int]:
    keys = ("instances", "completed", "failed", "open", "waiting", "retrying", "reverted", "attempts")
    return {key: found.get(key, 0) for key in keys}


def activities(data: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Each activity's counts, without the handler times (which are the counter's)."""
    return {name: {k: v for k, v in a.items() if k in counts()} for name, a in data["activities"].items()}


def assert_golden(name: str, data: dict[str, Any], run_id: str) -> None:
    """`status --json` whole, handler times included (moto's clock is a counter), against
    tests/status/NAME.json, the run id as RUN; FLOWGEN_UPDATE_GOLDEN=1 rewrites it."""
    text = json.dumps(data, indent=2, sort_keys=True).replace(run_id, "RUN") + "\n"
    golden = GOLDEN / f"{name}.json"
    if os.environ.get("FLOWGEN_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


DONE = counts(instances=1, completed=1, attempts=1)
NOT_YET = counts(instances=1, waiting=1)


def test_status_of_a_completed_execution(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = start(env)
    drive(env, run_id, workers(env))
    data = status_json(capsys)
    assert activities(data) == {a.name: DONE for a in PLAN.activities}
    assert {k: v for k, v in data.items() if k != "activities"} == {
        "workflow_id": "order-1",
        "run_id": run_id,
        "status": "COMPLETED",
        "started": "2024-05-01T10:00:00Z",
        "closed": data["closed"],
        "duration": data["duration"],
        "failure": None,
        "problem": None,
    }
    assert data["duration"] > 0 and data["closed"] > data["started"]
    assert all(a["failures"] == [] for a in data["activities"].values())
    assert_golden("order_flow_completed", data, run_id)
    # The run id given explicitly reads the same execution.
    assert status_json(capsys, "--run-id", run_id) == data


def close_order_breaks(**kwargs: Any) -> None:
    raise RuntimeError(f"ledger unavailable for {kwargs['order_id']}")


def failed_run(env: Env) -> str:
    run_id = start(env)
    drive(env, run_id, workers(env, close_order=close_order_breaks))
    return run_id


def test_status_of_an_execution_that_failed_after_reverts(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = failed_run(env)
    data = status_json(capsys)
    reason = "close_order failed after 3 attempts: RuntimeError: ledger unavailable for ord-1001"
    assert (data["run_id"], data["status"], data["failure"]) == (run_id, "FAILED", reason)
    assert activities(data) == {
        "validate_order": DONE,
        "price_order": DONE,
        "reserve_inventory": counts(instances=1, completed=1, attempts=1, reverted=1),
        "charge_payment": counts(instances=1, completed=1, attempts=1, reverted=1),
        "pick_and_pack": DONE,
        "create_shipment": counts(instances=1, completed=1, attempts=1, reverted=1),
        "send_confirmation_email": DONE,
        "award_loyalty_points": DONE,
        "close_order": counts(instances=1, failed=1, attempts=3),
    }
    assert data["activities"]["close_order"]["failures"] == [
        {
            "instance": "close_order",
            "values": {},
            "attempts": 3,
            "error": "RuntimeError: ledger unavailable for ord-1001",
        }
    ]
    assert_golden("order_flow_failed", data, run_id)


def test_the_status_table_is_the_golden_one(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    failed_run(env)
    code, out, err = run(order_flow.status.main, ["--workflow-id", "order-1"], capsys)
    assert (code, err) == (0, "")
    run_id = out.splitlines()[0].split("(run ")[1].rstrip(")")
    golden = GOLDEN / "order_flow_failed.txt"
    if os.environ.get("FLOWGEN_UPDATE_GOLDEN"):
        golden.write_text(out.replace(run_id, "RUN"))
    assert out.replace(run_id, "RUN") == golden.read_text()


def test_terminate_then_status(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = start(env)
    drive(env, run_id, workers(env), rounds_at_most=2)  # the worker takes one task a round
    code, out, err = run(
        order_flow.terminate.main, ["--workflow-id", "order-1", "--reason", "wrong customer"], capsys
    )
    assert (code, out, err) == (0, "terminated: order-1\n", "")
    data = status_json(capsys)
    assert (data["status"], data["failure"]) == ("TERMINATED", "wrong customer")
    assert activities(data) == {
        "validate_order": DONE,
        "price_order": counts(instances=1, completed=1, attempts=1),
        "reserve_inventory": counts(instances=1, open=1, attempts=1),
        "charge_payment": NOT_YET,
        "pick_and_pack": NOT_YET,
        "create_shipment": NOT_YET,
        "send_confirmation_email": NOT_YET,
        "award_loyalty_points": NOT_YET,
        "close_order": NOT_YET,
    }
    assert_golden("order_flow_terminated", data, run_id)


def test_cancel_then_status(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = start(env)
    drive(env, run_id, workers(env), rounds_at_most=1)  # validate_order scheduled and done
    code, out, err = run(order_flow.cancel.main, ["--workflow-id", "order-1"], capsys)
    assert (code, err) == (0, "")
    assert out == "cancellation requested: order-1; the decider closes it as CANCELED\n"
    drive(env, run_id, [])  # the decider alone: it answers the request
    data = status_json(capsys)
    assert (data["status"], data["failure"]) == ("CANCELED", "canceled on request")
    assert activities(data) == {"validate_order": DONE} | {a.name: NOT_YET for a in PLAN.activities[1:]}
    assert_golden("order_flow_canceled", data, run_id)


def email_breaks(**kwargs: Any) -> None:
    raise RuntimeError(f"mail server down for {kwargs['order_id']}")


def test_cancel_during_a_retry_wait_reverts_what_completed_newest_first(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = start(env)
    polls = workers(env, send_confirmation_email=email_breaks)
    # Round by round until the e-mail waits for its retry: status says `retrying`.
    for _ in range(100):
        drive(env, run_id, polls, rounds_at_most=1)
        data = status_json(capsys)
        if data["activities"]["send_confirmation_email"]["retrying"]:
            break
    else:
        raise AssertionError("the e-mail never waited for a retry")
    assert data["status"] == "OPEN"
    assert activities(data)["send_confirmation_email"] == counts(instances=1, retrying=1, attempts=1)
    assert activities(data)["close_order"] == NOT_YET
    code, out, err = run(order_flow.cancel.main, ["--workflow-id", "order-1"], capsys)
    assert (code, out, err) == (0, "cancellation requested: order-1; the decider closes it as CANCELED\n", "")
    drive(env, run_id, polls)
    data = status_json(capsys)
    assert (data["status"], data["failure"]) == ("CANCELED", "canceled on request; 3 reverted")
    saga = ("reserve_inventory", "charge_payment", "create_shipment")
    for name in saga:
        assert activities(data)[name] == counts(instances=1, completed=1, attempts=1, reverted=1)
    # The retry wait was canceled: the e-mail is not tried again.
    assert activities(data)["send_confirmation_email"] == counts(instances=1, failed=1, attempts=1)
    history = env.client.get_workflow_execution_history(
        domain=PLAN.domain, execution={"workflowId": "order-1", "runId": run_id}
    )["events"]
    reverts = [
        e["activityTaskScheduledEventAttributes"]["activityType"]["name"]
        for e in history
        if e["eventType"] == "ActivityTaskScheduled"
        and e["activityTaskScheduledEventAttributes"]["activityType"]["name"].endswith(".revert")
    ]
    assert reverts == [f"order_flow.{name}.revert" for name in reversed(saga)]
    assert_golden("order_flow_canceled_during_retry", data, run_id)


def test_status_reads_the_open_run_when_an_older_run_of_the_id_is_closed(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    first = start(env)
    drive(env, first, workers(env))
    second = start(env)  # SWF lets a workflow id start again once its run has closed
    data = status_json(capsys)
    assert (data["run_id"], data["status"]) == (second, "OPEN")
    assert status_json(capsys, "--run-id", first)["status"] == "COMPLETED"


def test_an_open_execution_counts_open_and_waiting_instances(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    start(env)
    data = status_json(capsys)
    assert (data["status"], data["closed"], data["duration"]) == ("OPEN", None, None)
    # No decision task answered yet: nothing scheduled, every activity waiting.
    assert activities(data) == {a.name: NOT_YET for a in PLAN.activities}


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--workflow-id", "nobody"], "no execution with workflow id 'nobody' in domain 'shop'"),
        (["--workflow-id", "order-1", "--domain", "elsewhere"], "elsewhere"),
    ],
)
def test_unknown_execution_or_domain_is_one_line(
    env: Env, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    start(env)
    for main in (order_flow.status.main,):
        code, out, err = run(main, argv, capsys)
        assert (code, out) == (1, "")
        assert err.startswith("python -m order_flow.status: error: ") and says in err
        assert err.count("\n") == 1 and "Traceback" not in err


def test_cancel_and_terminate_of_an_unknown_execution_are_one_line(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    for main, extra in ((order_flow.cancel.main, []), (order_flow.terminate.main, ["--reason", "x"])):
        code, out, err = run(main, ["--workflow-id", "nobody", *extra], capsys)
        assert (code, out) == (1, "")
        assert err.count("\n") == 1 and ": error: " in err and "Traceback" not in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for main, argv in (
        (order_flow.status.main, []),
        (order_flow.status.main, ["--workflow-id", "x", "--closed-since", "5m"]),
        (order_flow.status.main, ["--list", "--closed-since", "soon"]),
        (order_flow.terminate.main, ["--workflow-id", "x"]),
        (order_flow.cancel.main, []),
    ):
        with pytest.raises(SystemExit) as exit:
            main(argv)
        assert exit.value.code == 2
        assert "Traceback" not in capsys.readouterr().err


def test_no_credentials_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for main, extra in (
        (order_flow.status.main, []),
        (order_flow.status.main, ["--json"]),
        (order_flow.cancel.main, []),
        (order_flow.terminate.main, ["--reason", "x"]),
    ):
        code, out, err = run(main, ["--workflow-id", "order-1", *extra], capsys)
        assert (code, out) == (1, "")
        assert err.count("\n") == 1 and ": error: " in err and "Traceback" not in err


def test_list_shows_open_executions_and_closed_ones_when_asked(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    done = start(env, "order-done")
    drive(env, done, workers(env), workflow_id="order-done")
    running = start(env, "order-running")
    code, out, err = run(order_flow.status.main, ["--list", "--json"], capsys)
    assert (code, err) == (0, "")
    assert [(e["workflow_id"], e["run_id"], e["status"]) for e in json.loads(out)] == [
        ("order-running", running, "OPEN")
    ]
    code, out, err = run(order_flow.status.main, ["--list", "--closed-since", "1d"], capsys)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == ["OPEN", "COMPLETED"]
    assert lines[0].endswith(f"order-running  {running}") and lines[1].endswith(f"order-done  {done}")


def test_watch_waits_for_the_close_and_exits_by_its_outcome(
    env: Env, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from order_flow.engine import entry

    start(env)
    one_round = rounds(env, workers(env, close_order=close_order_breaks))
    looks = []

    def look(seconds: float) -> None:
        # Instead of sleeping between looks, move the execution on.
        looks.append(seconds)
        one_round()

    monkeypatch.setattr(entry.time, "sleep", look)
    code, out, err = run(order_flow.status.main, ["--workflow-id", "order-1", "--watch", "--json"], capsys)
    assert (code, err) == (1, "")
    assert json.loads(out)["status"] == "FAILED" and len(looks) > 5


def test_watch_redraws_the_table_in_place_on_a_terminal(
    env: Env, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from order_flow.engine import entry

    start(env)
    one_round = rounds(env, workers(env))
    looks = []

    def look(seconds: float) -> None:
        looks.append(seconds)
        one_round()

    monkeypatch.setattr(entry.time, "sleep", look)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    code, out, err = run(order_flow.status.main, ["--workflow-id", "order-1", "--watch"], capsys)
    assert (code, err) == (0, "")
    clear = "\x1b[H\x1b[2J"
    frames = out.split(clear)
    # Nothing before the first clear; a frame per look while open, then the closed one.
    assert frames[0] == "" and len(frames) == len(looks) + 2
    assert all(frame.startswith("execution  order-1  (run ") for frame in frames[1:])
    assert "status     OPEN" in frames[1] and "status     COMPLETED" in frames[-1]
    assert all("status     OPEN" in frame for frame in frames[1:-1])


def test_starter_wait_on_a_terminal_shows_progress_then_the_result(
    env: Env, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from order_flow.engine import entry

    one_round = rounds(env, workers(env))

    class Rounds(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            one_round()
            return False

    waits = entry.wait_for_close

    def wait_in_rounds(*args: Any) -> tuple[str, dict[str, Any]]:
        client, domain, workflow_id, run_id, interval, _, progress = args
        return waits(client, domain, workflow_id, run_id, interval, Rounds(), progress)

    monkeypatch.setattr(entry, "wait_for_close", wait_in_rounds)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    argv = ["--input", json.dumps(ORDER), "--workflow-id", "order-1", "--wait"]
    code, out, err = run(order_flow.starter.main, argv, capsys)
    assert code == 0, err
    started, result = out.split("\n", 1)
    assert json.loads(started)["workflowId"] == "order-1"
    assert json.loads(result)["order_id"] == "ord-1001"
    shown = err.split("\r")
    assert shown[0] == "" and shown[-1].endswith("\n")
    done = [int(line.split("/")[0]) for line in shown[1:]]
    assert done[0] == 0 and done == sorted(done) and len(done) > 3 and done[-1] >= 8
    assert all(line.rstrip("\n").endswith("/9 instances done") for line in shown[1:])


def test_status_draws_the_timeline_of_an_execution(
    env: Env, capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path
) -> None:
    run_id = start(env)
    drive(env, run_id, workers(env, close_order=close_order_breaks))
    picture = tmp_path / "order.svg"
    code, _, err = run(
        order_flow.status.main, ["--workflow-id", "order-1", "--timeline", str(picture)], capsys
    )
    assert (code, err) == (0, "")
    root = ElementTree.fromstring(picture.read_text())
    assert root.tag.endswith("svg")
    text = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    # Every activity that ran has its row, reverts included, by name.
    for activity in ("reserve_inventory", "charge_payment", "close_order"):
        assert activity in text
    # A folder that does not exist is a usage error, before SWF is asked anything.
    with pytest.raises(SystemExit) as exited:
        order_flow.status.main(["--workflow-id", "order-1", "--timeline", str(tmp_path / "no" / "x.svg")])
    assert exited.value.code == 2 and "no such folder" in capsys.readouterr().err


def test_each_command_says_one_line_as_a_user_runs_it_with_credentials_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In a process of its own, logging is the command's: the SDK's INFO lines must not join the error."""
    import subprocess

    from moto_swf import moto_server

    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    with moto_swf_children.extended(), moto_server() as url:
        client = swf_client(region=REGION, endpoint_url=url)
        client.register_domain(name=PLAN.domain, workflowExecutionRetentionPeriodInDays="1")
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(GENERATED), **AWS_ENV}
        for module, extra in (
            ("order_flow.status", []),
            ("order_flow.status", ["--json"]),
            ("order_flow.cancel", []),
            ("order_flow.terminate", ["--reason", "x"]),
        ):
            done = subprocess.run(
                [sys.executable, "-m", module, "--endpoint-url", url, "--workflow-id", "nobody", *extra],
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
            )
            assert (done.returncode, done.stdout) == (1, ""), done.stderr
            assert done.stderr.count("\n") == 1, done.stderr
            assert done.stderr.startswith(f"python -m {module}: error: ") and "nobody" in done.stderr


def test_an_endpoint_that_drops_every_request_fails_after_three_attempts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """status, cancel and terminate ask three times (a person waits), not the loops' ten."""
    import socket
    import threading

    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def drop_each() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return  # closed: the test is over
            accepted.append(1)
            connection.close()  # before any response: a connection error botocore retries

    threading.Thread(target=drop_each, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        for main, extra in (
            (order_flow.status.main, []),
            (order_flow.cancel.main, []),
            (order_flow.terminate.main, ["--reason", "x"]),
        ):
            accepted.clear()
            code, out, err = run(main, ["--endpoint-url", url, "--workflow-id", "order-1", *extra], capsys)
            assert (code, out) == (1, "") and err.count("\n") == 1, err
            assert len(accepted) == 3
    finally:
        listener.close()
