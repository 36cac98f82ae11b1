"""The IAM policies of generated packages: parliament finds nothing, and every grant is scoped.

parliament (https://github.com/duo-labs/parliament) lints each policy committed under
generated/*/iam/ and each policy rendered now from specs/ and from specs written here
(many versions and task lists, external activities, reverts, names holding IAM's wildcard
characters). Then each statement is held to its scope: the domain's ARN as the only
resource (RegisterDomain excepted, which IAM cannot scope), no wildcard actions, and
the condition keys of the polls, the schedule decision, the start and the registrations
carrying exactly the spec's task lists, types and versions. Last, each role may call
exactly what the engine calls for that role: nothing missing, nothing spare.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re
from typing import Any

import pytest
from botocore import xform_name
from botocore.session import get_session
from parliament import analyze_policy_string

from flowgen.compiler import compile_spec
from flowgen.plan import build_plan
from flowgen.render import iam
from flowgen.runtime.plan import FlowPlan

ROOT = pathlib.Path(__file__).resolve().parent.parent
COMMITTED = sorted((ROOT / "generated").glob("*/iam/*.json"))
SPECS = sorted((ROOT / "specs").glob("*.yaml"))

# parliament's catalogue is the Service Authorization Reference, which lists no condition
# keys for ScheduleActivityTask. SWF's API reference does: the decision can be constrained by
# swf:activityType.name, swf:activityType.version and swf:taskList.name
# (https://docs.aws.amazon.com/amazonswf/latest/apireference/API_ScheduleActivityTaskDecisionAttributes.html).
# These three findings, and no others, are parliament's blind spot rather than ours.
DOCUMENTED_BY_SWF = {
    ("UNKNOWN_CONDITION_FOR_ACTION", f"Unknown condition swf:{key} for action swf:ScheduleActivityTask")
    for key in ("activityType.name", "activityType.version", "taskList.name")
} | {
    # The same for the decision that starts a shard: swf:workflowType.name, swf:workflowType.version
    # and swf:taskList.name (https://docs.aws.amazon.com/amazonswf/latest/apireference/
    # API_StartChildWorkflowExecutionDecisionAttributes.html).
    (
        "UNKNOWN_CONDITION_FOR_ACTION",
        f"Unknown condition swf:{key} for action swf:StartChildWorkflowExecution",
    )
    for key in ("workflowType.name", "workflowType.version", "taskList.name")
}

ROLE_ACTIONS = {
    "decider": {
        "swf:PollForDecisionTask",
        "swf:RespondDecisionTaskCompleted",
        # decisions, which IAM checks as if they were calls of their own
        "swf:ScheduleActivityTask",
        "swf:RequestCancelActivityTask",
        "swf:StartTimer",
        "swf:CancelTimer",
        "swf:CompleteWorkflowExecution",
        "swf:FailWorkflowExecution",
        "swf:CancelWorkflowExecution",
    },
    "worker": {
        "swf:PollForActivityTask",
        "swf:RecordActivityTaskHeartbeat",
        "swf:RespondActivityTaskCompleted",
        "swf:RespondActivityTaskFailed",
        "swf:RespondActivityTaskCanceled",
    },
    "starter": {
        "swf:StartWorkflowExecution",
        # `starter --wait` follows the execution it started
        "swf:DescribeWorkflowExecution",
        "swf:GetWorkflowExecutionHistory",
    },
    "operator": {
        # status --list, and a workflow id's latest run
        "swf:ListOpenWorkflowExecutions",
        "swf:ListClosedWorkflowExecutions",
        # status, and its child shards
        "swf:GetWorkflowExecutionHistory",
        "swf:RequestCancelWorkflowExecution",
        "swf:TerminateWorkflowExecution",
    },
    "registrar": {
        "swf:DescribeDomain",
        "swf:RegisterDomain",
        "swf:DescribeWorkflowType",
        "swf:RegisterWorkflowType",
        "swf:DescribeActivityType",
        "swf:RegisterActivityType",
        # which other versions are registered, to warn when one shares a task list
        "swf:ListWorkflowTypes",
        "swf:ListActivityTypes",
    },
}
# What a role may do beyond ROLE_ACTIONS when its plan has shards (child workflow executions).
SHARD_ACTIONS: dict[str, set[str]] = {
    "decider": {"swf:StartChildWorkflowExecution"},
    "worker": set(),
    "starter": set(),
    "registrar": set(),
    "operator": set(),
}
# The runtime modules whose SWF calls each role makes.
ROLE_MODULES = {
    "decider": ("polling.py", "decider.py"),
    "worker": ("worker.py",),
    "starter": ("entry.py",),
    "registrar": ("register.py",),
    "operator": ("operate.py", "status.py"),
}

WIDE = """
flowgen: 1
aws_partition: aws-us-gov
payloads: {s3: "s3://team-bucket.1/flows/wide"}
domain: "team*?$dev"
workflow:
  name: "wide*flow"
  version: "1.$"
  task_list: "decide?rs"
  execution_timeout: 1d
