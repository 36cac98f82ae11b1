"""Least-privilege IAM policies for the five roles around one workflow.

Each policy is scoped to the domain's ARN (in the spec's `aws_partition`) and,
through SWF's IAM condition keys, to the spec's task lists, activity types and
workflow type: the decider may schedule exactly the (activity type, task list)
pairs the plan schedules, and the registrar may register each type only with
its own default task list. The one
exception is swf:RegisterDomain, which IAM cannot scope to a domain: it has no
resource type in the Service Authorization Reference, and SWF's API reference
says "You cannot use an IAM policy to control domain access for this action".
A statement on the domain's ARN would never allow it, so it gets "*", alone.

The ScheduleActivityTask decision's conditions (swf:activityType.name,
swf:activityType.version, swf:taskList.name) are documented in SWF's API
reference (ScheduleActivityTaskDecisionAttributes) but not in the Service
Authorization Reference, so linters built on the latter (parliament) call them
unknown; tests/test_iam.py allows exactly those findings. The same holds for the
StartChildWorkflowExecution decision (swf:workflowType.name, swf:workflowType.version,
swf:taskList.name in StartChildWorkflowExecutionDecisionAttributes), which a package with
sharded activities may make for exactly its shard workflow types.

With the spec's `payloads`, the decider, the worker and the starter may also
read and write objects under exactly s3://BUCKET/PREFIX/ (s3:GetObject and
s3:PutObject on `arn:PARTITION:s3:::BUCKET/PREFIX/*`): they store and read the
values too large for SWF. Nothing lists, deletes or reaches another prefix; a
lifecycle rule on the bucket removes old values (docs/running-on-swf.md). The operator may
only read them (s3:GetObject): `status` resolves them as the decider does.

The operator (`status`, `cancel`, `terminate`) may list executions of exactly the workflow
type (swf:typeFilter.name and swf:typeFilter.version, which ListOpenWorkflowExecutions and
ListClosedWorkflowExecutions support), and read, cancel and terminate executions in the domain:
SWF's API reference says of GetWorkflowExecutionHistory, RequestCancelWorkflowExecution and
TerminateWorkflowExecution that an IAM policy cannot constrain their parameters, so the domain
is their narrowest scope.

SWF names may hold `*`, `?` and `$`, which IAM reads as wildcards and policy
variables; every name goes through `literal`, so a domain called `team*` is
that one domain and not every domain whose name starts with "team".
"""

from __future__ import annotations

import re
from typing import Any

from flowgen.runtime.plan import FlowPlan

Policy = dict[str, Any]
VERSION = "2012-10-17"  # policy variables, and so ${*}, ${?} and ${$}, need this version
_SPECIAL = re.compile(r"[*?$]")


def literal(text: str) -> str:
    """`text` as IAM matches it, character for character: `*`, `?` and `$` become the
    policy variables ${*}, ${?} and ${$} that IAM defines for them."""
    return _SPECIAL.sub(lambda match: "${" + match.group() + "}", text)


def domain_arn(plan: FlowPlan) -> str:
    # Region and account are left open: the domain name is what scopes it. The partition is the
    # spec's (aws, aws-cn, aws-us-gov): an ARN of another partition matches nothing.
    return f"arn:{plan.aws_partition}:swf:*:*:/domain/{literal(plan.domain)}"


def payloads_arn(plan: FlowPlan) -> str | None:
    """The ARN of every object the plan's payloads may be kept in, or None without payloads."""
    if plan.payloads is None:
        return None
    folder = f"{plan.payloads.prefix}/" if plan.payloads.prefix else ""
    return f"arn:{plan.aws_partition}:s3:::{literal(plan.payloads.bucket)}/{literal(folder)}*"


def _with_payloads(plan: FlowPlan, policy: Policy) -> Policy:
    """`policy`, and with payloads a statement to read and write them."""
    arn = payloads_arn(plan)
    if arn is not None:
        policy["Statement"].append(_statement("KeepPayloads", ["s3:GetObject", "s3:PutObject"], arn))
    return policy


