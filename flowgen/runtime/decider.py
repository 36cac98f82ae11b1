"""`decide(plan, events) -> decisions`: the whole decider, as a pure function.

The decisions are a function of the history alone: the same history always gives
the same decisions, and a decider that crashes and restarts loses nothing. A
poller may keep what one task derived (a `Memo`, with the history's fold) so that
the next task costs what is new in its history, not the whole of it; a memo that
cannot be vouched for is derived again from the history, as on a first task
(docs/engine.md, "Incremental state").

`decide` never raises on what a history holds (docs/engine.md, "Histories the
decider cannot trust"): a result that is not what the activity declares fails
that attempt, workflow input that is not what the workflow declares fails the
workflow, and so does a history that contradicts itself.

A sharded activity (`ActivityPlan.shard_size`) runs its instances in child
workflow executions of its shard plan (`FlowPlan.shards`), decided by this same
function: the parent starts the shards, keeps at most `open_shards` of them
open, and reads their results back in shard order (docs/engine.md, "Shards").
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import itertools
import json
import math
import operator
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from . import plan as p
from .history import (
    RESTART_TIMER_PREFIX,
    RETRY_TIMER_PREFIX,
    Child,
    Error,
    Execution,
    Instance,
    read_history,
    shard_control,
)
from .ids import REVERT_SUFFIX, attempt_id, instance_id, revert_id, revert_type_name, shard_workflow_id
from .limits import (
    MAX_DECISIONS,
    MAX_DETAILS,
    MAX_EXECUTION_SECONDS,
    MAX_ID,
    MAX_OPEN_ACTIVITIES,
    MAX_OPEN_CHILDREN,
    MAX_OPEN_TIMERS,
    MAX_PAYLOAD,
    MAX_REASON,
    MAX_RESPONSE_BYTES,
)
from .payloads import MAX_REFERENCE, too_large
from .values import clip, describe, dumps, problem, read_json

# The longest retry wait: an execution runs at most a year (and SWF takes at most 8 digits).
MAX_WAIT = MAX_EXECUTION_SECONDS
# The error name of an attempt whose result is not what its activity declares (as the worker's).
OUTPUT_ERROR = "OutputError"
# How much of a malformed result the failure's details quote.
QUOTED_RESULT = 1024
# Causes of ScheduleActivityTaskFailed that a later attempt can get past.
RETRYABLE_CAUSES = frozenset({"ACTIVITY_CREATION_RATE_EXCEEDED", "OPEN_ACTIVITIES_LIMIT_EXCEEDED"})
# Causes of StartChildWorkflowExecutionFailed that a later start can get past; a shard is
# started at most MAX_SHARD_STARTS times, waiting 2, 4, 8... seconds (at most a minute) between.
RETRYABLE_START_CAUSES = frozenset(
    {"CHILD_CREATION_RATE_EXCEEDED", "OPEN_CHILDREN_LIMIT_EXCEEDED", "OPEN_WORKFLOWS_LIMIT_EXCEEDED"}
)
MAX_SHARD_STARTS = 5

Decision = dict[str, Any]


@dataclass(slots=True)
class Planned:
    """One instance of an activity: its id, index and its value on each axis.

    A decision task expands every generator again (thousands of instances), so
    this is kept small: the axis values become a mapping only when asked for.
    """

    activity: p.ActivityPlan
    index: int | None
    id: str
    combination: tuple[Any, ...] = ()

    @property
    def values(self) -> dict[str, Any]:
        return dict(zip([g.axis for g in self.activity.generators], self.combination, strict=True))

    def label(self) -> str:
        if not self.values:
            return self.id
        shown = ", ".join(f"{k}={_short(v)}" for k, v in self.values.items())
        return f"{self.id} ({shown})"


@dataclass(slots=True)
class Shards:
    """A sharded activity's instances as a decision task sees them: counted, never all built.

    `instance(index)` builds one, as the activity would expand unsharded (`square-6` and its
    generator values); shard `k` holds instances `bounds(k)`.
    """

    activity: p.ActivityPlan
    axes: list[Sequence[Any]]
    total: int

    @property
    def count(self) -> int:
        size = self.activity.shard_size or 1
        return -(-self.total // size)

    def bounds(self, shard: int) -> tuple[int, int]:
        size = self.activity.shard_size or 1
        return shard * size, min((shard + 1) * size, self.total)

    def instance(self, index: int) -> Planned:
        combination = _combination(self.axes, index)
        return Planned(self.activity, index, instance_id(self.activity.name, index), combination)


def _combination(axes: Sequence[Sequence[Any]], index: int) -> tuple[Any, ...]:
    """The `index`th of `itertools.product(*axes)`, found by its digits, without building the others."""
    values = []
    for axis in reversed(axes):
        index, digit = divmod(index, len(axis))
        values.append(axis[digit])
    return tuple(reversed(values))


class FlowFailure(Exception):
    """The workflow cannot go on; the message is its reason."""

    def __init__(self, reason: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details or {}


@dataclass(slots=True)
class _Expansion:
    """An expanded activity's instances and where each stands, kept from task to task.

    Once its requirements have settled, an activity's instances never change (their values
    come from the input and from results that are final), so only the instances that a task's
    events changed are looked at again.
    """

    planned: list[Planned]
    # Instances neither completed nor failed for good, by index, in index order (the order
    # they are scheduled in), and which of them are open.
    pending: dict[int, None]
    open: set[int]
    # Instances that failed for good: index -> the event that closed their last attempt.
    failed: dict[int, int]
    in_order: bool = True


@dataclass
class Memo:
    """What `decide` derived from one execution's history, kept with its fold for the next task.

    Each task brings it up to date from what that task's fold changed (`Execution.changed`):
    the results to check, the instances to place again, the expansions that read a changed
    result (dropped, to be expanded again). It is derived again from nothing, as on a first
    task, whenever it cannot be vouched for: another plan, a history read whole, a fold it did
    not follow, a `decide` that stopped half-way. One memo goes with one `HistoryFolder`.
    """

    plan: p.FlowPlan | None = None
    # The fold (the number of events folded) this memo is up to date with; -1: none.
    seen: int = -1
    # Completed instances whose result is not what their activity declares: the failed
    # attempt that stands in for each (`_check_results`).
    bad: dict[str, Instance] = field(default_factory=dict)
    # Every open instance, activities' and reverts'.
    open: set[str] = field(default_factory=set)
    expansions: dict[str, _Expansion] = field(default_factory=dict)
    # A sharded activity's axes and instance count.
    axes: dict[str, tuple[list[Sequence[Any]], int]] = field(default_factory=dict)
    # A shard's outputs as decoded and checked (or why not), with the result text they came from.
    shard_outputs: dict[tuple[str, int], tuple[str | None, int, list[Any] | str]] = field(
        default_factory=dict
    )
    # Each activity's readers: the activities downstream of it, however far.
    readers: dict[str, frozenset[str]] = field(default_factory=dict)

    def kept_outputs(self) -> tuple[int, int]:
        """How much of the shards' results it keeps decoded: their characters, and their outputs."""
        kept = self.shard_outputs.values()
        return sum(len(text or "") for text, _, _ in kept), sum(count for _, count, _ in kept)

    def reset(self, plan: p.FlowPlan) -> None:
        self.plan, self.seen = plan, -1
        self.bad, self.open, self.expansions, self.axes, self.shard_outputs = {}, set(), {}, {}, {}
        direct: dict[str, set[str]] = {a.name: set() for a in plan.activities}
        for activity in plan.activities:
            for required in activity.requires:
                direct.setdefault(required, set()).add(activity.name)
        self.readers = {name: frozenset(_downstream(direct, name)) for name in direct}


