"""`python -m PKG.register` on moto: registers everything once, then changes nothing and says so;
reports drift (exit 1) with the advice to bump the version; survives a registrar racing it."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws
from moto_swf import AWS_ENV, GENERATED, REGION

if str(GENERATED) not in sys.path:
    sys.path.append(str(GENERATED))

import country_flow.register
import order_flow.register
from country_flow.engine import entry
from country_flow.engine.register import register
from country_flow.engine.swf import client as swf_client
from country_flow.flow import PLAN


@pytest.fixture
def swf(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield swf_client(region=REGION)


def _source_main(plan: Any) -> Any:
    """`python -m PKG.register` on flowgen's own runtime (flowgen/runtime, not a package's copy of
    it in generated/), for a plan compiled in the test."""
    from flowgen.runtime import entry as source_entry

    return lambda argv: source_entry.register_main(plan, argv, prog="register")


def run(main: Any, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["--region", REGION, "--log-level", "WARNING", *args])
    return code, capsys.readouterr().out.splitlines()


def test_first_run_registers_everything_the_second_changes_nothing(
    swf: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run(country_flow.register.main, capsys)
    assert code == 0
    assert lines == [
        "domain dev: registered, retention 30 days",
        "workflow type country_flow 1.0: registered",
        # activity_2 is sharded: its child executions have a workflow type of their own
        "workflow type country_flow.activity_2 1.0: registered",
        "activity type country_flow.activity_1 1.0: registered",
        "activity type country_flow.activity_2 1.0: registered",
        "activity type country_flow.activity_3 1.0: registered",
        "registered 6, 0 already as the spec says",
    ]
    code, lines = run(country_flow.register.main, capsys)
    assert code == 0
    assert lines == [
        "domain dev: already registered, retention 30 days",
        "workflow type country_flow 1.0: already registered as the spec says",
        "workflow type country_flow.activity_2 1.0: already registered as the spec says",
        "activity type country_flow.activity_1 1.0: already registered as the spec says",
        "activity type country_flow.activity_2 1.0: already registered as the spec says",
        "activity type country_flow.activity_3 1.0: already registered as the spec says",
        "nothing to do: all 6 registrations are as the spec says",
    ]
    workflow = swf.describe_workflow_type(
        domain="dev", workflowType={"name": "country_flow", "version": "1.0"}
    )
    assert workflow["configuration"] == {
        "defaultTaskList": {"name": "country_flow-v1.0"},
        "defaultExecutionStartToCloseTimeout": "86400",
        "defaultTaskStartToCloseTimeout": "30",
        "defaultChildPolicy": "TERMINATE",
    }
    assert workflow["typeInfo"]["description"] == PLAN.description
    # The shard type: decided on the same task list, with the same defaults.
    shard = swf.describe_workflow_type(
        domain="dev", workflowType={"name": "country_flow.activity_2", "version": "1.0"}
    )
    assert shard["configuration"] == workflow["configuration"]
    activity = swf.describe_activity_type(
        domain="dev", activityType={"name": "country_flow.activity_2", "version": "1.0"}
    )
    assert activity["configuration"] == {
        "defaultTaskList": {"name": "country_flow-v1.0-activities"},
        "defaultTaskScheduleToStartTimeout": "300",
        "defaultTaskStartToCloseTimeout": "600",
        "defaultTaskScheduleToCloseTimeout": "900",
        "defaultTaskHeartbeatTimeout": "60",
    }
    assert swf.describe_domain(name="dev")["configuration"] == {
        "workflowExecutionRetentionPeriodInDays": "30"
    }


def test_priorities_moto_does_not_keep_are_a_note_not_drift(
    swf: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """moto drops an activity type's defaultTaskPriority; SWF keeps it. Neither is drift."""
    assert run(order_flow.register.main, capsys, "--domain", "shop-test")[0] == 0
    code, lines = run(order_flow.register.main, capsys, "--domain", "shop-test")
    assert code == 0
    assert lines[-1] == "nothing to do: all 14 registrations are as the spec says"
    assert (
        "activity type order_flow.charge_payment 2024.07: already registered as the spec says (note: this endpoint does "
        "not report defaultTaskPriority; the decider sets it on every task)"
    ) in lines
    assert (
        swf.describe_domain(name="shop-test")["configuration"]["workflowExecutionRetentionPeriodInDays"]
        == "14"
    )