def _activity_types(plan: FlowPlan) -> dict[tuple[str, str], list[str]]:
    """(version, task list) -> the activity type names (reverts included) scheduled on that task
    list and registered with it as their default, sorted. One statement per key grants exactly
    these (type, task list) pairs: IAM ands a statement's condition keys, so a single statement
    over all names and all task lists would grant their cross product."""
    groups: dict[tuple[str, str], set[str]] = {}
    for activity in plan.activities:
        names = groups.setdefault((activity.version, activity.task_list), set())
        names.add(activity.type_name)
        if activity.revert_type is not None:
            names.add(activity.revert_type)
    return {key: sorted(names) for key, names in sorted(groups.items())}


def _worker_task_lists(plan: FlowPlan) -> list[str]:
    """The task lists this package's worker polls: external activities run elsewhere."""
    return sorted(plan.worker_task_lists())


def _statement(
    sid: str, actions: list[str], resource: str, condition: dict[str, Any] | None = None
) -> Policy:
    statement: Policy = {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resource}
    if condition:
        statement["Condition"] = {
            operator: {
                key: [literal(v) for v in value] if isinstance(value, list) else literal(value)
                for key, value in keys.items()
            }
            for operator, keys in condition.items()
        }
    return statement


def decider(plan: FlowPlan) -> Policy:
    arn = domain_arn(plan)
    statements = [
        _statement(
            "PollDecisions",
            ["swf:PollForDecisionTask"],
            arn,
            {"StringEquals": {"swf:taskList.name": plan.task_list}},
        ),
        _statement(
            "DecideOnThisWorkflow",
            [
                "swf:CancelTimer",
                "swf:CancelWorkflowExecution",
                "swf:CompleteWorkflowExecution",
                "swf:FailWorkflowExecution",
                "swf:RequestCancelActivityTask",
                "swf:RespondDecisionTaskCompleted",
                "swf:StartTimer",
            ],
            arn,
        ),
    ]
    for index, ((version, task_list), names) in enumerate(_activity_types(plan).items()):
        statements.append(
            _statement(
                f"ScheduleActivities{index}",
                ["swf:ScheduleActivityTask"],
                arn,
                {
                    "StringEquals": {
                        "swf:activityType.name": names,
                        "swf:activityType.version": version,
                        "swf:taskList.name": task_list,
                    }
                },
            )
        )
    if plan.shards:
        # A sharded activity's instances run in child executions of exactly these types, decided
        # on this decider's task list (StartChildWorkflowExecutionDecisionAttributes' keys).
        statements.append(
            _statement(
                "StartShards",
                ["swf:StartChildWorkflowExecution"],
                arn,
                {
                    "StringEquals": {
                        "swf:workflowType.name": [s.workflow for s in plan.shards],
                        "swf:workflowType.version": plan.version,
                        "swf:taskList.name": plan.task_list,
                    }
                },
            )
        )
    return _with_payloads(plan, {"Version": VERSION, "Statement": statements})


def _workflow_types(plan: FlowPlan) -> str | list[str]:
    """The workflow type names the package registers: the workflow's, then its shards' (which share
    its version and default task list)."""
    return [plan.workflow, *(s.workflow for s in plan.shards)] if plan.shards else plan.workflow


def worker(plan: FlowPlan) -> Policy:
    arn = domain_arn(plan)
    policy = {
        "Version": VERSION,
        "Statement": [
            _statement(
                "PollActivities",
                ["swf:PollForActivityTask"],
                arn,
                {"StringEquals": {"swf:taskList.name": _worker_task_lists(plan)}},
            ),
            _statement(
                "ReportActivities",
                [
                    "swf:RecordActivityTaskHeartbeat",
                    "swf:RespondActivityTaskCanceled",
                    "swf:RespondActivityTaskCompleted",
                    "swf:RespondActivityTaskFailed",
                ],
                arn,
            ),
        ],
    }
    return _with_payloads(plan, policy)


