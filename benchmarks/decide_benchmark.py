"""How long `decide` takes on long histories, against `json.loads` of the same history.

    .venv/bin/python benchmarks/decide_benchmark.py [--runs 7] [--no-gc] [--profile]

A decider reads the whole history on every decision task: its first cost is the JSON that
botocore parses (json.loads of the response pages). This script builds SWF histories of about
1,000, 5,000 and 24,000 events (the most these flows make; SWF stops at 25,000) for two flows,
and prints for each the best of several runs of
`json.loads` of the history as SWF sends it, of `decide(plan, events)` (a cold task: the whole
history read), of a warm task's fold and `decide` (the new events since the previous decision task
folded onto the fold of the rest, decided with what the previous task kept, its memo), and of that
warm task end to end, `DeciderLoop.poll_once` from poll to respond against a client serving
botocore-shaped pages (issue 12's goal: at most 0.10 of `json.loads`, flat in the history's length):

- the country flow (specs/country_flow.yaml, with max_items raised to 4,000 and no retries on
  the fan-out, so that a history that long fits the compiler's history budget): one
  activity, 4,000 (day, country) instances at most 50 at a time, one report;
- two chained fan-outs: 2,000 instances over the input, then 2,000 over their outputs, no
  concurrency limit (so SWF's 1,000 open activities and the 100-decision continuation apply).

The histories are built as SWF would record them for this decider, one decision task per
completed task (the usual shape when workers are slower than the decider). A small model of the
decider writes them fast; it is checked against the real `decide` on every 50th decision task and
at every measured history, so the histories are the ones the decider really makes.

Target (DESIGN.md): `decide` at most 2x `json.loads` at 25,000 events, growing linearly.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import gc
import json
import os
import pathlib
import platform
import pstats
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flowgen.compiler import compile_spec  # noqa: E402
from flowgen.plan import build_plan  # noqa: E402
from flowgen.runtime.decider import Memo, decide  # noqa: E402
from flowgen.runtime.history import HistoryFolder  # noqa: E402
from flowgen.runtime.plan import FlowPlan  # noqa: E402
from flowgen.runtime.polling import DeciderLoop  # noqa: E402
from flowgen.runtime.values import dumps  # noqa: E402

# The last is as far as the country flow goes: 4,000 instances make 24,016 events in all.
SIZES = (1_000, 5_000, 24_000)
EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)

COUNTRY_FLOW = (ROOT / "specs" / "country_flow.yaml").read_text()
COUNTRY_FLOW_4000 = re.sub(r"max_items: \d+", "max_items: 4000", COUNTRY_FLOW).replace(
    "retry: {max_retries: 3, interval: 10s, backoff_rate: 2.0, max_interval: 5m}", "retry: 0"
)
assert COUNTRY_FLOW_4000.count("max_items: 4000") == 1 and "max_retries: 3" not in COUNTRY_FLOW_4000

CHAINED = """\
flowgen: 1
domain: bench
workflow:
  name: chained
  version: "1"
  execution_timeout: 1d
  input: {items: "list[int]"}
  result: {ws: "b[*].w"}
defaults:
  task_list: bench
  timeouts: {schedule_to_start: 5m, start_to_close: 10m, heartbeat: 1m}
  retry: 0
activities:
  a:
    handler: bench:a
    generators: {item: input.items}
    max_items: 2000
    inputs: {item: generator.item, label: {value: first fan-out}}
    outputs: {v: int}
  b:
    requires: [a]
    handler: bench:b
    generators: {v: "a[*].v"}
    max_items: 2000
    inputs: {v: generator.v, label: {value: second fan-out}}
    outputs: {w: int}