defaults:
  task_list: main
  version: "2024.06"
activities:
  first:
    handler: m.h:first
    revert: m.h:undo_first
  second:
    requires: [first]
    handler: m.h:second
    version: "2024.07*"
    task_list: "gpu*"
  loader:
    requires: [first]
    external: true
    task_list: java-loaders
    version: "9"
  third:
    requires: [second, loader]
    handler: m.h:third
    task_list: "main"
    revert: m.h:undo_third
"""

# Two sharded activities, one by the budget and one by its shard_size, with IAM's wildcard
# characters in the names.
SHARDED = """
flowgen: 1
domain: "shard*dom"
workflow:
  name: "sharded*flow"
  version: "3?"
  task_list: "deciders$"
  execution_timeout: 1d
  input: {ids: "list[int]"}
activities:
  fan_out:
    handler: m.h:fan_out
    generators: {id: input.ids}
    max_items: 100000
    inputs: {id: generator.id}
  small:
    requires: [fan_out]
    handler: m.h:small
    generators: {id: input.ids}
    max_items: 30
    shard_size: 10
    inputs: {id: generator.id}
  after:
    requires: [small]
    handler: m.h:after
"""


def _plan(path: pathlib.Path) -> FlowPlan:
    compiled = compile_spec(str(path))
    assert compiled.checked is not None, [d.render() for d in compiled.diagnostics]
    plan: FlowPlan = build_plan(compiled.checked)
    return plan


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FlowPlan]:
    wide = tmp_path_factory.mktemp("specs") / "wide.yaml"
    wide.write_text(WIDE)
    sharded = wide.parent / "sharded.yaml"
    sharded.write_text(SHARDED)
    return {path.stem: _plan(path) for path in [*SPECS, wide, sharded]}


def findings(policy: dict[str, Any] | str) -> list[tuple[str, str]]:
    text = policy if isinstance(policy, str) else json.dumps(policy, indent=2)
    found = analyze_policy_string(text, include_community_auditors=True).findings
    return sorted(
        (f.issue, str(f.detail)) for f in found if (f.issue, str(f.detail)) not in DOCUMENTED_BY_SWF
    )


def unescape(text: str) -> str:
    """IAM's text back to the name: ${*}, ${?} and ${$} are the literal characters."""
    return re.sub(r"\$\{([*?$])\}", r"\1", text)


def _bare_wildcards(text: str) -> bool:
    """Whether `text` holds a *, ? or ${ that IAM would read as a wildcard or a variable."""
    return bool(re.search(r"[*?]|\$(?!\{[*?$]\})", re.sub(r"\$\{[*?$]\}", "", text)))


# -- parliament ---------------------------------------------------------------------------


def test_there_are_committed_policies() -> None:
    assert len(COMMITTED) == len(iam.POLICIES) * len(SPECS)


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_parliament_finds_nothing_in_committed_policies(path: pathlib.Path) -> None:
    assert findings(path.read_text()) == []


@pytest.mark.parametrize("role", sorted(iam.POLICIES))
def test_parliament_finds_nothing_in_freshly_rendered_policies(plans: dict[str, FlowPlan], role: str) -> None:
    for name, plan in plans.items():
        assert findings(iam.POLICIES[role](plan)) == [], name


