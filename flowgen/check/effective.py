"""What each activity ends up with once defaults and flowgen's own defaults apply.

An activity's key wins over `defaults`; `timeouts` merge key by key; `retry`
replaces the default policy whole. Each value keeps the path it came from, so
a problem is reported where the user wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

from flowgen.diagnostics import Path
from flowgen.spec.durations import NO_LIMIT
from flowgen.spec.models import Retry, Spec

TimeoutValue = Union[int, Literal["none"]]
TIMEOUT_KEYS = ("schedule_to_start", "start_to_close", "schedule_to_close", "heartbeat")
# flowgen's own defaults where neither the activity nor `defaults` says (see docs/spec-language.md).
BUILTIN_TIMEOUTS: dict[str, TimeoutValue] = {
    "schedule_to_start": 600,
    "start_to_close": 600,
    "heartbeat": NO_LIMIT,
}


@dataclass(frozen=True)
class Effective:
    """An activity's settings with every default applied."""

    name: str
    task_list: str
    version: str
    priority: int | None
    timeouts: dict[str, TimeoutValue]
    # Where each time-out was written; None for flowgen's own defaults.
    timeout_paths: dict[str, Path | None]
    retry: Retry
    retry_path: Path | None


# The task lists flowgen derives carry the workflow's version, so that during a rollout no task of
# one version reaches a decider or worker of another (docs/running-on-swf.md#rolling-out-a-new-version).
# The separators keep the parts apart: a derived name is never the literal "arn", and it has no
# character the workflow's name and version could not have.


def versioned(spec: Spec) -> str:
    """`WORKFLOW-vVERSION`, the stem of every task list flowgen derives."""
    return f"{spec.workflow.name}-v{spec.workflow.version}"


def decider_task_list(spec: Spec) -> str:
    return spec.workflow.task_list or versioned(spec)


def default_task_list(spec: Spec) -> str:
    """The Python activities' task list when neither the activity nor `defaults` names one."""
    return f"{versioned(spec)}-activities"


def external_task_list(spec: Spec) -> str:
    """An external activity's task list when it names none: never one the Python worker polls."""
    return f"{versioned(spec)}-external"


def task_list_path(spec: Spec, name: str) -> Path | None:
    """Where an activity's task list was written, or None when flowgen derived it."""
    activity = spec.activities[name]
    if activity.task_list is not None:
        return ("activities", name, "task_list")
    if not activity.external and spec.defaults.task_list is not None:
        return ("defaults", "task_list")
    return None


def effective(spec: Spec, name: str) -> Effective:
    activity = spec.activities[name]
    defaults = spec.defaults
    own = ("activities", name)
    timeouts: dict[str, TimeoutValue] = {}
    paths: dict[str, Path | None] = {}
    for key in TIMEOUT_KEYS:
        value: TimeoutValue | None = None
        path: Path | None = None
        for source, where in ((activity.timeouts, own), (defaults.timeouts, ("defaults",))):
            if source is not None and getattr(source, key) is not None:
                value, path = getattr(source, key), where + ("timeouts", key)
                break
        if value is None and key in BUILTIN_TIMEOUTS:
            value = BUILTIN_TIMEOUTS[key]
        if value is not None:
            timeouts[key], paths[key] = value, path
    if "schedule_to_close" not in timeouts:
        start, run = timeouts["schedule_to_start"], timeouts["start_to_close"]
        if isinstance(start, int) and isinstance(run, int):
            timeouts["schedule_to_close"] = start + run
        else:
            timeouts["schedule_to_close"] = NO_LIMIT
        paths["schedule_to_close"] = None
    retry_path: Path | None
    if activity.retry is not None:
        retry, retry_path = activity.retry, own + ("retry",)
    elif defaults.retry is not None:
        retry, retry_path = defaults.retry, ("defaults", "retry")
    else:
        retry, retry_path = Retry(), None
    return Effective(
        name=name,
        task_list=_task_list(spec, name),
        version=activity.version or defaults.version or spec.workflow.version,
        priority=activity.priority if activity.priority is not None else defaults.priority,
        timeouts={key: timeouts[key] for key in TIMEOUT_KEYS},
        timeout_paths={key: paths[key] for key in TIMEOUT_KEYS},
        retry=retry,
        retry_path=retry_path,
    )


def _task_list(spec: Spec, name: str) -> str:
    activity = spec.activities[name]
    if activity.task_list is not None:
        return activity.task_list
    # `defaults.task_list` is where the Python activities go: an external activity that followed it
    # would be taken, and failed, by the generated worker.
    if activity.external:
        return external_task_list(spec)
    return spec.defaults.task_list or default_task_list(spec)
