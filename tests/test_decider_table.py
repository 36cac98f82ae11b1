"""The decider against hand-built SWF histories: one case per behaviour of DESIGN.md's "The decider".

Each row of CASES names a spec, writes a history with `tests.histories.History` (events as
boto3 returns them) and states what `decide` must answer: either the decisions as short lines
(`schedule ID`, `timer ID SECONDS`, `fail REASON`, `complete RESULT`, ...) or a function that
checks them. Histories that need earlier decisions get them from `History.step`, which plays
SWF's part: it records exactly the events SWF records for each decision.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from flowgen.runtime.decider import decide, retry_wait
from flowgen.runtime.ids import attempt_id, split_attempt_id
from flowgen.runtime.limits import MAX_DECISIONS, MAX_RESPONSE_BYTES
from flowgen.runtime.plan import FlowPlan, RetryPolicy
from tests.histories import History, attributes, inputs_by_id, plan_from, sharded, summaries, task_input

Decisions = list[dict[str, Any]]

HEADER = """\
flowgen: 1
domain: d
workflow:
  name: w
  version: "1"
  execution_timeout: 365d
  input: {input}
  result: {result}
defaults:
  task_list: tl
  timeouts: {{schedule_to_start: 5m, start_to_close: 10m}}
  retry: 0
activities:
"""


def spec(activities: str, input: str = "{}", result: str = "{}") -> str:
    """A spec text: the common header, then `activities` (YAML, two-space indented)."""
    body = "\n".join("  " + line if line else line for line in activities.strip("\n").splitlines())
    return HEADER.format(input=input, result=result) + body + "\n"


H = "tests.flow_handlers"

# a -> b: the smallest flow with a dependency.
CHAIN = spec(
    f"""
a: {{handler: "{H}:a", inputs: {{n: input.n}}, outputs: {{x: int}}}}
b: {{handler: "{H}:b", requires: [a], inputs: {{x: a.x}}, outputs: {{y: int}}}}
""",
    input="{n: int}",
    result="{y: b.y, n: input.n, tag: {value: done}}",
)

# Two roots and an activity that needs both.
ROOTS = spec(f"""
a: {{handler: "{H}:a", outputs: {{x: int}}}}
r: {{handler: "{H}:r", outputs: {{x: int}}}}
j: {{handler: "{H}:j", requires: [a, r], inputs: {{a: a.x, r: r.x}}}}
""")

GENERATORS = spec(
    f"""
lit: {{handler: "{H}:g", generators: {{letter: {{items: [x, y, z]}}}}, inputs: {{v: generator.letter}}}}
rng: {{handler: "{H}:g", generators: {{i: {{range: [0, 10, 3]}}}}, inputs: {{v: generator.i}}}}
days: {{handler: "{H}:g", generators: {{day: {{date_range: {{start: "2024-02-27", end: "2024-03-01"}}}}}}, inputs: {{v: generator.day}}}}
span:
  handler: "{H}:g"
  generators: {{day: {{date_range: {{start: input.start, end: input.end}}}}}}
  max_items: 40
  inputs: {{v: generator.day}}
each_input:
  handler: "{H}:g"
  generators: {{c: input.countries}}
  max_items: 5
  inputs: {{v: generator.c}}
grid:
  handler: "{H}:g"
  generators: {{day: {{items: ["2024-01-01", "2024-01-02"]}}, c: {{items: [7, 8, 9]}}}}
  inputs: {{day: generator.day, c: generator.c}}
""",
    input="{start: date, end: date, countries: 'list[int]'}",
)

# A list from an upstream output, then a list over every instance of a generated activity.
UPSTREAM = spec(
    f"""
src: {{handler: "{H}:src", outputs: {{items: "list[str]"}}}}
fan:
  handler: "{H}:fan"
  requires: [src]
  generators: {{item: src.items}}
  max_items: 10
  inputs: {{item: generator.item}}
  outputs: {{size: int}}
again:
  handler: "{H}:again"
  requires: [fan]
  generators: {{size: "fan[*].size"}}
  max_items: 10
  inputs: {{size: generator.size}}
  outputs: {{n: int}}
total: {{handler: "{H}:total", requires: [again], inputs: {{ns: "again[*].n"}}, outputs: {{sum: int}}}}
""",
    result="{sum: total.sum, sizes: 'fan[*].size'}",
)

# Every kind of reference in one activity's inputs.
REFERENCES = spec(
    f"""
one: {{handler: "{H}:one", inputs: {{n: input.n}}, outputs: {{x: int, tag: str}}}}
many:
  handler: "{H}:many"
  generators: {{i: {{items: [10, 20]}}}}
  inputs: {{i: generator.i}}
  outputs: {{v: int}}
use:
  handler: "{H}:use"
  requires: [one, many]
  generators: {{k: {{items: [a, b]}}}}
  inputs:
    n: input.n
    k: generator.k
    x: one.x
    whole: one
    vs: "many[*].v"
    all: "many[*]"
    lit: {{value: {{deep: [1, 2]}}}}
""",
    input="{n: int}",
)

CONCURRENCY = spec(f"""
c:
  handler: "{H}:c"
  generators: {{i: {{range: [0, 5]}}}}
  max_concurrency: 2
  inputs: {{i: generator.i}}
""")

WIDE = spec(f"""
w:
  handler: "{H}:w"
  generators: {{i: {{range: [0, 1200]}}}}
  inputs: {{i: generator.i}}
""")


def retrying(retry: str, on_failure: str = "fail_workflow") -> str:
    return spec(f"""
a:
  handler: "{H}:a"
  outputs: {{x: int}}
  retry: {retry}
  on_failure: {on_failure}
""")


RETRY_NOW = retrying("2")
RETRY_WAIT = retrying("{max_retries: 3, interval: 10s}")
BACKOFF = retrying("{max_retries: 5, interval: 10s, backoff_rate: 3.0, max_interval: 2m}")
JITTER = retrying("{max_retries: 3, interval: 100s, jitter: full}")
ERRORS = retrying("{max_retries: 3, errors: [ThrottledError, HEARTBEAT]}")
RETRY_NONE = retrying("0")
HUGE_BACKOFF = retrying("{max_retries: 100, interval: 1s, backoff_rate: 100.0}")

# Generated instances that wait before their retries: jitter spreads them.
JITTER_MANY = spec(f"""
g:
  handler: "{H}:g"
  generators: {{i: {{range: [0, 20]}}}}
  inputs: {{i: generator.i}}
  retry: {{max_retries: 1, interval: 100s, jitter: full}}
""")

# Best effort: `soft` may fail; `after` and the result see None.
CONTINUE = spec(
    f"""
soft: {{handler: "{H}:soft", outputs: {{x: int}}, on_failure: continue}}
each:
  handler: "{H}:each"
  generators: {{i: {{items: [0, 1, 2]}}}}
  inputs: {{i: generator.i}}
  outputs: {{v: int}}
  on_failure: continue
after: {{handler: "{H}:after", requires: [soft, each], inputs: {{x: soft.x, vs: "each[*].v"}}, outputs: {{y: int}}}}
""",
    result="{x: soft.x, y: after.y}",
)

# A saga: a and b are undone, newest first, when c runs out of retries; side runs beside them.
SAGA = spec(
    f"""
a: {{handler: "{H}:a", revert: "{H}:undo_a", inputs: {{n: input.n}}, outputs: {{x: int}}}}
b:
  handler: "{H}:b"
  revert: "{H}:undo_b"
  requires: [a]
  generators: {{i: {{items: [1, 2]}}}}
  inputs: {{x: a.x, i: generator.i}}
  outputs: {{y: int}}
c: {{handler: "{H}:c", requires: [b], inputs: {{ys: "b[*].y"}}}}
""",
    input="{n: int}",
)

# Two roots: `a` fails at once while `slow` (which has a revert) still runs.
FAIL_WAITS = spec(f"""
a: {{handler: "{H}:a"}}
slow: {{handler: "{H}:slow", revert: "{H}:undo_slow", outputs: {{x: int}}}}
""")

TYPED_INPUT = spec(
    f"""
a: {{handler: "{H}:a", inputs: {{day: input.day, tags: input.tags, note: input.note}}}}
""",
    input="{day: date, tags: 'list[str]', note: str | None}",
)

MANY = spec(f"""
m:
  handler: "{H}:m"
  generators: {{i: {{range: [0, 150]}}}}
  inputs: {{i: generator.i}}
""")

BIG_LITERAL = "x" * 30_000
LARGE = spec(f"""
big:
  handler: "{H}:big"
  generators: {{i: {{range: [0, 40]}}}}
  inputs: {{i: generator.i, blob: {{value: {BIG_LITERAL}}}}}
""")

DYNAMIC = spec(
    f"""
d:
  handler: "{H}:d"
  generators: {{c: input.countries}}
  max_items: 3
  inputs: {{c: generator.c}}
""",
    input="{countries: 'list[int]'}",
)

LONG_NAME = "n" * 240
LONG = spec(f"""
{LONG_NAME}:
  handler: "{H}:long"
  revert: "{H}:undo_long"
  generators: {{i: {{range: [0, 1000]}}}}
  max_concurrency: 0
  inputs: {{i: generator.i}}
