"""What parsing SWF's history pages costs: botocore's parser, `json.loads`, and flowgen's lean parse.

    .venv/bin/python benchmarks/history_parse_benchmark.py [--runs 7] [--quick]

The pages are the country flow's history at its last decision task (24,000+ events, from
decide_benchmark.py's model of the decider), as PollForDecisionTask bodies of 1,000 events each
(timestamps as epoch seconds with milliseconds, as SWF sends them). For all the pages together it
prints the best of several runs of:

- botocore: the SWF client's own JSON parser on each body (`parser.parse(response, output_shape)`,
  what a client call does after the HTTP response arrives);
- json.loads of each body (the floor: no timestamps converted, nothing checked);
- lean: `engine/historyparse.py`, what the decider's client uses for these two operations;

and checks that lean and botocore give equal pages. `--quick` (CI's smoke run) takes 2,000 events
and one run.
"""

from __future__ import annotations

import argparse
import gc
import json
import pathlib
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import botocore.session  # noqa: E402
from botocore.parsers import create_parser  # noqa: E402
from decide_benchmark import country_flow  # noqa: E402

from flowgen.runtime.historyparse import LeanParser  # noqa: E402


def pages(events: list[dict[str, Any]], size: int = 1000) -> list[bytes]:
    """PollForDecisionTask bodies of `size` events each, newest first (as the decider asks)."""
    newest_first = list(reversed(events))
    bodies = []
    for number, start in enumerate(range(0, len(newest_first), size)):
        body: dict[str, Any] = {
            "events": newest_first[start : start + size],
            "previousStartedEventId": len(events) - 3,
            "startedEventId": len(events),
            "taskToken": "AAAA" * 200,
            "workflowExecution": {"workflowId": "country-1", "runId": "22" * 22},
            "workflowType": {"name": "country_flow", "version": "1.0"},
        }
        if start + size < len(newest_first):
            body["nextPageToken"] = f"token-{number + 1}" * 20
        bodies.append(json.dumps(body, default=lambda value: round(value.timestamp(), 3)).encode())
    return bodies


def best(function: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="2,000 events, one run (a smoke run)")
    args = parser.parse_args()
    simulation = country_flow()
    size = 2_000 if args.quick else 24_000
    events = simulation.run((size,))[size]
    bodies = pages(events)
    runs = 1 if args.quick else args.runs

    model = botocore.session.get_session().get_service_model("swf")
    shape = model.operation_model("PollForDecisionTask").output_shape
    botocore_parser = create_parser("json")
    lean = LeanParser(shape)

    def with_botocore() -> list[Any]:
        return [botocore_parser.parse({"body": b, "headers": {}, "status_code": 200}, shape) for b in bodies]

    def with_json() -> list[Any]:
        return [json.loads(b) for b in bodies]

    def with_lean() -> list[Any]:
        return [lean.parse(b) for b in bodies]

    for theirs, ours in zip(with_botocore(), with_lean(), strict=True):
        theirs.pop("ResponseMetadata")
        if theirs != ours:
            raise SystemExit("the lean parse and botocore's differ")
    print(
        f"python {platform.python_version()}, botocore {botocore.__version__}, garbage collector on,"
        f" best of {runs}; {len(events):,} events in {len(bodies)} pages ({sum(map(len, bodies)):,} bytes)"
    )
    gc.collect()
    figures = {name: best(f, runs) for name, f in (("botocore", with_botocore), ("json.loads", with_json))}
    figures["lean"] = best(with_lean, runs)
    loads = figures["json.loads"]
    for name, ms in figures.items():
        print(
            f"{name:<11} {ms:>8.1f} ms {ms * 1000 / len(events):>7.2f} µs/event"
            f" {ms / loads:>6.2f}x json.loads"
        )
    print(f"botocore / lean: {figures['botocore'] / figures['lean']:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