def starter(plan: FlowPlan) -> Policy:
    arn = domain_arn(plan)
    policy = {
        "Version": VERSION,
        "Statement": [
            _statement(
                "StartThisWorkflow",
                ["swf:StartWorkflowExecution"],
                arn,
                {
                    "StringEquals": {
                        "swf:workflowType.name": plan.workflow,
                        "swf:workflowType.version": plan.version,
                        "swf:taskList.name": plan.task_list,
                    }
                },
            ),
            # `starter --wait` follows the execution it started. IAM has no condition keys for
            # these two, so the domain is their narrowest scope.
            _statement(
                "WaitForExecutions",
                ["swf:DescribeWorkflowExecution", "swf:GetWorkflowExecutionHistory"],
                arn,
            ),
        ],
    }
    return _with_payloads(plan, policy)


def registrar(plan: FlowPlan) -> Policy:
    arn = domain_arn(plan)
    statements = [
        _statement("DescribeTheDomain", ["swf:DescribeDomain"], arn),
        # No resource type: IAM cannot scope RegisterDomain to a domain (see the docstring).
        _statement("RegisterTheDomain", ["swf:RegisterDomain"], "*"),
        _statement(
            "RegisterTheWorkflowType",
            ["swf:RegisterWorkflowType"],
            arn,
            {
                "StringEquals": {
                    "swf:name": _workflow_types(plan),
                    "swf:version": plan.version,
                    "swf:defaultTaskList.name": plan.task_list,
                }
            },
        ),
        # Every version of the workflow type: registration warns when another registered version
        # uses this one's task list, which only DescribeWorkflowType tells.
        _statement(
            "DescribeTheWorkflowType",
            ["swf:DescribeWorkflowType"],
            arn,
            {"StringEquals": {"swf:workflowType.name": _workflow_types(plan)}},
        ),
        # Which other versions are registered; IAM has no condition keys for these two.
        _statement("ListTypes", ["swf:ListActivityTypes", "swf:ListWorkflowTypes"], arn),
    ]
    for index, ((version, task_list), names) in enumerate(_activity_types(plan).items()):
        statements.append(
            _statement(
                f"RegisterActivityTypes{index}",
                ["swf:RegisterActivityType"],
                arn,
                {
                    "StringEquals": {
                        "swf:name": names,
                        "swf:version": version,
                        "swf:defaultTaskList.name": task_list,
                    }
                },
            )
        )
    # Every version of each activity type, as for the workflow type.
    names = sorted({name for group in _activity_types(plan).values() for name in group})
    statements.append(
        _statement(
            "DescribeActivityTypes",
            ["swf:DescribeActivityType"],
            arn,
            {"StringEquals": {"swf:activityType.name": names}},
        )
    )
    return {"Version": VERSION, "Statement": statements}


def operator(plan: FlowPlan) -> Policy:
    arn = domain_arn(plan)
    policy: Policy = {
        "Version": VERSION,
        "Statement": [
            # `status --list`, and finding a workflow id's latest run, always filter by this type.
            _statement(
                "ListThisWorkflowType",
                ["swf:ListClosedWorkflowExecutions", "swf:ListOpenWorkflowExecutions"],
                arn,
                {
                    "StringEquals": {
                        "swf:typeFilter.name": plan.workflow,
                        "swf:typeFilter.version": plan.version,
                    }
                },
            ),
            # `status` reads the history (and its child shards'); IAM has no condition keys here.
            _statement("ReadHistories", ["swf:GetWorkflowExecutionHistory"], arn),
            # Nor for these two: any execution of the domain, by workflow id.
            _statement(
                "CancelAndTerminate",
                ["swf:RequestCancelWorkflowExecution", "swf:TerminateWorkflowExecution"],
                arn,
            ),
        ],
    }
    payloads = payloads_arn(plan)
    if payloads is not None:
        # `status` reads the values kept in S3 (the input, results, shards' inputs) to expand
        # generators and show a failed instance's values; it never writes one.
        policy["Statement"].append(_statement("ReadPayloads", ["s3:GetObject"], payloads))
    return policy


POLICIES = {
    "decider": decider,
    "worker": worker,
    "starter": starter,
    "registrar": registrar,
    "operator": operator,
}
