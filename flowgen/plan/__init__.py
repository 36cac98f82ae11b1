"""Stage 4, plan: a checked spec to the immutable `FlowPlan` the runtime executes.

Templates and the runtime read only the plan; every default and every
reference was decided here, once.
"""

from __future__ import annotations

from typing import Literal

from flowgen.check import Checked
from flowgen.check.effective import TIMEOUT_KEYS, decider_task_list
from flowgen.runtime import plan as p
from flowgen.runtime.plan import TypeRef
from flowgen.spec.models import (
    DateRangeSource,
    GeneratorSource,
    ItemsSource,
    LiteralValue,
    RangeSource,
)
from flowgen.spec.references import Reference, parse_reference

DAY = 86400


def build_plan(checked: Checked) -> p.FlowPlan:
    spec = checked.spec
    workflow = spec.workflow
    activities = []
    for name in checked.order:
        activity = spec.activities[name]
        settings = checked.settings[name]
        typing = checked.analysis.activities[name]
        retry = settings.retry
        activities.append(
            p.ActivityPlan(
                name=name,
                type_name=checked.type_names[name],
                version=settings.version,
                task_list=settings.task_list,
                handler=activity.handler,
                external=activity.external,
                description=activity.description or "",
                requires=tuple(activity.requires),
                generators=tuple(
                    _generator(axis, source, typing.axes[index].element)
                    for index, (axis, source) in enumerate(activity.generators.items())
                ),
                max_items=activity.max_items,
                max_concurrency=activity.max_concurrency,
                inputs=tuple((key, _source(value)) for key, value in activity.inputs.items()),
                input_types=tuple((key, t) for key, t in typing.inputs.items()),
                outputs=tuple((key, t) for key, t in activity.outputs.items()),
                timeouts=p.Timeouts(**{key: _seconds(settings.timeouts[key]) for key in TIMEOUT_KEYS}),
                retry=p.RetryPolicy(
                    max_retries=retry.max_retries,
                    interval=retry.interval,
                    backoff_rate=float(retry.backoff_rate),
                    max_interval=retry.max_interval,
                    jitter=retry.jitter,
                    errors=None if retry.errors is None else tuple(retry.errors),
                ),
                priority=settings.priority,
                continue_on_failure=activity.on_failure == "continue",
                revert=activity.revert,
            )
        )
    return p.FlowPlan(
        domain=spec.domain,
        domain_retention_days=spec.domain_retention // DAY,
        workflow=workflow.name,
        version=workflow.version,
        description=workflow.description or "",
        task_list=decider_task_list(spec),
        execution_timeout=workflow.execution_timeout,
        decision_timeout=_seconds(workflow.decision_timeout),
        child_policy=workflow.child_policy,
        tags=tuple(workflow.tags),
        input=tuple((key, t) for key, t in workflow.input.items()),
        result=tuple((key, _source(value)) for key, value in workflow.result.items()),
        result_types=tuple((key, t) for key, t in checked.analysis.result.items()),
        activities=tuple(activities),
        aws_partition=spec.aws_partition,
    )


def _seconds(value: int | Literal["none"]) -> int | None:
    return None if value == "none" else int(value)


def _source(value: Reference | LiteralValue) -> p.Source:
    if isinstance(value, LiteralValue):
        return p.Source(p.LITERAL, value=value.value)
    if value.is_input:
        return p.Source(p.INPUT, value.field or "")
    if value.is_generator:
        return p.Source(p.AXIS, value.field or "")
    return p.Source(p.EACH if value.each else p.OUTPUT, value.root, value.field)


def _generator(axis: str, source: GeneratorSource, element: TypeRef) -> p.Generator:
    if isinstance(source, Reference):
        return p.Generator(axis, "source", element, source=_source(source))
    if isinstance(source, ItemsSource):
        return p.Generator(axis, "items", element, items=tuple(source.items))
    if isinstance(source, RangeSource):
        return p.Generator(axis, "range", element, range=tuple(source.range))
    assert isinstance(source, DateRangeSource)
    return p.Generator(
        axis,
        "date_range",
        element,
        start=_date_end(source.date_range.start),
        end=_date_end(source.date_range.end),
    )


def _date_end(text: str) -> p.Source:
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        return p.Source(p.LITERAL, value=text)
    return _source(parse_reference(text))
