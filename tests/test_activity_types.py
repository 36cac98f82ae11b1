"""Activity types are named per workflow (`WORKFLOW.ACTIVITY`) unless `type_name` says otherwise.

Two flows with the same activity keys share a domain on moto: both register (exit 0) and both run.
`type_name` names a type everywhere a type is named. `flowgen validate` refuses two specs given
together that would register one type differently.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws
from moto_swf import AWS_ENV, REGION, execution_info, history, no_empty_poll_sleep, of_type

from flowgen.cli import main
from flowgen.compiler import compile_spec
from flowgen.plan import build_plan
from flowgen.render import iam
from flowgen.runtime import entry
from flowgen.runtime.handlers import handlers_for
from flowgen.runtime.local import LocalRunner
from flowgen.runtime.plan import FlowPlan
from flowgen.runtime.polling import DeciderLoop
from flowgen.runtime.swf import client as swf_client
from flowgen.runtime.worker import Worker

ROOT = pathlib.Path(__file__).resolve().parent.parent

# A second flow in the country flow's domain, with the country flow's activity keys and version.
BILLING = """\
flowgen: 1
domain: dev
workflow:
  name: billing
  version: "1.0"
  execution_timeout: 1h
  result: {summary: activity_3.summary}
defaults:
  timeouts: {schedule_to_start: 5m, start_to_close: 5m, heartbeat: none}
activities:
  activity_1:
    handler: payments.tasks:open_batch
    outputs: {batch: str}
  activity_2:
    requires: [activity_1]
    handler: payments.tasks:charge
    type_name: LegacyCharge
    inputs: {batch: activity_1.batch}
    outputs: {charged: int}
  activity_3:
    requires: [activity_2]
    handler: payments.tasks:close_batch
    inputs: {charged: activity_2.charged}
    outputs: {summary: str}
