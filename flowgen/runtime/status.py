"""What an execution is doing, from its history: the facts behind `python -m PACKAGE.status`.

`summarize(plan, events)` is a pure function of a history (boto3's shape, oldest event first):
it folds the events with the decider's own reader (`history.read_history`), expands each
activity's generators as the decider does (`decider.instances_of`), and counts each activity's
instances by state. Handler times come from the attempts that reader records
(`Instance.history`), the records `timeline.py` draws too. The SWF side (reading the history
page by page, following child workflow shards, finding the latest run) is in `operate.py`.

Each instance is in exactly one state, so `instances == completed + failed + open + waiting +
retrying`:

- `completed`: its last attempt completed;
- `open`: an attempt is scheduled or running;
- `failed`: its last attempt failed and it will not be tried again (retries used up, an error
  its retry policy does not cover, or the execution closed);
- `retrying`: its last attempt failed and another will follow (after a retry wait, if any);
- `waiting`: not scheduled yet (its requirements are not settled, or max_concurrency holds it).

`reverted` counts the instances whose revert completed, `attempts` the attempts of every
instance (not of reverts). An activity whose generators cannot be expanded yet (its
requirements have not completed) has only the instances the history already names.
"""

from __future__ import annotations

import collections
import datetime
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from . import decider
from . import plan as p
from .history import CLOSE_STATUS, Instance, read_history, seconds
from .ids import REVERT_SUFFIX

COUNTS = ("instances", "completed", "failed", "open", "waiting", "retrying", "reverted", "attempts")


@dataclass(frozen=True)
class FailedInstance:
    instance: str
    values: dict[str, Any]
    attempts: int
    error: str


@dataclass
class ActivityStatus:
    name: str
    instances: int = 0
    completed: int = 0
    failed: int = 0
    open: int = 0
    waiting: int = 0
    retrying: int = 0
    reverted: int = 0
    attempts: int = 0
    # Handler time over the attempts that ran to a close: the slowest one and the sum.
    slowest: float = 0.0
    total: float = 0.0
    failures: list[FailedInstance] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {key: int(getattr(self, key)) for key in COUNTS}

    def add(self, other: ActivityStatus, prefix: str = "") -> None:
        """Fold in another execution's counts of the same activity (a child workflow shard)."""
        for key in COUNTS:
            setattr(self, key, getattr(self, key) + getattr(other, key))
        self.slowest = max(self.slowest, other.slowest)
        self.total += other.total
        self.failures.extend(
            FailedInstance(prefix + f.instance, f.values, f.attempts, f.error) for f in other.failures
        )


@dataclass(frozen=True)
class Child:
    """A child workflow execution the history started: (workflow id, run id) and its type's name."""

    workflow_id: str
    run_id: str
    workflow_type: str


@dataclass
class ExecutionStatus:
    workflow_id: str
    run_id: str
    status: str  # OPEN or one of CLOSE_STATUS's values
    started: float | None
    closed: float | None
    failure: str | None
    activities: dict[str, ActivityStatus]
    children: list[Child]
    # Why the history cannot be trusted, as the decider would say; None when it can.
    problem: str | None = None
    # What `merge_child` needs to name a shard's instances as the parent does: each child
    # workflow id's (activity, shard), and each sharded activity's instances.
    shard_of: dict[str, tuple[str, int]] = field(default_factory=dict)
    sharded: dict[str, decider.Shards] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        if self.started is None:
            return None
        end = self.closed if self.closed is not None else None
        return None if end is None else max(end - self.started, 0.0)

    def progress(self) -> tuple[int, int]:
        """(instances done, instances in all): done is completed or failed for good."""
        done = sum(a.completed + a.failed for a in self.activities.values())
        return done, sum(a.instances for a in self.activities.values())

    def to_data(self) -> dict[str, Any]:
        """The `--json` object; times as ISO 8601 (UTC), durations in seconds."""
        return {
            "workflow_id": self.workflow_id,
            "run_id": self.run_id,
            "status": self.status,
            "started": _iso(self.started),
            "closed": _iso(self.closed),
            "duration": _seconds(self.duration),
            "failure": self.failure,
            "activities": {
                name: {
                    **a.counts(),
                    # As the table's "-": no attempt has run, so no handler time to speak of.
                    "slowest_seconds": _seconds(a.slowest) if a.attempts else None,
                    "total_seconds": _seconds(a.total) if a.attempts else None,
                    "failures": [
                        {"instance": f.instance, "values": f.values, "attempts": f.attempts, "error": f.error}
                        for f in a.failures
                    ],
                }
                for name, a in self.activities.items()
            },
            "problem": self.problem,
        }


