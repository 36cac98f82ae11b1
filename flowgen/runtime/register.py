"""Registering a plan's domain, workflow types (its own and its shards') and activity types, idempotently.

Every default SWF keeps with a type is set, so no scheduling can fail with
DEFAULT_*_UNDEFINED. A type that exists with other defaults is drift: SWF
cannot change a registered type, so the advice is to bump its version.

Another registered version of the workflow or of an activity type that uses
one of this plan's task lists is warned of: the processes of the two versions
would take each other's tasks. flowgen's default task lists carry the version,
so only task lists a spec names itself can meet this.

Running it again changes nothing and says so. Registrars that race each other
are fine: whoever loses the race to register compares what the winner wrote.

Where endpoints disagree: moto (and any endpoint that leaves
`defaultTaskPriority` out of DescribeActivityType) does not report an activity
type's default priority. SWF documents an unset priority as 0; flowgen's
decider sends every task's priority with the task, so a default priority that
cannot be read is reported as a note, not as drift.

An activity type's default task list is a note, not drift, too: flowgen's
decider names the task list in every ScheduleActivityTask, so the registered
default only serves other deciders. It differs whenever a type outlives the
workflow version that registered it (an activity with a `version` of its own,
or `defaults.version`): the type keeps the first version's derived task list,
and each version's tasks still go to that version's list. Registering is
skipped for a type that exists, so the registrar policy's
`swf:defaultTaskList.name` condition (this version's list) is never tested
against it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .limits import MAX_DESCRIPTION
from .plan import ActivityPlan, FlowPlan

if TYPE_CHECKING:
    from mypy_boto3_swf import SWFClient
    from mypy_boto3_swf.type_defs import ActivityTypeTypeDef, WorkflowTypeTypeDef

# A default SWF applies when a type was registered without one.
IMPLICIT_DEFAULTS = {"defaultTaskPriority": "0"}


@dataclass
class Report:
    """What registration did, line by line, and whether anything drifted."""

    lines: list[str] = field(default_factory=list)
    drift: bool = False
    # Task lists another registered version also uses: not drift (nothing to re-register), but
    # the processes of the two versions would take each other's tasks.
    warnings: int = 0
    registered: int = 0
    unchanged: int = 0

    def summary(self) -> str:
        """One closing line: what changed, or that nothing did."""
        if self.drift:
            return "DRIFT: SWF keeps a registration as it was first made; see the lines above"
        if self.registered == 0:
            line = f"nothing to do: all {self.unchanged} registrations are as the spec says"
        else:
            line = f"registered {self.registered}, {self.unchanged} already as the spec says"
        return line + (f"; {self.warnings} warning(s) above" if self.warnings else "")


def _seconds(value: int | None) -> str:
    return "NONE" if value is None else str(value)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def workflow_defaults(plan: FlowPlan) -> dict[str, Any]:
    return {
        "defaultTaskList": {"name": plan.task_list},
        "defaultExecutionStartToCloseTimeout": str(plan.execution_timeout),
        "defaultTaskStartToCloseTimeout": _seconds(plan.decision_timeout),
        "defaultChildPolicy": plan.child_policy,
    }


def activity_defaults(activity: ActivityPlan) -> dict[str, Any]:
    timeouts = activity.timeouts
    defaults: dict[str, Any] = {
        "defaultTaskList": {"name": activity.task_list},
        "defaultTaskScheduleToStartTimeout": _seconds(timeouts.schedule_to_start),
        "defaultTaskStartToCloseTimeout": _seconds(timeouts.start_to_close),
        "defaultTaskScheduleToCloseTimeout": _seconds(timeouts.schedule_to_close),
        "defaultTaskHeartbeatTimeout": _seconds(timeouts.heartbeat),
    }
    if activity.priority is not None:
        defaults["defaultTaskPriority"] = str(activity.priority)
    return defaults


def _differences(
    wanted: dict[str, Any], found: dict[str, Any], task_list_kept: bool = False
) -> tuple[list[str], list[str]]:
    """(drift, notes): the defaults that differ, and those the endpoint does not report or (with
    `task_list_kept`, for an activity type registered with another default task list) the default
    task list, which the decider overrides on every task it schedules."""
    drift: list[str] = []
    notes: list[str] = []
    for key, value in sorted(wanted.items()):
        if key not in found and key in IMPLICIT_DEFAULTS:
            if value != IMPLICIT_DEFAULTS[key]:
                notes.append(f"this endpoint does not report {key}; the decider sets it on every task")
        elif key == "defaultTaskList" and task_list_kept:
            notes.append(_kept_task_list(found.get(key), value))
        elif found.get(key) != value:
            drift.append(f"{key} is {found.get(key)!r}, the spec says {value!r}")
    return drift, notes


def _kept_task_list(found: Any, wanted: Any) -> str:
    """The note for an activity type registered with another default task list than the spec's."""

    def name(value: Any) -> str:
        named = value.get("name") if isinstance(value, dict) else None
        return named if isinstance(named, str) else repr(value)

    kept = "none" if found is None else name(found)
    return (
        f"it keeps its registered default task list, {kept}, not the spec's {name(wanted)}; flowgen's "
        "decider names the task list on every task it schedules, so nothing breaks"
    )


