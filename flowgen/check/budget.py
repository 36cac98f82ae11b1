"""The history budget and the critical path, checked before anything runs.

SWF closes an execution that reaches 25,000 history events, and AWS advises
staying under 10,000. Each attempt of an instance costs, at worst:

- 3 activity events (scheduled, started, and completed, failed or timed out),
- 3 events of the decision task its closing triggers (scheduled, started, completed);

and each retry that waits costs a timer (started, fired) and its decision task: 5.
A revert is an activity of its own with the same policy. The workflow itself costs
5 (started, the first decision task, the close), and every 100 scheduling
decisions cost a continuation timer (5) because a response is kept to 100.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flowgen.check.effective import Effective
from flowgen.check.references import Analysis
from flowgen.diagnostics import Diagnostic, Path, Severity
from flowgen.runtime.limits import (
    HISTORY_ADVICE,
    HISTORY_LIMIT,
    MAX_DECISIONS,
    MAX_EXECUTION_SECONDS,
    MAX_OPEN_ACTIVITIES,
)
from flowgen.spec.durations import describe_duration, format_duration
from flowgen.spec.models import Spec

EVENTS_PER_ATTEMPT = 6
EVENTS_PER_TIMER = 5
WORKFLOW_EVENTS = 5


@dataclass(frozen=True)
class Cost:
    """One activity's worst-case share of the history."""

    name: str
    instances: int
    attempts: int
    timers: int
    reverts: bool

    @property
    def per_instance(self) -> int:
        return self.attempts * EVENTS_PER_ATTEMPT + self.timers * EVENTS_PER_TIMER

    @property
    def events(self) -> int:
        return self.instances * self.per_instance * (2 if self.reverts else 1)

    @property
    def schedules(self) -> int:
        return self.instances * self.attempts * (2 if self.reverts else 1)

    def explain(self) -> str:
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
    schedules = sum(c.schedules for c in items)
    continuations = math.ceil(schedules / MAX_DECISIONS) * EVENTS_PER_TIMER
    return WORKFLOW_EVENTS + continuations + sum(c.events for c in items)


def check_budget(spec: Spec, analysis: Analysis, settings: dict[str, Effective]) -> list[Diagnostic]:
    items = costs(spec, analysis, settings)
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
