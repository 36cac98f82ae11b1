"""The decider against histories it cannot trust: huge run-time generators, malformed results and
inputs, events missing or repeated. `decide` must answer with decisions, never raise."""

from __future__ import annotations

import datetime
import itertools
import json
import math
import tracemalloc
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowgen.runtime.decider import _combination, _Days, decide
from flowgen.runtime.limits import MAX_DETAILS, MAX_PAYLOAD, MAX_REASON
from tests.histories import History, attributes, inputs_by_id, plan_from, summaries, task_input
from tests.test_decider_table import H, spec

# Two date_range axes from the input: the input alone decides how many instances there are.
WIDE = spec(
    f"""
grid:
  handler: "{H}:g"
  generators:
    a: {{date_range: {{start: input.start, end: input.end}}}}
    b: {{date_range: {{start: input.start, end: input.end}}}}
  max_items: 100
  inputs: {{a: generator.a, b: generator.b}}
""",
    input="{start: date, end: date}",
)


def _decide_with_peak(plan: Any, events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """`decide`, and the most memory it held at once (bytes, by tracemalloc)."""
    tracemalloc.start()
    try:
        decisions = decide(plan, events)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return decisions, peak


def test_a_huge_date_range_is_refused_by_max_items_before_it_is_built() -> None:
    plan = plan_from(WIDE)
    h = History({"start": "0001-01-01", "end": "9999-12-31"})
    h.decision_task()
    decisions, peak = _decide_with_peak(plan, h.events)
    days = 3_652_059  # 0001-01-01 to 9999-12-31, both included
    assert summaries(decisions) == [
        f"fail grid would have {days * days} instances, more than its max_items 100"
    ]
    assert peak < 4 * 2**20


# A long date range beside an input list that may be empty: no instances, whatever the range.
RANGE_BY_LIST = spec(
    f"""
grid:
  handler: "{H}:g"
  generators:
    a: {{date_range: {{start: input.start, end: input.end}}}}
    b: input.countries
  max_items: 100
  inputs: {{a: generator.a, b: generator.b}}
""",
    input='{start: date, end: date, countries: "list[int]"}',
    result='{n: "grid[*]"}',
)


def test_an_empty_axis_beside_a_huge_date_range_builds_nothing() -> None:
    plan = plan_from(RANGE_BY_LIST)
    h = History({"start": "0001-01-01", "end": "9999-12-31", "countries": []})
    h.decision_task()
    decisions, peak = _decide_with_peak(plan, h.events)
    # No instances: the flow completes at once with the empty list.
    assert summaries(decisions) == ['complete {"n":[]}']
    assert peak < 4 * 2**20


def test_a_date_range_beside_a_list_gives_every_combination_in_order() -> None:
    plan = plan_from(RANGE_BY_LIST)
    h = History({"start": "2024-02-28", "end": "2024-03-01", "countries": [7, 8]})
    decisions = h.step(plan)
    assert summaries(decisions) == [f"schedule grid-{n}" for n in range(6)]
    assert inputs_by_id(decisions)["grid-3"] == {"a": "2024-02-29", "b": 8}


@given(st.lists(st.lists(st.integers(), max_size=4), min_size=1, max_size=4))
def test_a_combination_found_by_its_index_is_the_products(axes: list[list[int]]) -> None:
    total = math.prod(len(axis) for axis in axes)
    assert [_combination(axes, index) for index in range(total)] == list(itertools.product(*axes))


@given(st.dates(max_value=datetime.date(9998, 1, 1)), st.integers(0, 400))
def test_a_date_range_axis_indexes_as_it_iterates(first: datetime.date, days: int) -> None:
    axis = _Days(first, days)
    listed = list(axis)
    assert len(axis) == len(listed) == days
    assert [axis[n] for n in range(days)] == listed == axis[:]
    assert [axis[-n] for n in range(1, days + 1)] == listed[::-1]
    for outside in (days, -days - 1):
        with pytest.raises(IndexError):
            axis[outside]


def test_a_date_range_within_max_items_still_gives_every_combination() -> None:
    plan = plan_from(WIDE)
    h = History({"start": "2024-02-28", "end": "2024-03-01"})
    decisions = h.step(plan)
    assert summaries(decisions) == [f"schedule grid-{n}" for n in range(9)]
    assert inputs_by_id(decisions)["grid-5"] == {"a": "2024-02-29", "b": "2024-03-01"}


# -- results and inputs that are not what the spec declares (item 10) --------------------------------

# `a` may be retried once at once; `b` reads a.x; `g`, after `a`, is generated and read by nothing.
RESULTS = spec(
    f"""
a: {{handler: "{H}:a", retry: 1, inputs: {{n: input.n}}, outputs: {{x: int}}}}
b: {{handler: "{H}:b", requires: [a], inputs: {{x: a.x}}, outputs: {{y: int}}}}
g:
  handler: "{H}:g"
  requires: [a]
  generators: {{i: {{range: [0, 3]}}}}
  retry: 0
  outputs: {{when: date}}
""",
    input="{n: int}",
    result="{y: b.y}",
)

DEEP = "[" * 5000 + "]" * 5000
BAD_RESULTS = {
    "not_json": ("{oops", "is not JSON"),
    "a_list": ("[1, 2]", "must be an object with x, found a list"),
    "a_string": ('"x"', "must be an object with x, found a string"),
    "missing_field": ('{"y": 1}', "has no output x"),
    "wrong_type": ('{"x": "1"}', "has x: expected int"),
    "null_field": ('{"x": null}', "has x: expected int, found null"),
    "nested_5000": (DEEP, "nested more than 100 levels deep"),
    "nested_150": ('{"x": 1, "z": ' + "[" * 150 + "]" * 150 + "}", "nested more than 100 levels deep"),
}


def _failures(decisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [attributes(d) for d in decisions if d["decisionType"] == "FailWorkflowExecution"]


@pytest.mark.parametrize("text, expected", BAD_RESULTS.values(), ids=list(BAD_RESULTS))
def test_a_malformed_result_fails_its_attempt_which_is_retried(text: str, expected: str) -> None:
    plan = plan_from(RESULTS)
    h = History({"n": 1})
    h.step(plan)
    h.completed("a", raw=text)
    decisions = h.step(plan)
    # Not b: nothing downstream reads a result of the wrong shape. The retry is attempt 2.
    assert summaries(decisions) == ["schedule a#2"]
    assert task_input(decisions[0])["attempt"] == 2
    h.completed("a#2", raw=text)
    decisions = h.step(plan)
    [failure] = _failures(decisions)
    assert failure["reason"].startswith(
        "a failed after 2 attempts: OutputError: the result of a (activity a) "
    )
    assert expected in failure["reason"]
    assert len(failure["reason"]) <= MAX_REASON
    details = json.loads(failure["details"])
    assert details["error"].startswith("OutputError: ")
    assert len(failure["details"]) <= MAX_DETAILS


def test_a_result_missing_altogether_fails_its_attempt() -> None:
    plan = plan_from(RESULTS)
    h = History({"n": 1})
    h.step(plan)
    h.completed("a")  # no result at all
    assert summaries(h.step(plan)) == ["schedule a#2"]
    h.completed("a#2", {"x": 2})
    decisions = h.step(plan)
    assert summaries(decisions) == ["schedule b", "schedule g-0", "schedule g-1", "schedule g-2"]
    assert inputs_by_id(decisions)["b"] == {"x": 2}


def test_a_malformed_result_of_a_generated_instance_names_the_instance() -> None:
    plan = plan_from(RESULTS)
    h = History({"n": 1})
    h.step(plan)
    h.completed("a", {"x": 1})
    h.step(plan)
    h.completed("g-0", {"when": "2024-01-01"})
    h.completed("g-1", {"when": "yesterday"})
    h.completed("g-2", {"when": "2024-01-03"})
    h.completed("b", {"y": 1})
    [failure] = _failures(h.step(plan))
    assert failure["reason"] == (
        'g-1 (i=1) failed after 1 attempt: OutputError: the result of g-1 (activity g) has when: expected date, found "yesterday"'
    )


def test_retry_errors_can_name_output_error() -> None:
    plan = plan_from(spec(f"""
a: {{handler: "{H}:a", retry: {{max_retries: 3, errors: [ThrottledError]}}, outputs: {{x: int}}}}
"""))
    h = History()
    h.step(plan)
    h.completed("a", raw="[]")
    [failure] = _failures(h.step(plan))  # OutputError is not among the errors retried
    assert failure["reason"].startswith("a failed after 1 attempt: OutputError: ")


BAD_INPUTS = {
    "not_json": ("{oops", "invalid input: not JSON"),
    "a_list": ("[1]", "invalid input: expected a JSON object of input fields"),
    "nested_5000": (DEEP, "invalid input: nested more than 100 levels deep"),
    "nested_5000_in_a_field": ('{"n": ' + DEEP + "}", "invalid input: nested more than 100 levels deep"),
    "wrong_type": ('{"n": "1"}', 'invalid input: n: expected int, found "1"'),
}


@pytest.mark.parametrize("text, expected", BAD_INPUTS.values(), ids=list(BAD_INPUTS))
def test_malformed_workflow_input_fails_the_workflow_clearly(text: str, expected: str) -> None:
    plan = plan_from(RESULTS)
    h = History(raw_input=text)
    h.decision_task()
    [failure] = _failures(decide(plan, h.events))
    assert failure["reason"].startswith(expected)
    assert len(failure["reason"]) <= MAX_REASON


# -- events missing or repeated (item 11) ------------------------------------------------------------

CHAIN = spec(
    f"""
a: {{handler: "{H}:a", retry: 1, inputs: {{n: input.n}}, outputs: {{x: int}}}}
b: {{handler: "{H}:b", requires: [a], inputs: {{x: a.x}}, outputs: {{y: int}}}}
""",
    input="{n: int}",
    result="{y: b.y}",
)


def test_a_repeated_activity_task_scheduled_is_one_attempt() -> None:
    plan = plan_from(CHAIN)
    h = History({"n": 1})
    h.step(plan)
    h.schedule("a")  # the same activity id again, before the first closed
    h.failed("a")
    decisions = h.step(plan)
    assert summaries(decisions) == ["schedule a#2"]  # its one retry, not a failed workflow
    assert task_input(decisions[0])["attempt"] == 2


def test_a_close_of_an_attempt_already_closed_changes_nothing() -> None:
    plan = plan_from(CHAIN)
    h = History({"n": 1})
    h.step(plan)
    first = h.failed("a")
    h.step(plan)  # attempt 2 scheduled
    repeated = dict(h.events[first - 1], eventId=h.last_id + 1)
    h.events.append(repeated)  # attempt 1's failure again: attempt 2 is still running
    h.decision_task()
    assert decide(plan, h.events) == []


def test_a_history_without_workflow_execution_started_fails_clearly() -> None:
    plan = plan_from(CHAIN)
    h = History({"n": 1})
    h.decision_task()
    [failure] = _failures(decide(plan, h.events[1:]))
    assert failure["reason"] == (
        "invalid history: the history has no WorkflowExecutionStarted event, so the workflow input is unknown"
    )


ORPHANS = {
    "ActivityTaskCompleted": {"result": '{"x": 1}'},
    "ActivityTaskFailed": {"reason": "ValueError: boom", "details": ""},
    "ActivityTaskTimedOut": {"timeoutType": "START_TO_CLOSE"},
    "ActivityTaskStarted": {"identity": "worker"},
}


@pytest.mark.parametrize("kind", list(ORPHANS))
def test_an_activity_event_whose_scheduled_event_is_missing_fails_instead_of_redoing(kind: str) -> None:
    plan = plan_from(CHAIN)
    h = History({"n": 1})
    h.step(plan)
    scheduled = h.scheduled["a"]
    orphan = h.add(kind, scheduledEventId=scheduled, **ORPHANS[kind])
    h.decision_task()
    events = [e for e in h.events if e["eventId"] != scheduled]
    assert summaries(decide(plan, events)) == [
        f"fail invalid history: event {orphan} ({kind}) is for scheduled event {scheduled}, "
        "which is not in the history"
    ]


# -- whatever a history holds, decide answers (items 10 and 11) --------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["x", "y", "n", "when"]) | st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
GARBAGE = st.one_of(
    st.text(max_size=40),
    _JSON.map(json.dumps),
    st.sampled_from(
        [
            "",
            "null",
            '{"x": 1}',
            '{"n": 1}',
            '{"when": "2024-02-30"}',
            DEEP,
            "{" * 3000,
            '{"x": ' + "[" * 120 + "]" * 120 + "}",
            "1" * 5000,  # too many digits for int()
            '"\\ud800"',
            "x" * 40_000,
        ]
    ),
)
DECISION_TYPES = {
    "ScheduleActivityTask",
    "StartTimer",
    "CancelTimer",
    "RequestCancelActivityTask",
    "CompleteWorkflowExecution",
    "FailWorkflowExecution",
    "CancelWorkflowExecution",
}


def _within_limits(decisions: Any) -> None:
    assert isinstance(decisions, list)
    for decision in decisions:
        assert decision["decisionType"] in DECISION_TYPES
        found = attributes(decision)
        if decision["decisionType"] == "FailWorkflowExecution":
            assert len(found["reason"]) <= MAX_REASON
            assert len(found["details"]) <= MAX_DETAILS
        for key in ("input", "result", "control"):
            assert len(found.get(key, "")) <= MAX_PAYLOAD


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_decide_answers_whatever_results_inputs_and_details_a_history_holds(data: st.DataObject) -> None:
    plan = plan_from(RESULTS)
    h = History(raw_input=data.draw(st.just('{"n": 1}') | GARBAGE, label="input"))
    running: set[str] = set()
    timers: set[str] = set()
    for _ in range(6):
        h.decision_task()
        decisions = decide(plan, h.events)
        _within_limits(decisions)
        h.respond(decisions)
        if any(d["decisionType"].endswith("WorkflowExecution") for d in decisions):
            break
        for decision in decisions:
            if decision["decisionType"] == "ScheduleActivityTask":
                running.add(attributes(decision)["activityId"])
            elif decision["decisionType"] == "StartTimer":
                timers.add(attributes(decision)["timerId"])
        for activity_id in sorted(running):
            outcome = data.draw(
                st.sampled_from(["completed", "failed", "timed_out", "open"]), label=activity_id
            )
            if outcome == "completed":
                h.completed(activity_id, raw=data.draw(GARBAGE, label="result"))
            elif outcome == "failed":
                h.failed(activity_id, data.draw(GARBAGE, label="reason"), data.draw(GARBAGE, label="details"))
            elif outcome == "timed_out":
                h.timed_out(activity_id, "START_TO_CLOSE")
            if outcome != "open":
                running.discard(activity_id)
        for timer_id in sorted(timers):
            h.fired(timer_id)
        timers.clear()
    # Then the history itself is damaged: events dropped or repeated.
    events = list(h.events)
    for _ in range(data.draw(st.integers(0, 3), label="damage")):
        index = data.draw(st.integers(0, len(events) - 1), label="event")
        if data.draw(st.booleans(), label="drop"):
            del events[index]
        else:
            events.append(dict(events[index], eventId=len(events) + 1))
        if not events:
            break
    _within_limits(decide(plan, events))