def test_parliament_still_sees_what_it_should() -> None:
    """The filter above lets through real problems: a wildcard action and an unscoped poll."""
    bad = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["swf:*"], "Resource": "*"}],
    }
    assert findings(bad) != []
    schedule = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["swf:ScheduleActivityTask"],
                "Resource": "arn:aws:swf:*:*:/domain/d",
                "Condition": {"StringEquals": {"swf:workflowType.name": "x"}},
            }
        ],
    }
    assert findings(schedule) == [
        (
            "UNKNOWN_CONDITION_FOR_ACTION",
            "Unknown condition swf:workflowType.name for action swf:ScheduleActivityTask",
        )
    ]


# -- scope --------------------------------------------------------------------------------


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    assert set(policy) == {"Version", "Statement"} and policy["Version"] == "2012-10-17"
    statements: list[dict[str, Any]] = policy["Statement"]
    return statements


def _conditions(statement: dict[str, Any]) -> dict[str, list[str]]:
    """Condition key -> its values, names as they are (IAM's escapes undone)."""
    condition = statement.get("Condition", {})
    assert set(condition) <= {"StringEquals"}, condition  # exact matches only: no StringLike
    out = {}
    for key, value in condition.get("StringEquals", {}).items():
        values = value if isinstance(value, list) else [value]
        assert not any(_bare_wildcards(v) for v in values), (key, values)
        out[key] = [unescape(v) for v in values]
    return out


def _activity_types(plan: FlowPlan) -> set[tuple[str, str, str]]:
    """(type name, version, task list) of every activity type the plan schedules, reverts included."""
    types = {(a.type_name, a.version, a.task_list) for a in plan.activities}
    return types | {(a.revert_type, a.version, a.task_list) for a in plan.activities if a.revert_type}


def _granted(statements: list[dict[str, Any]], *keys: str) -> set[tuple[str, ...]]:
    """Every combination of the `keys` conditions the statements allow: IAM ands the keys of one
    statement and ors the values of one key, so a statement grants the cross product of its values."""
    granted: set[tuple[str, ...]] = set()
    for statement in statements:
        conditions = _conditions(statement)
        combinations: list[tuple[str, ...]] = [()]
        for key in keys:
            combinations = [(*c, value) for c in combinations for value in conditions[key]]
        granted |= set(combinations)
    return granted


