"""Sharded generators, the compiler's side: the plan's shard fields, the shard size and the parent's
history budget with shards counted, the shard plans, their registration and IAM grants."""

from __future__ import annotations

import dataclasses

from flowgen.runtime import plan as p
from flowgen.runtime.limits import MAX_OPEN_CHILDREN


def _activity(name: str, **changes: object) -> p.ActivityPlan:
    base = p.ActivityPlan(
        name=name,
        version="1.0",
        task_list="tl",
        handler="pkg.mod:fn",
        external=False,
        description="",
        requires=(),
        generators=(),
        max_items=None,
        max_concurrency=0,
        inputs=(),
        input_types=(),
        outputs=(("n", p.TypeRef("int")),),
        timeouts=p.Timeouts(60, 60, 120, None),
        retry=p.RetryPolicy(),
        priority=None,
        continue_on_failure=False,
        revert=None,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _flow(activities: tuple[p.ActivityPlan, ...], shards: tuple[p.FlowPlan, ...] = ()) -> p.FlowPlan:
    return p.FlowPlan(
        domain="dev",
        domain_retention_days=30,
        workflow="wf",
        version="1.0",
        description="",
        task_list="wf",
        execution_timeout=3600,
        decision_timeout=30,
        child_policy="TERMINATE",
        tags=(),
        input=(("xs", p.TypeRef("list", p.TypeRef("int"))),),
        result=(),
        result_types=(),
        activities=activities,
        aws_partition="aws",
        shards=shards,
    )


def _hand_built_sharded_plan() -> p.FlowPlan:
    item = p.Generator(axis="x", kind="source", element=p.TypeRef("int"), source=p.Source(p.INPUT, "xs"))
    parent = _activity(
        "fan",
        generators=(item,),
        max_items=100,
        max_concurrency=10,
        inputs=(("x", p.Source(p.AXIS, "x")),),
        input_types=(("x", p.TypeRef("int")),),
        shard_size=40,
    )
    child = dataclasses.replace(
        parent,
        generators=(
            p.Generator(
                axis="item", kind="source", element=p.TypeRef("any"), source=p.Source(p.INPUT, "items")
            ),
        ),
        inputs=(("x", p.Source(p.ITEM, "item", field="x")),),
        max_items=40,
        max_concurrency=parent.shard_share,
        shard_size=None,
    )
    shard = dataclasses.replace(
        _flow((child,)),
        workflow="wf.fan",
        input=((p.SHARD_INPUT, p.TypeRef("list", p.TypeRef("any"))),),
        result=((p.SHARD_RESULT, p.Source(p.EACH, "fan")),),
        result_types=((p.SHARD_RESULT, p.TypeRef("list", p.TypeRef("any"))),),
    )
    return _flow((parent,), (shard,))


def test_plan_round_trips_with_shards() -> None:
    plan = _hand_built_sharded_plan()
    again = p.FlowPlan.from_data(plan.to_data())
    assert again == plan
    assert again.activity("fan").shard_size == 40
    assert again.shards[0].activities[0].inputs == (("x", p.Source(p.ITEM, "item", field="x")),)
    assert again.shard_plan("fan").workflow == "wf.fan"
    assert set(again.workflow_plans()) == {"wf", "wf.fan"}
    assert again.workflow_plans()["wf.fan"] is again.shards[0]


def test_unsharded_plan_data_has_no_shard_keys_and_older_data_reads_as_unsharded() -> None:
    plan = _flow((_activity("one"),))
    data = plan.to_data()
    assert "shards" not in data and "shard_size" not in data["activities"][0]
    again = p.FlowPlan.from_data(data)
    assert again.shards == () and again.activities[0].shard_size is None


def test_shard_concurrency_keeps_max_concurrency_across_all_shards() -> None:
    # Share per shard min(max_concurrency, shard_size); open shards so that their product stays within.
    assert (_activity("a", max_concurrency=10, shard_size=40).shard_share, 10) == (10, 10)
    assert _activity("a", max_concurrency=10, shard_size=40).open_shards == 1
    assert _activity("a", max_concurrency=100, shard_size=40).shard_share == 40
    assert _activity("a", max_concurrency=100, shard_size=40).open_shards == 2
    assert _activity("a", max_concurrency=100, shard_size=30).open_shards == 3
    # 0 is no limit, as in a spec: each shard unlimited, as many shards open as SWF allows.
    assert _activity("a", max_concurrency=0, shard_size=40).shard_share == 0
    assert _activity("a", max_concurrency=0, shard_size=40).open_shards == MAX_OPEN_CHILDREN