@dataclass
class _Run:
    plan: p.FlowPlan
    execution: Execution
    input: dict[str, Any]
    memo: Memo = field(default_factory=Memo)
    # The activities expanded by this task (from the memo, or anew), each instance in order.
    expansions: dict[str, _Expansion] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    open_total: int = 0
    open_timers: int = 0
    open_children: int = 0
    # The execution's own workflow id: shards' workflow ids are derived from it.
    workflow_id: str = ""
    shards: dict[str, Shards] = field(default_factory=dict)
    # Outputs per settled activity, computed once per decision.
    results: dict[str, list[Any]] = field(default_factory=dict)
    # Whether each activity is settled: the history does not change while deciding.
    settled: dict[str, bool] = field(default_factory=dict)

    def planned(self, name: str) -> list[Planned]:
        """The instances of `name` as this task expanded them; none if it did not."""
        expansion = self.expansions.get(name)
        return expansion.planned if expansion is not None else []

    def state(self, planned: Planned) -> Instance:
        """What the history says of an instance (`_NEW`, never to be changed, if nothing)."""
        return self.execution.instances.get(planned.id, _NEW)


# The state of every instance (and shard) the history does not mention yet.
_NEW = Instance("")
_NEW_CHILD = Child("", 0)


def decide(
    plan: p.FlowPlan,
    events: list[dict[str, Any]],
    workflow_id: str = "",
    execution: Execution | None = None,
    memo: Memo | None = None,
) -> list[Decision]:
    """The decisions for a decision task whose full history is `events`.

    `workflow_id` is the execution's own id (SWF's histories do not hold it): the ids of the
    shards a sharded activity starts are derived from it, so a plan with shards needs it.
    `execution` is `read_history(events)` when the caller already has it (the poller folds
    only each task's new events: `history.HistoryFolder`); it is read from `events` otherwise.
    Its instances are never changed, only its mappings' entries replaced. `memo` is what the
    previous task of this execution derived (`HistoryFolder.memo`), brought up to date here;
    the decisions are the same with it or without.
    """
    if execution is None:
        execution = read_history(events)
    if execution.problem is not None:
        # What the history says cannot be trusted: going on might redo work that completed.
        return [_fail(f"invalid history: {execution.problem}", {"history": execution.problem})]
    memo = memo if memo is not None else Memo()
    if not execution.has_news and not _follows(memo, plan, execution):
        return []  # nothing to decide, and a memo from nothing can wait for a task that decides
    decisions = _decide(plan, execution, workflow_id, memo)
    # Up to date, as nothing stopped half-way: the next task may follow on from it.
    memo.seen = execution.last_event_id
    return decisions


def _decide(plan: p.FlowPlan, execution: Execution, workflow_id: str, memo: Memo) -> list[Decision]:
    _catch_up(memo, plan, execution)
    if not execution.has_news:
        return []
    try:
        workflow_input = _read_input(plan, execution.input)
    except FlowFailure as failure:
        return [_fail(failure.reason, failure.details)]
    run = _Run(plan=plan, execution=execution, input=workflow_input, memo=memo, workflow_id=workflow_id)
    run.open_total = len(memo.open)
    run.open_children = sum(1 for c in execution.children.values() if c.open)
    run.open_timers = len(execution.open_timers)
    if execution.cancel_requested:
        return _chunk(run, _cancel(run))
    try:
        ending = _advance(run)
        if ending is None and not run.decisions and not _waiting(run):
            return _chunk(run, [_complete(run)])
    except FlowFailure as error:
        ending = error
    if ending is not None:
        return _chunk(run, _fail_after_reverts(run, ending))
    return _chunk(run, run.decisions)


@dataclass(frozen=True)
class Instances:
    """Each activity's instances as `decide` expands them for one history (see `instances_of`)."""

    # Activities expanded in the execution itself, each instance in generator order.
    planned: dict[str, list[Planned]]
    # Activities whose instances run in child workflow shards: counted, built one at a time.
    sharded: dict[str, Shards]


def instances_of(plan: p.FlowPlan, execution: Execution, workflow_id: str = "") -> Instances:
    """The instances `decide` would see in this history, for whoever reads it (`status`).

    Pure: it expands the generators of every activity whose requirements have settled, as
    `decide` does, after decoding each completed result as `decide` does (a result that is not
    what its activity declares fails its attempt, in `execution`). An activity that cannot be
    expanded yet is in neither mapping; neither is anything when the input is one `decide`
    refuses. A history `decide` would fail the workflow on keeps what was expanded before the
    failure. `execution` is `history.read_history(events)`, with payload references resolved.
    """
    memo = Memo()
    _catch_up(memo, plan, execution)
    try:
        workflow_input = _read_input(plan, execution.input)
    except FlowFailure:
        return Instances({}, {})
    run = _Run(plan=plan, execution=execution, input=workflow_input, memo=memo, workflow_id=workflow_id)
    # A reader of a history never fails on it: what was expanded before a failure stands.
    with contextlib.suppress(Exception):
        _advance(run)
    planned = {name: expansion.planned for name, expansion in run.expansions.items()}
    return Instances(planned, dict(run.shards))


# -- input -------------------------------------------------------------------------


def _read_input(plan: p.FlowPlan, raw: str | None) -> dict[str, Any]:
    try:
        data = read_json(raw) if raw else {}
    except ValueError as error:
        raise FlowFailure(clip(f"invalid input: {error}", MAX_REASON)) from None
    if not isinstance(data, dict):
        raise FlowFailure("invalid input: expected a JSON object of input fields")
    declared = dict(plan.input)
    for name in data:
        if name not in declared:
            raise FlowFailure(f"invalid input: unknown field {clip(json.dumps(name), 60)}")
    for name, expected in plan.input:
        if name not in data and expected.kind not in ("optional", "any"):
            raise FlowFailure(clip(f"invalid input: missing field {name} ({expected})", MAX_REASON))
        found = problem(data.get(name), expected, name)
        if found:
            raise FlowFailure(clip(f"invalid input: {found}", MAX_REASON))
    return data


# -- results -----------------------------------------------------------------------


def _follows(memo: Memo, plan: p.FlowPlan, execution: Execution) -> bool:
    """Whether `memo` is up to date with the fold that `execution` continues."""
    return (
        memo.plan is plan
        and memo.seen == execution.since
        and execution.changed is not None
        and execution.changed_children is not None
    )


def _catch_up(memo: Memo, plan: p.FlowPlan, execution: Execution) -> None:
    """Bring `memo` up to date with `execution`, looking only at what its fold changed.

    It checks the new results, places each changed instance again in its expansion, and drops
    the expansions that read a changed activity. From nothing when `memo` does not follow.
    """
    if not _follows(memo, plan, execution):
        # From nothing: every result is checked; nothing is kept yet that a change could reach.
        memo.reset(plan)
        _check_results(plan, execution, memo)
        memo.open = {key for key, state in execution.instances.items() if state.open}
        return
    assert execution.changed is not None and execution.changed_children is not None
    changed, changed_children = execution.changed, execution.changed_children
    memo.seen = -1  # until `decide` is done with it: a failure on the way derives it all again
    _check_results(plan, execution, memo, changed)
    instances, stale = execution.instances, set[str]()
    for key in changed:
        if instances.get(key, _NEW).open:
            memo.open.add(key)
        else:
            memo.open.discard(key)
        if key.endswith(REVERT_SUFFIX):
            continue  # a revert's result is never read: nothing reads it
        name = key.split("-", 1)[0]
        stale |= memo.readers.get(name, frozenset())
        expansion = memo.expansions.get(name)
        if expansion is not None:
            activity = plan.activity(name)
            index = _position(activity, expansion, key)
            if index is not None:
                _place(expansion, activity, index, instances.get(key, _NEW))
    for name, shard in changed_children:
        if not name.endswith(REVERT_SUFFIX):
            stale |= memo.readers.get(name, frozenset())
        child = execution.children.get((name, shard))
        known = memo.axes.get(name)
        if child is not None and child.completed and known is not None:
            # Decoded as it comes, so that the task that reads every shard decodes one.
            activity = plan.activity(name)
            start, stop = Shards(activity, *known).bounds(shard)
            if stop > start:
                with contextlib.suppress(ValueError):
                    _decoded_shard(memo, activity, shard, child, stop - start)
    for name in stale:
        memo.expansions.pop(name, None)
        memo.axes.pop(name, None)