def _by_action(statements: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    found = [s for s in statements if action in s["Action"]]
    assert found, action
    for statement in found:
        # A condition meant for one action must not ride along on another.
        assert statement["Action"] == [action], statement
    return found


# The roles that read and write values too large for SWF, when the spec has payloads.
PAYLOAD_ROLES = {"decider", "worker", "starter"}


def assert_scoped(role: str, policy: dict[str, Any], plan: FlowPlan) -> None:
    statements = _statements(policy)
    s3 = [s for s in statements if any(a.startswith("s3:") for a in s["Action"])]
    statements = [s for s in statements if s not in s3]
    if plan.payloads is not None and role in PAYLOAD_ROLES:
        (keep,) = s3
        folder = f"{plan.payloads.prefix}/" if plan.payloads.prefix else ""
        assert keep == {
            "Sid": "KeepPayloads",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": f"arn:{plan.aws_partition}:s3:::{plan.payloads.bucket}/{folder}*",
        }
    elif plan.payloads is not None and role == "operator":
        # `status` reads the values kept in S3, and never writes one.
        (read,) = s3
        folder = f"{plan.payloads.prefix}/" if plan.payloads.prefix else ""
        assert read == {
            "Sid": "ReadPayloads",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": f"arn:{plan.aws_partition}:s3:::{plan.payloads.bucket}/{folder}*",
        }
    else:
        assert s3 == []
    arn = f"arn:{plan.aws_partition}:swf:*:*:/domain/{iam.literal(plan.domain)}"
    granted: set[str] = set()
    for statement in statements:
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}, statement
        assert statement["Effect"] == "Allow"
        actions = statement["Action"]
        assert isinstance(actions, list) and actions == sorted(actions)
        for action in actions:
            assert re.fullmatch(r"swf:[A-Z][A-Za-z]+", action), action  # no *, no ?
        granted |= set(actions)
        if actions == ["swf:RegisterDomain"]:
            # No resource type exists for RegisterDomain: "*" is the only resource that works.
            assert statement["Resource"] == "*" and "Condition" not in statement
            continue
        assert statement["Resource"] == arn
        domain = arn.rsplit("/domain/", 1)[1]
        assert not _bare_wildcards(domain) and unescape(domain) == plan.domain
    assert granted == ROLE_ACTIONS[role] | (SHARD_ACTIONS[role] if plan.shards else set())

    worker_task_lists = sorted({a.task_list for a in plan.activities if not a.external})
    if role == "decider":
        (poll,) = _by_action(statements, "swf:PollForDecisionTask")
        assert _conditions(poll) == {"swf:taskList.name": [plan.task_list]}
        schedules = _by_action(statements, "swf:ScheduleActivityTask")
        for statement in schedules:
            assert set(_conditions(statement)) == {
                "swf:activityType.name",
                "swf:activityType.version",
                "swf:taskList.name",
            }
        scheduled = _granted(
            schedules, "swf:activityType.name", "swf:activityType.version", "swf:taskList.name"
        )
        assert scheduled == _activity_types(plan)
        if plan.shards:
            (start,) = _by_action(statements, "swf:StartChildWorkflowExecution")
            assert _conditions(start) == {
                "swf:workflowType.name": [s.workflow for s in plan.shards],
                "swf:workflowType.version": [plan.version],
                "swf:taskList.name": [plan.task_list],
            }
    elif role == "worker":
        (poll,) = _by_action(statements, "swf:PollForActivityTask")
        assert _conditions(poll) == {"swf:taskList.name": worker_task_lists}
    elif role == "starter":
        (start,) = _by_action(statements, "swf:StartWorkflowExecution")
        assert _conditions(start) == {
            "swf:workflowType.name": [plan.workflow],
            "swf:workflowType.version": [plan.version],
            "swf:taskList.name": [plan.task_list],
        }
        (watch,) = [s for s in statements if "swf:DescribeWorkflowExecution" in s["Action"]]
        assert watch["Action"] == ["swf:DescribeWorkflowExecution", "swf:GetWorkflowExecutionHistory"]
    elif role == "operator":
        (listing,) = [s for s in statements if "swf:ListOpenWorkflowExecutions" in s["Action"]]
        assert listing["Action"] == ["swf:ListClosedWorkflowExecutions", "swf:ListOpenWorkflowExecutions"]
        # Exactly this workflow type: a list by execution or by tag has no typeFilter and is denied.
        assert _conditions(listing) == {
            "swf:typeFilter.name": [plan.workflow],
            "swf:typeFilter.version": [plan.version],
        }
    else:
        (register,) = _by_action(statements, "swf:RegisterWorkflowType")
        # The workflow type and its shards' types, which share its version and task list.
        types = [plan.workflow, *(s.workflow for s in plan.shards)]
        assert _conditions(register) == {
            "swf:name": types,
            "swf:version": [plan.version],
            "swf:defaultTaskList.name": [plan.task_list],
        }
        (describe,) = _by_action(statements, "swf:DescribeWorkflowType")
        # Any version: registration compares the task lists of the other registered versions.
        assert _conditions(describe) == {"swf:workflowType.name": types}
        registers = _by_action(statements, "swf:RegisterActivityType")
        assert _granted(registers, "swf:name", "swf:version", "swf:defaultTaskList.name") == _activity_types(
            plan
        )
        (described,) = _by_action(statements, "swf:DescribeActivityType")
        names = {name for name, _, _ in _activity_types(plan)}
        assert set(_conditions(described)) == {"swf:activityType.name"}
        assert set(_conditions(described)["swf:activityType.name"]) == names
    # Conditioned actions are the ones above; every other grant is the domain's alone.
    conditioned = {
        "swf:PollForDecisionTask",
        "swf:ScheduleActivityTask",
        "swf:PollForActivityTask",
        "swf:StartWorkflowExecution",
        "swf:StartChildWorkflowExecution",
        "swf:RegisterWorkflowType",
        "swf:DescribeWorkflowType",
        "swf:RegisterActivityType",
        "swf:DescribeActivityType",
        "swf:ListOpenWorkflowExecutions",
        "swf:ListClosedWorkflowExecutions",
    }
    for statement in statements:
        if "Condition" in statement:
            assert set(statement["Action"]) <= conditioned


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_committed_policies_are_scoped_to_the_spec(path: pathlib.Path, plans: dict[str, FlowPlan]) -> None:
    package = path.parent.parent
    manifest = json.loads((package / "flowgen.manifest.json").read_text())
    plan = plans[pathlib.Path(manifest["spec"]["path"]).stem]
    assert_scoped(path.stem, json.loads(path.read_text()), plan)