boom: {{handler: "{H}:boom", requires: [{LONG_NAME}]}}
""")

# The longest ids the compiler allows: 244 + "-9" + ".revert" + "#10" (the 10th attempt) = 256.
LONGEST_NAME = "n" * 244
LONGEST = spec(f"""
{LONGEST_NAME}:
  handler: "{H}:long"
  revert: "{H}:undo_long"
  generators: {{i: {{range: [0, 10]}}}}
  inputs: {{i: generator.i}}
  retry: 9
boom: {{handler: "{H}:boom", requires: [{LONGEST_NAME}]}}
""")

RESULT = spec(
    f"""
a: {{handler: "{H}:a", outputs: {{text: str, n: int, tags: "list[str]"}}}}
""",
    result="{text: a.text, everything: a}",
)

# Each instance's input nears the 32,768-character limit with its axis value.
BIG_INPUT = spec(f"""
src: {{handler: "{H}:src", outputs: {{items: "list[str]"}}}}
fan:
  handler: "{H}:fan"
  requires: [src]
  generators: {{item: src.items}}
  max_items: 5
  inputs: {{item: generator.item, blob: {{value: {"y" * 32_000}}}}}
""")

# `late` comes after `fan` in the plan but does not need it: a run-time failure of `fan`
# must still revert it.
LATE_REVERT = spec(f"""
src: {{handler: "{H}:src", outputs: {{items: "list[str]"}}}}
fan:
  handler: "{H}:fan"
  requires: [src]
  generators: {{item: src.items}}
  max_items: 2
  inputs: {{item: generator.item}}
late: {{handler: "{H}:late", revert: "{H}:undo_late", outputs: {{x: int}}}}
""")

# 1,200 instances with a revert: the reverts too must keep under SWF's 1,000 open activities.
WIDE_REVERT = spec(f"""
w:
  handler: "{H}:w"
  revert: "{H}:undo_w"
  generators: {{i: {{range: [0, 1200]}}}}
  inputs: {{i: generator.i}}
  outputs: {{v: int}}
  retry: {{max_retries: 0}}
boom: {{handler: "{H}:boom", requires: [w]}}
""")


# The result is too large for SWF only once everything completed: what completed is undone.
RESULT_REVERT = spec(
    f"""
a: {{handler: "{H}:a", revert: "{H}:undo_a", outputs: {{text: str}}}}
""",
    result="{text: a.text}",
)

# Reverts, like the activity, keep to max_concurrency.
REVERT_CONCURRENCY = spec(f"""
c:
  handler: "{H}:c"
  revert: "{H}:undo_c"
  generators: {{i: {{range: [0, 3]}}}}
  max_concurrency: 2
  inputs: {{i: generator.i}}
  outputs: {{v: int}}
boom: {{handler: "{H}:boom", requires: [c]}}
""")

# Generated instances that retry, and are reverted (and retry their reverts) when `boom` fails.
ATTEMPTS = spec(
    f"""
g:
  handler: "{H}:g"
  revert: "{H}:undo_g"
  generators: {{i: {{range: [0, 12]}}}}
  inputs: {{i: generator.i}}
  outputs: {{v: int}}
  retry: 2
