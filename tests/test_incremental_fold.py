"""The incremental decider (`history.HistoryFolder` and `decider.Memo`) against a full replay.

Random flows run on the local runner with faults injected into their attempts (the generators of
test_local_properties.py); their real histories are then corrupted or not (a result that is not
what its activity declares, an event dropped so the ids have a gap), and replayed task by task,
as the poller sees them: at every prefix that ends in DecisionTaskStarted, the execution folded
from the new events only, and the decisions from it and from what `decide` kept from the
previous task (the memo), equal those of a full replay.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from swf_support import country_plan, start
from test_local_properties import Faults, Step, flows, run, spec_text
from test_swf_loops import SMALL_INPUT, _drive, no_sleep, swf  # noqa: F401 (fixtures)

from flowgen.runtime import decider, history, polling
from flowgen.runtime.decider import decide
from flowgen.runtime.handlers import handlers_for
from flowgen.runtime.history import Execution, HistoryFolder, read_history
from flowgen.runtime.plan import FlowPlan
from flowgen.runtime.polling import DeciderLoop
from flowgen.runtime.worker import Worker
from tests.histories import History, plan_from, sharded, summaries
from tests.test_decider_table import H, spec


def _folded(execution: Execution) -> Execution:
    """The execution as folded, before `decide` decodes results (a copy without their values)."""
    instances = {key: dataclasses.replace(state, value=None) for key, state in execution.instances.items()}
    return dataclasses.replace(execution, instances=instances)


def _quiet(end: int) -> list[dict[str, Any]]:
    """A decision task completed with nothing new since, then another one: it has no news."""
    return [
        {
            "eventId": end + 1,
            "eventType": "DecisionTaskCompleted",
            "decisionTaskCompletedEventAttributes": {"startedEventId": end},
        },
        {
            "eventId": end + 2,
            "eventType": "DecisionTaskScheduled",
            "decisionTaskScheduledEventAttributes": {},
        },
        {"eventId": end + 3, "eventType": "DecisionTaskStarted", "decisionTaskStartedEventAttributes": {}},
    ]


def _seen(plan: FlowPlan, execution: Execution) -> Execution:
    """The execution as `decide` reads it: with its results decoded and checked (in a copy, so that
    `decide` is still given the execution as folded)."""
    seen = dataclasses.replace(execution, instances=dict(execution.instances))
    decider._check_results(plan, seen)
    return seen


@settings(max_examples=150, deadline=None)
@given(
    flows(),
    st.integers(0, 2**32),
    st.booleans(),
    st.sampled_from(["none", "none", "bad result", "gap"]),
    st.integers(0, 1000),
    st.integers(0, 30),
)
def test_incremental_fold_equals_a_full_replay_at_every_decision_task(
    steps: tuple[Step, ...], fault_seed: int, doom: bool, how: str, where: int, quiet_at: int
) -> None:
    plan = plan_from(spec_text(steps))
    result = run(plan, 7, Faults(fault_seed, {s.name: s.retries for s in steps}, doom=doom))
    events = result.history
    if how == "bad result":
        # A result is read again at every later task: corrupt it in the whole history.
        completed = [n for n, e in enumerate(events) if e["eventType"] == "ActivityTaskCompleted"]
        if completed:
            n = completed[where % len(completed)]
            attributes = {**events[n]["activityTaskCompletedEventAttributes"], "result": '{"v": "x"}'}
            events = [
                *events[:n],
                {**events[n], "activityTaskCompletedEventAttributes": attributes},
                *events[n + 1 :],
            ]
    elif how == "gap" and len(events) > 2:
        n = 1 + where % (len(events) - 1)
        events = events[:n] + events[n + 1 :]
    folder, folded, incremental_tasks, refolds, tasks = HistoryFolder(), 0, 0, 0, 0
    for end, last in enumerate(events, 1):
        if last["eventType"] != "DecisionTaskStarted":
            continue
        tasks += 1
        prefix = events[:end]
        execution = folder.fold(prefix[folded:])
        incremental_tasks += execution is not None and folded > 0
        if execution is None:
            # What the poller does: drop the folder, fold the whole history again.
            refolds += 1
            folder = HistoryFolder()
            execution = folder.fold(prefix)
        folded = end
        full = read_history(prefix)
        if execution is None:
            # Only a whole read can say: a contradiction, or ids that do not run 1, 2, 3...
            ids = [e.get("eventId") for e in prefix]
            assert full.problem is not None or ids != list(range(1, end + 1))
            continue
        assert full.problem is None
        # What `decide` read at earlier tasks (a result that fails its check) changed no fold.
        assert _folded(execution) == _folded(full)
        assert _seen(plan, execution) == _seen(plan, full)
        if folder.memo is None:
            folder.memo = decider.Memo()
        assert decide(plan, prefix, "local", execution, folder.memo) == decide(plan, prefix, "local")
        if tasks == quiet_at:
            # A task with nothing new (a decision task that timed out): no news, no decisions.
            quiet = _quiet(end)
            execution = folder.fold(quiet)
            assert execution is not None and not execution.has_news
            assert _folded(execution) == _folded(read_history(prefix + quiet))
            assert decide(plan, prefix + quiet, "local", execution, folder.memo) == []
            break
    event(f"corruption {how}; {'incremental' if incremental_tasks else 'no incremental'} tasks")
    if how == "none":
        assert refolds <= 1  # the first task only


@pytest.mark.usefixtures("no_sleep")
def test_a_warm_task_folds_only_its_new_events(
    swf: Any, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    """On moto, every decision task after the first folds only the events new since the last one."""
    plan = country_plan()
    run_id = start(swf, plan, SMALL_INPUT)
    folded: list[int] = []
    fold_events = HistoryFolder.fold_events

    def counting(self: HistoryFolder, events: list[dict[str, Any]], start_at: int) -> None:
        folded.append(len(events))
        fold_events(self, events, start_at)

    # Per decision task: how many events the poller's fold took, and how many the history holds.
    tasks: list[tuple[int, int]] = []
    real_decide = polling.decide

    # Per decision task: the memo it was given, and whether it followed on from the last task.
    memos: list[tuple[decider.Memo, bool]] = []

    def checked(
        plan: FlowPlan,
        events: list[dict[str, Any]],
        workflow_id: str = "",
        execution: Any = None,
        memo: Any = None,
    ) -> list[dict[str, Any]]:
        tasks.append((folded[-1], len(events)))
        assert execution is not None and memo is not None
        memos.append((memo, memo.seen == execution.since))
        decisions = real_decide(plan, events, workflow_id, execution, memo)
        assert decisions == decide(plan, events, workflow_id)  # folds the whole history: counted
        return decisions

    monkeypatch.setattr(history.HistoryFolder, "fold_events", counting)
    monkeypatch.setattr(polling, "decide", checked)
    _drive(swf, plan, run_id, DeciderLoop(plan, swf), Worker(plan, handlers_for(plan), swf))
    assert len(tasks) >= 4
    # The first task folds its whole history; each later one only what is new since the last.
    assert tasks[0][0] == tasks[0][1]
    for (_, before), (took, now) in itertools.pairwise(tasks):
        assert took == now - before < now
    # And decides with what the last task derived (one memo, kept with the fold), not from nothing.
    assert len({id(memo) for memo, _ in memos}) == 1
    assert [follows for _, follows in memos] == [False] + [True] * (len(memos) - 1)


def test_a_folder_is_used_only_for_the_events_it_folded() -> None:
    """A fold is given back only for a history whose events up to its last are the ones it folded."""
    cache = polling.HistoryCache()
    key = ("wf", "run")
    events: list[dict[str, Any]] = [
        {
            "eventId": 1,
            "eventType": "WorkflowExecutionStarted",
            "workflowExecutionStartedEventAttributes": {},
        },
        {"eventId": 2, "eventType": "DecisionTaskScheduled"},
        {"eventId": 3, "eventType": "DecisionTaskStarted"},
    ]
    cache.put(key, events)
    folder = HistoryFolder()
    assert folder.fold(events) is not None
    cache.keep_folder(key, folder, events)
    # The same history read again (a cache miss, another poller thread): its events are not these.
    assert cache.take_folder(key, [dict(e) for e in events]) is None
    cache.keep_folder(key, folder, events)
    longer = [*events, {"eventId": 4, "eventType": "DecisionTaskTimedOut"}]
    cache.put(key, longer, checked=3)
    assert cache.take_folder(key, longer) is folder
    assert cache.take_folder(key, longer) is None  # taken: one task folds at a time
    cache.keep_folder(key, folder, events)  # not the events held any more: not kept
    assert cache.take_folder(key, longer) is None
    assert folder.fold(longer[3:]) is not None
    cache.keep_folder(key, folder, longer)
    assert cache.take_folder(key, longer) is folder
    cache.keep_folder(key, folder, longer)
    cache.evict(key)
    assert cache.take_folder(key, longer) is None


# -- what the memo keeps, against histories that change what it kept -------------------------------
#
# Each story is decided with `h.step`, which (tests/conftest.py) also decides every task
# incrementally and asserts the decisions equal a full replay's; these stories change, in a
# history no flowgen decider writes, what an earlier task derived.

# `g` expands over a's output: its instances are kept from task to task.
OVER_OUTPUT = spec(f"""
a: {{handler: "{H}:a", outputs: {{xs: "list[int]"}}}}
g: {{handler: "{H}:g", requires: [a], generators: {{x: a.xs}}, max_items: 10, inputs: {{x: generator.x}}}}
""")

# One at a time; a `Fatal` error is final, a `Flaky` one is retried at once.
ONE_AT_A_TIME = spec(f"""
g:
  handler: "{H}:g"
  generators: {{i: {{range: [0, 3]}}}}
  max_concurrency: 1
  retry: {{max_retries: 3, errors: [Flaky]}}
  on_failure: continue
