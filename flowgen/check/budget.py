"""The history budget and the critical path, checked before anything runs.

SWF closes an execution that reaches 25,000 history events, and AWS advises
staying under 10,000. Each attempt of an instance costs, at worst:

- 3 activity events (scheduled, started, and completed, failed or timed out),
- 3 events of the decision task its closing triggers (scheduled, started, completed);

and each retry that waits costs a timer (started, fired) and its decision task: 5.
A revert is an activity of its own with the same policy. The workflow itself costs
5 (started, the first decision task, the close), and every 100 scheduling
decisions cost a continuation timer (5) because a response is kept to 100.

Shards. When that worst case is over 25,000, the generated activity that costs the
most is sharded, then the next, until the workflow fits: its instances run in child
workflow executions ("shards") of at most `shard_size` consecutive instances each.
A shard is a workflow of its own with that one activity, so its worst case is

    5 + shard_size x per-instance events (x2 with a revert) + continuation timers,

and the default shard_size is the largest whose worst case is at most 10,000. In the
parent a shard costs 9 events in place of its instances: StartChildWorkflowExecutionInitiated,
ChildWorkflowExecutionStarted and its decision task (3), the child's close and its
decision task (3); starting it is one scheduling decision. With a revert, each shard may
have a revert shard too (a child that reverts its completed instances): 9 more. A revert
shard runs one revert per instance and no revert of its own, so its worst case is at most
half its shard's, which counts the reverts. An activity's `shard_size` key shards it
whatever the budget, with that size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from flowgen.check.effective import Effective
from flowgen.check.references import Analysis
from flowgen.diagnostics import Diagnostic, Path, Severity
from flowgen.runtime.limits import (
    HISTORY_ADVICE,
    HISTORY_LIMIT,
    MAX_DECISIONS,
    MAX_EXECUTION_SECONDS,
    MAX_NAME,
    MAX_OPEN_ACTIVITIES,
)
from flowgen.runtime.plan import shard_type_name
from flowgen.spec.durations import describe_duration, format_duration
from flowgen.spec.models import Spec

EVENTS_PER_ATTEMPT = 6
EVENTS_PER_TIMER = 5
WORKFLOW_EVENTS = 5
EVENTS_PER_CHILD = 9


@dataclass(frozen=True)
class Cost:
    """One activity's worst-case share of the history (in the parent, when it is sharded)."""

    name: str
    instances: int
    attempts: int
    timers: int
    reverts: bool
    shard_size: int | None = None

    @property
    def per_instance(self) -> int:
        return self.attempts * EVENTS_PER_ATTEMPT + self.timers * EVENTS_PER_TIMER

    @property
    def shards(self) -> int:
        assert self.shard_size is not None
        return math.ceil(self.instances / self.shard_size)

    @property
    def events(self) -> int:
        if self.shard_size is not None:
            # A run with at most shard_size instances runs them in the parent, as one shard would.
            # With a revert, each completed shard may have a revert shard too: a child of its own.
            children = self.shards * (2 if self.reverts else 1)
            return max(children * EVENTS_PER_CHILD, self.in_parent.events)
        return self.instances * self.per_instance * (2 if self.reverts else 1)

    @property
    def schedules(self) -> int:
        if self.shard_size is not None:
            return max(self.shards * (2 if self.reverts else 1), self.in_parent.schedules)
        return self.instances * self.attempts * (2 if self.reverts else 1)

    @property
    def in_parent(self) -> Cost:
        """A sharded activity whose run has at most shard_size instances: they run in the parent."""
        assert self.shard_size is not None
        return self.in_shard(min(self.shard_size, self.instances))

    def sharded(self, size: int) -> Cost:
        return replace(self, shard_size=size)

    def in_shard(self, size: int) -> Cost:
        """The activity inside one shard of `size` instances."""
        return replace(self, instances=size, shard_size=None)

    def explain(self) -> str:
        if self.shard_size is not None:
            children = self.shards * (2 if self.reverts else 1)
            if children * EVENTS_PER_CHILD >= self.in_parent.events:
                text = f"{self.shards:,} shard(s) of at most {self.shard_size:,} instances x {EVENTS_PER_CHILD} events"
                return text + (", twice for their reverts" if self.reverts else "")
            return f"a run small enough for one shard runs in the parent: {self.in_parent.explain()}"
        text = f"{self.instances:,} instance(s) x {self.attempts} attempt(s) x {EVENTS_PER_ATTEMPT} events"
        if self.timers:
            text += f" + {self.instances:,} x {self.timers} retry timer(s) x {EVENTS_PER_TIMER} events"
        if self.reverts:
            text += ", twice for its revert"
        return text


