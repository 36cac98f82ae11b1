"""Sharded generators at scale: local runs of 20,000 and 100,000 no-op instances, and the parent's decide.

    .venv/bin/python benchmarks/shard_benchmark.py                  # 20,000 and 100,000
    .venv/bin/python benchmarks/shard_benchmark.py --sizes 20000    # one size

The flow is specs/country_flow.yaml with `max_items` set to the size, days x 100 countries, and
no-op handlers; `activity_2` (50 at a time, three retries) is sharded by the compiler. Its report
takes a literal instead of `activity_2[*].rows`: that fan-in of 20,000 numbers is over SWF's
32,768 characters, which only payloads (S3) lift, and this measures the shards alone.

Each size runs in its own process, so that its peak memory (the process's maximum resident set)
is its own. Printed per size: the wall time of `LocalRunner.run`, the peak memory, the parent's
history length and shard count; at the largest size, `decide` on every decision task of the
parent's history (best of three each): the slowest, the median, and the last, both warm (as the
poller decides: the task's new events folded onto the fold of the rest, with what the previous
task kept, `decider.Memo`) and cold (the whole history read, as after a restart); and the task that
reads every shard's result for the report's fan-in.

Targets (issue 10): 20,000 instances under 20 s and 500 MB, 100,000 under 120 s and 1.5 GB, one
parent decision task at 100,000 instances under 50 ms of decide.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flowgen.compiler import compile_spec  # noqa: E402
from flowgen.plan import build_plan  # noqa: E402
from flowgen.runtime.decider import Memo, decide  # noqa: E402
from flowgen.runtime.history import HistoryFolder  # noqa: E402
from flowgen.runtime.local import LocalRunner  # noqa: E402
from flowgen.runtime.plan import FlowPlan  # noqa: E402

COUNTRIES = 100
FAN_IN = "      rows: activity_2[*].rows       # every instance's rows, in generator order\n"


def plan_for(size: int, fan_in: bool = False) -> FlowPlan:
    text = (ROOT / "specs" / "country_flow.yaml").read_text()
    assert "max_items: 20000 " in text and FAN_IN in text
    text = text.replace("max_items: 20000 ", f"max_items: {size} ")
    if not fan_in:
        text = text.replace(FAN_IN, "      rows: {value: 0}\n")
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "country_flow.yaml"
        path.write_text(text)
        compiled = compile_spec(str(path))
    assert compiled.checked is not None, [d.diagnostic.message for d in compiled.diagnostics]
    return build_plan(compiled.checked)


def workflow_input(size: int) -> dict[str, Any]:
    first = datetime.date(2020, 1, 1)
    days = [(first + datetime.timedelta(days=n)).isoformat() for n in range(size // COUNTRIES)]
    return {"days": days, "countries": list(range(COUNTRIES))}


HANDLERS: dict[str, Callable[..., Any]] = {
    "activity_1": lambda: {"run_id": "benchmark"},
    "activity_2": lambda **inputs: {"rows": 0},
    "activity_3": lambda **inputs: {"report": "done"},
}


def best_ms(plan: FlowPlan, events: list[dict[str, Any]], runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        began = time.perf_counter()
        decide(plan, events, "local")
        best = min(best, time.perf_counter() - began)
    return best * 1000


def warm_ms(plan: FlowPlan, events: list[dict[str, Any]], tasks: list[int], runs: int = 3) -> list[float]:
    """Each task's `decide` as the poller runs it (best of `runs` replays), in ms: the task's new
    events folded onto the fold of the rest, decided with what the previous task kept (its memo)."""
    best = [float("inf")] * len(tasks)
    for _ in range(runs):
        folder, memo = HistoryFolder(), Memo()
        for n, index in enumerate(tasks):
            began = time.perf_counter()
            decide(plan, events[: index + 1], "local", folder.fold(events[folder.count : index + 1]), memo)
            best[n] = min(best[n], (time.perf_counter() - began) * 1000)
    return best


def one(size: int, decide_times: bool) -> dict[str, Any]:
    """One local run of `size` instances, in this process."""
    plan = plan_for(size)
    began = time.perf_counter()
    result = LocalRunner(plan, HANDLERS, workers=4).run(workflow_input(size))
    seconds = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    assert result.status == "COMPLETED", result.reason
    history = result.history
    report: dict[str, Any] = {
        "size": size,
        "seconds": round(seconds, 1),
        "peak_mb": round(peak_mb),
        "parent_events": len(history),
        "shard_size": plan.activity("activity_2").shard_size,
        "shards": sum(1 for e in history if e["eventType"] == "ChildWorkflowExecutionCompleted"),
    }
    if decide_times:
        tasks = [i for i, event in enumerate(history) if event["eventType"] == "DecisionTaskStarted"]
        times = [best_ms(plan, history[: index + 1]) for index in tasks]
        warm = warm_ms(plan, history, tasks)
        report["decision_tasks"] = len(times)
        # The task after the last shard closed, decided as the real country flow would: its
        # report takes activity_2[*].rows, so this task reads every shard's result. (Without
        # payloads that input is over SWF's limit and the task fails the workflow instead of
        # scheduling it; reading the results comes first either way.)
        closes = [i for i, e in enumerate(history) if e["eventType"] == "ChildWorkflowExecutionCompleted"]
        reading = min(i for i in tasks if i > max(closes))
        fan_in = plan_for(size, fan_in=True)
        report["reading_ms"] = round(best_ms(fan_in, history[: reading + 1]), 1)
        report["reading_warm_ms"] = round(warm_ms(fan_in, history, [i for i in tasks if i <= reading])[-1], 1)
        report["decide_ms"] = {
            "slowest": round(max(times), 1),
            "median": round(statistics.median(times), 1),
            "last": round(times[-1], 1),
        }
        report["warm_ms"] = {
            "slowest": round(max(warm), 1),
            "median": round(statistics.median(warm), 1),
            "last": round(warm[-1], 1),
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--decide", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.decide)))
        return
    print(f"machine: nproc {os.cpu_count()}, {platform.machine()}, Python {platform.python_version()}")
    print("| instances | shard size | shards | parent events | run s | peak MB |")
    print("|---:|---:|---:|---:|---:|---:|")
    reports = []
    for size in args.sizes:
        command = [sys.executable, __file__, "--one", str(size)]
        if size == max(args.sizes):
            command.append("--decide")
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        report = json.loads(output.strip().splitlines()[-1])
        reports.append(report)
        print(
            f"| {size:,} | {report['shard_size']} | {report['shards']} | {report['parent_events']:,} "
            f"| {report['seconds']} | {report['peak_mb']} |"
        )
    for report in reports:
        if "decide_ms" in report:
            print(
                f"\nparent decide at {report['size']:,} instances, {report['decision_tasks']} decision tasks:"
            )
            print(
                "| decision task | slowest ms | median ms | last ms | the task that reads every output ms |"
            )
            print("|---|---:|---:|---:|---:|")
            for label, times, reading in (
                (
                    "warm (as the poller: new events folded, the memo kept)",
                    report["warm_ms"],
                    "reading_warm_ms",
                ),
                ("cold (the whole history read)", report["decide_ms"], "reading_ms"),
            ):
                print(
                    f"| {label} | {times['slowest']} | {times['median']} | {times['last']} "
                    f"| {report[reading]} |"
                )


if __name__ == "__main__":
    main()
