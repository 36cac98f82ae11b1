"""Stage 4, plan: a checked spec to the immutable `FlowPlan` the runtime executes.

Templates and the runtime read only the plan; every default and every
reference was decided here, once.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from flowgen.check import Checked
from flowgen.check.effective import TIMEOUT_KEYS, decider_task_list
from flowgen.runtime import plan as p
from flowgen.runtime.ids import revert_type_name
from flowgen.runtime.payloads import split_location
from flowgen.runtime.plan import TypeRef, revert_shard_type_name, shard_type_name
from flowgen.spec.models import (
    DateRangeSource,
    GeneratorSource,
    ItemsSource,
    LiteralValue,
    Payloads,
    RangeSource,
)
from flowgen.spec.references import Reference, parse_reference

DAY = 86400
ANY = TypeRef("any")
NONE = TypeRef("none")
# A shard plan's one axis: the instance input objects it was given.
SHARD_AXIS = "item"


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
                shard_size=checked.shard_sizes.get(name),
            )
        )
    parent = p.FlowPlan(
        domain=spec.domain,
        domain_retention_days=spec.domain_retention // DAY,
        workflow=workflow.name,
        version=workflow.version,
        description=workflow.description or "",
        task_list=decider_task_list(spec),
        execution_timeout=workflow.execution_timeout,
        decision_timeout=_seconds(workflow.decision_timeout),
        child_policy=workflow.child_policy,
        on_cancel=workflow.on_cancel,
        tags=tuple(workflow.tags),
        input=tuple((key, t) for key, t in workflow.input.items()),
        result=tuple((key, _source(value)) for key, value in workflow.result.items()),
        result_types=tuple((key, t) for key, t in checked.analysis.result.items()),
        activities=tuple(activities),
        aws_partition=spec.aws_partition,
        payloads=_payloads(spec.payloads),
    )
    shards: list[p.FlowPlan] = []
    for planned in parent.activities:
        if planned.shard_size is not None:
            shards.append(shard_plan(parent, planned))
            if planned.revert is not None:
                shards.append(revert_shard_plan(parent, planned))
    return dataclasses.replace(parent, shards=tuple(shards)) if shards else parent


def shard_plan(parent: p.FlowPlan, activity: p.ActivityPlan) -> p.FlowPlan:
    """The child workflow that runs a slice of a sharded activity's instances.

    Its input is the list of those instances' input objects, which the parent resolved in
    generator order; its one activity is the sharded one (same type, handler and policies),
    generated over that list; its result is the list of the instances' outputs, in order."""
    assert activity.shard_size is not None
    items = p.Source(p.INPUT, p.SHARD_INPUT)
    output = p.TypeRef("record", name=activity.name, fields=activity.outputs) if activity.outputs else NONE
    if activity.continue_on_failure:
        output = output.optional()
    inner = dataclasses.replace(
        activity,
        requires=(),
        generators=(p.Generator(axis=SHARD_AXIS, kind="source", element=ANY, source=items),),
        inputs=tuple((key, p.Source(p.ITEM, SHARD_AXIS, field=key)) for key, _ in activity.inputs),
        max_items=activity.shard_size,
        max_concurrency=activity.shard_share,
        shard_size=None,
    )
    return dataclasses.replace(
        parent,
        workflow=shard_type_name(parent.workflow, activity.name),
        description=f"A shard of {parent.workflow}: some of the instances of {activity.name}.",
        input=((p.SHARD_INPUT, p.TypeRef("list", ANY)),),
        result=((p.SHARD_RESULT, p.Source(p.EACH, activity.name)),),
        result_types=((p.SHARD_RESULT, p.TypeRef("list", output)),),
        activities=(inner,),
        shards=(),
    )


def revert_shard_plan(parent: p.FlowPlan, activity: p.ActivityPlan) -> p.FlowPlan:
    """The child workflow that reverts one completed shard of a sharded activity with a revert.

    Its input is the list of the shard's completed instances, last first, each `{"input": ...,
    "result": ...}` as the parent read them; its one activity runs the revert once per item, as
    the parent runs an unsharded revert (same activity type, task list, timeouts and retry), and
    goes on past a revert that fails for good: the shard fails at the end, saying how many did."""
    assert activity.shard_size is not None and activity.revert is not None
    items = p.Source(p.INPUT, p.SHARD_INPUT)
    inner = dataclasses.replace(
        activity,
        type_name=revert_type_name(activity.type_name),
        requires=(),
        generators=(p.Generator(axis=SHARD_AXIS, kind="source", element=ANY, source=items),),
        inputs=(),
        max_items=activity.shard_size,
        max_concurrency=activity.shard_share,
        continue_on_failure=True,
        revert=None,
        shard_size=None,
        reverting=True,
    )
    return dataclasses.replace(
        parent,
        workflow=revert_shard_type_name(parent.workflow, activity.name),
        description=f"A revert of a shard of {parent.workflow}: reverts some of the instances of {activity.name}.",
        input=((p.SHARD_INPUT, p.TypeRef("list", ANY)),),
        result=(),
        result_types=(),
        activities=(inner,),
        shards=(),
    )


def _payloads(payloads: Payloads | None) -> p.PayloadsPlan | None:
    if payloads is None:
        return None
    bucket, prefix = split_location(payloads.s3)
    return p.PayloadsPlan(bucket=bucket, prefix=prefix, threshold=payloads.threshold)


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