def costs(spec: Spec, analysis: Analysis, settings: dict[str, Effective]) -> list[Cost]:
    result = []
    for name, activity in spec.activities.items():
        retry = settings[name].retry
        typing = analysis.activities.get(name)
        result.append(
            Cost(
                name=name,
                instances=typing.max_instances if typing else 1,
                attempts=1 + retry.max_retries,
                timers=retry.max_retries if retry.interval > 0 else 0,
                reverts=activity.revert is not None,
            )
        )
    return result


def worst_case_events(items: list[Cost]) -> int:
    return _total(sum(c.events for c in items), sum(c.schedules for c in items))


def _total(events: int, schedules: int) -> int:
    continuations = math.ceil(schedules / MAX_DECISIONS) * EVENTS_PER_TIMER
    return WORKFLOW_EVENTS + continuations + events


def shard_events(cost: Cost, size: int) -> int:
    """The worst-case history of one shard of `size` instances of the activity."""
    return worst_case_events([cost.in_shard(size)])


def default_shard_size(cost: Cost) -> int:
    """The most instances whose shard stays within the 10,000 events AWS advises (at least 1, at
    most the activity's instances)."""
    per = cost.per_instance * (2 if cost.reverts else 1)
    schedules = cost.attempts * (2 if cost.reverts else 1)
    # Solve 5 + n*per + (n*schedules/100 + 1)*5 <= advice, then step to the exact bound: the
    # continuation timers round up, so the estimate is off by at most a few.
    room = HISTORY_ADVICE - WORKFLOW_EVENTS - EVENTS_PER_TIMER
    size = max(1, room * MAX_DECISIONS // (per * MAX_DECISIONS + schedules * EVENTS_PER_TIMER))
    while shard_events(cost, size + 1) <= HISTORY_ADVICE:
        size += 1
    while size > 1 and shard_events(cost, size) > HISTORY_ADVICE:
        size -= 1
    return max(1, min(size, cost.instances))


@dataclass(frozen=True)
class Budget:
    """What the budget decided: each sharded activity's shard size, and the problems."""

    shard_sizes: dict[str, int]
    diagnostics: list[Diagnostic]


def plan_budget(spec: Spec, analysis: Analysis, settings: dict[str, Effective]) -> Budget:
    """Shards where the worst case needs them, then the history checks of the parent and shards."""
    items = costs(spec, analysis, settings)
    diagnostics: list[Diagnostic] = []
    chosen: dict[str, str] = {}  # why each activity is sharded: "spec" or "budget"
    for index, cost in enumerate(items):
        activity = spec.activities[cost.name]
        if activity.shard_size is not None and activity.generators:
            items[index] = cost.sharded(activity.shard_size)
            chosen[cost.name] = "spec"
            diagnostics += _check_shard(cost, activity.shard_size)
    # The generated activities whose sharding saves the most go first, until the workflow fits.
    # A saving does not depend on the other activities, so sums kept as they change suffice.
    events, schedules = sum(c.events for c in items), sum(c.schedules for c in items)
    savings = []
    for index, cost in enumerate(items):
        if cost.shard_size is None and spec.activities[cost.name].generators:
            sharded = cost.sharded(default_shard_size(cost))
            if sharded.events < cost.events:
                savings.append((cost.events - sharded.events, -index, sharded))
    savings.sort(reverse=True)
    for _, negative, sharded in savings:
        if _total(events, schedules) <= HISTORY_LIMIT:
            break
        before = items[-negative]
        events += sharded.events - before.events
        schedules += sharded.schedules - before.schedules
        items[-negative] = sharded
        chosen[sharded.name] = "budget"
    _fit_the_parent(items, [i for i, c in enumerate(items) if chosen.get(c.name) == "budget"])
    for cost in items:
        if cost.name not in chosen:
            continue
        activity = spec.activities[cost.name]
        if activity.revert is not None and activity.on_failure == "continue" and not activity.outputs:
            diagnostics.append(_revert_refused(cost, chosen[cost.name]))
        type_name = shard_type_name(spec.workflow.name, cost.name)
        if len(type_name) > MAX_NAME:
            diagnostics.append(
                Diagnostic(
                    ("activities", cost.name),
                    f"{cost.name} runs in shards whose workflow type name {type_name[:20]}... would be "
                    f"{len(type_name)} characters; SWF allows {MAX_NAME}: shorten the workflow's or the activity's name",
                    at_key=True,
                )
            )
    if not diagnostics:  # a shard's own problem is its cause: report the parent once it is fixed
        diagnostics += _check_parent(spec, items)
    sizes = {c.name: c.shard_size for c in items if c.shard_size is not None}
    return Budget(sizes, diagnostics)


def _fit_the_parent(items: list[Cost], sharded: list[int]) -> None:
    """Smaller shards where one shard's worth of instances run in the parent would put it over
    the 10,000 events AWS advises (only sizes flowgen chose; a spec's shard_size is kept)."""
    for index in sharded:
        if worst_case_events(items) <= HISTORY_ADVICE:
            return
        cost = items[index]
        assert cost.shard_size is not None

        def fits(size: int, index: int = index, cost: Cost = cost) -> bool:
            trial = [*items[:index], cost.sharded(size), *items[index + 1 :]]
            return worst_case_events(trial) <= HISTORY_ADVICE

        # Past the size where the parent's share stops being the shards, the cost only grows
        # with the size: find the largest size that fits between there and today's.
        low = next((n for n in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512) if fits(n)), None)
        if low is None or low >= cost.shard_size:
            continue
        high = cost.shard_size
        while low < high:
            middle = (low + high + 1) // 2
            low, high = (middle, high) if fits(middle) else (low, middle - 1)
        items[index] = cost.sharded(low)