def _position(activity: p.ActivityPlan, expansion: _Expansion, key: str) -> int | None:
    """The index of instance `key` in `expansion`, or None if it is not one of its instances."""
    if not activity.generators:
        index = 0
    else:
        digits = key[len(activity.name) + 1 :]
        if not (digits.isascii() and digits.isdigit() and len(digits) <= 9):
            return None
        index = int(digits)
    planned = expansion.planned
    return index if index < len(planned) and planned[index].id == key else None


def _place(expansion: _Expansion, activity: p.ActivityPlan, index: int, state: Instance) -> None:
    """Put instance `index` where its state says: pending (and open), failed for good, or done."""
    expansion.open.discard(index)
    if state.completed:
        expansion.pending.pop(index, None)
        expansion.failed.pop(index, None)
    elif state.attempts and exhausted(activity, state):
        expansion.pending.pop(index, None)
        expansion.failed[index] = state.closed_event
    else:
        expansion.failed.pop(index, None)
        if index not in expansion.pending:
            expansion.pending[index] = None
            expansion.in_order = False
        if state.open:
            expansion.open.add(index)


def _check_results(
    plan: p.FlowPlan, execution: Execution, memo: Memo | None = None, keys: Collection[str] | None = None
) -> None:
    """Decode the completed results of `keys` (every instance's, by default); one that is not what
    its activity declares fails its attempt.

    Such a result comes from a worker that is not flowgen's (an `external` activity, a
    hand-written one): its attempt is failed as an `OutputError`, retried as the activity's
    retry policy says, so nothing downstream ever reads a value of the wrong shape. What failed
    is kept in `memo.bad` and stands in the execution until its instance changes again.
    """
    memo = memo if memo is not None else Memo()
    found = execution.instances.get
    pairs = execution.instances.items() if keys is None else [(key, found(key)) for key in keys]
    activities = {activity.name: activity for activity in plan.activities}
    for key, state in pairs:
        if memo.bad:
            memo.bad.pop(key, None)
        if state is None or not state.completed or key.endswith(REVERT_SUFFIX):
            continue  # a revert's result is never read
        activity = activities.get(key.split("-", 1)[0])
        if activity is None or not activity.outputs or activity.reverting:
            continue  # not the plan's, declares nothing, or a revert: its result is never read
        text = state.result_text
        try:
            state.value = _output(activity, text)
        except ValueError as error:
            reason = f"{OUTPUT_ERROR}: the result of {key} (activity {activity.name}) {error}"
            quoted = "no result" if text is None else f"the result as recorded: {clip(text, QUOTED_RESULT)}"
            # A changed copy: the instance itself may be a `HistoryFolder`'s, which folds on.
            failed = Error("failed", OUTPUT_ERROR, clip(reason, MAX_REASON), quoted)
            memo.bad[key] = dataclasses.replace(state, completed=False, value=None, error=failed)
    execution.instances.update(memo.bad)


def _output(activity: p.ActivityPlan, text: str | None) -> dict[str, Any]:
    """A completed result decoded and checked against the declared outputs; ValueError says how not."""
    if text is None:
        raise ValueError("is missing")
    try:
        value = read_json(text)
    except ValueError as error:
        raise ValueError(f"is {error}") from None
    if not isinstance(value, dict):
        names = ", ".join(name for name, _ in activity.outputs)
        raise ValueError(f"must be an object with {names}, found {describe(value)}")
    for name, expected in activity.outputs:
        if name not in value:
            raise ValueError(f"has no output {name}")
        found = problem(value[name], expected, name)
        if found:
            raise ValueError(f"has {found}")
    return value


# -- expanding generators and resolving inputs ------------------------------------


def _results(run: _Run, name: str) -> list[Any]:
    """The outputs of every instance of `name`, in order; None for a failed one."""
    cached = run.results.get(name)
    if cached is None and name in run.shards:
        cached = run.results[name] = _read_shards(run, run.shards[name])
    if cached is None:
        cached = []
        for item in run.planned(name):
            state = run.state(item)
            cached.append(state.value if state.completed else None)
        run.results[name] = cached
    return cached


def _value(run: _Run, source: p.Source, values: dict[str, Any]) -> Any:
    if source.kind == p.LITERAL:
        return source.value
    if source.kind == p.INPUT:
        return run.input.get(source.name)
    if source.kind == p.AXIS:
        return values[source.name]
    if source.kind == p.ITEM:
        # A shard's instance: its input object, as the parent resolved it.
        item = values[source.name]
        if source.field is None:
            return item
        return item.get(source.field) if isinstance(item, dict) else None
    results = _results(run, source.name)
    if source.kind == p.EACH:
        if source.field is None:
            return results
        if set(map(type, results)) == {dict}:
            # Outputs are checked objects with every declared field: picked in C, 100,000 at once.
            try:
                return list(map(operator.itemgetter(source.field), results))
            except KeyError:
                pass
        return [None if r is None else r.get(source.field) for r in results]
    result = results[0] if results else None
    if source.field is None or result is None:
        return result
    return result.get(source.field)


def _axes(run: _Run, activity: p.ActivityPlan) -> tuple[list[Sequence[Any]], int]:
    """Each axis's values and the number of instances, refused above max_items."""
    # Every axis is counted before any is built: a date range from the input may span
    # millions of days, and their product is refused by max_items before it exists.
    axes = [_axis_values(run, activity, generator) for generator in activity.generators]
    total = math.prod(len(values) for values in axes)
    if activity.max_items is not None and total > activity.max_items:
        raise FlowFailure(
            f"{activity.name} would have {total} instances, more than its max_items {activity.max_items}"
        )
    return axes, total


def _sharded_axes(run: _Run, activity: p.ActivityPlan) -> tuple[list[Sequence[Any]], int]:
    """`_axes` of a sharded activity, kept in the memo: its axes may be another's outputs."""
    kept = run.memo.axes.get(activity.name)
    if kept is None:
        kept = run.memo.axes[activity.name] = _axes(run, activity)
    return kept


def _expand(run: _Run, activity: p.ActivityPlan) -> list[Planned]:
    if not activity.generators:
        return [Planned(activity, None, instance_id(activity.name, None))]
    axes, total = _axes(run, activity)
    if total == 0:
        return []  # an empty axis: the others (a long date range, say) are never built
    prefix = activity.name + "-"  # instance_id(activity.name, index), spelled out for speed
    return [
        Planned(activity, index, f"{prefix}{index}", combination)
        for index, combination in enumerate(itertools.product(*axes))
    ]


