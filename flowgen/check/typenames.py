"""Activity type names: `WORKFLOW.ACTIVITY` unless `type_name` says otherwise, within SWF's limits.

SWF scopes activity types per domain, so the default names carry the workflow's name: flows that
share a domain and an activity key still register types of their own. `type_name` names a type
that exists already or that another language's worker registers. Within one workflow each
activity, and each revert, needs a type of its own: the worker finds what to run by the type.
"""

from __future__ import annotations

from flowgen.diagnostics import Diagnostic, Path, show
from flowgen.runtime.ids import default_type_name, revert_type_name
from flowgen.runtime.limits import MAX_NAME
from flowgen.spec.models import Spec


def activity_type_names(spec: Spec) -> dict[str, str]:
    """Activity name -> the name of its SWF activity type (a revert's adds `.revert`)."""
    return {
        name: activity.type_name or default_type_name(spec.workflow.name, name)
        for name, activity in spec.activities.items()
    }


def check_type_names(spec: Spec) -> list[Diagnostic]:
    diagnostics: list[Diagnostic] = []
    names = activity_type_names(spec)
    # type name -> (activity, is a revert), the first to use it
    used: dict[str, tuple[str, bool]] = {}
    for name, activity in spec.activities.items():
        explicit = activity.type_name is not None
        where: Path = ("activities", name, "type_name") if explicit else ("activities", name)
        own = names[name]
        kinds = [(own, False)] + ([(revert_type_name(own), True)] if activity.revert is not None else [])
        for type_name, revert in kinds:
            what = "the revert's activity type name" if revert else "the activity type name"
            if len(type_name) > MAX_NAME:
                fix = "shorten it" if explicit else "shorten the workflow or activity name, or set type_name"
                diagnostics.append(
                    Diagnostic(
                        where,
                        f"{what} {show(type_name, 40)} would be {len(type_name)} characters; "
                        f"SWF allows {MAX_NAME}: {fix}",
                        at_key=not explicit,
                    )
                )
                continue
            first = used.setdefault(type_name, (name, revert))
            if first == (name, revert):
                continue
            other, other_revert = first
            here, there = (name, revert), (other, other_revert)
            # Report where a type_name was written: that is what to change.
            if not explicit and spec.activities[other].type_name is not None:
                here, there = there, here
            at = ("activities", here[0])
            diagnostics.append(
                Diagnostic(
                    at if spec.activities[here[0]].type_name is None else at + ("type_name",),
                    f"{'the revert of ' if here[1] else ''}activity {here[0]} and "
                    f"{'the revert of ' if there[1] else ''}activity {there[0]} both have the activity "
                    f"type {show(type_name)}: the worker tells what to run by the type, so each activity "
                    "and revert needs its own; change type_name",
                    at_key=spec.activities[here[0]].type_name is None,
                )
            )
    return diagnostics
