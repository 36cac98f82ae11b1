"""Stage 3, check: the semantic rules of SPEC.md over a structurally valid `Spec`.

Each module holds one family of rules and returns diagnostics; this module runs
them all, so every problem is reported at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flowgen.check.activities import check_activities, check_package_name
from flowgen.check.budget import (
    EVENTS_PER_ATTEMPT,
    WORKFLOW_EVENTS,
    check_critical_path,
    plan_budget,
)
from flowgen.check.effective import Effective, effective
from flowgen.check.graph import check_requires, topological_order, upstream
from flowgen.check.references import Analysis, analyse
from flowgen.check.task_lists import check_task_lists
from flowgen.check.timeouts import check_activity_timeouts, check_workflow_durations
from flowgen.check.typenames import activity_type_names, check_type_names
from flowgen.diagnostics import Diagnostic
from flowgen.runtime.limits import HISTORY_LIMIT
from flowgen.spec.models import Spec

MAX_ACTIVITIES = (HISTORY_LIMIT - WORKFLOW_EVENTS) // EVENTS_PER_ATTEMPT


@dataclass(frozen=True)
class Checked:
    """A spec with what the checks learned about it (the plan is built from this)."""

    spec: Spec
    order: list[str]
    upstream: dict[str, set[str]]
    settings: dict[str, Effective]
    analysis: Analysis
    # Activity name -> its SWF activity type name.
    type_names: dict[str, str]
    # Each sharded activity's shard size (flowgen.check.budget decides which and how large).
    shard_sizes: dict[str, int] = field(default_factory=dict)


def check(spec: Spec) -> tuple[Checked, list[Diagnostic]]:
    if len(spec.activities) > MAX_ACTIVITIES:
        # Every activity costs at least EVENTS_PER_ATTEMPT events; the graph checks below are
        # quadratic, so a hostile spec of many thousand activities stops here.
        too_many = Diagnostic(
            ("activities",),
            f"{len(spec.activities):,} activities cannot run in one workflow: even once each, they need more "
            f"than SWF's {HISTORY_LIMIT:,} history events (at most {MAX_ACTIVITIES:,} activities); "
            "split the workflow",
            at_key=True,
        )
        empty = Checked(
            spec=spec, order=[], upstream={}, settings={}, analysis=Analysis({}, {}), type_names={}
        )
        return empty, [too_many]
    diagnostics = check_requires(spec)
    order = topological_order(spec)
    ups = upstream(spec)
    settings = {name: effective(spec, name) for name in spec.activities}
    analysis, found = analyse(spec, ups, order)
    diagnostics += found
    diagnostics += check_package_name(spec)
    diagnostics += check_activities(spec, analysis)
    diagnostics += check_task_lists(spec, settings)
    diagnostics += check_type_names(spec)
    diagnostics += check_workflow_durations(spec)
    diagnostics += check_activity_timeouts(spec, settings)
    budget = plan_budget(spec, analysis, settings)
    diagnostics += budget.diagnostics
    if not any(d.is_error for d in diagnostics):
        diagnostics += check_critical_path(spec, analysis, settings, order)
    checked = Checked(
        spec=spec,
        order=order,
        upstream=ups,
        settings=settings,
        analysis=analysis,
        shard_sizes=budget.shard_sizes,
        type_names=activity_type_names(spec),
    )
    return checked, diagnostics