def _iso(when: float | None) -> str | None:
    if when is None:
        return None
    return datetime.datetime.fromtimestamp(when, datetime.UTC).isoformat().replace("+00:00", "Z")


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _attributes(event: dict[str, Any]) -> dict[str, Any]:
    kind = str(event.get("eventType", ""))
    found = event.get(kind[:1].lower() + kind[1:] + "EventAttributes", {})
    return found if isinstance(found, dict) else {}


def _activity_of(plan: p.FlowPlan, instance: str) -> str:
    """The activity an instance id belongs to: `name`, `name-7`, with `.revert` for its revert."""
    base = instance.removesuffix(REVERT_SUFFIX)
    name, dash, index = base.rpartition("-")
    if dash and index.isdigit():
        return name
    return base


def _closing(events: list[dict[str, Any]]) -> tuple[str, float | None, str | None]:
    for event in reversed(events):
        status = CLOSE_STATUS.get(str(event.get("eventType", "")))
        if status is None:
            continue
        attributes = _attributes(event)
        failure: str | None = None
        if status in ("FAILED", "TERMINATED"):
            failure = str(attributes.get("reason") or attributes.get("cause") or "") or None
        elif status == "TIMED_OUT":
            failure = f"timed out ({attributes.get('timeoutType', 'START_TO_CLOSE')})"
        elif status == "CANCELED":
            failure = _canceled(str(attributes.get("details") or ""))
        return status, seconds(event.get("eventTimestamp")), failure
    return "OPEN", None, None


def _canceled(details: str) -> str | None:
    """Why it was canceled: the decider's `{"reverts": {INSTANCE: OUTCOME}}` as counts of outcomes
    ("canceled on request; 3 reverted"), any other details as they are."""
    try:
        data = json.loads(details)
    except ValueError:
        return details or None
    reverts = data.get("reverts") if isinstance(data, dict) else None
    if not isinstance(reverts, dict) or not reverts:
        return details
    outcomes = collections.Counter(str(outcome) for outcome in reverts.values())
    return "canceled on request; " + ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))


def _children(events: list[dict[str, Any]]) -> list[Child]:
    found: list[Child] = []
    for event in events:
        if event.get("eventType") != "ChildWorkflowExecutionStarted":
            continue
        attributes = _attributes(event)
        execution = attributes.get("workflowExecution") or {}
        workflow_type = attributes.get("workflowType") or {}
        if isinstance(execution, dict) and isinstance(workflow_type, dict):
            found.append(
                Child(
                    str(execution.get("workflowId", "")),
                    str(execution.get("runId", "")),
                    str(workflow_type.get("name", "")),
                )
            )
    return found


def summarize(
    plan: p.FlowPlan, events: list[dict[str, Any]], workflow_id: str = "", run_id: str = ""
) -> ExecutionStatus:
    """The status of the execution whose whole history is `events` (not its children's: see `merge_child`)."""
    execution = read_history(events)
    expanded = decider.instances_of(plan, execution, workflow_id)
    planned, sharded = expanded.planned, expanded.sharded
    status, closed, failure = _closing(events)
    started = seconds(execution.started_at)
    handler_times = _handler_times(plan, execution.instances.values())
    activities: dict[str, ActivityStatus] = {}
    for activity in plan.activities:
        found = ActivityStatus(activity.name)
        items = planned.get(activity.name)
        if activity.name in sharded:
            # Its instances run in child shards (`merge_child` counts them): waiting until then.
            found.instances = found.waiting = sharded[activity.name].total
            shown: list[tuple[str, dict[str, Any]]] = []
        elif items is None:
            ids = [i for i in execution.instances if _activity_of(plan, i) == activity.name]
            ids = [i for i in ids if not i.endswith(REVERT_SUFFIX)]
            if not ids and not activity.generators:
                ids = [activity.name]
            shown = [(i, {}) for i in ids]
        else:
            shown = [(item.id, item.values) for item in items]
        for instance_id, values in shown:
            state = execution.instances.get(instance_id) or Instance(instance_id)
            _count(found, activity, state, status == "OPEN", values)
            revert = execution.instances.get(instance_id + REVERT_SUFFIX)
            if revert is not None and revert.completed:
                found.reverted += 1
        times = handler_times.get(activity.name, [])
        found.slowest, found.total = max(times, default=0.0), sum(times, 0.0)
        activities[activity.name] = found
    return ExecutionStatus(
        workflow_id=workflow_id,
        run_id=run_id,
        status=status,
        started=started,
        closed=closed,
        failure=failure,
        activities=activities,
        children=_children(events),
        problem=execution.problem,
        shard_of={c.workflow_id: key for key, c in execution.children.items() if c.workflow_id},
        sharded=sharded,
    )