@pytest.mark.parametrize("role", sorted(iam.POLICIES))
def test_rendered_policies_are_scoped_to_the_spec(plans: dict[str, FlowPlan], role: str) -> None:
    for plan in plans.values():
        assert_scoped(role, iam.POLICIES[role](plan), plan)


def test_the_decider_schedules_no_pair_the_plan_does_not(plans: dict[str, FlowPlan]) -> None:
    """order_flow schedules its activity types on three task lists: each type may be scheduled on
    its own task list only, not on every task list of the flow."""
    plan = plans["order_flow"]
    schedules = _by_action(iam.decider(plan)["Statement"], "swf:ScheduleActivityTask")
    granted = _granted(schedules, "swf:activityType.name", "swf:activityType.version", "swf:taskList.name")
    assert len({task_list for *_, task_list in granted}) > 1
    assert granted == _activity_types(plan)
    assert len(granted) == len(plan.activities) + len([a for a in plan.activities if a.revert])


def test_the_partition_is_the_specs(plans: dict[str, FlowPlan]) -> None:
    """aws by default; aws-us-gov (or aws-cn) when the spec says so, in every ARN of every policy."""
    assert {plan.aws_partition for name, plan in plans.items() if name != "wide"} == {"aws"}
    assert plans["wide"].aws_partition == "aws-us-gov"
    for plan in plans.values():
        for policy in iam.POLICIES.values():
            resources = {s["Resource"] for s in policy(plan)["Statement"]} - {"*", iam.payloads_arn(plan)}
            assert resources == {f"arn:{plan.aws_partition}:swf:*:*:/domain/{iam.literal(plan.domain)}"}


def test_payloads_are_granted_on_exactly_their_prefix(plans: dict[str, FlowPlan]) -> None:
    """s3:GetObject and s3:PutObject under s3://BUCKET/PREFIX/ only, in the spec's partition; to the
    decider, worker and starter, s3:GetObject alone to the operator; nothing on S3 without payloads."""
    wide = plans["wide"]
    assert iam.payloads_arn(wide) == "arn:aws-us-gov:s3:::team-bucket.1/flows/wide/*"
    for role, policy in iam.POLICIES.items():
        granted = {a for s in policy(wide)["Statement"] for a in s["Action"] if a.startswith("s3:")}
        expected = {"s3:GetObject", "s3:PutObject"} if role in PAYLOAD_ROLES else set()
        assert granted == (expected if role != "operator" else {"s3:GetObject"})
    no_prefix = dataclasses.replace(wide, payloads=dataclasses.replace(wide.payloads, prefix=""))
    assert iam.payloads_arn(no_prefix) == "arn:aws-us-gov:s3:::team-bucket.1/*"
    assert iam.payloads_arn(plans["etl"]) == "arn:aws:s3:::acme-analytics-flows/regional_etl/*"
    assert iam.payloads_arn(plans["country_flow"]) == "arn:aws:s3:::country-flow-payloads/flowgen/*"
    for name, plan in plans.items():
        if name not in ("wide", "etl", "country_flow"):
            assert plan.payloads is None and iam.payloads_arn(plan) is None
            for policy in iam.POLICIES.values():
                assert not any(a.startswith("s3:") for s in policy(plan)["Statement"] for a in s["Action"])