@dataclass(frozen=True)
class ActivityRegistration:
    """One activity type as the plan registers it: what RegisterActivityType is given, but the domain."""

    name: str
    version: str
    # The defaults SWF keeps with the type: what drift is about.
    defaults: dict[str, Any]
    description: str


def activity_registrations(plan: FlowPlan) -> list[ActivityRegistration]:
    """Every activity type the plan registers: each activity's, and each revert's (with the
    activity's settings). `flowgen validate` compares these across the specs it is given."""
    registrations = []
    for activity in plan.activities:
        for name in (activity.type_name, activity.revert_type):
            if name is not None:
                registrations.append(
                    ActivityRegistration(
                        name,
                        activity.version,
                        activity_defaults(activity),
                        activity.description[:MAX_DESCRIPTION],
                    )
                )
    return registrations


def register(plan: FlowPlan, client: SWFClient, domain: str | None = None) -> Report:
    report = Report()
    domain = domain or plan.domain
    _domain(plan, client, domain, report)
    _workflow_type(plan, client, domain, report)
    # A sharded activity's child executions have a workflow type of their own; their one
    # activity is the sharded activity's type, registered below.
    for shard in plan.shards:
        _workflow_type(shard, client, domain, report)
    for registration in activity_registrations(plan):
        _activity_type(client, domain, registration, report)
    _shared_task_lists(plan, client, domain, report)
    return report


def _domain(plan: FlowPlan, client: SWFClient, domain: str, report: Report) -> None:
    retention = str(plan.domain_retention_days)
    try:
        found = client.describe_domain(name=domain)
    except ClientError as error:
        if _code(error) != "UnknownResourceFault":
            raise
        try:
            client.register_domain(name=domain, workflowExecutionRetentionPeriodInDays=retention)
            report.registered += 1
            report.lines.append(f"domain {domain}: registered, retention {retention} days")
            return
        except ClientError as again:
            if _code(again) != "DomainAlreadyExistsFault":
                raise
            found = client.describe_domain(name=domain)
    problems = []
    status = found["domainInfo"]["status"]
    if status != "REGISTERED":
        problems.append(f"it is {status} (undeprecate it or use another domain)")
    kept = found["configuration"]["workflowExecutionRetentionPeriodInDays"]
    if kept != retention:
        problems.append(
            f"retention is {kept} days, the spec says {retention} "
            "(SWF cannot change it; use another domain or change the spec)"
        )
    if problems:
        report.drift = True
        report.lines.append(f"domain {domain}: DRIFT: {'; '.join(problems)}")
    else:
        report.unchanged += 1
        report.lines.append(f"domain {domain}: already registered, retention {retention} days")


def _workflow_type(plan: FlowPlan, client: SWFClient, domain: str, report: Report) -> None:
    kind: WorkflowTypeTypeDef = {"name": plan.workflow, "version": plan.version}
    wanted = workflow_defaults(plan)
    arguments: dict[str, Any] = {"domain": domain, "name": plan.workflow, "version": plan.version, **wanted}
    if plan.description:
        arguments["description"] = plan.description[:MAX_DESCRIPTION]
    _ensure_type(
        f"workflow type {plan.workflow} {plan.version}",
        lambda: client.describe_workflow_type(domain=domain, workflowType=kind),
        client.register_workflow_type,
        arguments,
        wanted,
        report,
    )


def _activity_type(
    client: SWFClient, domain: str, registration: ActivityRegistration, report: Report
) -> None:
    name, version, wanted = registration.name, registration.version, registration.defaults
    kind: ActivityTypeTypeDef = {"name": name, "version": version}
    arguments: dict[str, Any] = {"domain": domain, "name": name, "version": version, **wanted}
    if registration.description:
        arguments["description"] = registration.description
    _ensure_type(
        f"activity type {name} {version}",
        lambda: client.describe_activity_type(domain=domain, activityType=kind),
        client.register_activity_type,
        arguments,
        wanted,
        report,
        # flowgen's decider names the task list in every ScheduleActivityTask (decider._schedule),
        # so an activity type's registered default matters only to other deciders.
        task_list_on_each_task=True,
    )