"""


def plan_of(text: str) -> FlowPlan:
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "spec.yaml"
        path.write_text(text)
        compiled = compile_spec(str(path))
    if compiled.checked is None:
        raise SystemExit("\n".join(f"{d.diagnostic.path}: {d.diagnostic.message}" for d in compiled.errors))
    return build_plan(compiled.checked)


# -- a model of the decider for flows that are a chain of activities -----------------------------


@dataclass
class Stage:
    """One activity of a chain: `count` instances (None: one, not generated)."""

    name: str
    count: int | None
    max_concurrency: int
    input: Callable[[int], dict[str, Any]]
    result: Callable[[int], dict[str, Any]]
    scheduled: int = 0
    completed: int = 0

    def id(self, index: int) -> str:
        return self.name if self.count is None else f"{self.name}-{index}"

    @property
    def size(self) -> int:
        return 1 if self.count is None else self.count


@dataclass
class Simulation:
    plan: FlowPlan
    stages: list[Stage]
    workflow_input: dict[str, Any]
    result: Callable[[], dict[str, Any]]
    events: list[dict[str, Any]] = field(default_factory=list)
    open: list[tuple[int, str, Stage, int]] = field(default_factory=list)  # scheduled event, id, ...
    continuation: str | None = None
    checks: int = 0

    def add(self, kind: str, **attributes: Any) -> int:
        event_id = len(self.events) + 1
        self.events.append(
            {
                "eventId": event_id,
                "eventType": kind,
                "eventTimestamp": EPOCH + datetime.timedelta(milliseconds=10 * event_id),
                kind[0].lower() + kind[1:] + "EventAttributes": attributes,
            }
        )
        return event_id

    def model(self) -> list[tuple[str, str]]:
        """What decide answers now, as (decision type, id) pairs."""
        for stage in self.stages:
            if stage.completed < stage.size:
                break
        else:
            return [("CompleteWorkflowExecution", "")]
        ready = stage.size - stage.scheduled
        if stage.max_concurrency:
            ready = min(ready, stage.max_concurrency - (stage.scheduled - stage.completed))
        ready = min(ready, 1000 - len(self.open))
        decisions = [("ScheduleActivityTask", stage.id(stage.scheduled + n)) for n in range(ready)]
        if len(decisions) > 100:
            decisions = decisions[:99] + [("StartTimer", f"continue-{len(self.events)}")]
        return decisions

    def check(self, expected: list[tuple[str, str]]) -> None:
        found = []
        for decision in decide(self.plan, self.events):
            kind = decision["decisionType"]
            attributes = decision[kind[0].lower() + kind[1:] + "DecisionAttributes"]
            found.append((kind, attributes.get("activityId", attributes.get("timerId", ""))))
        self.checks += 1
        if found != expected:
            raise AssertionError(f"the model and decide disagree at event {len(self.events)}: {found[:3]}...")

    def run(self, sizes: tuple[int, ...]) -> dict[int, list[dict[str, Any]]]:
        """Histories that end with a decision task just started, near each of `sizes` events."""
        snapshots: dict[int, list[dict[str, Any]]] = {}
        wanted = list(sizes)
        self.add(
            "WorkflowExecutionStarted",
            input=json.dumps(self.workflow_input),
            workflowType={"name": self.plan.workflow, "version": self.plan.version},
            taskList={"name": self.plan.task_list},
            childPolicy="TERMINATE",
            executionStartToCloseTimeout=str(self.plan.execution_timeout),
            taskStartToCloseTimeout="30",
        )
        tasks = 0
        while True:
            scheduled = self.add("DecisionTaskScheduled", taskList={"name": self.plan.task_list})
            started = self.add("DecisionTaskStarted", scheduledEventId=scheduled, identity="decider")
            decisions = self.model()
            tasks += 1
            closing = bool(decisions) and decisions[0][0] == "CompleteWorkflowExecution"
            if wanted and len(self.events) >= wanted[0]:
                self.check(decisions)
                snapshots[wanted.pop(0)] = list(self.events)
            elif closing or tasks % 50 == 0:
                self.check(decisions)
            if closing:
                return snapshots
            completed = self.add("DecisionTaskCompleted", scheduledEventId=scheduled, startedEventId=started)
            self.respond(decisions, completed)
            if self.continuation is not None:
                self.add("TimerFired", timerId=self.continuation, startedEventId=len(self.events))
                self.continuation = None
            else:
                self.finish_one()

    def respond(self, decisions: list[tuple[str, str]], completed: int) -> None:
        for kind, identifier in decisions:
            if kind == "StartTimer":
                self.add(
                    "TimerStarted",
                    timerId=identifier,
                    startToFireTimeout="0",
                    control='{"kind":"continue"}',
                    decisionTaskCompletedEventId=completed,
                )
                self.continuation = identifier
                continue
            stage = next(s for s in self.stages if s.scheduled < s.size and s.id(s.scheduled) == identifier)
            index = stage.scheduled
            stage.scheduled += 1
            event_id = self.add(
                "ActivityTaskScheduled",
                activityType={"name": stage.name, "version": self.plan.activity(stage.name).version},
                activityId=identifier,
                input=dumps({"input": stage.input(index), "attempt": 1}),
                taskList={"name": self.plan.activity(stage.name).task_list},
                scheduleToStartTimeout="300",
                scheduleToCloseTimeout="900",
                startToCloseTimeout="600",
                heartbeatTimeout="60",
                decisionTaskCompletedEventId=completed,
            )
            self.open.append((event_id, identifier, stage, index))

    def finish_one(self) -> None:
        """The oldest open task starts and completes."""
        scheduled, _, stage, index = self.open.pop(0)
        started = self.add("ActivityTaskStarted", scheduledEventId=scheduled, identity="worker-1")
        self.add(
            "ActivityTaskCompleted",
            scheduledEventId=scheduled,
            startedEventId=started,
            result=dumps(stage.result(index)),
        )
        stage.completed += 1


def country_flow() -> Simulation:
    plan = plan_of(COUNTRY_FLOW_4000)
    days = [(datetime.date(2024, 1, 1) + datetime.timedelta(days=n)).isoformat() for n in range(100)]
    countries = list(range(1, 41))

    def fetch_input(index: int) -> dict[str, Any]:
        day, country = divmod(index, len(countries))
        return {
            "country_id": countries[country],
            "day": days[day],
            "run_id": "0f" * 16,
            "source": "public-api",
        }

    rows = [(i * 7919) % 1000 for i in range(4000)]
    stages = [
        Stage("activity_1", None, 0, lambda i: {}, lambda i: {"run_id": "0f" * 16}),
        Stage("activity_2", 4000, 50, fetch_input, lambda i: {"rows": rows[i]}),
        Stage("activity_3", None, 0, lambda i: {"rows": rows}, lambda i: {"report": "4000 fetches"}),
    ]
    return Simulation(
        plan, stages, {"days": days, "countries": countries}, lambda: {"report": "4000 fetches"}
    )


def chained() -> Simulation:
    plan = plan_of(CHAINED)
    items = list(range(2000))
    stages = [
        Stage("a", 2000, 0, lambda i: {"item": i, "label": "first fan-out"}, lambda i: {"v": i * 3}),
        Stage("b", 2000, 0, lambda i: {"v": i * 3, "label": "second fan-out"}, lambda i: {"w": i * 5}),
    ]
    return Simulation(plan, stages, {"items": items}, lambda: {"ws": [i * 5 for i in items]})


# -- measuring -------------------------------------------------------------------------------------


def wire(events: list[dict[str, Any]]) -> str:
    """The history as SWF's JSON (timestamps as epoch seconds), one page of everything."""
    return json.dumps({"events": events}, default=lambda value: value.timestamp())