boom: {{handler: "{H}:boom", requires: [g], inputs: {{vs: "g[*].v"}}, outputs: {{n: int}}}}
""",
    result="{n: boom.n}",
)


# -- helpers ---------------------------------------------------------------------------------------


def ids(decisions: Decisions, kind: str = "ScheduleActivityTask") -> list[str]:
    key = "timerId" if kind in ("StartTimer", "CancelTimer") else "activityId"
    return [attributes(d)[key] for d in decisions if d["decisionType"] == kind]


def only(decisions: Decisions, kind: str) -> dict[str, Any]:
    found = [d for d in decisions if d["decisionType"] == kind]
    assert len(found) == 1, summaries(decisions)
    return attributes(found[0])


def failure(decisions: Decisions) -> tuple[str, dict[str, Any]]:
    assert [d["decisionType"] for d in decisions] == ["FailWorkflowExecution"], summaries(decisions)
    a = attributes(decisions[0])
    return a["reason"], json.loads(a["details"])


def drive(
    h: History,
    plan: FlowPlan,
    complete: Callable[[str], bool] = lambda activity_id: True,
    results: dict[str, Any] | None = None,
    steps: int = 60,
) -> None:
    """Play SWF and the workers: step the flow, completing each scheduled task for which
    `complete` holds (with `results` by activity name) and firing each timer, until a decision
    task has nothing to do or would close the workflow; that last decision task is not kept."""
    for _ in range(steps):
        h.decision_task()
        decisions = decide(plan, h.events)
        if not decisions or any(d["decisionType"].endswith("WorkflowExecution") for d in decisions):
            del h.events[-2:]
            return
        h.respond(decisions)
        for activity_id in ids(decisions):
            if complete(activity_id):
                name = split_attempt_id(activity_id)[0].split("-", 1)[0]
                h.completed(activity_id, (results or {}).get(name))
        for timer_id in ids(decisions, "StartTimer"):
            h.fired(timer_id)
    raise AssertionError("the flow did not settle")


# -- the cases -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    spec: str
    history: Callable[[History, FlowPlan], None]
    # The decisions as summary lines, or a function that checks them.
    expect: list[str] | Callable[[Decisions, History], None]
    input: Any = None
    raw_input: str | None = None
    # (activity, shard size): the case's plan with that activity sharded.
    shard: tuple[str, int] | None = None


CASES: list[Case] = []


def case(
    spec_text: str,
    expect: list[str] | Callable[[Decisions, History], None],
    input: Any = None,
    raw_input: str | None = None,
    name: str = "",
    shard: tuple[str, int] | None = None,
) -> Callable[[Callable[[History, FlowPlan], None]], Callable[[History, FlowPlan], None]]:
    """Registers the decorated history in CASES, named after the function."""

    def register(history: Callable[[History, FlowPlan], None]) -> Callable[[History, FlowPlan], None]:
        CASES.append(Case(name or history.__name__, spec_text, history, expect, input, raw_input, shard))
        return history

    return register


def nothing(h: History, plan: FlowPlan) -> None:
    """The history is just WorkflowExecutionStarted (and the decision task)."""


def add(spec_text: str, name: str, expect: Any, input: Any = None, raw_input: str | None = None) -> None:
    CASES.append(Case(name, spec_text, nothing, expect, input, raw_input))


# first decision, generators, inputs

add(CHAIN, "first_decision_schedules_the_root", ["schedule a"], {"n": 3})
add(ROOTS, "first_decision_schedules_every_root", ["schedule a", "schedule r"])


def _generators(decisions: Decisions, h: History) -> None:
    inputs = inputs_by_id(decisions)
    assert {k: v["v"] for k, v in inputs.items() if k.startswith("lit-")} == {
        "lit-0": "x",
        "lit-1": "y",
        "lit-2": "z",
    }
    assert [inputs[f"rng-{i}"]["v"] for i in range(4)] == [0, 3, 6, 9] and "rng-4" not in inputs
    # Both ends included, across a leap day.
    assert [inputs[f"days-{i}"]["v"] for i in range(4)] == [
        "2024-02-27",
        "2024-02-28",
        "2024-02-29",
        "2024-03-01",
    ]
    assert "days-4" not in inputs
    assert [inputs[f"span-{i}"]["v"] for i in range(3)] == ["2023-12-31", "2024-01-01", "2024-01-02"]
    assert "span-3" not in inputs
    assert [inputs[f"each_input-{i}"]["v"] for i in range(2)] == [44, 33] and "each_input-2" not in inputs
    # Axes in spec order, the first one outermost.
    assert [inputs[f"grid-{i}"] for i in range(6)] == [
        {"day": d, "c": c} for d in ("2024-01-01", "2024-01-02") for c in (7, 8, 9)
    ]
    assert all(task_input(d)["attempt"] == 1 for d in decisions)


add(
    GENERATORS,
    "generators_from_items_range_date_range_and_input",
    _generators,
    {"start": "2023-12-31", "end": "2024-01-02", "countries": [44, 33]},
)
add(
    GENERATORS,
    "date_range_ending_before_it_starts_is_empty",
    lambda d, h: None if not [i for i in ids(d) if i.startswith("span")] else pytest.fail(str(ids(d))),
    {"start": "2024-01-02", "end": "2024-01-01", "countries": []},
)


@case(UPSTREAM, ["schedule fan-0", "schedule fan-1", "schedule fan-2"])
def generator_from_an_upstream_output(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.completed("src", {"items": ["p", "qq", "rrr"]})


@case(UPSTREAM, ["schedule again-0", "schedule again-1"])
def generator_over_every_instance_of_an_upstream(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.completed("src", {"items": ["p", "qq"]})
    h.step(plan)
    h.completed("fan-1", {"size": 2})
    h.completed("fan-0", {"size": 1})


@case(UPSTREAM, lambda d, h: _check_input(d, "again-1", {"size": 2}))
def generator_values_follow_generator_order_not_completion_order(h: History, plan: FlowPlan) -> None:
    generator_over_every_instance_of_an_upstream(h, plan)


def _check_input(decisions: Decisions, activity_id: str, expected: Any) -> None:
    assert inputs_by_id(decisions)[activity_id] == expected


@case(UPSTREAM, ['complete {"sum":0,"sizes":[]}'])
def empty_generator_gives_no_instances_and_dependents_run_with_empty_lists(
    h: History, plan: FlowPlan
) -> None:
    h.step(plan)
    h.completed("src", {"items": []})
    assert summaries(h.step(plan)) == ["schedule total"]
    assert json.loads(h.events[-1]["activityTaskScheduledEventAttributes"]["input"])["input"] == {"ns": []}
    h.completed("total", {"sum": 0})


def _references(decisions: Decisions, h: History) -> None:
    assert inputs_by_id(decisions) == {
        f"use-{i}": {
            "n": 5,
            "k": k,
            "x": 50,
            "whole": {"x": 50, "tag": "t"},
            "vs": [11, 21],
            "all": [{"v": 11}, {"v": 21}],
            "lit": {"deep": [1, 2]},
        }
        for i, k in enumerate("ab")
    }


@case(REFERENCES, _references, input={"n": 5})
def each_instance_input_resolved_from_every_kind_of_reference(h: History, plan: FlowPlan) -> None:
    assert summaries(h.step(plan)) == ["schedule one", "schedule many-0", "schedule many-1"]
    h.completed("many-1", {"v": 21})
    h.completed("one", {"x": 50, "tag": "t"})
    assert h.step(plan) == []  # many-0 still runs
    h.completed("many-0", {"v": 11})


# concurrency


add(CONCURRENCY, "max_concurrency_respected", ["schedule c-0", "schedule c-1"])


@case(CONCURRENCY, ["schedule c-2"])
def max_concurrency_refilled_as_instances_close(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.completed("c-1")


@case(WIDE, lambda d, h: _check_open_cap(d, h))
def open_activities_capped_at_1000(h: History, plan: FlowPlan) -> None:
    for _ in range(12):
        decisions = h.step(plan)
        for timer_id in ids(decisions, "StartTimer"):
            h.fired(timer_id)
    h.completed("w-17")


def _check_open_cap(decisions: Decisions, h: History) -> None:
    scheduled = [e for e in h.events if e["eventType"] == "ActivityTaskScheduled"]
    assert len(scheduled) == 1000
    assert summaries(decisions) == ["schedule w-1000"]


# retries


@case(RETRY_NOW, lambda d, h: _attempt(d, "a#2", 2))
def failure_with_retries_left_and_no_interval_schedules_again(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.failed("a")


def _attempt(decisions: Decisions, activity_id: str, attempt: int) -> None:
    """One attempt scheduled, under its own id (`a#2`), with its number in the input too."""
    assert summaries(decisions) == [f"schedule {activity_id}"]
    assert task_input(decisions[0])["attempt"] == attempt


@case(RETRY_WAIT, ["timer retry-1-a 10"])
def failure_with_an_interval_starts_a_timer(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.failed("a")


@case(RETRY_WAIT, lambda d, h: _attempt(d, "a#2", 2))
def retry_timer_fired_schedules_the_next_attempt(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.failed("a")
    timer = only(h.step(plan), "StartTimer")
    assert json.loads(timer["control"]) == {"kind": "retry", "activity_id": "a", "attempt": 1}
    h.fired("retry-1-a")


@case(RETRY_WAIT, lambda d, h: _attempt(d, "a#2", 2))
def retry_timer_that_could_not_start_retries_at_once(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.failed("a")
    h.decision_task()
    h.decision_completed()
    h.start_timer_failed("retry-1-a")


@case(RETRY_WAIT, [])
def retry_timer_running_is_not_started_twice(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.failed("a")
    h.step(plan)
    h.add("WorkflowExecutionSignaled", signalName="poke")  # news, but nothing to do


def _backoff(decisions: Decisions, h: History) -> None:
    waits = [
        int(e["timerStartedEventAttributes"]["startToFireTimeout"])
        for e in h.events
        if "timerStartedEventAttributes" in e
    ]
    assert waits == [10, 30, 90, 120, 120]  # 10 x 3^n, capped at 2m
    assert [
        e["timerStartedEventAttributes"]["timerId"] for e in h.events if "timerStartedEventAttributes" in e
    ] == [f"retry-{n}-a" for n in range(1, 6)]
    _, details = failure(decisions)
    assert details["attempts"] == 6


@case(BACKOFF, _backoff)
def backoff_rate_and_max_interval(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    for attempt in range(1, 6):
        h.failed("a")
        h.step(plan)  # the timer
        h.fired(f"retry-{attempt}-a")
        h.step(plan)  # the next attempt
    h.failed("a")


def _jitter(decisions: Decisions, h: History) -> None:
    timer = only(decisions, "StartTimer")
    assert 0 <= int(timer["startToFireTimeout"]) <= 100
    assert timer["startToFireTimeout"] == str(retry_wait(plan_from(JITTER).activities[0].retry, "a", 1))
    plan = plan_from(JITTER)
    assert decide(plan, h.events) == decisions  # the same history, the same wait
    assert decide(plan, [dict(e) for e in h.events]) == decisions


@case(JITTER, _jitter)
def jitter_full_is_deterministic(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.failed("a")


def _jitter_many(decisions: Decisions, h: History) -> None:
    waits = [int(attributes(d)["startToFireTimeout"]) for d in decisions]
    assert len(waits) == 20 and all(0 <= w <= 100 for w in waits)
    assert len(set(waits)) > 10  # spread, not one wait for all
    assert decide(plan_from(JITTER_MANY), h.events) == decisions


@case(JITTER_MANY, _jitter_many)
def jitter_full_spreads_instances_within_the_wait(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    for i in range(20):
        h.failed(f"g-{i}")


@case(ERRORS, lambda d, h: _attempt(d, "a#2", 2))
def error_named_in_errors_is_retried(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.failed("a", "ThrottledError: slow down")


@case(ERRORS, lambda d, h: _fails_naming(d, "a failed after 1 attempt: KeyError: 'x'"))
def error_not_named_in_errors_is_final(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.failed("a", "KeyError: 'x'")


@case(ERRORS, lambda d, h: _fails_naming(d, "a failed after 1 attempt: timed out (START_TO_CLOSE)"))
def time_out_not_named_in_errors_is_final(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.timed_out("a", "START_TO_CLOSE")


def _fails_naming(decisions: Decisions, reason: str) -> None:
    assert summaries(decisions) == [f"fail {reason}"]


def _timeout_case(kind: str) -> None:
    def history(h: History, plan: FlowPlan) -> None:
        h.step(plan)
        h.timed_out("a", kind)
        assert summaries(h.step(plan)) == ["schedule a#2"]
        h.timed_out("a", kind)
        assert summaries(h.step(plan)) == ["schedule a#3"]
        h.timed_out("a", kind)

    CASES.append(
        Case(
            f"time_out_{kind.lower()}_counts_as_an_attempt_and_is_retried",
            RETRY_NOW,
            history,
            [f"fail a failed after 3 attempts: timed out ({kind})"],
        )
    )


for _kind in ("START_TO_CLOSE", "SCHEDULE_TO_START", "SCHEDULE_TO_CLOSE", "HEARTBEAT"):
    _timeout_case(_kind)


@case(ERRORS, lambda d, h: _attempt(d, "a#2", 2))
def heartbeat_time_out_named_in_errors_is_retried(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.timed_out("a", "HEARTBEAT")


@case(RETRY_NOW, lambda d, h: _attempt(d, "a#2", 2))
def schedule_failure_with_a_retryable_cause_is_retried(h: History, plan: FlowPlan) -> None:
    h.decision_task()
    h.decision_completed()
    h.schedule_failed("a", "ACTIVITY_CREATION_RATE_EXCEEDED")


@case(RETRY_NOW, ["fail a failed after 3 attempts: could not be scheduled (OPEN_ACTIVITIES_LIMIT_EXCEEDED)"])
def schedule_failures_count_as_attempts(h: History, plan: FlowPlan) -> None:
    for activity_id in ("a", "a#2", "a#3"):
        h.decision_task()
        h.decision_completed()
        h.schedule_failed(activity_id, "OPEN_ACTIVITIES_LIMIT_EXCEEDED")


@case(RETRY_NOW, ["fail a failed after 1 attempt: could not be scheduled (ACTIVITY_TYPE_DEPRECATED)"])
def schedule_failure_with_a_final_cause_fails(h: History, plan: FlowPlan) -> None:
    h.decision_task()
    h.decision_completed()
    h.schedule_failed("a", "ACTIVITY_TYPE_DEPRECATED")


# an activity id per attempt


def _attempts_of_g_1(decisions: Decisions, h: History) -> None:
    scheduled = [
        e["activityTaskScheduledEventAttributes"]["activityId"]
        for e in h.events
        if e["eventType"] == "ActivityTaskScheduled"
    ]
    # Every attempt has an id of its own; g-1's retries never take the name of g-10 or g-11.
    assert len(scheduled) == len(set(scheduled))
    assert [i for i in scheduled if i.startswith("g-1") and not i.startswith("g-1-")] == [
        "g-1",
        "g-10",
        "g-11",
        "g-1#2",
        "g-1#3",
    ]
    assert summaries(decisions) == ["schedule boom"]
    assert inputs_by_id(decisions)["boom"] == {"vs": [0, 100, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]}


@case(ATTEMPTS, _attempts_of_g_1)
def each_attempt_is_scheduled_under_its_own_id(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    for i in range(12):
        if i == 1:
            h.failed("g-1")
        else:
            h.completed(f"g-{i}", {"v": i})
    assert summaries(h.step(plan)) == ["schedule g-1#2"]
    h.timed_out("g-1#2", "START_TO_CLOSE")
    assert summaries(h.step(plan)) == ["schedule g-1#3"]
    h.completed("g-1#3", {"v": 100})


@case(ATTEMPTS, ["schedule g-4.revert#2"])
def a_revert_retries_under_its_own_ids(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    for i in range(12):
        h.completed(f"g-{i}", {"v": i})
    h.step(plan)
    h.failed("boom")
    assert summaries(h.step(plan)) == [f"schedule g-{i}.revert" for i in range(11, -1, -1)]
    for i in range(12):
        if i == 4:
            h.failed("g-4.revert")
        else:
            h.completed(f"g-{i}.revert")


@case(RETRY_NOW, ["cancel-activity a#2", "cancel-workflow"])
def cancel_names_the_open_attempt(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.failed("a")
    assert summaries(h.step(plan)) == ["schedule a#2"]
    h.cancel_requested()


@case(RETRY_NOW, ["cancel-workflow"])
def a_cancel_requested_for_an_attempt_is_its_instances(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.failed("a")
    h.step(plan)
    h.activity_cancel_requested("a#2")
    h.cancel_requested()


def _reused_id(decisions: Decisions, h: History) -> None:
    reason, details = failure(decisions)
    expected = (
        "invalid history: event 11 (ActivityTaskScheduled) has activity id a, but a had 1 attempt "
        "and the next is a#2 (each attempt has its own id)"
    )
    assert reason == expected
    assert details == {"history": expected.removeprefix("invalid history: ")}


@case(RETRY_NOW, _reused_id)
def a_history_that_reuses_an_activity_id_fails_clearly(h: History, plan: FlowPlan) -> None:
    # As an older decider wrote it: the second attempt under the first one's id.
    h.step(plan)
    h.failed("a")
    h.decision_task()
    h.decision_completed()
    h.schedule("a")


@case(
    RETRY_NOW,
    [
        "fail invalid history: event 11 (ActivityTaskScheduled) has activity id a#3, but a had 1 attempt "
        "and the next is a#2 (each attempt has its own id)"
    ],
)
def an_attempt_out_of_turn_fails_clearly(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.failed("a")
    h.decision_task()
    h.decision_completed()
    h.schedule("a#3")


@case(
    RETRY_NOW,
    [
        "fail invalid history: event 9 (ActivityTaskScheduled) has activity id a#2, but a had 1 attempt "
        "and a is still open (each attempt has its own id)"
    ],
)
def a_second_attempt_while_the_first_is_open_fails_clearly(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.decision_task()
    h.decision_completed()
    h.schedule("a#2")


# failing


def _exhausted(decisions: Decisions, h: History) -> None:
    reason, details = failure(decisions)
    assert reason == "a failed after 3 attempts: ValueError: third"
    assert details["activity"] == "a" and details["instance"] == "a"
    assert details["attempts"] == 3
    assert details["error"] == "ValueError: third" and details["details"] == "trace 3"


@case(RETRY_NOW, _exhausted)
def exhausted_retries_fail_the_workflow_naming_activity_instance_and_error(
    h: History, plan: FlowPlan
) -> None:
    h.step(plan)
    for n, word in enumerate(["first", "second"], 1):
        h.failed("a", f"ValueError: {word}", f"trace {n}")
        h.step(plan)
    h.failed("a", "ValueError: third", "trace 3")


def _bounded(decisions: Decisions, h: History) -> None:
    reason, _ = failure(decisions)
    assert len(reason) <= 256 and reason.startswith("a failed after 1 attempt: ValueError: ")
    assert len(attributes(decisions[0])["details"]) <= 32_768


@case(RETRY_NONE, _bounded)
def fail_reason_and_details_within_swf_limits(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.failed("a", "ValueError: " + "w" * 400, "\n".join(f"line {n} " + "d" * 80 for n in range(1000)))


def _fan_failure(decisions: Decisions, h: History) -> None:
    reason, details = failure(decisions)
    assert reason == "fan-1 (item=qq) failed after 1 attempt: ValueError: boom"
    assert details["activity"] == "fan" and details["instance"] == "fan-1"
    assert details["values"] == {"item": "qq"}


@case(UPSTREAM, _fan_failure)
def failure_of_a_generated_instance_names_it_and_its_values(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.completed("src", {"items": ["p", "qq", "r"]})
    h.step(plan)
    h.completed("fan-0", {"size": 1})
    h.completed("fan-2", {"size": 1})
    h.failed("fan-1")


@case(CONTINUE, ['complete {"x":null,"y":7}'])
def on_failure_continue_gives_dependents_none_and_completes(h: History, plan: FlowPlan) -> None:
    assert summaries(h.step(plan)) == [
        "schedule soft",
        "schedule each-0",
        "schedule each-1",
        "schedule each-2",
    ]
    h.failed("soft")
    h.completed("each-0", {"v": 0})
    h.timed_out("each-1", "HEARTBEAT")
    h.completed("each-2", {"v": 2})
    decisions = h.step(plan)
    assert inputs_by_id(decisions) == {"after": {"x": None, "vs": [0, None, 2]}}
    h.completed("after", {"y": 7})


def _saga(decisions: Decisions, h: History) -> None:
    reason, details = failure(decisions)
    assert reason == "c failed after 1 attempt: ValueError: boom"
    assert details["reverts"] == {"b-0.revert": "reverted", "b-1.revert": "reverted", "a.revert": "reverted"}


@case(SAGA, _saga, input={"n": 4})
def reverts_run_downstream_first_then_the_workflow_fails(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.completed("a", {"x": 40})
    h.step(plan)
    h.completed("b-0", {"y": 1})
    h.completed("b-1", {"y": 2})
    h.step(plan)
    h.failed("c")
    first = h.step(plan)
    assert summaries(first) == ["schedule b-1.revert", "schedule b-0.revert"]  # last instance first
    assert [attributes(d)["activityType"]["name"] for d in first] == ["w.b.revert", "w.b.revert"]
    # The forward inputs, plus the result to undo.
    assert task_input(first[0]) == {"input": {"x": 40, "i": 2}, "result": {"y": 2}, "attempt": 1}
    h.completed("b-1.revert")
    assert h.step(plan) == []  # a waits for both of b's reverts
    h.completed("b-0.revert")
    second = h.step(plan)
    assert summaries(second) == ["schedule a.revert"]
    assert task_input(second[0]) == {"input": {"n": 4}, "result": {"x": 40}, "attempt": 1}
    h.completed("a.revert")


@case(SAGA, lambda d, h: _revert_failed(d), input={"n": 4})
def a_revert_that_fails_is_reported_and_the_rest_still_run(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.completed("a", {"x": 40})
    h.step(plan)
    h.completed("b-0", {"y": 1})
    h.failed("b-1")  # b-0 completed: only it is reverted
    assert summaries(h.step(plan)) == ["schedule b-0.revert"]
    h.failed("b-0.revert", "IOError: gone")
    assert summaries(h.step(plan)) == ["schedule a.revert"]
    h.completed("a.revert")


def _revert_failed(decisions: Decisions) -> None:
    reason, details = failure(decisions)
    assert reason == "b-1 (i=2) failed after 1 attempt: ValueError: boom"
    assert details["reverts"] == {"b-0.revert": "revert failed: IOError: gone", "a.revert": "reverted"}


@case(FAIL_WAITS, ["schedule slow.revert"])
def failing_waits_for_open_instances_then_reverts_them(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.failed("a")
    assert h.step(plan) == []  # slow is still open: it may need reverting
    h.completed("slow", {"x": 1})


@case(
    RETRY_WAIT,
    ["cancel-activity b", "cancel-timer retry-1-a", "cancel-workflow"],
    name="cancel_request_cancels_open_tasks_and_timers_then_the_workflow",
)
def _cancel(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.failed("a")
    h.step(plan)  # retry-1-a
    h.schedule("b")  # stands for any open task
    h.cancel_requested()


@case(CHAIN, ["cancel-workflow"], input={"n": 1})
def cancel_request_does_not_cancel_a_task_twice(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.activity_cancel_requested("a")
    h.cancel_requested()


# The saga with `on_cancel: none`: a cancel closes the execution at once, reverting nothing.
SAGA_NO_REVERT_ON_CANCEL = SAGA.replace(
    "  execution_timeout: 365d\n", "  execution_timeout: 365d\n  on_cancel: none\n"
)


def _saga_half_done(h: History, plan: FlowPlan) -> None:
    """a and b-0 completed, b-1 still runs: a half-done saga."""
    h.step(plan)
    h.completed("a", {"x": 40})
    h.step(plan)
    h.completed("b-0", {"y": 1})


@case(SAGA, ["cancel-activity b-1"], input={"n": 4})
def cancel_with_reverts_cancels_open_tasks_and_waits_for_them(h: History, plan: FlowPlan) -> None:
    _saga_half_done(h, plan)
    h.cancel_requested()


@case(SAGA, lambda d, h: _canceled_after_reverts(d), input={"n": 4})
def cancel_reverts_what_completed_newest_first_then_closes_as_canceled(h: History, plan: FlowPlan) -> None:
    _saga_half_done(h, plan)
    h.cancel_requested()
    assert summaries(h.step(plan)) == ["cancel-activity b-1"]
    h.canceled("b-1")  # canceled, not completed: nothing of it to revert
    assert summaries(h.step(plan)) == ["schedule b-0.revert"]
    h.completed("b-0.revert")
    assert summaries(h.step(plan)) == ["schedule a.revert"]
    h.completed("a.revert")


def _canceled_after_reverts(decisions: Decisions) -> None:
    assert summaries(decisions) == ["cancel-workflow"]
    details = json.loads(only(decisions, "CancelWorkflowExecution")["details"])
    assert details == {"reverts": {"b-0.revert": "reverted", "a.revert": "reverted"}}


@case(SAGA, ["schedule b-1.revert", "schedule b-0.revert"], input={"n": 4})
def cancel_reverts_a_task_that_completed_after_the_request(h: History, plan: FlowPlan) -> None:
    _saga_half_done(h, plan)
    h.cancel_requested()
    h.step(plan)
    h.completed("b-1", {"y": 2})  # too late to cancel: it completed, so it is reverted too


@case(SAGA_NO_REVERT_ON_CANCEL, ["cancel-activity b-1", "cancel-workflow"], input={"n": 4})
def cancel_with_on_cancel_none_closes_at_once(h: History, plan: FlowPlan) -> None:
    _saga_half_done(h, plan)
    h.cancel_requested()


# bad input

for _name, _input, _reason in [
    ("missing_field", {"tags": []}, "invalid input: missing field day (date)"),
    (
        "wrong_type",
        {"day": "2024-01-01", "tags": ["a", 3]},
        "invalid input: tags[1]: expected str, found an integer",
    ),
    ("bad_date", {"day": "2024-02-30", "tags": []}, 'invalid input: day: expected date, found "2024-02-30"'),
    (
        "unknown_field",
        {"day": "2024-01-01", "tags": [], "colour": 1},
        'invalid input: unknown field "colour"',
    ),
    ("null_for_a_required_field", {"day": None, "tags": []}, "invalid input: day: expected date, found null"),
]:
    add(TYPED_INPUT, f"bad_input_{_name}_fails_before_scheduling", [f"fail {_reason}"], _input)

CASES.append(
    Case(
        "bad_input_not_json_fails_before_scheduling",
        TYPED_INPUT,
        nothing,
        lambda d, h: (
            None
            if summaries(d)[0].startswith("fail invalid input: not JSON") and len(d) == 1
            else pytest.fail(str(d))
        ),
        raw_input='{"day": ',
    )
)
add(
    TYPED_INPUT,
    "bad_input_not_an_object_fails_before_scheduling",
    ["fail invalid input: expected a JSON object of input fields"],
    raw_input="[1, 2]",
)
add(TYPED_INPUT, "optional_input_may_be_left_out", ["schedule a"], {"day": "2024-01-01", "tags": []})


# the bounds of one response


def _hundred(decisions: Decisions, h: History) -> None:
    assert len(decisions) == MAX_DECISIONS
    assert ids(decisions) == [f"m-{i}" for i in range(99)]
    timer = only(decisions, "StartTimer")
    assert timer["startToFireTimeout"] == "0"
    assert timer["timerId"] == f"continue-{h.last_id}"
    assert json.loads(timer["control"]) == {"kind": "continue"}


add(MANY, "over_100_decisions_continue_through_a_zero_second_timer", _hundred)


def _the_rest(decisions: Decisions, h: History) -> None:
    assert ids(decisions) == [f"m-{i}" for i in range(99, 150)]
    assert len(decisions) == 51


@case(MANY, _the_rest)
def the_rest_after_the_continuation_timer_fires(h: History, plan: FlowPlan) -> None:
    first = h.step(plan)
    h.fired(ids(first, "StartTimer")[0])


def _megabyte(decisions: Decisions, h: History) -> None:
    size = sum(len(json.dumps(d).encode()) for d in decisions)
    assert size <= MAX_RESPONSE_BYTES
    assert decisions[-1]["decisionType"] == "StartTimer"
    assert 25 <= len(ids(decisions)) < 40
    assert all(task_input(d)["input"]["blob"] == BIG_LITERAL for d in decisions[:-1])


add(LARGE, "over_1_mb_continues_through_a_zero_second_timer", _megabyte)


def _megabyte_rest(decisions: Decisions, h: History) -> None:
    done = sum(1 for e in h.events if e["eventType"] == "ActivityTaskScheduled")
    assert ids(decisions) == [f"big-{i}" for i in range(done, 40)]
    assert "StartTimer" not in [d["decisionType"] for d in decisions]


@case(LARGE, _megabyte_rest)
def over_1_mb_the_rest_after_the_timer(h: History, plan: FlowPlan) -> None:
    first = h.step(plan)
    h.fired(ids(first, "StartTimer")[0])


@case(CHAIN, [], input={"n": 1})
def no_op_decision_task_gives_no_decisions(h: History, plan: FlowPlan) -> None:
    # The last decision task answered nothing; nothing happened since: this one answers nothing.
    h.decision_task()
    h.decision_completed()


@case(CHAIN, [], input={"n": 1})
def a_task_starting_is_no_news(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.completed("a", {"x": 1})
    h.step(plan)
    h.start("b")


@case(CHAIN, ["schedule b"], input={"n": 1})
def news_before_a_lost_decision_task_is_acted_on(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.completed("a", {"x": 1})
    h.decision_task()
    h.add(
        "DecisionTaskTimedOut",
        scheduledEventId=h.last_id - 1,
        startedEventId=h.last_id,
        timeoutType="START_TO_CLOSE",
    )


@case(CHAIN, ["schedule b"], input={"n": 1})
def news_during_a_decision_task_is_acted_on_by_the_next(h: History, plan: FlowPlan) -> None:
    # a completes while a decision task (one that had nothing to do) is in flight: that task
    # answers without seeing it, so the next one must act on it although it comes before the
    # DecisionTaskCompleted.
    h.step(plan)
    h.start("a")
    h.add("WorkflowExecutionSignaled", signalName="poke")
    h.decision_task()
    h.completed("a", {"x": 1})
    h.decision_completed()


def _replay(decisions: Decisions, h: History) -> None:
    plan = plan_from(SAGA)
    assert summaries(decisions) == ["schedule b-1.revert"]
    assert decide(plan, h.events) == decisions
    # Through JSON and back (timestamps as text), as a decider reading a cache would see it.
    assert decide(plan, json.loads(json.dumps(h.events, default=str))) == decisions


@case(SAGA, _replay, input={"n": 2})
def replay_is_deterministic(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.completed("a", {"x": 1})
    h.step(plan)
    h.completed("b-1", {"y": 1})
    h.timed_out("b-0", "HEARTBEAT")
    h.decision_task()
    h.decision_completed()  # a decider that crashed before answering: its task timed out
    h.add("DecisionTaskTimedOut", scheduledEventId=h.last_id - 2, startedEventId=h.last_id - 1)


add(
    DYNAMIC,
    "dynamic_generator_over_max_items_fails_clearly",
    ["fail d would have 5 instances, more than its max_items 3"],
    {"countries": [1, 2, 3, 4, 5]},
)


def _long_ids(decisions: Decisions, h: History) -> None:
    every = [
        e["activityTaskScheduledEventAttributes"]["activityId"]
        for e in h.events
        if e["eventType"] == "ActivityTaskScheduled"
    ] + ids(decisions)
    assert all(len(i) <= 256 for i in every)
    assert f"{LONG_NAME}-999" in every
    assert f"{LONG_NAME}-999.revert" in every  # the longest there is: 240 + 4 + 7


@case(LONG, _long_ids)
def activity_ids_within_256_characters(h: History, plan: FlowPlan) -> None:
    drive(h, plan, complete=lambda activity_id: activity_id != "boom")
    h.failed("boom")
    drive(h, plan, complete=lambda activity_id: False)


def _longest_ids(decisions: Decisions, h: History) -> None:
    every = [
        e["activityTaskScheduledEventAttributes"]["activityId"]
        for e in h.events
        if e["eventType"] == "ActivityTaskScheduled"
    ]
    assert max(len(i) for i in every) == 256
    assert f"{LONGEST_NAME}-9.revert#10" in every
    reason, details = failure(decisions)
    assert reason == "boom failed after 1 attempt: ValueError: boom"
    assert details["reverts"][f"{LONGEST_NAME}-9.revert"] == "revert failed: ValueError: boom"


@case(LONGEST, _longest_ids)
def the_last_attempt_of_the_longest_revert_is_within_256_characters(h: History, plan: FlowPlan) -> None:
    drive(h, plan, complete=lambda activity_id: activity_id != "boom")
    h.failed("boom")
    for _ in range(10):  # every revert fails, attempt after attempt
        for activity_id in ids(h.step(plan)):
            h.failed(activity_id)


@case(RESULT, ['complete {"text":"é \\"q\\"","everything":{"text":"é \\"q\\"","n":3,"tags":["t"]}}'])
def complete_with_the_exact_result(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.completed("a", {"text": 'é "q"', "n": 3, "tags": ["t"]})


TOO_LARGE = "; SWF allows 32,768: set payloads.s3 in the spec to keep larger values in S3"


@case(RESULT, [f"fail the workflow result is 60,052 characters as JSON{TOO_LARGE}"])
def result_over_32768_characters_fails_clearly(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.completed("a", {"text": "r" * 30_000, "n": 3, "tags": []})


def with_payloads(spec_text: str) -> str:
    return spec_text.replace("flowgen: 1\n", "flowgen: 1\npayloads: {s3: 's3://bucket/p'}\n", 1)


def _big_result(decisions: Decisions, h: History) -> None:
    # With payloads, decide completes with the whole result: the decider loop stores it in S3.
    (decision,) = decisions
    assert decision["decisionType"] == "CompleteWorkflowExecution"
    assert len(attributes(decision)["result"]) == 60_052


case(with_payloads(RESULT), _big_result, name="result_over_32768_characters_with_payloads_completes")(
    result_over_32768_characters_fails_clearly
)


def _big_input(decisions: Decisions, h: History) -> None:
    reason, details = failure(decisions)
    assert reason.startswith("the input of fan-1 (activity fan) is 32,8") and reason.endswith(TOO_LARGE)
    assert details["error"] == reason


def _big_input_offloaded(decisions: Decisions, h: History) -> None:
    assert summaries(decisions) == ["schedule fan-0", "schedule fan-1"]
    assert len(attributes(decisions[1])["input"]) > 32_768


@case(with_payloads(BIG_INPUT), _big_input_offloaded, name="task_input_over_32768_characters_with_payloads")
@case(BIG_INPUT, _big_input)
def task_input_over_32768_characters_fails_clearly(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.completed("src", {"items": ["short", "z" * 800]})


# bugs found on the way


def _huge_wait(decisions: Decisions, h: History) -> None:
    # 100^n seconds soon has more than the 8 digits SWF takes (a response SWF would refuse,
    # again and again): no wait is longer than a year, the longest an execution may run.
    assert summaries(decisions) == [f"timer retry-60-a {365 * 86400}"]
    policy = plan_from(HUGE_BACKOFF).activities[0].retry
    assert retry_wait(policy, "a", 4) == 100**3
    assert retry_wait(policy, "a", 5) == 365 * 86400
    # 100^199 overflows a float.
    assert retry_wait(RetryPolicy(max_retries=300, interval=1, backoff_rate=100.0), "a", 200) == 365 * 86400
    assert retry_wait(RetryPolicy(max_retries=300, backoff_rate=100.0), "a", 200) == 0


@case(HUGE_BACKOFF, _huge_wait)
def retry_wait_stays_a_valid_timer_duration(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    for attempt in range(1, 60):
        h.failed("a")
        h.timer_started(
            f"retry-{attempt}-a", 1, json.dumps({"kind": "retry", "activity_id": "a", "attempt": attempt})
        )
        h.fired(f"retry-{attempt}-a")
        h.schedule(f"a#{attempt + 1}")
    h.failed("a")


@case(LATE_REVERT, ["schedule late.revert"])
def failure_while_expanding_still_reverts_later_activities(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.completed("late", {"x": 1})
    h.completed("src", {"items": ["1", "2", "3"]})  # over fan's max_items


def _late_fail(decisions: Decisions, h: History) -> None:
    reason, details = failure(decisions)
    assert reason == "fan would have 3 instances, more than its max_items 2"
    assert details == {"reverts": {"late.revert": "reverted"}}


@case(LATE_REVERT, _late_fail)
def failure_while_expanding_fails_after_the_reverts(h: History, plan: FlowPlan) -> None:
    failure_while_expanding_still_reverts_later_activities(h, plan)
    h.step(plan)
    h.completed("late.revert")


def _scheduled(h: History) -> list[str]:
    return [
        e["activityTaskScheduledEventAttributes"]["activityId"]
        for e in h.events
        if e["eventType"] == "ActivityTaskScheduled"
    ]


def _wide_reverts(h: History, plan: FlowPlan) -> None:
    drive(h, plan, complete=lambda activity_id: activity_id != "boom", results={"w": {"v": 1}})
    h.failed("boom", "RuntimeError: boom", "d" * 20_000)
    drive(h, plan, complete=lambda activity_id: False)


def _wide_revert(decisions: Decisions, h: History) -> None:
    reverts = [i for i in _scheduled(h) if i.endswith(".revert")]
    assert len(reverts) == 1000 and len(set(reverts)) == 1000
    assert summaries(decisions) == ["schedule w-199.revert"]  # last instance first


@case(WIDE_REVERT, _wide_revert)
def reverts_keep_under_1000_open_activities(h: History, plan: FlowPlan) -> None:
    _wide_reverts(h, plan)
    assert len([i for i in _scheduled(h) if i.endswith(".revert")]) == 1000
    h.completed("w-1199.revert")


def _details_json(decisions: Decisions, h: History) -> None:
    a = only(decisions, "FailWorkflowExecution")
    assert a["reason"] == "boom failed after 1 attempt: RuntimeError: boom"
    assert len(a["details"]) <= 32_768
    details = json.loads(a["details"])  # still JSON, though cut
    assert details["activity"] == "boom" and details["instance"] == "boom"


@case(WIDE_REVERT, _details_json)
def failure_details_stay_json_when_cut(h: History, plan: FlowPlan) -> None:
    _wide_reverts(h, plan)
    for activity_id in [i for i in _scheduled(h) if i.endswith(".revert")][:1000]:
        h.completed(activity_id)
    drive(h, plan)


@case(RESULT_REVERT, ["schedule a.revert"])
def result_too_large_reverts_what_completed(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.completed("a", {"text": "r" * 33_000})


def _result_revert_fail(decisions: Decisions, h: History) -> None:
    reason, details = failure(decisions)
    assert reason == f"the workflow result is 33,011 characters as JSON{TOO_LARGE}"
    assert details == {"error": reason, "reverts": {"a.revert": "reverted"}}


@case(RESULT_REVERT, _result_revert_fail)
def result_too_large_fails_after_the_reverts(h: History, plan: FlowPlan) -> None:
    result_too_large_reverts_what_completed(h, plan)
    h.step(plan)
    h.completed("a.revert")


@case(REVERT_CONCURRENCY, ["schedule c-0.revert"])
def reverts_keep_to_max_concurrency(h: History, plan: FlowPlan) -> None:
    drive(h, plan, complete=lambda activity_id: activity_id != "boom", results={"c": {"v": 1}})
    h.failed("boom")
    assert summaries(h.step(plan)) == ["schedule c-2.revert", "schedule c-1.revert"]
    h.completed("c-2.revert")


# -- shards: a sharded activity's instances in child workflow executions ---------------------------


# Five instances, two a shard (shards 0-1, 2-3, 4); four open at once: two shards of two.
def shards_spec(extra: str = "") -> str:
    return spec(
        f"""
