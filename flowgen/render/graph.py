"""`flowgen graph`: the flow as a Mermaid diagram (generators, retries and reverts shown)."""

from __future__ import annotations

from flowgen.runtime.plan import ActivityPlan, FlowPlan
from flowgen.spec.durations import format_duration


def _label(activity: ActivityPlan) -> str:
    lines = [activity.name]
    if activity.generators:
        lines.append("for each " + " × ".join(g.axis for g in activity.generators))
    retry = activity.retry
    if retry.max_retries:
        text = f"retry {retry.max_retries}"
        if retry.interval:
            text += f" after {format_duration(retry.interval)}"
            if retry.backoff_rate != 1.0 and retry.max_retries > 1:
                text += f" ×{retry.backoff_rate:g}"
        lines.append(text)
    if activity.continue_on_failure:
        lines.append("on failure: continue")
    if activity.external:
        lines.append("external")
    # Names are Python identifiers and the rest is ours, so nothing needs escaping.
    return "<br/>".join(lines)


def mermaid(plan: FlowPlan) -> str:
    # Node ids are positions, so no activity name can collide with a revert node.
    ids = {activity.name: f"a{index}" for index, activity in enumerate(plan.activities)}
    lines = ["flowchart TD"]
    for index, activity in enumerate(plan.activities):
        label, node = _label(activity), ids[activity.name]
        if activity.generators:
            lines.append(f'    {node}[["{label}"]]')
        elif activity.external:
            lines.append(f'    {node}[/"{label}"/]')
        else:
            lines.append(f'    {node}["{label}"]')
        if activity.revert:
            lines.append(f'    r{index}(["revert {activity.name}"])')
    for index, activity in enumerate(plan.activities):
        for required in activity.requires:
            lines.append(f"    {ids[required]} --> {ids[activity.name]}")
        if activity.revert:
            lines.append(f"    {ids[activity.name]} -. on workflow failure .-> r{index}")
    return "\n".join(lines)
