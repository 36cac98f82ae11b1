"""Least-privilege IAM policies for the four roles around one workflow.

Each policy is scoped to the domain's ARN and, through SWF's IAM condition
keys, to the spec's task lists, activity types and workflow type. The one
exception is swf:RegisterDomain, which IAM cannot scope to a domain: it has no
resource type in the Service Authorization Reference, and SWF's API reference
says "You cannot use an IAM policy to control domain access for this action".
A statement on the domain's ARN would never allow it, so it gets "*", alone.

The ScheduleActivityTask decision's conditions (swf:activityType.name,
swf:activityType.version, swf:taskList.name) are documented in SWF's API
reference (ScheduleActivityTaskDecisionAttributes) but not in the Service
Authorization Reference, so linters built on the latter (parliament) call them
unknown; tests/test_iam.py allows exactly those findings.

SWF names may hold `*`, `?` and `$`, which IAM reads as wildcards and policy
variables; every name goes through `literal`, so a domain called `team*` is
that one domain and not every domain whose name starts with "team".
"""

from __future__ import annotations

import re
from typing import Any

from flowgen.runtime.ids import revert_type_name
from flowgen.runtime.plan import FlowPlan

Policy = dict[str, Any]
VERSION = "2012-10-17"  # policy variables, and so ${*}, ${?} and ${$}, need this version
_SPECIAL = re.compile(r"[*?$]")


def literal(text: str) -> str:
    """`text` as IAM matches it, character for character: `*`, `?` and `$` become the
    policy variables ${*}, ${?} and ${$} that IAM defines for them."""
    return _SPECIAL.sub(lambda match: "${" + match.group() + "}", text)


def domain_arn(plan: FlowPlan) -> str:
    # Region and account are left open: the domain name is what scopes it.
    return f"arn:aws:swf:*:*:/domain/{literal(plan.domain)}"


def _activity_types(plan: FlowPlan) -> dict[str, list[str]]:
    """Version -> activity type names (reverts included), sorted."""
    by_version: dict[str, set[str]] = {}
    for activity in plan.activities:
        names = by_version.setdefault(activity.version, set())
        names.add(activity.name)
        if activity.revert:
            names.add(revert_type_name(activity.name))
    return {version: sorted(names) for version, names in sorted(by_version.items())}


def _activity_task_lists(plan: FlowPlan, include_external: bool = True) -> list[str]:
    return sorted({a.task_list for a in plan.activities if include_external or not a.external})


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
    for index, (version, names) in enumerate(_activity_types(plan).items()):
        statements.append(
            _statement(
                f"ScheduleActivities{index}",
                ["swf:ScheduleActivityTask"],
                arn,
                {
                    "StringEquals": {
                        "swf:activityType.name": names,
                        "swf:activityType.version": version,
                        "swf:taskList.name": _activity_task_lists(plan),
                    }
                },
            )
        )
    return {"Version": VERSION, "Statement": statements}


def worker(plan: FlowPlan) -> Policy:
    arn = domain_arn(plan)
    return {
        "Version": VERSION,
        "Statement": [
            _statement(
                "PollActivities",
                ["swf:PollForActivityTask"],
                arn,
                {"StringEquals": {"swf:taskList.name": _activity_task_lists(plan, include_external=False)}},
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


def starter(plan: FlowPlan) -> Policy:
    return {
        "Version": VERSION,
        "Statement": [
            _statement(
                "StartThisWorkflow",
                ["swf:StartWorkflowExecution"],
                domain_arn(plan),
                {
                    "StringEquals": {
                        "swf:workflowType.name": plan.workflow,
                        "swf:workflowType.version": plan.version,
                        "swf:taskList.name": plan.task_list,
                    }
                },
            )
        ],
    }


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
            {"StringEquals": {"swf:name": plan.workflow, "swf:version": plan.version}},
        ),
        _statement(
            "DescribeTheWorkflowType",
            ["swf:DescribeWorkflowType"],
            arn,
            {
                "StringEquals": {
                    "swf:workflowType.name": plan.workflow,
                    "swf:workflowType.version": plan.version,
                }
            },
        ),
    ]
    for index, (version, names) in enumerate(_activity_types(plan).items()):
        statements.append(
            _statement(
                f"RegisterActivityTypes{index}",
                ["swf:RegisterActivityType"],
                arn,
                {"StringEquals": {"swf:name": names, "swf:version": version}},
            )
        )
        statements.append(
            _statement(
                f"DescribeActivityTypes{index}",
                ["swf:DescribeActivityType"],
                arn,
                {"StringEquals": {"swf:activityType.name": names, "swf:activityType.version": version}},
            )
        )
    return {"Version": VERSION, "Statement": statements}


POLICIES = {"decider": decider, "worker": worker, "starter": starter, "registrar": registrar}