fan:
  handler: "{H}:fan"
  generators: {{i: {{range: [0, 5]}}}}
  max_concurrency: 4
  inputs: {{i: generator.i}}
  outputs: {{v: int}}{extra}
after: {{handler: "{H}:after", requires: [fan], inputs: {{vs: "fan[*].v"}}, outputs: {{y: int}}}}
""",
        result="{vs: 'fan[*].v', y: after.y}",
    )


SHARDS = shards_spec()
SHARDS_CONTINUE = shards_spec("\n  on_failure: continue")
FAN = ("fan", 2)


def _first_shards(decisions: Decisions, h: History) -> None:
    assert summaries(decisions) == ["start-child wf-1.fan.0", "start-child wf-1.fan.1"]
    first = attributes(decisions[0])
    assert first["workflowType"] == {"name": "w.fan", "version": "1"}
    assert json.loads(first["input"]) == {"items": [{"i": 0}, {"i": 1}]}
    assert json.loads(attributes(decisions[1])["input"]) == {"items": [{"i": 2}, {"i": 3}]}
    assert json.loads(first["control"]) == {"activity": "fan", "shard": 0}
    assert first["taskList"] == {"name": "w-v1"} and first["childPolicy"] == "TERMINATE"
    assert first["executionStartToCloseTimeout"] == str(365 * 86400)


@case(SHARDS, _first_shards, shard=FAN)
def shards_start_within_max_concurrency_across_shards(h: History, plan: FlowPlan) -> None:
    pass


@case(SHARDS, ["schedule fan-0", "schedule fan-1", "schedule fan-2", "schedule fan-3"], shard=("fan", 5))
def a_run_no_larger_than_one_shard_runs_in_the_workflow_itself(h: History, plan: FlowPlan) -> None:
    pass


@case(SHARDS, [], shard=FAN)
def shards_initiated_wait(h: History, plan: FlowPlan) -> None:
    h.step(plan)


@case(SHARDS, [], shard=FAN)
def shards_started_wait(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.child_start("fan", 0)
    h.child_start("fan", 1)


@case(SHARDS, ["start-child wf-1.fan.2"], shard=FAN)
def shard_completed_makes_room_for_the_next(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.child_completed("fan", 1, [{"v": 20}, {"v": 30}])


def _in_order(decisions: Decisions, h: History) -> None:
    assert inputs_by_id(decisions) == {"after": {"vs": [0, 10, 20, 30, 40]}}


@case(SHARDS, _in_order, shard=FAN)
def shard_results_are_concatenated_in_shard_order(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.child_completed("fan", 1, [{"v": 20}, {"v": 30}])
    assert summaries(h.step(plan)) == ["start-child wf-1.fan.2"]
    h.child_completed("fan", 2, [{"v": 40}])
    assert h.step(plan) == []
    h.child_completed("fan", 0, [{"v": 0}, {"v": 10}])


@case(SHARDS, ['complete {"vs":[0,10,20,30,40],"y":7}'], shard=FAN)
def sharded_flow_completes_with_every_result(h: History, plan: FlowPlan) -> None:
    shard_results_are_concatenated_in_shard_order(h, plan)
    h.step(plan)
    h.completed("after", {"y": 7})


def _shard_failed(decisions: Decisions, h: History) -> None:
    reason, details = failure(decisions)
    assert (
        reason == 'fan shard 1 (instances 2 to 3) failed: fan-1 (item={"i":3}) failed after 1 attempt: boom'
    )
    assert details["activity"] == "fan" and details["shard"] == 1 and details["instances"] == [2, 3]
    assert details["workflow_id"] == "wf-1.fan.1" and details["details"] == "trace"


@case(SHARDS, _shard_failed, shard=FAN)
def shard_failed_fails_the_activity(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.child_failed("fan", 1, 'fan-1 (item={"i":3}) failed after 1 attempt: boom', "trace")
    assert h.step(plan) == []  # shard 0 still runs: what it completes may need reverting
    h.child_completed("fan", 0, [{"v": 0}, {"v": 10}])


@case(SHARDS, ["fail fan shard 0 (instances 0 to 1) timed out (START_TO_CLOSE)"], shard=FAN)
def shard_timed_out_fails_the_activity(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.child_timed_out("fan", 0)
    assert h.step(plan) == []
    h.child_completed("fan", 1, [{"v": 20}, {"v": 30}])


@case(SHARDS, ["fail fan shard 0 (instances 0 to 1) canceled"], shard=FAN)
def shard_canceled_fails_the_activity(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.child_canceled("fan", 0)
    h.child_completed("fan", 1, [{"v": 20}, {"v": 30}])


@case(SHARDS, ["fail fan shard 1 (instances 2 to 3) terminated"], shard=FAN)
def shard_terminated_fails_the_activity(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.child_terminated("fan", 1)
    h.child_completed("fan", 0, [{"v": 0}, {"v": 10}])


@case(SHARDS, ["timer restart-1-0-fan 2", "start-child wf-1.fan.2"], shard=FAN)
def shard_start_failed_with_a_passing_cause_waits_to_start_again(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.child_start_failed("fan", 0, "CHILD_CREATION_RATE_EXCEEDED")


@case(SHARDS, ["start-child wf-1.fan.0"], shard=FAN)
def shard_starts_again_when_its_wait_is_over(h: History, plan: FlowPlan) -> None:
    shard_start_failed_with_a_passing_cause_waits_to_start_again(h, plan)
    h.step(plan)
    h.child_completed("fan", 1, [{"v": 20}, {"v": 30}])
    h.fired("restart-1-0-fan")


@case(
    SHARDS,
    [
        "fail fan shard 0 (instances 0 to 1) could not be started (OPEN_CHILDREN_LIMIT_EXCEEDED) after 5 starts"
    ],
    shard=FAN,
)
def shard_starts_are_bounded(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.child_completed("fan", 1, [{"v": 20}, {"v": 30}])
    h.step(plan)
    h.child_completed("fan", 2, [{"v": 40}])
    for attempt in range(1, 5):
        h.child_start_failed("fan", 0, "OPEN_CHILDREN_LIMIT_EXCEEDED")
        h.step(plan)
        h.fired(f"restart-{attempt}-0-fan")
        assert summaries(h.step(plan)) == ["start-child wf-1.fan.0"]
    h.child_start_failed("fan", 0, "OPEN_CHILDREN_LIMIT_EXCEEDED")


@case(
    SHARDS,
    ["fail fan shard 0 (instances 0 to 1) could not be started (WORKFLOW_TYPE_DOES_NOT_EXIST) after 1 start"],
    shard=FAN,
)
def shard_start_failed_with_a_final_cause_fails(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.child_start_failed("fan", 0, "WORKFLOW_TYPE_DOES_NOT_EXIST")
    h.child_completed("fan", 1, [{"v": 20}, {"v": 30}])


@case(SHARDS_CONTINUE, lambda d, h: _continued(d), shard=FAN)
def shard_failed_under_on_failure_continue_gives_none_for_its_instances(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.child_completed("fan", 0, [{"v": 0}, None])  # the child's own instance failed under continue
    h.child_terminated("fan", 1)
    h.step(plan)
    h.child_completed("fan", 2, [{"v": 40}])


def _continued(decisions: Decisions) -> None:
    assert inputs_by_id(decisions) == {"after": {"vs": [0, None, None, None, 40]}}


def _bad_result(decisions: Decisions, h: History) -> None:
    reason, _ = failure(decisions)
    assert reason.startswith("OutputError: the result of fan shard 0 (instances 0 to 1) must be")


@case(SHARDS, _bad_result, shard=FAN)
def shard_result_of_the_wrong_length_fails_it(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.child_completed("fan", 0, [{"v": 0}])
    h.child_completed("fan", 1, [{"v": 20}, {"v": 30}])
    h.step(plan)
    h.child_completed("fan", 2, [{"v": 40}])


@case(
    SHARDS,
    lambda d, h: _invalid(d, "event 8 (ChildWorkflowExecutionCompleted) is for initiated event 3"),
    shard=FAN,
)
def child_event_for_an_unknown_start_is_an_invalid_history(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.child_completed("fan", 0, [{"v": 0}, {"v": 10}])
    h.events[-1]["childWorkflowExecutionCompletedEventAttributes"]["initiatedEventId"] = 3


def _invalid(decisions: Decisions, start: str) -> None:
    reason, _ = failure(decisions)
    assert reason.startswith(f"invalid history: {start}"), reason


@case(SHARDS, ["start-child wf-1.fan.2"], shard=FAN)
def repeated_child_close_counts_once(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.child_completed("fan", 0, [{"v": 0}, {"v": 10}])
    h.child_failed("fan", 0)  # a second close of the same start: the first stands


@case(SHARDS, ["cancel-workflow"], shard=FAN)
def cancel_request_leaves_shards_to_the_child_policy(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.cancel_requested()


def _long_id(decisions: Decisions, h: History) -> None:
    ids = [attributes(d)["workflowId"] for d in decisions]
    assert len(ids) == 2 and all(len(i) <= 256 for i in ids) and len(set(ids)) == 2
    assert all(i.startswith("p" * 200) and ".fan." in i for i in ids)


@case(SHARDS, _long_id, shard=FAN)
def shard_ids_fit_within_256_characters(h: History, plan: FlowPlan) -> None:
    h.workflow_id = "p" * 256


# -- reverts of a sharded activity: revert shards, last completed shard first ---------------------

# As SHARDS, sharded by the compiler (shard_size: 2), with a revert: its plan has a revert shard plan.
SHARDS_REVERT = shards_spec(f'\n  shard_size: 2\n  revert: "{H}:undo"')
FAN_RESULTS = {0: [{"v": 0}, {"v": 10}], 1: [{"v": 20}, {"v": 30}], 2: [{"v": 40}]}


def _sharded_then_after_fails(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.child_completed("fan", 0, FAN_RESULTS[0])
    h.child_completed("fan", 1, FAN_RESULTS[1])
    h.step(plan)
    h.child_completed("fan", 2, FAN_RESULTS[2])
    h.step(plan)
    h.failed("after")


def _first_revert_shard(decisions: Decisions, h: History) -> None:
    assert summaries(decisions) == ["start-child wf-1.fan.revert.2"]
    a = attributes(decisions[0])
    assert a["workflowType"] == {"name": "w.fan.revert", "version": "1"}
    assert json.loads(a["control"]) == {"activity": "fan.revert", "shard": 2}
    assert json.loads(a["input"]) == {"items": [{"input": {"i": 4}, "result": {"v": 40}, "index": 4}]}
    assert a["taskList"] == {"name": "w-v1"} and a["childPolicy"] == "TERMINATE"


@case(SHARDS_REVERT, _first_revert_shard)
def a_failure_after_a_sharded_activity_reverts_its_last_shard_first(h: History, plan: FlowPlan) -> None:
    _sharded_then_after_fails(h, plan)


def _second_revert_shard(decisions: Decisions, h: History) -> None:
    assert summaries(decisions) == ["start-child wf-1.fan.revert.1"]
    items = json.loads(attributes(decisions[0])["input"])["items"]
    assert items == [
        {"input": {"i": 3}, "result": {"v": 30}, "index": 3},  # last instance first
        {"input": {"i": 2}, "result": {"v": 20}, "index": 2},
    ]


@case(SHARDS_REVERT, _second_revert_shard)
def revert_shards_run_one_at_a_time_in_reverse_shard_order(h: History, plan: FlowPlan) -> None:
    _sharded_then_after_fails(h, plan)
    assert summaries(h.step(plan)) == ["start-child wf-1.fan.revert.2"]
    assert h.step(plan) == []  # one revert shard at a time: the next waits for this one
    h.child_completed("fan.revert", 2, raw="{}")


def _reverted_by_shard(decisions: Decisions, h: History) -> None:
    reason, details = failure(decisions)
    assert reason.startswith("after failed after 1 attempt")
    assert details["reverts"] == {
        "fan shard 2 (instances 4 to 4)": "reverted",
        "fan shard 1 (instances 2 to 3)": "revert failed: 1 of 2 reverts failed; the first: fan-0 ...",
        "fan shard 0 (instances 0 to 1)": "revert failed: timed out (START_TO_CLOSE)",
    }


@case(SHARDS_REVERT, _reverted_by_shard)
def a_revert_shard_that_fails_is_recorded_and_the_others_still_run(h: History, plan: FlowPlan) -> None:
    revert_shards_run_one_at_a_time_in_reverse_shard_order(h, plan)
    h.step(plan)
    h.child_failed("fan.revert", 1, "1 of 2 reverts failed; the first: fan-0 ...")
    assert summaries(h.step(plan)) == ["start-child wf-1.fan.revert.0"]
    h.child_timed_out("fan.revert", 0)


@case(SHARDS_REVERT, ["timer restart-1-2-fan.revert 2"])
def a_revert_shard_that_could_not_start_starts_again_after_a_wait(h: History, plan: FlowPlan) -> None:
    _sharded_then_after_fails(h, plan)
    h.step(plan)
    h.child_start_failed("fan.revert", 2, "CHILD_CREATION_RATE_EXCEEDED")


def _only_shard_zero(decisions: Decisions, h: History) -> None:
    assert summaries(decisions) == ["start-child wf-1.fan.revert.0"]
    items = json.loads(attributes(decisions[0])["input"])["items"]
    assert [item["index"] for item in items] == [1, 0]


@case(SHARDS_REVERT, _only_shard_zero)
def a_failing_parent_waits_for_open_shards_then_reverts_the_completed_ones(
    h: History, plan: FlowPlan
) -> None:
    h.step(plan)
    # Shard 1 fails (it reverted its own instances); shard 0 still runs.
    h.child_failed("fan", 1, 'fan-1 (item={"i":3}) failed after 1 attempt: boom', "{}")
    assert h.step(plan) == []
    h.child_completed("fan", 0, FAN_RESULTS[0])


@case(shards_spec(f'\n  shard_size: 2\n  revert: "{H}:undo"\n  on_failure: continue'), _only_shard_zero)
def instances_that_failed_under_on_failure_continue_are_not_reverted(h: History, plan: FlowPlan) -> None:
    h.step(plan)
    h.child_completed("fan", 0, FAN_RESULTS[0])
    h.child_completed("fan", 1, [None, None])  # both failed for good: nothing to revert
    h.step(plan)
    h.child_completed("fan", 2, [None])
    h.step(plan)
    h.failed("after")


def _revert_shard_fails_at_the_end(decisions: Decisions, h: History) -> None:
    reason, details = failure(decisions)
    assert reason.startswith("1 of 2 reverts failed; the first: fan-0 (item=")
    assert details["failed"] == ["fan-0"]


@case(shards_spec(f'\n  shard_size: 2\n  revert: "{H}:undo"'), ["start-child wf-1.fan.revert.1"])
def a_cancel_with_on_cancel_revert_waits_for_open_shards_then_reverts_them(
    h: History, plan: FlowPlan
) -> None:
    h.step(plan)
    h.cancel_requested()
    assert h.step(plan) == []  # both shards still run: what they complete needs reverting
    h.child_completed("fan", 0, FAN_RESULTS[0])
    h.child_completed("fan", 1, FAN_RESULTS[1])


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_decider(case: Case) -> None:
    plan = plan_from(case.spec)
    if case.shard is not None:
        plan = sharded(plan, *case.shard)
    h = History(case.input, case.raw_input)
    case.history(h, plan)
    h.decision_task()
    decisions = decide(plan, h.events, h.workflow_id)
    assert decide(plan, h.events, h.workflow_id) == decisions, "decide is not deterministic"
    if callable(case.expect):
        case.expect(decisions, h)
    else:
        assert summaries(decisions) == case.expect


def test_there_is_a_case_per_behaviour() -> None:
    assert len(CASES) >= 45
    assert len({c.name for c in CASES}) == len(CASES)


def test_shard_plan_runs_its_items_and_returns_their_outputs_in_order() -> None:
    """The shard plan is decided by the same `decide`: its instances' inputs come from its input
    items, failures are retried as the activity says, and its result lists every output."""
    plan = sharded(plan_from(shards_spec("\n  retry: 1")), *FAN)
    shard = plan.shards[0]
    h = History({"items": [{"i": 2}, {"i": 3}]})
    assert inputs_by_id(h.step(shard)) == {"fan-0": {"i": 2}, "fan-1": {"i": 3}}
    h.failed("fan-1")
    h.completed("fan-0", {"v": 20})
    assert summaries(h.step(shard)) == ["schedule fan-1#2"]
    h.completed("fan-1#2", {"v": 30})
    assert summaries(h.step(shard)) == ['complete {"results":[{"v":20},{"v":30}]}']


@pytest.mark.parametrize(
    ("activity_id", "instance", "attempt"),
    [
        ("a", "a", 1),
        ("a#2", "a", 2),
        ("a-1", "a-1", 1),  # a generated instance, never an attempt of `a`
        ("a-1#2", "a-1", 2),
        ("a-12#13", "a-12", 13),
        ("a-1.revert", "a-1.revert", 1),
        ("a-1.revert#3", "a-1.revert", 3),
        # Not made by attempt_id: the first attempt of an instance of that (foreign) name.
        ("a#1", "a#1", 1),
        ("a#02", "a#02", 1),
        ("a#", "a#", 1),
        ("#2", "#2", 1),
        ("a#2x", "a#2x", 1),
        ("a#\uff12", "a#\uff12", 1),  # a full-width digit
        ("a#" + "9" * 5000, "a#" + "9" * 5000, 1),
        ("", "", 1),
    ],
)
def test_an_activity_id_splits_into_its_instance_and_attempt(
    activity_id: str, instance: str, attempt: int
) -> None:
    assert split_attempt_id(activity_id) == (instance, attempt)
    if instance and attempt_id(instance, attempt) == activity_id:
        assert split_attempt_id(attempt_id(instance, attempt + 1)) == (instance, attempt + 1)


def test_attempt_ids_round_trip() -> None:
    for instance in ("a", "g-0", "g-17", "g-17.revert", "n" * 240 + "-999"):
        for attempt in (1, 2, 9, 10, 11, 100, 12345):
            made = attempt_id(instance, attempt)
            assert split_attempt_id(made) == (instance, attempt)
            assert (made == instance) == (attempt == 1)


def test_in_a_revert_shard_a_revert_failing_for_good_fails_the_shard_after_the_others() -> None:
    # Decided as the revert shard plan: each item's revert, with the forward input and result.
    items = [
        {"input": {"i": 3}, "result": {"v": 30}, "index": 3},
        {"input": {"i": 2}, "result": {"v": 20}, "index": 2},
    ]
    child = plan_from(SHARDS_REVERT).revert_shard_plan("fan")
    h = History({"items": items})
    decisions = h.step(child)
    assert summaries(decisions) == ["schedule fan-0", "schedule fan-1"]
    assert [attributes(d)["activityType"]["name"] for d in decisions] == ["w.fan.revert"] * 2
    assert task_input(decisions[0]) == {"input": {"i": 3}, "result": {"v": 30}, "attempt": 1}
    h.failed("fan-0")
    assert h.step(child) == []  # the other revert still runs
    h.completed("fan-1")
    reason, details = failure(h.step(child))
    assert reason.startswith("1 of 2 reverts failed; the first: fan-0 (item=")
    assert reason.endswith("failed after 1 attempt: ValueError: boom")
    assert details["failed"] == ["fan-0"]
