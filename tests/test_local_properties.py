"""Random small flows run on the local runner, with faults injected into their attempts.

A flow is 1 to 5 activities, each requiring some earlier ones; some fan out over a literal
list of 0 to 4 items, or over a list an upstream activity returns, or over every instance of
an upstream; each has 0 to 3 retries (right away or after a timer, with or without jitter);
some are best effort (`on_failure: continue`), some have a revert. Every activity runs
`tests.flow_handlers:compute`, whose output is computed from its inputs, so the result of a
flow is known from a run without faults. A seeded function decides, per activity id and
attempt, whether that attempt fails, times out (each of SWF's four kinds) or cannot be
scheduled.

Properties: a run always ends (COMPLETED or FAILED, never StuckError); no activity id is
scheduled while an attempt with that id is open; with no more faults than retries the result
is the fault-free result; when an instance gets more faults than retries, the workflow fails
naming it, after reverting what completed.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from flowgen.runtime.ids import REVERT_SUFFIX, split_attempt_id
from flowgen.runtime.local import LocalRunner, Result
from flowgen.runtime.plan import FlowPlan
from tests.flow_handlers import compute, undo
from tests.histories import plan_from

KINDS = ("fail", "schedule_failed", "START_TO_CLOSE", "SCHEDULE_TO_START", "SCHEDULE_TO_CLOSE", "HEARTBEAT")
CLOSING = ("ActivityTaskCompleted", "ActivityTaskFailed", "ActivityTaskTimedOut", "ActivityTaskCanceled")


@dataclass(frozen=True)
class Step:
    name: str
    requires: tuple[str, ...]
    # None: one instance; ("items", [...]) a literal list; ("list", A): A.items; ("each", A): A[*].v
    generator: tuple[str, Any] | None
    retries: int
    interval: int
    jitter: bool
    max_concurrency: int
    best_effort: bool
    revert: bool


@st.composite
def flows(draw: st.DrawFn) -> tuple[Step, ...]:
    steps: list[Step] = []
    for index in range(draw(st.integers(1, 5))):
        earlier = [s.name for s in steps]
        requires = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=3)) if earlier else []
        # Fan out over what a required activity that never fails for good returns.
        sources = [s for s in steps if s.name in requires and not s.best_effort]
        choices: list[tuple[str, Any] | None] = [None, ("items", None)]
        choices += [("each" if s.generator else "list", s.name) for s in sources]
        generator = draw(st.sampled_from(choices))
        if generator == ("items", None):
            generator = ("items", draw(st.lists(st.integers(0, 9), max_size=4)))
        steps.append(
            Step(
                name=f"s{index}",
                requires=tuple(sorted(requires)),
                generator=generator,
                retries=draw(st.integers(0, 3)),
                interval=draw(st.sampled_from([0, 0, 5])),
                jitter=draw(st.booleans()),
                max_concurrency=draw(st.integers(0, 2)),
                best_effort=draw(st.integers(0, 4)) == 0,
                revert=draw(st.booleans()),
            )
        )
    return tuple(steps)


def spec_text(steps: tuple[Step, ...]) -> str:
    generated = {s.name for s in steps if s.generator}
    lines = [
        "flowgen: 1",
        "domain: d",
        "workflow:",
        "  name: random_flow",
        '  version: "1"',
        "  execution_timeout: 1d",
        "  input: {seed: int}",
        "  result:",
    ]
    lines += [f"    {s.name}: {s.name}{'[*]' if s.name in generated else ''}.v" for s in steps]
    lines += [
        "defaults:",
        "  task_list: tl",
        "  timeouts: {schedule_to_start: 5m, start_to_close: 10m, heartbeat: 1m}",
        "activities:",
    ]
    for step in steps:
        lines += [f"  {step.name}:", "    handler: tests.flow_handlers:compute"]
        if step.revert:
            lines.append("    revert: tests.flow_handlers:undo")
        if step.requires:
            lines.append(f"    requires: [{', '.join(step.requires)}]")
        if step.generator:
            kind, value = step.generator
            source = {"items": f"{{items: {value}}}", "list": f"{value}.items", "each": f'"{value}[*].v"'}[
                kind
            ]
            lines += [f"    generators: {{item: {source}}}", f"    max_concurrency: {step.max_concurrency}"]
            if kind != "items":
                lines.append("    max_items: 4")
        lines += ["    inputs:", f"      name: {{value: {step.name}}}", "      seed: input.seed"]
        if step.generator:
            lines.append("      item: generator.item")
        for required in step.requires:
            reference = f"{required}[*].v" if required in generated else f"{required}.v"
            lines.append(f'      from_{required}: "{reference}"')
        jitter = "full" if step.jitter else "none"
        lines += [
            '    outputs: {v: int, items: "list[int]"}',
            f"    retry: {{max_retries: {step.retries}, interval: {step.interval}, jitter: {jitter}}}",
        ]
        if step.best_effort:
            lines.append("    on_failure: continue")
    return "\n".join(lines) + "\n"


def _hash(*parts: Any) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "big")


def activity_of(activity_id: str) -> str:
    return activity_id.removesuffix(REVERT_SUFFIX).split("-", 1)[0]


@dataclass(frozen=True)
class Faults:
    """Seeded faults: the attempt `n` of `id` faults when n <= count(id), with a kind chosen
    from the seed. count(id) is at most the retries, or one more when `doom` is set."""

    seed: int
    retries: dict[str, int]  # activity name -> max_retries
    doom: bool

    def count(self, activity_id: str) -> int:
        most = self.retries[activity_of(activity_id)] + (1 if self.doom else 0)
        return _hash(self.seed, activity_id) % (most + 1)

    def doomed(self, activity_id: str) -> bool:
        return self.count(activity_id) > self.retries[activity_of(activity_id)]

    def __call__(self, activity_id: str, attempt: int) -> str | None:
        if attempt > self.count(activity_id):
            return None
        return KINDS[_hash(self.seed, activity_id, attempt) % len(KINDS)]


def run(plan: FlowPlan, seed: int, fault: Faults | None = None) -> Result:
    handlers: dict[str, Any] = {}
    for activity in plan.activities:
        handlers[activity.name] = compute
        handlers[activity.name + REVERT_SUFFIX] = undo
    return LocalRunner(plan, handlers, workers=2, fault=fault).run({"seed": seed})


def scheduled_ids(history: list[dict[str, Any]]) -> dict[int, str]:
    """The instance of each ActivityTaskScheduled, by event id (`a-1#2` is attempt 2 of `a-1`)."""
    return {
        e["eventId"]: split_attempt_id(e["activityTaskScheduledEventAttributes"]["activityId"])[0]
        for e in history
        if e["eventType"] == "ActivityTaskScheduled"
    }


def tried_ids(history: list[dict[str, Any]]) -> set[str]:
    """Every instance with an attempt: scheduled, or refused by SWF."""
    refused = {
        split_attempt_id(e["scheduleActivityTaskFailedEventAttributes"]["activityId"])[0]
        for e in history
        if e["eventType"] == "ScheduleActivityTaskFailed"
    }
    return set(scheduled_ids(history).values()) | refused


def completed_ids(history: list[dict[str, Any]]) -> set[str]:
    scheduled = scheduled_ids(history)
    return {
        scheduled[e["activityTaskCompletedEventAttributes"]["scheduledEventId"]]
        for e in history
        if e["eventType"] == "ActivityTaskCompleted"
    }


def never_scheduled_while_open(history: list[dict[str, Any]]) -> None:
    """No instance scheduled while an attempt of it is open, and no activity id used twice."""
    tried = [
        e[e["eventType"][0].lower() + e["eventType"][1:] + "EventAttributes"]["activityId"]
        for e in history
        if e["eventType"] in ("ActivityTaskScheduled", "ScheduleActivityTaskFailed")
    ]
    assert len(tried) == len(set(tried)), "an activity id used twice"
    open_ids: dict[int, str] = {}
    for e in history:
        kind = e["eventType"]
        if kind == "ActivityTaskScheduled":
            activity_id = split_attempt_id(e["activityTaskScheduledEventAttributes"]["activityId"])[0]
            assert activity_id not in open_ids.values(), f"{activity_id} scheduled while open"
            open_ids[e["eventId"]] = activity_id
        elif kind in CLOSING:
            del open_ids[e[kind[0].lower() + kind[1:] + "EventAttributes"]["scheduledEventId"]]


SETTINGS = settings(max_examples=300, deadline=None)


@SETTINGS
@given(flows(), st.integers(0, 2**32), st.integers(0, 1000))
def test_faults_within_retries_give_the_fault_free_result(
    steps: tuple[Step, ...], fault_seed: int, seed: int
) -> None:
    plan = plan_from(spec_text(steps))
    clean = run(plan, seed)
    assert clean.status == "COMPLETED", clean.reason
    never_scheduled_while_open(clean.history)
    faulty = run(plan, seed, Faults(fault_seed, {s.name: s.retries for s in steps}, doom=False))
    never_scheduled_while_open(faulty.history)
    assert faulty.status == "COMPLETED", faulty.reason
    assert faulty.result == clean.result


@SETTINGS
@given(flows(), st.integers(0, 2**32), st.integers(0, 1000))
def test_more_faults_than_retries_fail_the_workflow_naming_the_instance(
    steps: tuple[Step, ...], fault_seed: int, seed: int
) -> None:
    plan = plan_from(spec_text(steps))
    faults = Faults(fault_seed, {s.name: s.retries for s in steps}, doom=True)
    result = run(plan, seed, faults)
    event(f"status {result.status}")
    event(
        "fans out over a list at run time"
        if any(s.generator and s.generator[0] != "items" for s in steps)
        else "static"
    )
    assert result.status in ("COMPLETED", "FAILED"), result.reason  # never stuck, never timed out
    never_scheduled_while_open(result.history)
    # The instances this run tried (which ones exist can depend on what failed before) that
    # fault more often than they may retry, and whose failure fails the workflow.
    best_effort = {s.name for s in steps if s.best_effort}
    doomed = sorted(
        {
            i
            for i in tried_ids(result.history)
            if not i.endswith(REVERT_SUFFIX) and activity_of(i) not in best_effort and faults.doomed(i)
        }
    )
    if not doomed:
        assert result.status == "COMPLETED", result.reason
        return
    assert result.status == "FAILED"
    named = result.reason.split(" ", 1)[0]
    assert named in doomed, (result.reason, doomed)
    if len(doomed) == 1:
        assert named == doomed[0]
    assert result.details["instance"] == named
    # Everything that completed and has a revert was reverted (or its revert's failure reported).
    reverts = result.details.get("reverts", {})
    with_revert = {s.name for s in steps if s.revert}
    for activity_id in completed_ids(result.history):
        if not activity_id.endswith(REVERT_SUFFIX) and activity_of(activity_id) in with_revert:
            assert activity_id + REVERT_SUFFIX in reverts, (activity_id, reverts)


def test_the_input_may_hold_dates_as_the_generated_workflow_input_types_them() -> None:
    plan = plan_from("""\