@dataclass(frozen=True)
class _Days(Sequence[str]):
    """A `date_range` axis, counted without being built: its days as ISO strings, in order."""

    first: datetime.date
    days: int

    def __len__(self) -> int:
        return self.days

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [self[n] for n in range(*index.indices(self.days))]
        if not -self.days <= index < self.days:
            raise IndexError(index)
        return (self.first + datetime.timedelta(days=index % self.days)).isoformat()

    def __iter__(self) -> Iterator[str]:
        return ((self.first + datetime.timedelta(days=n)).isoformat() for n in range(self.days))


def _axis_values(run: _Run, activity: p.ActivityPlan, generator: p.Generator) -> Sequence[Any]:
    if generator.kind == "items":
        return list(generator.items)
    if generator.kind == "range":
        return list(range(*generator.range))
    if generator.kind == "source":
        assert generator.source is not None
        values = _value(run, generator.source, {})
        if not isinstance(values, list):
            raise FlowFailure(
                f"{activity.name}: generator {generator.axis} needs a list, found {type(values).__name__}"
            )
        return values
    assert generator.start is not None and generator.end is not None
    ends = []
    for source in (generator.start, generator.end):
        text = _value(run, source, {})
        try:
            ends.append(datetime.date.fromisoformat(str(text)))
        except ValueError:
            raise FlowFailure(
                f"{activity.name}: generator {generator.axis} needs a date, found {text!r}"
            ) from None
    return _Days(ends[0], max((ends[1] - ends[0]).days + 1, 0))


def _input_of(run: _Run, planned: Planned, attempt: int) -> str:
    """The task input: `{"input": {PARAM: VALUE...}, "attempt": N}` (docs: the wire format).

    In a revert shard, a revert's: `{"input": ..., "result": ..., "attempt": N}` from its item.
    """
    if planned.activity.reverting:
        item = planned.combination[0] if planned.combination else None
        item = item if isinstance(item, dict) else {}
        given = item.get("input")
        data = {"input": given if isinstance(given, dict) else {}, "result": item.get("result")}
        text = dumps({**data, "attempt": attempt})
    else:
        values = planned.values
        inputs = {name: _value(run, source, values) for name, source in planned.activity.inputs}
        text = dumps({"input": inputs, "attempt": attempt})
    # With payloads, the decider loop stores a larger input in S3 after deciding.
    if run.plan.payloads is None and len(text) > MAX_PAYLOAD:
        message = too_large(f"the input of {planned.id} (activity {planned.activity.name})", len(text))
        raise FlowFailure(message, {"error": message})  # the reason is cut at 256 characters
    return text


# -- retries -----------------------------------------------------------------------


def _retryable(activity: p.ActivityPlan, state: Instance) -> bool:
    """Whether the last error may be retried (ignoring how many retries are left)."""
    error = state.error
    if error is None:
        return False
    if error.kind == "schedule_failed":
        return error.name in RETRYABLE_CAUSES
    if error.kind == "canceled":
        return False
    errors = activity.retry.errors
    return errors is None or error.name in errors


def exhausted(activity: p.ActivityPlan, state: Instance) -> bool:
    """Whether an instance failed for good: its last attempt failed and no retry will follow."""
    if state.completed or state.open or state.error is None:
        return False
    return not _retryable(activity, state) or state.attempts > activity.retry.max_retries


def retry_wait(policy: p.RetryPolicy, instance: str, attempt: int) -> int:
    """Seconds to wait before attempt `attempt + 1` of `instance`, after `attempt` attempts failed."""
    if not policy.interval:
        return 0
    try:
        wait = min(policy.interval * policy.backoff_rate ** max(attempt - 1, 0), MAX_WAIT)
    except OverflowError:
        wait = MAX_WAIT
    if policy.max_interval is not None:
        wait = min(wait, policy.max_interval)
    if policy.jitter == "full":
        digest = hashlib.sha256(f"{instance}#{attempt}".encode()).digest()
        wait *= int.from_bytes(digest[:8], "big") / 2**64
    return math.ceil(wait)


def _ready_to_retry(run: _Run, activity: p.ActivityPlan, instance: str, state: Instance) -> bool:
    """Whether the next attempt may be scheduled now; if it must wait, start its timer."""
    if not state.attempts:
        return True
    wait = retry_wait(activity.retry, instance, state.attempts)
    current = state.timer_attempt == state.attempts
    if wait == 0 or (current and state.timer == "fired"):
        return True
    if not (current and state.timer == "open") and run.open_timers < MAX_OPEN_TIMERS:
        run.decisions.append(_retry_timer(instance, state.attempts, wait))
        run.open_timers += 1
    return False


def retry_timer_id(instance: str, attempt: int) -> str:
    """The timer that waits after attempt `attempt` of `instance` (named by the instance, not the attempt)."""
    timer_id = f"{RETRY_TIMER_PREFIX}{attempt}-{instance}"
    if len(timer_id) > MAX_ID:
        timer_id = f"{RETRY_TIMER_PREFIX}{attempt}-{hashlib.sha256(instance.encode()).hexdigest()}"
    return timer_id


# -- moving the flow forward -------------------------------------------------------


def _settled(run: _Run, name: str) -> bool:
    """Every instance completed, or failed for good with on_failure: continue."""
    known = run.settled.get(name)
    if known is not None:
        return known
    expansion = run.expansions.get(name)
    if expansion is None:
        return False  # not expanded (yet): not known to be settled
    settled = not expansion.pending and (run.plan.activity(name).continue_on_failure or not expansion.failed)
    run.settled[name] = settled
    return settled


def _advance(run: _Run) -> FlowFailure | None:
    """Schedule what is ready; return the failure that ends the flow, if any.

    Every activity that can be expanded is, even once the flow is failing, so
    that the reverts find every instance that completed.
    """
    # The failure that ends the flow: the first instance (or shard) to fail for good.
    first_failure: tuple[int, FlowFailure] | None = None
    # A failure of the flow itself: too many instances, an input too large.
    broken: FlowFailure | None = None
    for activity in run.plan.activities:
        if not all(_settled(run, r) for r in activity.requires):
            continue
        if activity.shard_size is not None:
            try:
                axes, total = _sharded_axes(run, activity)
            except FlowFailure as failure:
                broken = broken or failure
                continue
            # A run no larger than one shard runs in the workflow itself, as if unsharded.
            if total > activity.shard_size:
                failing = first_failure is not None or broken is not None
                try:
                    failed = _advance_shards(run, activity, failing, axes, total)
                except FlowFailure as failure:
                    broken = broken or failure
                    continue
                if failed is not None and (first_failure is None or failed[0] < first_failure[0]):
                    first_failure = failed
                continue
        try:
            expansion = _expansion(run, activity)
        except FlowFailure as failure:
            broken = broken or failure
            continue
        run.expansions[activity.name] = expansion
        gone = expansion.failed
        if gone and not activity.continue_on_failure:
            # Its first instance to fail for good (the earliest close; event ids are unique).
            index = min(gone, key=gone.__getitem__)
            if first_failure is None or gone[index] < first_failure[0]:
                item = expansion.planned[index]
                first_failure = (gone[index], _instance_failure(item, run.state(item)))
        if first_failure is None and broken is None:  # failing: start nothing new
            broken = _start_ready(run, activity, expansion)
    if broken is not None or first_failure is None:
        return broken
    return first_failure[1]


def _expansion(run: _Run, activity: p.ActivityPlan) -> _Expansion:
    """The activity's instances and where each stands: the memo's, or expanded here."""
    kept = run.memo.expansions.get(activity.name)
    if kept is not None:
        return kept
    planned = _expand(run, activity)
    expansion = _Expansion(planned, {}, set(), {})
    for index, item in enumerate(planned):
        _place(expansion, activity, index, run.state(item))
    expansion.in_order = True  # placed in index order
    run.memo.expansions[activity.name] = expansion
    return expansion