def best(function: Callable[[], Any], runs: int, collect: bool) -> float:
    """The fastest of `runs` calls, in ms; with the cyclic garbage collector off unless `collect`."""
    times = []
    for _ in range(runs):
        if not collect:
            gc.disable()
        try:
            start = time.perf_counter()
            function()
            times.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return min(times) * 1000


def warm(plan: FlowPlan, events: list[dict[str, Any]], runs: int, collect: bool) -> tuple[float, int]:
    """A warm task's `decide` as the poller runs it, in ms (best of `runs`): the previous task
    folded and decided (not timed), then this task's new events folded onto that fold and decided
    with what the previous task kept (its memo). Also how many events were new."""
    starts = [n for n, event in enumerate(events) if event["eventType"] == "DecisionTaskStarted"]
    known = starts[-2] + 1
    times = []
    for _ in range(runs):
        folder, memo = HistoryFolder(), Memo()
        decide(plan, events[:known], "", folder.fold(events[:known]), memo)
        if not collect:
            gc.disable()
        try:
            start = time.perf_counter()
            decisions = decide(plan, events, "", folder.fold(events[known:]), memo)
            times.append(time.perf_counter() - start)
        finally:
            gc.enable()
        assert decisions == decide(plan, events)
    return min(times) * 1000, len(events) - known