"""


def billing_text(**changes: str) -> str:
    text = BILLING
    for old, new in changes.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def billing_handlers() -> dict[str, Any]:
    def open_batch() -> dict[str, str]:
        return {"batch": "b-1"}

    def charge(batch: str) -> dict[str, int]:
        return {"charged": len(batch)}

    def close_batch(charged: int) -> dict[str, str]:
        return {"summary": f"charged {charged}"}

    return {"activity_1": open_batch, "activity_2": charge, "activity_3": close_batch}


def plan_of(path: pathlib.Path | str) -> FlowPlan:
    compiled = compile_spec(str(path))
    assert compiled.checked is not None, compiled.diagnostics
    plan: FlowPlan = build_plan(compiled.checked)
    return plan


@pytest.fixture
def billing(tmp_path: pathlib.Path) -> FlowPlan:
    spec = tmp_path / "billing.yaml"
    spec.write_text(billing_text())
    return plan_of(spec)


@pytest.fixture
def country() -> FlowPlan:
    return plan_of(ROOT / "specs" / "country_flow.yaml")


@pytest.fixture
def swf(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("COUNTRY_FLOW_FAILURE_RATE", "0")  # retries are not what this file is about
    no_empty_poll_sleep(monkeypatch)
    with mock_aws():
        yield swf_client(region=REGION)


def registered(plan: FlowPlan, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = entry.register_main(plan, ["--region", REGION, "--log-level", "WARNING"], prog="register")
    return code, capsys.readouterr().out.splitlines()


def test_the_type_names_are_the_workflows_own_and_type_name_overrides(
    country: FlowPlan, billing: FlowPlan
) -> None:
    assert [(a.type_name, a.revert_type) for a in country.activities] == [
        ("country_flow.activity_1", None),
        ("country_flow.activity_2", None),
        ("country_flow.activity_3", None),
    ]
    assert [a.type_name for a in billing.activities] == [
        "billing.activity_1",
        "LegacyCharge",
        "billing.activity_3",
    ]
    shop = plan_of(ROOT / "specs" / "order_flow.yaml")
    reserve = shop.activity("reserve_inventory")
    assert reserve.revert_type == "order_flow.reserve_inventory.revert"


def test_two_flows_with_the_same_activity_keys_register_and_run_in_one_domain(
    swf: Any, country: FlowPlan, billing: FlowPlan, capsys: pytest.CaptureFixture[str]
) -> None:
    assert country.domain == billing.domain == "dev"
    assert {a.name for a in billing.activities} == {a.name for a in country.activities}
    for plan in (country, billing):
        code, lines = registered(plan, capsys)
        assert code == 0, lines
        assert not [line for line in lines if "DRIFT" in line]
    code, lines = registered(billing, capsys)
    assert (code, lines[-1]) == (0, "nothing to do: all 5 registrations are as the spec says")
    assert "activity type LegacyCharge 1.0: already registered as the spec says" in lines
    found = swf.describe_activity_type(domain="dev", activityType={"name": "LegacyCharge", "version": "1.0"})
    assert found["configuration"]["defaultTaskList"] == {"name": billing.activity("activity_2").task_list}

    runs = {
        "country": entry.start(country, {"days": ["2024-01-01"], "countries": [250, 276]}, swf),
        "billing": entry.start(billing, {}, swf),
    }
    deciders = [DeciderLoop(country, swf, identity="d1"), DeciderLoop(billing, swf, identity="d2")]
    workers = [
        Worker(country, handlers_for(country), swf, identity="w1"),
        Worker(billing, billing_handlers(), swf, identity="w2"),
    ]
    plans = {"country": country, "billing": billing}
    for _ in range(200):
        if all(execution_info(swf, "dev", *ids)["executionStatus"] == "CLOSED" for ids in runs.values()):
            break
        for decider in deciders:
            decider.poll_once()
        for worker in workers:
            for task_list in worker.task_lists:
                worker.poll_once(task_list)
    for name, ids in runs.items():
        info = execution_info(swf, "dev", *ids)
        assert info.get("closeStatus") == "COMPLETED", (name, info)
        events = history(swf, "dev", *ids)
        assert not of_type(events, "ActivityTaskFailed")
        scheduled = {a["activityType"]["name"] for a in of_type(events, "ActivityTaskScheduled")}
        assert scheduled == {a.type_name for a in plans[name].activities}
    billing_events = history(swf, "dev", *runs["billing"])
    result = of_type(billing_events, "WorkflowExecutionCompleted")[0]["result"]
    assert json.loads(result) == {"summary": "charged 3"}


def test_the_local_runner_and_the_iam_policies_follow_type_name(billing: FlowPlan) -> None:
    result = LocalRunner(billing, billing_handlers()).run({})
    assert result.status == "COMPLETED" and result.result == {"summary": "charged 3"}
    scheduled = [
        e["activityTaskScheduledEventAttributes"]["activityType"]["name"]
        for e in result.history
        if e["eventType"] == "ActivityTaskScheduled"
    ]
    assert scheduled == ["billing.activity_1", "LegacyCharge", "billing.activity_3"]
    text = json.dumps([iam.decider(billing), iam.registrar(billing)])
    assert "LegacyCharge" in text and "billing.activity_1" in text
    assert '"activity_2"' not in text and "billing.activity_2" not in text


def write(tmp_path: pathlib.Path, name: str, text: str) -> str:
    (tmp_path / name).write_text(text)
    return name


def validate(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *files: str
) -> tuple[int, list[str]]:
    monkeypatch.chdir(tmp_path)
    code = main(["validate", *files])
    return code, capsys.readouterr().err.splitlines()


def test_validate_refuses_two_specs_that_register_one_type_differently(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first = write(tmp_path, "billing.yaml", billing_text())
    # Another flow that names billing's LegacyCharge type, with its own (default) task list.
    second = write(
        tmp_path,
        "refunds.yaml",
        billing_text(**{"name: billing": "name: refunds"}),
    )
    code, lines = validate(tmp_path, monkeypatch, capsys, first, second)
    assert code == 1
    assert len(lines) == 1, lines
    where, _, message = lines[0].partition(": activities.activity_2.type_name: ")
    assert where == "refunds.yaml:17:16"
    assert "LegacyCharge" in message and "billing.yaml" in message and "activity_2" in message
    assert '"refunds-v1.0-activities"' in message and '"billing-v1.0-activities"' in message
    # Either spec alone is valid.
    assert validate(tmp_path, monkeypatch, capsys, first) == (0, [])
    assert validate(tmp_path, monkeypatch, capsys, second) == (0, [])


def test_validate_refuses_a_default_name_another_spec_registers_differently(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whichever spec comes second is refused, at its activity: at the type_name written there,
    else at the activity's key."""
    billing = write(tmp_path, "billing.yaml", billing_text())
    legacy = write(
        tmp_path,
        "legacy.yaml",
        billing_text(
            **{
                "name: billing": "name: legacy",
                "handler: payments.tasks:open_batch\n": "handler: payments.tasks:open_batch\n"
                "    type_name: billing.activity_1\n",
            }
        ),
    )
    code, lines = validate(tmp_path, monkeypatch, capsys, billing, legacy)
    assert code == 1
    assert len(lines) == 2, lines  # activity_1, and LegacyCharge again
    assert lines[0].startswith("legacy.yaml:13:16: activities.activity_1.type_name: ")
    assert "billing.activity_1" in lines[0] and "billing.yaml" in lines[0]
    assert lines[1].startswith("legacy.yaml:18:16: activities.activity_2.type_name: ")
    code, lines = validate(tmp_path, monkeypatch, capsys, legacy, billing)
    assert code == 1
    assert lines[0].startswith("billing.yaml:11:3: activities.activity_1: ")
    assert "billing.activity_1" in lines[0] and "legacy.yaml" in lines[0]
    assert '"billing-v1.0-activities"' in lines[0] and '"legacy-v1.0-activities"' in lines[0]


def test_identical_registrations_of_one_type_are_fine(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = {"defaults:\n": "defaults:\n  task_list: shared-billing\n"}
    first = write(tmp_path, "billing.yaml", billing_text(**shared))
    second = write(tmp_path, "refunds.yaml", billing_text(**{"name: billing": "name: refunds"}, **shared))
    assert validate(tmp_path, monkeypatch, capsys, first, second) == (0, [])


def test_build_and_check_refuse_the_clash_too(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first = write(tmp_path, "billing.yaml", billing_text())
    second = write(tmp_path, "refunds.yaml", billing_text(**{"name: billing": "name: refunds"}))
    monkeypatch.chdir(tmp_path)
    assert main(["build", first, second]) == 1
    assert "LegacyCharge" in capsys.readouterr().err
    assert not (tmp_path / "generated").exists()
    assert main(["check", first, second]) == 2  # check: 2 when a spec has errors
    assert "LegacyCharge" in capsys.readouterr().err