def _start_ready(run: _Run, activity: p.ActivityPlan, expansion: _Expansion) -> FlowFailure | None:
    """Schedule the pending instances that may start, in index order, as far as the limits let;
    the failure of the flow (an input too large) if one cannot be given its input."""
    if not expansion.in_order:
        expansion.pending = dict.fromkeys(sorted(expansion.pending))
        expansion.in_order = True
    open_here = len(expansion.open)
    for index in expansion.pending:
        if index in expansion.open:
            continue
        if activity.max_concurrency and open_here >= activity.max_concurrency:
            break
        if run.open_total >= MAX_OPEN_ACTIVITIES:
            break
        item = expansion.planned[index]
        state = run.state(item)
        if not _ready_to_retry(run, activity, item.id, state):
            continue
        try:
            text = _input_of(run, item, state.attempts + 1)
        except FlowFailure as failure:
            return failure
        run.decisions.append(
            _schedule(activity, activity.type_name, attempt_id(item.id, state.attempts + 1), text)
        )
        open_here += 1
        run.open_total += 1
    return None


def _instance_failure(item: Planned, state: Instance) -> FlowFailure:
    error = state.error or Error("failed", "Error", "failed")
    attempts = f"after {state.attempts} attempt{'s' if state.attempts != 1 else ''}"
    reason = f"{item.label()} failed {attempts}: {error.describe()}"
    details = {
        "activity": item.activity.name,
        "instance": item.id,
        "values": item.values,
        "attempts": state.attempts,
        "error": error.reason,
        "details": clip(error.details, 16384),
    }
    return FlowFailure(reason, details)


# -- shards: a sharded activity's instances in child workflow executions ----------


def _advance_shards(
    run: _Run, activity: p.ActivityPlan, failing: bool, axes: list[Sequence[Any]], total: int
) -> tuple[int, FlowFailure] | None:
    """Start the shards that may start; return this activity's first shard to fail for good.

    Once every shard has closed for good, the activity is settled; its outputs are read from
    the shards' results only when something reads them (`_results`).
    """
    shards = run.shards[activity.name] = Shards(activity, axes, total)
    name = activity.name
    children = run.execution.children
    open_here = sum(1 for (owner, _), child in children.items() if owner == name and child.open)
    first: tuple[int, FlowFailure] | None = None
    closed = True  # every shard completed or failed for good
    for shard in range(shards.count):
        child = children.get((name, shard), _NEW_CHILD)
        if child.completed:
            continue
        if child.attempts and _shard_exhausted(child):
            if not activity.continue_on_failure and (first is None or child.closed_event < first[0]):
                first = (child.closed_event, _shard_failure(shards, shard, child))
            continue
        closed = False
        if child.open or failing or first is not None:
            continue
        if open_here >= activity.open_shards or run.open_children >= MAX_OPEN_CHILDREN:
            continue
        if not _ready_to_restart(run, name, shard, child):
            continue
        run.decisions.append(_start_shard(run, shards, shard))
        open_here += 1
        run.open_children += 1
    run.settled[name] = closed and first is None
    return first


def _shard_exhausted(child: Child) -> bool:
    if child.completed or child.open or child.error is None:
        return False
    retryable = child.error.kind == "start_failed" and child.error.name in RETRYABLE_START_CAUSES
    return not retryable or child.attempts >= MAX_SHARD_STARTS


def _ready_to_restart(run: _Run, activity: str, shard: int, child: Child) -> bool:
    """Whether a shard whose start failed may start again now; if it must wait, start its timer."""
    if not child.attempts:
        return True
    current = child.timer_attempt == child.attempts
    if current and child.timer == "fired":
        return True
    if not (current and child.timer == "open") and run.open_timers < MAX_OPEN_TIMERS:
        wait = min(2**child.attempts, 60)
        timer_id = f"{RESTART_TIMER_PREFIX}{child.attempts}-{shard}-{activity}"
        if len(timer_id) > MAX_ID:
            timer_id = f"{RESTART_TIMER_PREFIX}{child.attempts}-{shard}-{_digest(activity)}"
        control = {"kind": "restart", "activity": activity, "shard": shard, "attempt": child.attempts}
        run.decisions.append(
            {
                "decisionType": "StartTimer",
                "startTimerDecisionAttributes": {
                    "timerId": timer_id,
                    "startToFireTimeout": str(wait),
                    "control": dumps(control),
                },
            }
        )
        run.open_timers += 1
    return False


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _shard_items(run: _Run, shards: Shards, shard: int) -> list[dict[str, Any]]:
    """The input objects of a shard's instances, resolved here, in generator order."""
    activity = shards.activity
    start, stop = shards.bounds(shard)
    names = [g.axis for g in activity.generators]
    items = []
    for index in range(start, stop):
        values = dict(zip(names, _combination(shards.axes, index), strict=True))
        items.append({key: _value(run, source, values) for key, source in activity.inputs})
    return items


def _start_shard(run: _Run, shards: Shards, shard: int) -> Decision:
    """StartChildWorkflowExecution of one shard: its instances' inputs, resolved here, in order."""
    activity = shards.activity
    if not run.workflow_id:
        raise ValueError("decide needs the workflow id of an execution whose plan has shards")
    start, stop = shards.bounds(shard)
    text = dumps({p.SHARD_INPUT: _shard_items(run, shards, shard)})
    if len(text) > MAX_PAYLOAD:
        raise FlowFailure(
            f"{activity.name}: the input of shard {shard} (instances {start} to {stop - 1}) is "
            f"{len(text)} characters; SWF allows {MAX_PAYLOAD}"
        )
    return _start_child(run, run.plan.shard_plan(activity.name), activity.name, shard, text)


def _start_child(run: _Run, plan: p.FlowPlan, key: str, shard: int, text: str) -> Decision:
    """StartChildWorkflowExecution of shard plan `plan`; `key` (the activity's name, with
    `.revert` for a revert shard) names it in its workflow id and its `control`."""
    if not run.workflow_id:
        raise ValueError("decide needs the workflow id of an execution whose plan has shards")
    return {
        "decisionType": "StartChildWorkflowExecution",
        "startChildWorkflowExecutionDecisionAttributes": {
            "workflowType": {"name": plan.workflow, "version": plan.version},
            "workflowId": shard_workflow_id(run.workflow_id, key, shard),
            "control": shard_control(key, shard),
            "input": text,
            "executionStartToCloseTimeout": str(plan.execution_timeout),
            "taskList": {"name": plan.task_list},
            "taskStartToCloseTimeout": _timeout(plan.decision_timeout),
            "childPolicy": plan.child_policy,
        },
    }


def _shard_label(shards: Shards, shard: int) -> str:
    start, stop = shards.bounds(shard)
    return f"{shards.activity.name} shard {shard} (instances {start} to {stop - 1})"


def _shard_failure(shards: Shards, shard: int, child: Child) -> FlowFailure:
    error = child.error or Error("failed", "Error", "failed")
    instance = _instance_in_shard(shards, shard, error) if error.kind == "failed" else None
    if instance is not None:
        instance.details["workflow_id"] = child.workflow_id
        return instance
    if error.kind == "failed":
        reason = f"{_shard_label(shards, shard)} failed: {error.reason}"
    elif error.kind == "start_failed":
        starts = f"after {child.attempts} start{'s' if child.attempts != 1 else ''}"
        reason = f"{_shard_label(shards, shard)} {error.describe()} {starts}"
    else:
        reason = f"{_shard_label(shards, shard)} {error.describe()}"
    start, stop = shards.bounds(shard)
    details = {
        "activity": shards.activity.name,
        "shard": shard,
        "instances": [start, stop - 1],
        "workflow_id": child.workflow_id,
        "error": error.reason,
        "details": clip(error.details, 16384),
    }
    return FlowFailure(reason, details)