def _ensure_type(
    label: str,
    describe: Callable[[], Any],
    register_call: Any,
    arguments: dict[str, Any],
    wanted: dict[str, Any],
    report: Report,
    task_list_on_each_task: bool = False,
) -> None:
    """Register a workflow or activity type unless it exists; compare it with the spec if it does."""
    try:
        found = describe()
    except ClientError as error:
        if _code(error) != "UnknownResourceFault":
            raise
        if _register(register_call, arguments):
            report.registered += 1
            report.lines.append(f"{label}: registered")
            return
        found = describe()
    _compare(
        label,
        wanted,
        dict(found["configuration"]),
        found["typeInfo"]["status"],
        report,
        task_list_on_each_task,
    )


def _register(call: Any, arguments: dict[str, Any]) -> bool:
    """Register a type; False when another registrar got there first (then compare with theirs)."""
    try:
        call(**arguments)
    except ClientError as error:
        if _code(error) != "TypeAlreadyExistsFault":
            raise
        return False
    return True


def _compare(
    label: str,
    wanted: dict[str, Any],
    found: dict[str, Any],
    status: str,
    report: Report,
    task_list_on_each_task: bool = False,
) -> None:
    kept = task_list_on_each_task and found.get("defaultTaskList") != wanted["defaultTaskList"]
    problems, notes = _differences(wanted, found, kept)
    if status != "REGISTERED":
        problems.insert(0, f"it is {status}")
    if problems:
        report.drift = True
        report.lines.append(f"{label}: DRIFT: {'; '.join(problems)}; bump the version in the spec")
        return
    report.unchanged += 1
    line = f"{label}: already registered" + ("" if kept else " as the spec says")
    if notes:
        line += f" (note: {'; '.join(notes)})"
    report.lines.append(line)


def _other_versions(
    list_call: Callable[..., Any], key: str, names: dict[str, str], **arguments: Any
) -> list[tuple[str, str]]:
    """(name, version) of every registered type named in `names` with a version other than its own."""
    found = []
    page: dict[str, Any] = {}
    while True:
        page = list_call(registrationStatus="REGISTERED", **arguments, **page)
        for info in page["typeInfos"]:
            kind = info[key]
            # Filtered here as well: not every endpoint applies ListWorkflowTypes' `name`.
            if kind["name"] in names and kind["version"] != names[kind["name"]]:
                found.append((kind["name"], kind["version"]))
        if not page.get("nextPageToken"):
            return sorted(found)
        page = {"nextPageToken": page["nextPageToken"]}


def _shared_task_lists(plan: FlowPlan, client: SWFClient, domain: str, report: Report) -> None:
    """Warn when another registered version of the workflow or of an activity type uses one of
    this plan's task lists: its decider or workers would take this version's tasks, and these
    the other's, and each leaves the other's to time out or fails them.

    flowgen's default task lists carry the version, so this happens only with task lists a spec
    names itself (docs/running-on-swf.md#rolling-out-a-new-version)."""
    advice = "give each version task lists of its own (flowgen's defaults carry the version)"
    others = _other_versions(
        client.list_workflow_types,
        "workflowType",
        {plan.workflow: plan.version},
        domain=domain,
        name=plan.workflow,
    )
    for name, version in others:
        kind = client.describe_workflow_type(domain=domain, workflowType={"name": name, "version": version})
        if kind["configuration"].get("defaultTaskList", {}).get("name") == plan.task_list:
            report.warnings += 1
            report.lines.append(
                f"workflow type {plan.workflow} {plan.version}: warning: version {version} also uses the "
                f"decider task list {plan.task_list}, so the deciders of each take the other's decision "
                f"tasks and leave them to time out; {advice}"
            )
    ours = {a.type_name: a.version for a in plan.activities}
    ours.update({a.revert_type: a.version for a in plan.activities if a.revert_type is not None})
    task_lists = {a.task_list for a in plan.activities}
    for name, version in _other_versions(client.list_activity_types, "activityType", ours, domain=domain):
        found = client.describe_activity_type(domain=domain, activityType={"name": name, "version": version})
        task_list = found["configuration"].get("defaultTaskList", {}).get("name")
        if task_list in task_lists:
            report.warnings += 1
            report.lines.append(
                f"activity type {name} {ours[name]}: warning: version {version} also uses the task list "
                f"{task_list}, so the workers of each take the other's tasks and fail them; {advice}"
            )