def test_wildcard_characters_in_names_are_literal(plans: dict[str, FlowPlan]) -> None:
    """A domain called team*?$dev is that domain, not every domain starting with "team"."""
    policy = iam.POLICIES["starter"](plans["wide"])
    statement = policy["Statement"][0]
    assert statement["Resource"] == "arn:aws-us-gov:swf:*:*:/domain/team${*}${?}${$}dev"
    assert statement["Condition"]["StringEquals"]["swf:workflowType.name"] == "wide${*}flow"
    assert statement["Condition"]["StringEquals"]["swf:workflowType.version"] == "1.${$}"


def test_register_domain_is_the_one_grant_on_every_resource(plans: dict[str, FlowPlan]) -> None:
    for role, policy in iam.POLICIES.items():
        for plan in plans.values():
            on_everything = [s for s in policy(plan)["Statement"] if s["Resource"] == "*"]
            if role == "registrar":
                assert [s["Action"] for s in on_everything] == [["swf:RegisterDomain"]]
            else:
                assert on_everything == []


# -- the policies against what the engine calls ---------------------------------------------


def engine_calls(role: str) -> set[str]:
    """The SWF actions the runtime's modules for `role` call, decisions included: every
    `client.<operation>` they name (called, or passed on as a bound method)."""
    operations = {xform_name(op): op for op in get_session().get_service_model("swf").operation_names}
    calls = set()
    for module in ROLE_MODULES[role]:
        text = (ROOT / "flowgen" / "runtime" / module).read_text()
        named = set(re.findall(r"\bclient\.([a-z_]+)", text))
        calls |= {f"swf:{operations[m]}" for m in named if m in operations}
        calls |= {f"swf:{d}" for d in re.findall(r'"decisionType": "([A-Za-z]+)"', text)}
    return calls


def opt_in_needs(role: str) -> set[str]:
    """Actions an opt-in option of the role's commands needs beyond its policy, as that option's
    help says in so many words ("needs swf:Xxx"): the policy leaves them out on purpose."""
    needs = set()
    for module in ROLE_MODULES[role]:
        text = (ROOT / "flowgen" / "runtime" / module).read_text()
        for sentence in re.findall(r"needs[^)]*\)", text, flags=re.DOTALL):
            needs |= set(re.findall(r"swf:[A-Z][A-Za-z]+", sentence))
    return needs


@pytest.mark.parametrize("role", sorted(iam.POLICIES))
def test_each_role_may_do_exactly_what_the_engine_does(role: str) -> None:
    """Nothing the engine calls is missing (AccessDenied in production), unless an opt-in
    option says it needs more; nothing in the policy is spare."""
    calls = engine_calls(role)
    assert ROLE_ACTIONS[role] <= calls, "granted but never called"
    # Starting a shard is granted only to packages with shards (assert_scoped checks that).
    spare = calls - ROLE_ACTIONS[role] - SHARD_ACTIONS[role]
    assert spare == opt_in_needs(role), "called but neither granted nor documented"


def test_shard_starts_are_granted_for_exactly_the_shard_types(plans: dict[str, FlowPlan]) -> None:
    """A sharded package's decider may start children of its shard types only, on its own task
    list, and its registrar may register and describe those types; an unsharded one may not."""
    plan = plans["sharded"]
    assert [s.workflow for s in plan.shards] == ["sharded*flow.fan_out", "sharded*flow.small"]
    (start,) = _by_action(iam.decider(plan)["Statement"], "swf:StartChildWorkflowExecution")
    assert start["Condition"]["StringEquals"] == {
        "swf:workflowType.name": ["sharded${*}flow.fan_out", "sharded${*}flow.small"],
        "swf:workflowType.version": "3${?}",
        "swf:taskList.name": "deciders${$}",
    }
    for role in ("registrar",):
        (register,) = _by_action(iam.POLICIES[role](plan)["Statement"], "swf:RegisterWorkflowType")
        assert register["Condition"]["StringEquals"]["swf:name"] == [
            "sharded${*}flow",
            "sharded${*}flow.fan_out",
            "sharded${*}flow.small",
        ]
    assert plans["country_flow"].shards and not plans["order_flow"].shards
    for unsharded in (plans["order_flow"], plans["wide"]):
        assert not [s for s in iam.decider(unsharded)["Statement"] if "StartChildWorkflowExecution" in str(s)]