def _instance_in_shard(shards: Shards, shard: int, error: Error) -> FlowFailure | None:
    """The failure of a shard whose instance ran out of retries, told as if unsharded.

    The shard's own reason names its instance by its place in the shard and by its item
    (`activity_2-5 (item={...})`); its details (written by this decider, deciding the shard) say
    which: the parent names the instance by its place in the whole activity and its axis values,
    `activity_2-767 (day=2024-01-01, country_id=3) failed after 4 attempts: ...`, and adds the
    shard. None when the details are not the decider's.
    """
    activity = shards.activity
    try:
        inner = read_json(error.details) if error.details else None
    except ValueError:
        return None
    if not isinstance(inner, dict):
        return None
    local, attempts = inner.get("instance"), inner.get("attempts")
    prefix = activity.name + "-"
    if not (isinstance(local, str) and local.startswith(prefix) and type(attempts) is int):
        return None
    index = local[len(prefix) :]
    start, stop = shards.bounds(shard)
    if not (index.isascii() and index.isdigit() and len(index) <= 9 and start + int(index) < stop):
        return None
    whole = start + int(index)
    item = shards.instance(whole)
    # The shard's reason is `LABEL failed after N attempts: ERROR`; the label is the shard's.
    marker = f" failed after {attempts} attempt"
    if marker not in error.reason:
        return None
    rest = error.reason[error.reason.index(marker) + len(" failed after ") :]
    details = {
        "activity": activity.name,
        "instance": item.id,
        "values": item.values,
        "attempts": attempts,
        "error": inner.get("error", ""),
        "details": clip(str(inner.get("details", "")), 16384),
        "shard": shard,
        "workflow_id": "",
    }
    return FlowFailure(clip(f"{item.label()} failed after {rest}", MAX_REASON), details)


def _read_shards(run: _Run, shards: Shards) -> list[Any]:
    """Every instance's output from the shards' results, in shard order.

    Read only when something reads them (an input, a generator, the workflow's result), so the
    decision tasks of a long sharded activity do not decode every result so far on each task.
    A result that is not the list of outputs the shard plan returns fails the flow, as a
    malformed activity result fails its attempt; under `on_failure: continue` its instances are
    None instead.
    """
    activity = shards.activity
    results: list[Any] = []
    for shard in range(shards.count):
        start, stop = shards.bounds(shard)
        child = run.execution.children.get((activity.name, shard), _NEW_CHILD)
        if not child.completed:
            results.extend([None] * (stop - start))  # failed for good under on_failure: continue
            continue
        try:
            results.extend(_decoded_shard(run.memo, activity, shard, child, stop - start))
        except ValueError as error:
            if activity.continue_on_failure:
                results.extend([None] * (stop - start))
                continue
            reason = f"{OUTPUT_ERROR}: the result of {_shard_label(shards, shard)} {error}"
            details = {"activity": activity.name, "shard": shard, "workflow_id": child.workflow_id}
            raise FlowFailure(clip(reason, MAX_REASON), details) from None
    return results


_SCALARS = frozenset({"str", "int", "float", "bool", "date", "datetime", "none"})


def _scalar(expected: p.TypeRef) -> bool:
    if expected.kind == "optional" and expected.item is not None:
        return _scalar(expected.item)
    return expected.kind in _SCALARS


def _decode_flat(text: str) -> Any:
    """JSON text decoded, for values whose depth is checked by their type afterwards."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except ValueError as error:
        raise ValueError(f"not JSON ({error})") from None


# The JSON types that a value of each scalar kind may have (a date or datetime needs parsing).
_SCALAR_TYPES: dict[str, frozenset[type]] = {
    "str": frozenset({str}),
    "int": frozenset({int}),
    "float": frozenset({int, float}),
    "bool": frozenset({bool}),
    "none": frozenset({type(None)}),
}


def _plain_types(expected: p.TypeRef) -> frozenset[type] | None:
    """The JSON types of `expected` when a type is all it takes to fit it, else None."""
    if expected.kind == "optional" and expected.item is not None:
        inner = _plain_types(expected.item)
        return None if inner is None else inner | {type(None)}
    return _SCALAR_TYPES.get(expected.kind)


def _plainly_fit(activity: p.ActivityPlan, outputs: list[Any]) -> bool:
    """Whether every output plainly fits the declared outputs, checked a field at a time.

    The fast path for 100,000 outputs of scalar fields; False sends them to the check that
    finds and describes the first problem, which is also the one for other types.
    """
    present = [o for o in outputs if o is not None] if activity.continue_on_failure else outputs
    if set(map(type, present)) - {dict}:
        return False
    for name, expected in activity.outputs:
        allowed = _plain_types(expected)
        if allowed is None:
            return False
        try:
            if set(map(type, map(operator.itemgetter(name), present))) - allowed:
                return False
        except KeyError:
            return False  # a missing output
    return True


def _decoded_shard(memo: Memo, activity: p.ActivityPlan, shard: int, child: Child, count: int) -> list[Any]:
    """A completed shard's `count` outputs, decoded once per result and kept; ValueError says
    why they cannot be had. The list is shared from task to task: never changed."""
    kept = memo.shard_outputs.get((activity.name, shard))
    if kept is None or kept[0] is not child.result_text or kept[1] != count:
        outputs: list[Any] | str
        try:
            outputs = _shard_outputs(activity, child.result_text, count)
        except ValueError as error:
            outputs = str(error)
        kept = memo.shard_outputs[(activity.name, shard)] = (child.result_text, count, outputs)
    if isinstance(kept[2], str):
        raise ValueError(kept[2])
    return kept[2]


def _shard_outputs(activity: p.ActivityPlan, text: str | None, count: int) -> list[Any]:
    """A shard's result decoded and checked: `count` outputs; ValueError says how not."""
    if text is None:
        raise ValueError("is missing")
    try:
        # Outputs of scalar types cannot nest: the type check below bounds them, so the walk
        # that bounds nesting (a quarter of the cost at 100,000 outputs) is skipped.
        value = _decode_flat(text) if all(_scalar(t) for _, t in activity.outputs) else read_json(text)
    except ValueError as error:
        raise ValueError(f"is {error}") from None
    outputs = value.get(p.SHARD_RESULT) if isinstance(value, dict) else None
    if not isinstance(outputs, list) or len(outputs) != count:
        raise ValueError(f"must be an object with {p.SHARD_RESULT}, a list of {count} outputs")
    if _plainly_fit(activity, outputs):
        return outputs
    for index, output in enumerate(outputs):
        if output is None and activity.continue_on_failure:
            continue
        if not isinstance(output, dict):
            raise ValueError(f"has {describe(output)} as output {index}, not an object")
        for name, expected in activity.outputs:
            if name not in output:
                raise ValueError(f"has no {name} in output {index}")
            found = problem(output[name], expected, name)
            if found:
                raise ValueError(f"has {found} in output {index}")
    return outputs


def _waiting(run: _Run) -> bool:
    """Whether something is still to happen (open tasks or timers, instances not settled)."""
    if run.open_total or run.execution.open_timers or run.open_children:
        return True
    return not all(_settled(run, a.name) for a in run.plan.activities)


# -- failing: reverts in reverse dependency order, then FailWorkflowExecution --------


