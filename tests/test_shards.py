"""Sharded generators, the compiler's side: the plan's shard fields, the shard size and the parent's
history budget with shards counted, the shard plans, their registration and IAM grants."""

from __future__ import annotations

import dataclasses
import importlib
import math
import pathlib
import sys

import pytest

from flowgen.check.budget import Cost, default_shard_size, shard_events, worst_case_events
from flowgen.compiler import Compiled, compile_spec
from flowgen.diagnostics import Severity
from flowgen.plan import build_plan
from flowgen.runtime import plan as p
from flowgen.runtime.limits import HISTORY_ADVICE, MAX_OPEN_CHILDREN

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _activity(name: str, **changes: object) -> p.ActivityPlan:
    base = p.ActivityPlan(
        name=name,
        type_name=f"wf.{name}",
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


# -- the shard size and the parent's budget (flowgen/check/budget.py) -----------------------


def test_default_shard_size_is_the_largest_within_the_advice() -> None:
    # country_flow's activity_2: 4 attempts, 3 retries that wait: 39 events an instance.
    cost = Cost("a", 20_000, attempts=4, timers=3, reverts=False)
    assert default_shard_size(cost) == 254
    assert shard_events(cost, 254) == 5 + 254 * 39 + 5 * 11 == 9_966
    assert shard_events(cost, 255) == 10_005 > HISTORY_ADVICE


@pytest.mark.parametrize("attempts", [1, 2, 4, 11, 50])
@pytest.mark.parametrize("waits", [False, True])
@pytest.mark.parametrize("reverts", [False, True])
def test_default_shard_size_is_maximal_for_every_policy(attempts: int, waits: bool, reverts: bool) -> None:
    cost = Cost("a", 10**9, attempts=attempts, timers=attempts - 1 if waits else 0, reverts=reverts)
    size = default_shard_size(cost)
    assert shard_events(cost, size) <= HISTORY_ADVICE < shard_events(cost, size + 1)


def test_default_shard_size_stays_within_the_instances_and_is_at_least_one() -> None:
    assert default_shard_size(Cost("a", 30, attempts=1, timers=0, reverts=False)) == 30
    # One instance over the advice on its own still makes shards of one (refused later if over 25,000).
    assert default_shard_size(Cost("a", 10, attempts=3_000, timers=0, reverts=False)) == 1


def test_a_sharded_activity_costs_nine_events_a_shard_in_the_parent() -> None:
    cost = Cost("a", 20_000, attempts=4, timers=3, reverts=False).sharded(254)
    # 79 shards cost 79 x 9 events; a run of at most 254 instances runs them in the parent:
    # 254 x (4 attempts x 6 + 3 timers x 5) events. The parent's budget holds the more of the two.
    assert (cost.shards, cost.events, cost.schedules) == (79, max(79 * 9, 254 * 39), max(79, 254 * 4))
    single = Cost("b", 1, attempts=1, timers=0, reverts=False)
    # 5 for the workflow, 6 + 6 for the single activities, 9,906 for activity a, and
    # ceil((1 + 1,016 + 1) / 100) = 11 continuation timers of 5.
    assert worst_case_events([single, cost, single]) == 5 + 6 + 9_906 + 6 + 55 == 9_978
    few = Cost("c", 20_000, attempts=1, timers=0, reverts=False).sharded(10)
    assert few.events == 2_000 * 9  # shards cost more than one shard's instances in the parent


def test_a_sharded_activity_with_a_revert_counts_a_revert_shard_per_shard_in_the_parent() -> None:
    few = Cost("c", 20_000, attempts=1, timers=0, reverts=True).sharded(10)
    # 2,000 shards and up to 2,000 revert shards, 9 events each; each one a scheduling decision.
    assert (few.events, few.schedules) == (2 * 2_000 * 9, 2 * 2_000)
    # A revert shard runs one revert per instance, so its history is within its shard's, which
    # counts every instance twice (the shard reverts its own instances when one fails).
    assert shard_events(few, 10) == 5 + 10 * 6 * 2 + 5


SPEC = """
flowgen: 1
domain: dev
workflow: {{name: wf, version: "1", execution_timeout: 1d, input: {{ids: "list[int]"}}}}
activities:
{activities}
"""


def _fan(name: str, max_items: int, extra: str = "") -> str:
    return (
        f"  {name}:\n    handler: m.h:{name}\n    generators: {{id: input.ids}}\n"
        f"    max_items: {max_items}\n    inputs: {{id: generator.id}}\n{extra}"
    )


def _compiled(tmp_path: pathlib.Path, text: str) -> Compiled:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return compile_spec(str(path))


def test_sharded_only_when_the_workflow_would_not_fit(tmp_path: pathlib.Path) -> None:
    # 4,100 instances: 5 + 24,600 + 5 x 41 = 24,810 events, within SWF's 25,000: not sharded.
    fits = _compiled(tmp_path, SPEC.format(activities=_fan("fan", 4_100)))
    assert fits.checked is not None and fits.checked.shard_sizes == {}
    assert [d.diagnostic.severity for d in fits.diagnostics] == [Severity.WARNING]  # over the advice
    # 4,200: 25,415 events, over the limit: sharded, and then nothing to say.
    over = _compiled(tmp_path, SPEC.format(activities=_fan("fan", 4_200)))
    assert over.checked is not None and over.checked.shard_sizes == {"fan": 1_651}
    assert over.diagnostics == []


def test_the_activity_that_saves_most_is_sharded_first_and_only_as_many_as_needed(
    tmp_path: pathlib.Path,
) -> None:
    # 3,000 + 2,000 instances: 30,000 + 250 + 5 events. Sharding the larger one is enough.
    two = _fan("big", 3_000) + _fan("small", 2_000)
    compiled = _compiled(tmp_path, SPEC.format(activities=two))
    assert compiled.checked is not None and compiled.checked.shard_sizes == {"big": 1_651}
    # The plan: only big is sharded; small runs in the workflow itself.
    plan = build_plan(compiled.checked)
    assert [a.shard_size for a in plan.activities] == [1_651, None]
    assert [s.workflow for s in plan.shards] == ["wf.big"]


def test_shard_size_in_the_spec_shards_a_small_activity(tmp_path: pathlib.Path) -> None:
    compiled = _compiled(tmp_path, SPEC.format(activities=_fan("fan", 30, "    shard_size: 10\n")))
    assert compiled.checked is not None and compiled.diagnostics == []
    plan = build_plan(compiled.checked)
    assert plan.activity("fan").shard_size == 10
    assert plan.shard_plan("fan").activities[0].max_items == 10


def test_shard_size_over_the_advice_is_a_warning(tmp_path: pathlib.Path) -> None:
    compiled = _compiled(tmp_path, SPEC.format(activities=_fan("fan", 100_000, "    shard_size: 2000\n")))
    (located,) = compiled.diagnostics
    assert located.diagnostic.severity == Severity.WARNING
    assert located.diagnostic.path == ("activities", "fan", "shard_size")
    assert "12,105 events" in located.diagnostic.message


# -- the country flow at 20,000 instances and at 100,000 --------------------------------------


def _country(tmp_path: pathlib.Path, max_items: int) -> p.FlowPlan:
    text = (ROOT / "specs" / "country_flow.yaml").read_text()
    assert "    max_items: 20000 " in text  # the seeds' number
    path = tmp_path / "country_flow.yaml"
    path.write_text(text.replace("    max_items: 20000 ", f"    max_items: {max_items} "))
    compiled = compile_spec(str(path))
    assert compiled.checked is not None, [d.render() for d in compiled.diagnostics]
    assert compiled.diagnostics == []
    return build_plan(compiled.checked)


@pytest.mark.parametrize(
    ("max_items", "shards", "parent_events"), [(20_000, 79, 9_978), (100_000, 394, 9_978)]
)
def test_country_flow_compiles_sharded(
    tmp_path: pathlib.Path, max_items: int, shards: int, parent_events: int
) -> None:
    plan = _country(tmp_path, max_items)
    fetch = plan.activity("activity_2")
    assert fetch.shard_size == 254
    assert math.ceil(max_items / fetch.shard_size) == shards
    assert [a.shard_size for a in plan.activities] == [None, 254, None]
    # The parent's budget with the shards counted, as the checker computed it.
    parent = [Cost("activity_1", 1, 1, 0, False), Cost("activity_2", max_items, 4, 3, False).sharded(254)]
    assert worst_case_events([*parent, Cost("activity_3", 1, 1, 0, False)]) == parent_events
    # max_concurrency 50 across all shards: one shard of 50 at a time.
    assert (fetch.shard_share, fetch.open_shards) == (50, 1)

    (shard,) = plan.shards
    assert shard.workflow == "country_flow.activity_2"
    assert (shard.version, shard.domain, shard.task_list) == (plan.version, plan.domain, plan.task_list)
    assert (shard.execution_timeout, shard.decision_timeout) == (
        plan.execution_timeout,
        plan.decision_timeout,
    )
    assert (shard.child_policy, shard.aws_partition, shard.shards) == (
        plan.child_policy,
        plan.aws_partition,
        (),
    )
    assert shard.input == ((p.SHARD_INPUT, p.TypeRef("list", p.TypeRef("any"))),)
    assert shard.result == ((p.SHARD_RESULT, p.Source(p.EACH, "activity_2")),)
    (inner,) = shard.activities
    # The same activity type, handler and policies; its instances are the items it is given.
    same = ("name", "version", "task_list", "handler", "timeouts", "retry", "outputs", "input_types")
    assert all(getattr(inner, key) == getattr(fetch, key) for key in same)
    assert (inner.continue_on_failure, inner.revert, inner.priority) == (
        fetch.continue_on_failure,
        fetch.revert,
        fetch.priority,
    )
    assert inner.generators == (
        p.Generator(axis="item", kind="source", element=p.TypeRef("any"), source=p.Source(p.INPUT, "items")),
    )
    assert inner.inputs == tuple(
        (key, p.Source(p.ITEM, "item", field=key)) for key in ("country_id", "day", "run_id", "source")
    )
    assert (inner.requires, inner.max_items, inner.max_concurrency, inner.shard_size) == ((), 254, 50, None)
    # The whole plan, shards included, survives the trip through plain data (flow.py's PLAN).
    assert p.FlowPlan.from_data(plan.to_data()) == plan


def test_the_committed_package_holds_the_shard_plan() -> None:
    sys.path.insert(0, str(ROOT / "generated"))
    try:
        flow = importlib.import_module("country_flow.flow")
    finally:
        sys.path.remove(str(ROOT / "generated"))
    assert set(flow.PLANS) == {"country_flow", "country_flow.activity_2"}
    assert flow.PLANS["country_flow.activity_2"] is flow.PLAN.shards[0]
    assert flow.PLAN.activity("activity_2").shard_size == 254