""")


def test_an_expansion_that_read_a_result_which_changed_is_expanded_again() -> None:
    plan = plan_from(OVER_OUTPUT)
    h = History({})
    h.step(plan)
    h.completed("a", {"xs": [1, 2]})
    assert summaries(h.step(plan)) == ["schedule g-0", "schedule g-1"]
    # `a` runs again, as no decider of flowgen's would have it, and gives another list.
    h.schedule("a#2")
    h.completed("a#2", {"xs": [1, 2, 3]})
    assert summaries(h.step(plan)) == ["schedule g-2"]


def test_a_sharded_activity_that_read_a_result_which_changed_is_counted_again() -> None:
    plan = sharded(plan_from(OVER_OUTPUT), "g", 2)
    h = History({})
    h.step(plan)
    h.completed("a", {"xs": [1, 2, 3]})
    assert summaries(h.step(plan)) == ["start-child wf-1.g.0", "start-child wf-1.g.1"]
    h.schedule("a#2")
    h.completed("a#2", {"xs": [1, 2, 3, 4, 5]})
    assert summaries(h.step(plan)) == ["start-child wf-1.g.2"]


def test_an_instance_that_comes_back_to_be_scheduled_keeps_its_place_in_line() -> None:
    plan = plan_from(ONE_AT_A_TIME)
    h = History({})
    assert summaries(h.step(plan)) == ["schedule g-0"]
    h.failed("g-0", "Fatal: no")
    assert summaries(h.step(plan)) == ["schedule g-1"]  # g-0 failed for good, on_failure: continue
    # g-0 runs again anyway, and fails with an error that may be retried: it waits again, first.
    h.schedule("g-0#2")
    h.failed("g-0#2", "Flaky: again")
    h.completed("g-1")
    assert summaries(h.step(plan)) == ["schedule g-0#3"]


def test_a_memo_of_another_plan_or_of_a_fold_it_did_not_follow_is_derived_again() -> None:
    chain = plan_from(OVER_OUTPUT)
    other = plan_from(spec(f'g: {{handler: "{H}:g", generators: {{i: {{range: [0, 5]}}}}}}'))
    h = History({})
    h.step(chain)
    h.completed("a", {"xs": [1, 2]})
    h.decision_task()
    folder = HistoryFolder()
    folder.memo = decider.Memo()
    execution = folder.fold(h.events)
    assert execution is not None
    decisions = decide(chain, h.events, "", execution, folder.memo)
    assert summaries(decisions) == ["schedule g-0", "schedule g-1"]
    h.respond(decisions)
    h.completed("g-0")
    h.decision_task()
    # A fold the memo did not see (its decide never ran): the memo is derived again, whole.
    skipped = folder.fold(h.events[folder.count : -2])
    assert skipped is not None
    execution = folder.fold(h.events[folder.count :])
    assert execution is not None and folder.memo.seen != execution.since
    assert decide(chain, h.events, "", execution, folder.memo) == decide(chain, h.events)
    assert folder.memo.seen == len(h.events)
    # Another plan for the fold that follows: derived again for it, never mixed.
    h.decision_task()
    execution = folder.fold(h.events[folder.count :])
    assert execution is not None and folder.memo.seen == execution.since
    decisions = decide(other, h.events, "", execution, folder.memo)
    assert summaries(decisions) == ["schedule g-2", "schedule g-3", "schedule g-4"]
    assert folder.memo.plan is other


def test_a_decide_that_stops_half_way_leaves_a_memo_that_is_derived_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan = plan_from(OVER_OUTPUT)
    h = History({})
    h.step(plan)
    h.completed("a", {"xs": [1, 2]})
    h.decision_task()
    folder = HistoryFolder()
    memo = folder.memo = decider.Memo()
    execution = folder.fold(h.events)
    assert execution is not None

    def broken(*args: Any) -> None:
        raise RuntimeError("a bug half-way")

    monkeypatch.setattr(decider, "_start_ready", broken)  # after the memo kept its expansions
    with pytest.raises(RuntimeError):
        decide(plan, h.events, "", execution, memo)
    monkeypatch.undo()
    assert memo.seen == -1
    h.decision_task()  # the task timed out; another one
    execution = folder.fold(h.events[folder.count :])
    assert execution is not None
    assert decide(plan, h.events, "", execution, memo) == decide(plan, h.events)