def _fail_after_reverts(run: _Run, failure: FlowFailure) -> list[Decision]:
    run.decisions = []
    if any(not key.endswith(REVERT_SUFFIX) for key in run.memo.open):
        return []  # wait for what runs to finish: it may need reverting too
    if any(c.open for (owner, _), c in run.execution.children.items() if not owner.endswith(REVERT_SUFFIX)):
        return []  # and for the shards still open: their instances that complete need reverting too
    reverts = _revert(run)
    if reverts is None:
        return run.decisions
    details = dict(failure.details)
    if reverts:
        details["reverts"] = reverts
    return [_fail(failure.reason, details)]


def _revert(run: _Run) -> dict[str, str] | None:
    """Schedule the next reverts, downstream first: None while some are still to finish (the
    steps are in run.decisions), else how each revert ended, by its id."""
    run.decisions = []
    # Only reverts are open now; what _advance meant to start is not started.
    run.open_total = len(run.memo.open)
    run.open_timers = len(run.execution.open_timers)
    reverts: dict[str, str] = {}
    pending = False
    for activity in reversed(run.plan.activities):
        if activity.revert is None:
            continue
        if any(_reverting(run, d) for d in run.memo.readers.get(activity.name, ())):
            pending = True
            continue
        shards = run.shards.get(activity.name)
        if shards is not None:
            pending = _revert_shards(run, shards, reverts) or pending
            continue
        items = run.planned(activity.name)
        open_here = sum(1 for item in items if _revert_state(run, item).open)
        for item in reversed(items):  # last instance first, as the activities
            state = run.state(item)
            if not state.completed:
                continue
            revert = _revert_state(run, item)
            rid = revert.instance_id
            if revert.completed:
                reverts[rid] = "reverted"
            elif revert.open:
                pending = True
            elif revert.attempts and exhausted(activity, revert):
                reverts[rid] = f"revert failed: {revert.error.describe() if revert.error else 'error'}"
            else:
                pending = True
                if activity.max_concurrency and open_here >= activity.max_concurrency:
                    continue
                if run.open_total >= MAX_OPEN_ACTIVITIES:
                    continue
                if _revert_step(run, activity, item, state, revert):
                    open_here += 1
                    run.open_total += 1
    return None if pending else reverts


def _downstream(dependents: dict[str, set[str]], name: str) -> set[str]:
    seen: set[str] = set()
    stack = list(dependents[name])
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(dependents[current])
    return seen


def _reverting(run: _Run, name: str) -> bool:
    """Whether a revert of `name` has yet to finish."""
    activity = run.plan.activity(name)
    if activity.revert is None:
        return False
    shards = run.shards.get(name)
    if shards is not None:
        children = run.execution.children
        for shard in range(shards.count):
            if not children.get((name, shard), _NEW_CHILD).completed:
                continue
            child = children.get((name + REVERT_SUFFIX, shard), _NEW_CHILD)
            if not (child.completed or (child.attempts and _shard_exhausted(child))):
                return True  # not started, open, or to start again
        return False
    for item in run.planned(name):
        if not run.state(item).completed:
            continue
        undo = run.execution.instances.get(revert_id(name, item.index))
        if undo is None or undo.open or not (undo.completed or exhausted(activity, undo)):
            return True
    return False


def _revert_shards(run: _Run, shards: Shards, reverts: dict[str, str]) -> bool:
    """Revert a sharded activity's completed shards, last shard first, one revert shard at a time
    (each reverts its shard's completed instances, last first); whether any is still to finish.

    What each revert shard did goes into `reverts`, by shard: "reverted" or why not.
    """
    activity = shards.activity
    key = activity.name + REVERT_SUFFIX
    children = run.execution.children
    for shard in reversed(range(shards.count)):
        child = children.get((activity.name, shard), _NEW_CHILD)
        if not child.completed:
            continue  # failed: the shard reverted its own instances before it failed
        label = _shard_label(shards, shard)
        revert = children.get((key, shard), _NEW_CHILD)
        if revert.completed:
            reverts[label] = "reverted"
            continue
        if revert.open:
            return True
        if revert.attempts and _shard_exhausted(revert):
            error = revert.error or Error("failed", "Error", "failed")
            reverts[label] = clip(f"revert failed: {error.describe()}", MAX_REASON)
            continue
        try:
            text = _revert_input(run, shards, shard, child)
        except ValueError as error:
            reverts[label] = clip(f"revert failed: {error}", MAX_REASON)
            continue
        if text is None:
            continue  # no instance of it completed (on_failure: continue): nothing to revert
        if run.open_children >= MAX_OPEN_CHILDREN or not _ready_to_restart(run, key, shard, revert):
            return True
        plan = run.plan.revert_shard_plan(activity.name)
        run.decisions.append(_start_child(run, plan, key, shard, text))
        run.open_children += 1
        return True
    return False


def _revert_input(run: _Run, shards: Shards, shard: int, child: Child) -> str | None:
    """The input of the revert shard of a completed shard: `{"items": [...]}`, each item a completed
    instance's `input`, `result` and `index`, last instance first; None when no instance completed.
    ValueError says why it cannot be had (a result that is not the shard's outputs, an input over
    SWF's limit without payloads)."""
    activity = shards.activity
    start, stop = shards.bounds(shard)
    try:
        outputs = _decoded_shard(run.memo, activity, shard, child, stop - start)
    except ValueError as error:
        raise ValueError(f"the result of {_shard_label(shards, shard)} {error}") from None
    inputs = _shard_items(run, shards, shard)
    # `index` is the instance's place in the whole activity: what the local runner names it by.
    items = [
        {"input": given, "result": output, "index": start + offset}
        for offset, (given, output) in enumerate(zip(inputs, outputs, strict=True))
        if not (output is None and activity.continue_on_failure)  # failed for good: nothing to undo
    ]
    if not items:
        return None
    text = dumps({p.SHARD_INPUT: items[::-1]})
    if run.plan.payloads is None and len(text) > MAX_PAYLOAD:
        raise ValueError(too_large(f"the input of the revert of {_shard_label(shards, shard)}", len(text)))
    return text


def _revert_state(run: _Run, item: Planned) -> Instance:
    rid = revert_id(item.activity.name, item.index)
    return run.execution.instances.get(rid) or Instance(rid)


def _revert_step(
    run: _Run, activity: p.ActivityPlan, item: Planned, state: Instance, revert: Instance
) -> bool:
    """Schedule the next attempt of a revert, unless it waits for its retry timer."""
    rid = revert.instance_id
    if not _ready_to_retry(run, activity, rid, revert):
        return False
    try:
        forward = read_json(state.input) if state.input else {}
    except ValueError:
        forward = {}  # not the decider's own input: the revert gets what can be known
    given = forward.get("input", {}) if isinstance(forward, dict) else {}
    data = {"input": given, "result": state.value, "attempt": revert.attempts + 1}
    the_id = attempt_id(rid, revert.attempts + 1)
    run.decisions.append(_schedule(activity, revert_type_name(activity.type_name), the_id, dumps(data)))
    return True


def _check_reverts(run: _Run, activity: p.ActivityPlan) -> None:
    """A revert shard whose reverts all ran fails if any of them failed for good, saying how many
    (each revert went on past the others' failures, as the parent's unsharded reverts do)."""
    items = run.planned(activity.name)
    failed = [(item, run.state(item)) for item in items if not run.state(item).completed]
    if not failed:
        return
    item, state = min(failed, key=lambda pair: pair[1].closed_event)
    first = _instance_failure(item, state)
    reason = f"{len(failed)} of {len(items)} reverts failed; the first: {first.reason}"
    raise FlowFailure(clip(reason, MAX_REASON), {**first.details, "failed": [i.id for i, _ in failed]})