def _check_shard(cost: Cost, size: int) -> list[Diagnostic]:
    """A `shard_size` from the spec: its shard's worst case against SWF's limit and AWS's advice."""
    events = shard_events(cost, size)
    if events <= HISTORY_ADVICE:
        return []
    detail = f"{cost.in_shard(size).explain()}; at most {default_shard_size(cost):,} stays within {HISTORY_ADVICE:,}"
    path: Path = ("activities", cost.name, "shard_size")
    if events > HISTORY_LIMIT:
        return [
            Diagnostic(
                path,
                f"a shard of {size:,} instances has a worst-case history of {events:,} events, above SWF's limit "
                f"of {HISTORY_LIMIT:,}: {detail}; lower shard_size",
            )
        ]
    return [
        Diagnostic(
            path,
            f"a shard of {size:,} instances has a worst-case history of {events:,} events, above the "
            f"{HISTORY_ADVICE:,} AWS advises: {detail}",
            severity=Severity.WARNING,
        )
    ]


def _revert_refused(cost: Cost, why: str) -> Diagnostic:
    if why == "spec":
        reason = "it has shard_size, so its instances run in child workflow executions"
        fix = "declare an output, or remove the revert, on_failure: continue or the shard_size"
    else:
        assert cost.shard_size is not None
        unsharded = replace(cost, shard_size=None)
        reason = (
            f"its worst case of {unsharded.events:,} events ({unsharded.explain()}) does not fit the workflow's "
            f"history, so its instances would run in {cost.shards:,} child workflow executions"
        )
        fix = "declare an output, or remove the revert or on_failure: continue"
    return Diagnostic(
        ("activities", cost.name, "revert"),
        f"a sharded activity with on_failure: continue and a revert needs outputs: {reason}, which "
        f"report an instance that failed for good as null, as they report each instance of an activity "
        f"without outputs, so which instances completed and need reverting cannot be known; {fix}",
    )


