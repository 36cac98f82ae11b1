"""Task lists: the names flowgen derives fit SWF, and external activities stay off the worker's lists."""

from __future__ import annotations

from flowgen.check.effective import (
    Effective,
    decider_task_list,
    external_task_list,
    task_list_path,
)
from flowgen.diagnostics import Diagnostic, Severity, show
from flowgen.runtime.limits import MAX_NAME
from flowgen.spec.models import Spec


def check_task_lists(spec: Spec, settings: dict[str, Effective]) -> list[Diagnostic]:
    diagnostics: list[Diagnostic] = []
    # task list -> (whose it is, the key that would name it instead)
    derived: dict[str, tuple[str, str]] = {}
    if spec.workflow.task_list is None:
        derived[decider_task_list(spec)] = ("the decider's task list", "workflow.task_list")
    for name, activity in spec.activities.items():
        if task_list_path(spec, name) is None:
            if activity.external:
                role = ("the external activities' task list", "task_list on each external activity")
            else:
                role = ("the activities' task list", "defaults.task_list")
            derived.setdefault(settings[name].task_list, role)
    for task_list, (whose, key) in derived.items():
        if len(task_list) > MAX_NAME:
            # The version is part of every derived name: too long a name and version is refused
            # here, where both were written, rather than by SWF at registration.
            suffix = task_list[len(spec.workflow.name) :]
            diagnostics.append(
                Diagnostic(
                    ("workflow", "name"),
                    f"{whose}, which flowgen derives as the workflow name followed by {show(suffix)}, "
                    f"would be {len(task_list)} characters; SWF allows {MAX_NAME}: shorten the "
                    f"workflow's name or version, or set {key}",
                )
            )
    diagnostics += _external_on_worker_lists(spec, settings)
    return diagnostics


def _external_on_worker_lists(spec: Spec, settings: dict[str, Effective]) -> list[Diagnostic]:
    """A warning for each external activity on a task list that the generated worker polls."""
    python: dict[str, list[str]] = {}
    for name, activity in spec.activities.items():
        if not activity.external:
            python.setdefault(settings[name].task_list, []).append(name)
    found = []
    for name, activity in spec.activities.items():
        task_list = settings[name].task_list
        if not activity.external or task_list not in python:
            continue
        others = python[task_list]
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        path = task_list_path(spec, name)
        found.append(
            Diagnostic(
                path or ("activities", name),
                f"external activity {name} is scheduled on task list {show(task_list)}, which the "
                f"generated worker polls for {shown}: it takes {name}'s tasks and fails them "
                f"(UnknownActivityType); give {name} a task list of its own (or leave out task_list: "
                f"flowgen's default for external activities is {show(external_task_list(spec))})",
                severity=Severity.WARNING,
                at_key=path is None,
            )
        )
    return found