def _handler_times(plan: p.FlowPlan, instances: Iterable[Instance]) -> dict[str, list[float]]:
    """Each activity's handler times: one per attempt that started and closed (not of reverts)."""
    found: dict[str, list[float]] = {}
    for instance in instances:
        if instance.instance_id.endswith(REVERT_SUFFIX):
            continue
        for attempt in instance.history:
            seconds = attempt.handler_seconds
            if seconds is not None:
                found.setdefault(_activity_of(plan, instance.instance_id), []).append(seconds)
    return found


def _count(
    found: ActivityStatus, activity: p.ActivityPlan, state: Instance, running: bool, values: dict[str, Any]
) -> None:
    found.instances += 1
    found.attempts += state.attempts
    if state.completed:
        found.completed += 1
    elif state.open:
        found.open += 1
    elif not state.attempts:
        found.waiting += 1
    elif running and not decider.exhausted(activity, state):
        found.retrying += 1
    else:
        found.failed += 1
        error = state.error.describe() if state.error is not None else "failed"
        found.failures.append(FailedInstance(state.instance_id, values, state.attempts, error))


def merge_child(parent: ExecutionStatus, plan: p.FlowPlan, child: Child, status: ExecutionStatus) -> None:
    """Count a child shard's instances under the parent's sharded activity (named by the shard plan).

    The parent counted the sharded activity's instances as waiting until they ran somewhere;
    each instance a shard holds is taken from those waiting and counted as the shard says. A
    failed instance is named as the parent would run it unsharded (`square-6`, its generator
    values), not by its place in the shard.
    """
    shard = next((s for s in plan.shards if s.workflow == child.workflow_type), None)
    if shard is None:
        return
    name = shard.activities[0].name
    target = parent.activities.get(name)
    source = status.activities.get(name)
    if target is None or source is None:
        return
    moved = min(target.waiting, source.instances)
    target.waiting -= moved
    target.instances -= moved
    target.add(source, prefix=f"{child.workflow_id}/")
    where = parent.shard_of.get(child.workflow_id)
    instances = parent.sharded.get(name)
    if where is not None and where[0] == name and instances is not None:
        first = where[1] * (instances.activity.shard_size or 1)
        own = target.failures[len(target.failures) - len(source.failures) :]
        for position, failure in enumerate(own, len(target.failures) - len(own)):
            local = failure.instance.removeprefix(f"{child.workflow_id}/")
            _, dash, index = local.rpartition("-")
            if dash and index.isdigit():
                item = instances.instance(first + int(index))
                target.failures[position] = FailedInstance(
                    item.id, item.values, failure.attempts, failure.error
                )


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _when(when: float | None) -> str:
    if when is None:
        return "-"
    return datetime.datetime.fromtimestamp(when, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def text(status: ExecutionStatus, now: float | None = None) -> str:
    """The status as `python -m PACKAGE.status` prints it: a header, one line per activity, failures.

    `now` gives an open execution's running time so far.
    """
    duration = status.duration
    if duration is None and status.started is not None and now is not None:
        duration = max(now - status.started, 0.0)
    lines = [
        f"execution  {status.workflow_id}  (run {status.run_id})",
        f"status     {status.status}",
        f"started    {_when(status.started)}",
        f"duration   {_duration(duration)}" + ("  (running)" if status.status == "OPEN" else ""),
    ]
    if status.failure:
        lines.append(f"failure    {_one_line(status.failure)}")
    if status.problem:
        lines.append(f"problem    {_one_line(status.problem)}")
    header = ["activity", *COUNTS, "slowest", "total"]
    rows = [
        [
            a.name,
            *(str(getattr(a, c)) for c in COUNTS),
            _duration(a.slowest if a.attempts else None),
            _duration(a.total if a.attempts else None),
        ]
        for a in status.activities.values()
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        return "  ".join(cells).rstrip()

    lines += ["", line(header), *map(line, rows)]
    failures = [f for a in status.activities.values() for f in a.failures]
    if failures:
        lines += ["", "failed instances"]
        for failure in failures:
            values = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in failure.values.items())
            tries = f"{failure.attempts} attempt{'s' if failure.attempts != 1 else ''}"
            shown = f"{failure.instance} ({values})" if values else failure.instance
            lines.append(f"  {shown}: {tries}, last error: {_one_line(failure.error)}")
    return "\n".join(lines) + "\n"


def _one_line(message: str) -> str:
    return " ".join(message.split())