def test_other_defaults_are_drift_with_the_advice_to_bump_the_version(
    swf: Any, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    swf.register_domain(name="dev", workflowExecutionRetentionPeriodInDays="7")
    swf.register_activity_type(
        domain="dev",
        name="country_flow.activity_2",
        version="1.0",
        defaultTaskList={"name": "elsewhere"},
        defaultTaskScheduleToStartTimeout="300",
        defaultTaskStartToCloseTimeout="600",
        defaultTaskScheduleToCloseTimeout="900",
        defaultTaskHeartbeatTimeout="30",
    )
    swf.register_activity_type(
        domain="dev",
        name="country_flow.activity_3",
        version="1.0",
        defaultTaskList={"name": "country_flow-v1.0-activities"},
        defaultTaskScheduleToStartTimeout="300",
        defaultTaskStartToCloseTimeout="600",
        defaultTaskScheduleToCloseTimeout="900",
        defaultTaskHeartbeatTimeout="60",
    )
    swf.deprecate_activity_type(
        domain="dev", activityType={"name": "country_flow.activity_3", "version": "1.0"}
    )
    main = _source_main(_country_flow_plan(tmp_path, "1.0"))
    code, lines = run(main, capsys)
    assert code == 1
    assert lines == [
        "domain dev: DRIFT: retention is 7 days, the spec says 30 (SWF cannot change it; use another domain "
        "or change the spec)",
        "workflow type country_flow 1.0: registered",
        "workflow type country_flow.activity_2 1.0: registered",
        "activity type country_flow.activity_1 1.0: registered",
        # The default task list ('elsewhere') is not drift: the decider names the list on every task.
        "activity type country_flow.activity_2 1.0: DRIFT: defaultTaskHeartbeatTimeout is '30', the spec says '60'; "
        "bump the version in the spec",
        "activity type country_flow.activity_3 1.0: DRIFT: it is DEPRECATED; bump the version in the spec",
        "DRIFT: SWF keeps a registration as it was first made; see the lines above",
    ]
    # Drift changes nothing: SWF cannot, and a second run says the same.
    assert run(main, capsys)[0] == 1


def test_a_deprecated_domain_is_drift(swf: Any) -> None:
    register(PLAN, swf)
    swf.deprecate_domain(name="dev")
    report = register(PLAN, swf)
    assert report.drift
    assert report.lines[0] == "domain dev: DRIFT: it is DEPRECATED (undeprecate it or use another domain)"


class Racing:
    """A client whose describe calls say 'unknown' once, as if another registrar had not finished."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.fooled: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        call = getattr(self.real, name)
        if not name.startswith("describe_") or name in self.fooled:
            return call

        def once(**kwargs: Any) -> Any:
            self.fooled.add(name)
            raise ClientError({"Error": {"Code": "UnknownResourceFault", "Message": "not yet"}}, name)

        return once


def test_losing_a_registration_race_compares_with_the_winner(swf: Any) -> None:
    register(PLAN, swf)  # the winner
    report = register(PLAN, Racing(swf))  # describes say unknown, registers say it exists
    assert not report.drift
    assert report.registered == 0 and report.unchanged == 6


def test_aws_errors_are_one_line_not_a_traceback(
    swf: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    denied = boto3.client("swf", region_name=REGION)
    stubber = Stubber(denied)
    stubber.add_client_error("describe_domain", "AccessDeniedException", "not authorized to DescribeDomain")
    monkeypatch.setattr(entry, "_client", lambda args: denied)
    with stubber:
        code = country_flow.register.main(["--region", REGION])
    assert code == 1
    err = capsys.readouterr().err
    # SWF's error code is part of its API; botocore's sentence around it is not ours to pin.
    assert err.startswith("python -m country_flow.register: error: ")
    assert "AccessDeniedException" in err and len(err.splitlines()) == 1
    assert "Traceback" not in err


def test_starting_an_unregistered_workflow_is_one_line(swf: Any, capsys: pytest.CaptureFixture[str]) -> None:
    import country_flow.starter

    code = country_flow.starter.main(
        ["--region", REGION, "--input", '{"days": ["2026-03-01"], "countries": [1]}']
    )
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("python -m country_flow.starter: error: ")
    assert "UnknownResourceFault" in err and len(err.splitlines()) == 1


def test_starter_wait_reports_how_a_run_ended(
    swf: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import country_flow.starter

    register(PLAN, swf)
    argv = ["--region", REGION, "--input", '{"days": ["2026-03-01"], "countries": [1]}', "--wait"]
    monkeypatch.setattr(entry, "wait_for_close", lambda *args: ("FAILED", {"reason": "activity_1 failed"}))
    assert country_flow.starter.main(argv) == 1
    captured = capsys.readouterr()
    assert set(json.loads(captured.out)) == {"workflowId", "runId"}
    assert captured.err == "FAILED: activity_1 failed\n"
    monkeypatch.setattr(
        entry, "wait_for_close", lambda *args: ("TIMED_OUT", {"timeoutType": "START_TO_CLOSE"})
    )
    assert country_flow.starter.main(argv) == 1
    assert capsys.readouterr().err == "TIMED_OUT: START_TO_CLOSE\n"
    monkeypatch.setattr(entry, "wait_for_close", lambda *args: ("COMPLETED", {"result": '{"report": "r"}'}))
    assert country_flow.starter.main(argv) == 0
    assert capsys.readouterr().out.splitlines()[1:] == ["{", '  "report": "r"', "}"]


# -- two versions of one workflow in one domain --------------------------------------------------


def _country_flow_plan(
    tmp_path: Any, version: str, *explicit: str, edit: Callable[[str], str] = lambda text: text
) -> Any:
    """specs/country_flow.yaml at `version`, compiled now; `explicit` lines are added under
    `workflow:` and `defaults:` (a spec that names its task lists); `edit` changes the text."""
    from moto_swf import ROOT

    from flowgen.compiler import compile_spec
    from flowgen.plan import build_plan

    text = (ROOT / "specs" / "country_flow.yaml").read_text()
    text = edit(text.replace('version: "1.0"', f'version: "{version}"'))
    if explicit:
        workflow, defaults = explicit
        text = text.replace("workflow:\n", f"workflow:\n  task_list: {workflow}\n")
        text = text.replace("defaults:", f"defaults:\n  task_list: {defaults}\n  # ", 1)
    path = tmp_path / f"country_flow-{version}.yaml"
    path.write_text(text)
    compiled = compile_spec(str(path))
    assert compiled.checked is not None, compiled.diagnostics
    return build_plan(compiled.checked)


def test_versions_get_task_lists_of_their_own_by_default(swf: Any, tmp_path: Any) -> None:
    one, two = (_country_flow_plan(tmp_path, v) for v in ("1.0", "2.0"))
    assert (one.task_list, two.task_list) == ("country_flow-v1.0", "country_flow-v2.0")
    assert {a.task_list for a in two.activities} == {"country_flow-v2.0-activities"}
    register(one, swf)
    report = register(two, swf)
    assert not report.drift and report.warnings == 0
    assert not [line for line in report.lines if "warning" in line]


def test_a_task_list_another_registered_version_uses_is_warned_of(swf: Any, tmp_path: Any) -> None:
    named = ("country_flow", "country_flow-activities")
    one, two = (_country_flow_plan(tmp_path, v, *named) for v in ("1.0", "2.0"))
    register(one, swf)
    swf.register_activity_type(  # another flow's type of the same name, on a list of its own
        domain="dev",
        name="activity_1",
        version="elsewhere",
        defaultTaskList={"name": "other-flow"},
    )
    report = register(two, swf)
    assert not report.drift and report.warnings == 4
    warnings = [line for line in report.lines if ": warning: " in line]
    assert warnings[0].startswith(
        "workflow type country_flow 2.0: warning: version 1.0 also uses the decider task list country_flow,"
    )
    assert [line.split(": warning: ")[0] for line in warnings[1:]] == [
        f"activity type country_flow.activity_{n} 2.0" for n in (1, 2, 3)
    ]
    assert all("version 1.0 also uses the task list country_flow-activities" in w for w in warnings[1:])
    # the workflow type, its shard type and three activity types; the domain was there
    assert report.summary() == "registered 5, 1 already as the spec says; 4 warning(s) above"
    # Once the old version is deprecated (drained), nothing is left to warn of.
    swf.deprecate_workflow_type(domain="dev", workflowType={"name": "country_flow", "version": "1.0"})
    for n in (1, 2, 3):
        swf.deprecate_activity_type(
            domain="dev", activityType={"name": f"country_flow.activity_{n}", "version": "1.0"}
        )
    assert register(two, swf).warnings == 0


# -- an activity type version that outlives workflow versions ------------------------------------


def _pin_activity_1(text: str) -> str:
    return text.replace("  activity_1:\n", '  activity_1:\n    version: "pinned"\n', 1)


def _pin_by_default(text: str) -> str:
    return text.replace("defaults:", 'defaults:\n  version: "pinned"\n  #', 1)


KEPT_TASK_LIST = (
    "already registered (note: it keeps its registered default task list, country_flow-v1.0-activities, "
    "not the spec's country_flow-v2.0-activities; flowgen's decider names the task list on every task "
    "it schedules, so nothing breaks)"
)


class Recording:
    """A client that records the name of every call made through it."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        call = getattr(self.real, name)

        def recorded(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return call(**kwargs)

        return recorded


@pytest.mark.parametrize(
    ("pin", "pinned"),
    [(_pin_activity_1, [1]), (_pin_by_default, [1, 2, 3])],
    ids=["activity-version", "defaults-version"],
)
def test_a_pinned_activity_version_keeps_its_task_list_across_workflow_versions(
    swf: Any, capsys: pytest.CaptureFixture[str], tmp_path: Any, pin: Callable[[str], str], pinned: list[int]
) -> None:
    """v1 registers the pinned type with v1's derived task list; v2 finds it with that default,
    which is a note (the decider sends v2's list with every task), not drift."""
    from flowgen.render.iam import registrar
    from flowgen.runtime.register import register as source_register

    one, two = (_country_flow_plan(tmp_path, v, edit=pin) for v in ("1.0", "2.0"))
    assert run(_source_main(one), capsys)[0] == 0
    recording = Recording(swf)
    report = source_register(two, recording)
    assert not report.drift and report.warnings == 0
    code, lines = run(_source_main(two), capsys)
    assert code == 0, lines
    for n in (1, 2, 3):
        if n in pinned:
            assert f"activity type country_flow.activity_{n} pinned: {KEPT_TASK_LIST}" in lines
        else:
            assert (
                f"activity type country_flow.activity_{n} 2.0: already registered as the spec says" in lines
            )
    assert not [line for line in lines if "DRIFT" in line or "warning" in line]
    # v2 schedules the pinned types on its own list, and its registrar may register them only with
    # that list (swf:defaultTaskList.name): register describes the existing type and never asks to
    # register it again, so the policy is never put to the test.
    assert {a.version for a in two.activities if int(a.name[-1]) in pinned} == {"pinned"}
    assert {a.task_list for a in two.activities} == {"country_flow-v2.0-activities"}
    names = {f"country_flow.activity_{n}" for n in pinned}
    registered = [kw["name"] for call, kw in recording.calls if call == "register_activity_type"]
    assert not names & set(registered)
    (statement,) = [
        s
        for s in registrar(two)["Statement"]
        if s["Action"] == ["swf:RegisterActivityType"]
        and s["Condition"]["StringEquals"]["swf:version"] == "pinned"
    ]
    assert (
        statement["Condition"]["StringEquals"]["swf:defaultTaskList.name"] == "country_flow-v2.0-activities"
    )
    # Another default of the pinned type is still drift, as is every default but the task list.
    drifted = _country_flow_plan(
        tmp_path,
        "3.0",
        edit=lambda text: pin(text).replace(
            "    handler: examples.country_flow:start_run\n",
            "    handler: examples.country_flow:start_run\n    timeouts: {start_to_close: 20m}\n",
        ),
    )
    code, lines = run(_source_main(drifted), capsys)
    assert code == 1
    assert (
        "activity type country_flow.activity_1 pinned: DRIFT: defaultTaskScheduleToCloseTimeout is '900', the "
        "spec says '1500'; defaultTaskStartToCloseTimeout is '600', the spec says '1200'; bump the version "
        "in the spec"
    ) in lines