flowgen: 1
domain: d
workflow:
  name: dated
  version: "1"
  execution_timeout: 1d
  input: {day: date, at: datetime}
  result: {v: a.v}
defaults:
  task_list: tl
  timeouts: {schedule_to_start: 5m, start_to_close: 10m}
activities:
  a:
    handler: tests.flow_handlers:compute
    inputs: {day: input.day, at: input.at}
    outputs: {v: int, items: "list[int]"}
""")
    day, at = datetime.date(2024, 2, 29), datetime.datetime(2024, 2, 29, 12, 30)
    result = LocalRunner(plan, {"a": compute}).run({"day": day, "at": at})
    assert result.status == "COMPLETED", result.reason
    assert result.result == {"v": compute(day=day, at=at)["v"]}


def test_a_handler_sees_each_attempts_own_id_and_its_instances() -> None:
    plan = plan_from("""\
flowgen: 1
domain: d
workflow:
  name: ids
  version: "1"
  execution_timeout: 1d
defaults:
  task_list: tl
  timeouts: {schedule_to_start: 5m, start_to_close: 10m}
activities:
  g:
    handler: tests.flow_handlers:compute
    generators: {i: {range: [0, 2]}}
    inputs: {i: generator.i}
    retry: 2
""")
    seen: list[tuple[str, str, int]] = []

    def g(i: int, context: Any) -> None:
        seen.append((context.activity_id, context.instance_id, context.attempt))
        if i == 1 and context.attempt < 3:
            raise ConnectionError("not yet")

    result = LocalRunner(plan, {"g": g}, workers=1).run({})
    assert result.status == "COMPLETED", result.reason
    assert sorted(seen) == [("g-0", "g-0", 1), ("g-1", "g-1", 1), ("g-1#2", "g-1", 2), ("g-1#3", "g-1", 3)]
