"""The decider's incremental fold (`history.HistoryFolder`) against a full replay (`read_history`).

Random flows run on the local runner with faults injected into their attempts (the generators of
test_local_properties.py); their real histories are then corrupted or not (a result that is not
what its activity declares, an event dropped so the ids have a gap), and replayed task by task,
as the poller sees them: at every prefix that ends in DecisionTaskStarted, the execution folded
from the new events only, and the decisions from it, equal those of a full replay.
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
from tests.histories import plan_from


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
    """The execution as `decide` reads it: with its results decoded and checked."""
    decider._check_results(plan, execution)
    return execution


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
        assert decide(plan, prefix, "local", execution) == decide(plan, prefix, "local")
        if tasks == quiet_at:
            # A task with nothing new (a decision task that timed out): no news, no decisions.
            quiet = _quiet(end)
            execution = folder.fold(quiet)
            assert execution is not None and not execution.has_news
            assert _folded(execution) == _folded(read_history(prefix + quiet))
            assert decide(plan, prefix + quiet, "local", execution) == []
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

    def checked(
        plan: FlowPlan, events: list[dict[str, Any]], workflow_id: str = "", execution: Any = None
    ) -> list[dict[str, Any]]:
        tasks.append((folded[-1], len(events)))
        assert execution is not None
        decisions = real_decide(plan, events, workflow_id, execution)
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