class Pages:
    """SWF as the decider's poller sees it, in memory: PollForDecisionTask serves `events` in
    pages shaped as botocore returns them (parsed, timestamps as datetimes), newest first when
    asked, and RespondDecisionTaskCompleted keeps the decisions."""

    def __init__(self, plan: FlowPlan) -> None:
        self.plan = plan
        self.events: list[dict[str, Any]] = []
        self.decisions: list[dict[str, Any]] = []

    def poll_for_decision_task(self, **request: Any) -> dict[str, Any]:
        size, offset, count = (
            request["maximumPageSize"],
            int(request.get("nextPageToken", "0")),
            len(self.events),
        )
        if request.get("reverseOrder"):
            page = self.events[max(count - offset - size, 0) : count - offset][::-1]
        else:
            page = self.events[offset : offset + size]
        response: dict[str, Any] = {"events": page}
        if offset + size < count:
            response["nextPageToken"] = str(offset + size)
        if "nextPageToken" not in request:
            response.update(
                taskToken="token",
                workflowExecution={"workflowId": "bench", "runId": "run"},
                workflowType={"name": self.plan.workflow, "version": self.plan.version},
                startedEventId=count,
            )
        return response

    def respond_decision_task_completed(self, **request: Any) -> None:
        self.decisions = request["decisions"]


def poll_to_respond(plan: FlowPlan, events: list[dict[str, Any]], runs: int, collect: bool) -> float:
    """A warm decision task end to end, in ms (best of `runs`): `DeciderLoop.poll_once` on the
    history at its last DecisionTaskStarted, after the same loop polled and decided the previous
    task (not timed): the pages read, the history cache, the fold, `decide`, the response."""
    starts = [n for n, event in enumerate(events) if event["eventType"] == "DecisionTaskStarted"]
    times = []
    for _ in range(runs):
        client = Pages(plan)
        loop = DeciderLoop(plan, client)  # type: ignore[arg-type]
        client.events = events[: starts[-2] + 1]
        assert loop.poll_once()
        client.events = events
        if not collect:
            gc.disable()
        try:
            start = time.perf_counter()
            loop.poll_once()
            times.append(time.perf_counter() - start)
        finally:
            gc.enable()
        assert client.decisions == decide(plan, events, "bench")
    return min(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="best of this many runs (default 7)")
    parser.add_argument("--profile", action="store_true", help="cProfile decide on the largest history")
    parser.add_argument(
        "--no-gc",
        action="store_true",
        help="time with the garbage collector off, as timeit does (default: on, as in a decider)",
    )
    args = parser.parse_args()
    collect = not args.no_gc
    print(
        f"python {platform.python_version()} ({platform.python_implementation()}), {platform.machine()},"
        f" {os.cpu_count()} CPUs, garbage collector {'on' if collect else 'off'}, best of {args.runs}"
    )
    print(
        f"{'flow':<16} {'events':>7} {'json.loads ms':>14} {'decide ms':>10} {'ratio':>6} {'decide µs/event':>16}"
        f" {'warm task ms':>13} {'new events':>10} {'poll→respond ms':>16} {'ratio':>6}"
    )
    for name, build in (("country flow", country_flow), ("chained fan-out", chained)):
        simulation = build()
        snapshots = simulation.run(SIZES)
        plan = simulation.plan
        for size in SIZES:
            events = snapshots[size]
            text = wire(events)
            loads = best(lambda text=text: json.loads(text), args.runs, collect)
            decided = best(lambda events=events, plan=plan: decide(plan, events), args.runs, collect)
            warm_ms, new = warm(plan, events, args.runs, collect)
            polled = poll_to_respond(plan, events, args.runs, collect)
            print(
                f"{name:<16} {len(events):>7,} {loads:>14.1f} {decided:>10.1f} {decided / loads:>6.2f}"
                f" {decided * 1000 / len(events):>16.2f} {warm_ms:>13.2f} {new:>10}"
                f" {polled:>16.2f} {polled / loads:>6.3f}"
            )
        if args.profile:
            profiler = cProfile.Profile()
            largest = snapshots[SIZES[-1]]
            profiler.runcall(lambda largest=largest, plan=plan: [decide(plan, largest) for _ in range(5)])
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(18)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