# -- cancellation ------------------------------------------------------------------


def _cancel(run: _Run) -> list[Decision]:
    """Cancel open tasks and retry timers; with `on_cancel: revert`, revert what completed (as
    after a failure, downstream first), then close as CANCELED.

    Only a task whose activity has a revert is waited for (its result may need undoing); the
    others are asked to cancel and left behind, as with `on_cancel: none`.
    """
    execution = run.execution
    reverting = run.plan.on_cancel == "revert" and any(a.revert is not None for a in run.plan.activities)
    decisions: list[Decision] = []
    # A revert's retry timer belongs to the reverting that the cancel itself started.
    keep = {
        retry_timer_id(key, state.timer_attempt)
        for key, state in execution.instances.items()
        if reverting and key.endswith(REVERT_SUFFIX) and state.timer == "open"
    }
    # And so does the wait before a revert shard starts again.
    keep |= {
        timer_id
        for timer_id in execution.open_timers
        if reverting and timer_id.startswith(RESTART_TIMER_PREFIX) and timer_id.endswith(REVERT_SUFFIX)
    }
    for key, state in sorted(execution.instances.items()):
        if state.open and not state.cancel_requested and not (reverting and key.endswith(REVERT_SUFFIX)):
            decisions.append(
                {
                    "decisionType": "RequestCancelActivityTask",
                    "requestCancelActivityTaskDecisionAttributes": {
                        "activityId": attempt_id(key, state.attempts)  # the open attempt's
                    },
                }
            )
    for timer_id in sorted(execution.open_timers - keep):
        decisions.append(
            {"decisionType": "CancelTimer", "cancelTimerDecisionAttributes": {"timerId": timer_id}}
        )
    details: dict[str, Any] = {}
    if reverting:
        activities = {a.name: a for a in run.plan.activities}
        for key, state in execution.instances.items():
            activity = activities.get(key.split("-", 1)[0])
            revertible = activity is not None and activity.revert is not None
            if state.open and revertible and not key.endswith(REVERT_SUFFIX):
                return decisions  # it may complete, and then need reverting too
        for (owner, _), child in execution.children.items():
            sharded = activities.get(owner)
            if child.open and sharded is not None and sharded.revert is not None:
                return decisions  # a shard still open: what it completes needs reverting too
        with contextlib.suppress(FlowFailure):
            _advance(run)  # finds every instance that completed; what it would start is dropped
        reverts = _revert(run)
        if reverts is None:
            return decisions + run.decisions
        if reverts:
            details["reverts"] = reverts
    text = dumps(details) if details else "canceled on request"
    decisions.append(
        {
            "decisionType": "CancelWorkflowExecution",
            "cancelWorkflowExecutionDecisionAttributes": {"details": clip(text, MAX_DETAILS)},
        }
    )
    return decisions


# -- decisions ---------------------------------------------------------------------


def _timeout(seconds: int | None) -> str:
    return "NONE" if seconds is None else str(seconds)


def _schedule(activity: p.ActivityPlan, type_name: str, activity_id: str, text: str) -> Decision:
    attributes: dict[str, Any] = {
        "activityType": {"name": type_name, "version": activity.version},
        "activityId": activity_id,
        "input": text,
        "taskList": {"name": activity.task_list},
        "scheduleToStartTimeout": _timeout(activity.timeouts.schedule_to_start),
        "startToCloseTimeout": _timeout(activity.timeouts.start_to_close),
        "scheduleToCloseTimeout": _timeout(activity.timeouts.schedule_to_close),
        "heartbeatTimeout": _timeout(activity.timeouts.heartbeat),
    }
    if activity.priority is not None:
        attributes["taskPriority"] = str(activity.priority)
    return {"decisionType": "ScheduleActivityTask", "scheduleActivityTaskDecisionAttributes": attributes}


def _retry_timer(instance: str, attempt: int, wait: int) -> Decision:
    return {
        "decisionType": "StartTimer",
        "startTimerDecisionAttributes": {
            "timerId": retry_timer_id(instance, attempt),
            "startToFireTimeout": str(wait),
            # "activity_id" holds the instance's id (the key predates an id per attempt).
            "control": dumps({"kind": "retry", "activity_id": instance, "attempt": attempt}),
        },
    }


def _complete(run: _Run) -> Decision:
    for activity in run.plan.activities:
        if activity.reverting:
            _check_reverts(run, activity)
    result = {name: _value(run, source, {}) for name, source in run.plan.result}
    text = dumps(result)
    if run.plan.payloads is None and len(text) > MAX_PAYLOAD:
        message = too_large("the workflow result", len(text))
        raise FlowFailure(message, {"error": message})
    return {
        "decisionType": "CompleteWorkflowExecution",
        "completeWorkflowExecutionDecisionAttributes": {"result": text},
    }


def fail_decision(reason: str, details: dict[str, Any]) -> Decision:
    """A FailWorkflowExecution decision, its reason and details within SWF's limits."""
    return _fail(reason, details)


def _fail(reason: str, details: dict[str, Any]) -> Decision:
    text = dumps(details)
    for limit in (MAX_DETAILS // 4, 1024, 64):
        if len(text) <= MAX_DETAILS:
            break
        # Cut the long entries, not the text, so that the details stay one JSON object.
        details = {k: v if len(dumps(v)) <= limit else clip(dumps(v), limit) for k, v in details.items()}
        text = dumps(details)
    return {
        "decisionType": "FailWorkflowExecution",
        "failWorkflowExecutionDecisionAttributes": {"reason": clip(reason, MAX_REASON), "details": text},
    }


def _chunk(run: _Run, decisions: list[Decision]) -> list[Decision]:
    """Keep a response within 100 decisions and 1 MB; the rest follow a 0 s timer."""
    sizes = [_size(run.plan, d) for d in decisions]
    if len(decisions) <= MAX_DECISIONS and sum(sizes) <= MAX_RESPONSE_BYTES:
        return decisions
    timer: Decision = {
        "decisionType": "StartTimer",
        "startTimerDecisionAttributes": {
            "timerId": f"continue-{run.execution.last_event_id}",
            "startToFireTimeout": "0",
            "control": dumps({"kind": "continue"}),
        },
    }
    kept: list[Decision] = []
    total = len(json.dumps(timer).encode())
    for decision, size in zip(decisions, sizes, strict=True):
        if len(kept) >= MAX_DECISIONS - 1 or total + size > MAX_RESPONSE_BYTES:
            break
        kept.append(decision)
        total += size
    return kept + [timer]


def _size(plan: p.FlowPlan, decision: Decision) -> int:
    """A decision's bytes in the response; with payloads, a large input or result counts as the
    reference that replaces it after deciding."""
    if plan.payloads is None:
        return len(json.dumps(decision).encode())
    # Measured with each value that goes to S3 left out (`""`, 2 bytes) and its reference counted
    # instead, so that a value of megabytes is not encoded once more only to be measured.
    threshold, replaced, slim = plan.payloads.threshold, 0, {}
    for kind, attributes in decision.items():
        if isinstance(attributes, dict):
            large = [
                name
                for name in ("input", "result")
                if isinstance(attributes.get(name), str) and len(attributes[name]) > threshold
            ]
            replaced += len(large)
            attributes = {**attributes, **dict.fromkeys(large, "")} if large else attributes
        slim[kind] = attributes
    return len(json.dumps(slim).encode()) + replaced * (MAX_REFERENCE - 2)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return clip(text, 40)