def _check_parent(spec: Spec, items: list[Cost]) -> list[Diagnostic]:
    total = worst_case_events(items)
    if total <= HISTORY_ADVICE:
        return []
    biggest = max(items, key=lambda c: c.events)
    detail = f"{biggest.name} accounts for {biggest.events:,} ({biggest.explain()})"
    path: Path = ("activities", biggest.name)
    # At max_items when it is set; else at the activity's name, not inside its mapping.
    at_key = spec.activities[biggest.name].max_items is None
    if not at_key:
        path += ("max_items",)
    if biggest.events * 2 < total and len(items) > 2:
        # No activity dominates: the number of activities is the problem, not one of them.
        detail = (
            f"{len(items):,} activities, the largest {biggest.name} with {biggest.events:,} "
            f"({biggest.explain()})"
        )
        path, at_key = ("activities",), True
    if total > HISTORY_LIMIT:
        return [
            Diagnostic(
                path,
                f"the worst-case history is {total:,} events, above SWF's limit of {HISTORY_LIMIT:,}: "
                f"{detail}; lower max_items or retries, or split the workflow",
                at_key=at_key,
            )
        ]
    return [
        Diagnostic(
            path,
            f"the worst-case history is {total:,} events, above the {HISTORY_ADVICE:,} AWS advises: {detail}",
            severity=Severity.WARNING,
            at_key=at_key,
        )
    ]


def _attempt_seconds(effective: Effective) -> int | None:
    """The longest one attempt can take from scheduling to closing, if bounded."""
    timeouts = effective.timeouts
    total = timeouts["schedule_to_close"]
    if isinstance(total, int):
        return total
    start, run = timeouts["schedule_to_start"], timeouts["start_to_close"]
    if isinstance(start, int) and isinstance(run, int):
        return start + run
    return None


def _waits(effective: Effective) -> float:
    retry = effective.retry
    total = 0.0
    wait = float(retry.interval)
    for _ in range(retry.max_retries):
        total += wait if retry.max_interval is None else min(wait, retry.max_interval)
        # Capped far beyond any execution: backoff_rate ** 1025 would overflow a float.
        wait = min(wait * retry.backoff_rate, 1e18)
    return total


def activity_seconds(spec: Spec, name: str, analysis: Analysis, effective: Effective) -> float | None:
    """Worst case for one activity: every attempt used and timed out, in waves of
    `max_concurrency` when the instance count is known now."""
    per_attempt = _attempt_seconds(effective)
    if per_attempt is None:
        return None
    activity = spec.activities[name]
    typing = analysis.activities.get(name)
    waves = 1
    if typing is not None and typing.static_instances:
        width = activity.max_concurrency or MAX_OPEN_ACTIVITIES
        waves = math.ceil(typing.static_instances / width)
    attempts = 1 + effective.retry.max_retries
    return waves * (attempts * per_attempt + _waits(effective))


def check_critical_path(
    spec: Spec, analysis: Analysis, settings: dict[str, Effective], order: list[str]
) -> list[Diagnostic]:
    longest: dict[str, tuple[float, list[str]]] = {}
    for name in order:
        own = activity_seconds(spec, name, analysis, settings[name])
        if own is None:
            return []  # an unbounded activity: only execution_timeout bounds the run
        before = [longest[r] for r in spec.activities[name].requires if r in longest]
        best = max(before, key=lambda item: item[0], default=(0.0, []))
        longest[name] = (best[0] + own, best[1] + [name])
    if not longest:
        return []
    seconds, path = max(longest.values(), key=lambda item: item[0])
    limit = spec.workflow.execution_timeout
    if seconds <= limit:
        return []
    took = describe_duration(seconds) if seconds <= MAX_EXECUTION_SECONDS else "more than 365d"
    names = path if len(path) <= 8 else [*path[:3], "...", *path[-3:]]
    more = "" if len(path) <= 8 else f", {len(path):,} activities"
    return [
        Diagnostic(
            ("workflow", "execution_timeout"),
            f"execution_timeout {format_duration(limit)} is shorter than the worst case of the critical path "
            f"{' -> '.join(names)} with its retries ({took}{more})",
            severity=Severity.WARNING,
        )
    ]
