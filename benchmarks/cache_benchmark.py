"""Peak RSS of a decider process whose history cache serves 20 open 25,000-event executions.

    .venv/bin/python benchmarks/cache_benchmark.py [--executions 20] [--events 24000] [--quick]

Builds the country flow's history (decide_benchmark.py's model of the decider) up to about 24,000
events (as far as the flow goes), as PollForDecisionTask pages of 1,000 events, newest first. Then,
for each way of holding the histories, a fresh process parses the pages of every execution with
the decider's own parse (engine/historyparse.py, botocore's values) as a cold task does, and
stores them:

- `cache`: `HistoryCache()` with its default byte budget, events compacted as it compacts them;
- `decider`: the same, and each history decided as the poller does a cold task: folded, decided
  with a new memo, the fold and memo kept with the history (what a warm task goes on from);
- `raw`: every history kept as parsed (what the event-count cache held, without its bound).

Each prints the process's peak RSS, how many histories stayed in the cache, its byte estimate,
and (tracemalloc, one history, a separate run) the time a cold task spends compacting and the bytes one compacted event really takes, so
that `EVENT_BYTES` in engine/polling.py can be checked. `--quick` is a smoke run: 2 executions
of 2,000 events.
"""

from __future__ import annotations

import argparse
import gc
import pathlib
import platform
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import botocore.session  # noqa: E402
from decide_benchmark import COUNTRY_FLOW_4000, plan_of  # noqa: E402

from flowgen.runtime.decider import Memo, decide  # noqa: E402
from flowgen.runtime.history import HistoryFolder  # noqa: E402
from flowgen.runtime.historyparse import LeanParser  # noqa: E402
from flowgen.runtime.polling import EVENT_BYTES, SHORT, HistoryCache, compact_events  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def parse(folder: pathlib.Path, parser: LeanParser) -> list[dict[str, Any]]:
    """One execution's history as a cold task reads it: every page parsed, oldest event first."""
    events: list[dict[str, Any]] = []
    for page in sorted(folder.glob("page-*.json")):
        events.extend(parser.parse(page.read_bytes())["events"])
    events.reverse()
    return events


def long_strings(value: Any) -> int:
    if isinstance(value, str):
        return len(value) if len(value) > SHORT else 0
    if isinstance(value, dict):
        return sum(long_strings(v) for v in value.values())
    if isinstance(value, list):
        return sum(long_strings(v) for v in value)
    return 0


def child(mode: str, folder: pathlib.Path, executions: int) -> None:
    model = botocore.session.get_session().get_service_model("swf")
    parser = LeanParser(model.operation_model("PollForDecisionTask").output_shape)
    if mode == "measure":
        timings = []
        for _ in range(5):
            events = parse(folder, parser)
            start = time.perf_counter()
            compact_events(events, 0, {})
            timings.append(time.perf_counter() - start)
        del events
        print(f"measure: compacting a whole history (a cold task's extra work): {min(timings) * 1000:.0f} ms")
        tracemalloc.start()
        events = parse(folder, parser)
        compact_events(events, 0, {})
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
        strings = sum(long_strings(event) for event in events)
        print(
            f"measure: {len(events):,} events hold {held / 1e6:.1f} MB: "
            f"{(held - strings) / len(events):.0f} bytes per event beyond their long strings "
            f"({strings / len(events):.0f} bytes of long strings per event; EVENT_BYTES = {EVENT_BYTES})"
        )
        return
    plan = plan_of(COUNTRY_FLOW_4000)
    base = peak_mb()
    cache = HistoryCache()
    raw: list[list[dict[str, Any]]] = []
    count = 0
    for number in range(executions):
        events = parse(folder, parser)
        count = len(events)
        key = (f"country-{number}", "run")
        if mode in ("cache", "decider"):
            cache.put(key, events)
        else:
            raw.append(events)
        if mode == "decider":
            fold = HistoryFolder()
            fold.memo = Memo()
            decide(plan, events, key[0], fold.fold(events), fold.memo)
            cache.keep_folder(key, fold, events)
            del fold
        del events
    gc.collect()
    kept = len(cache) if mode != "raw" else len(raw)
    estimate = (
        f", estimate {cache.bytes / 1e6:.0f} MB of {cache.max_bytes / 1e6:.0f} MB" if mode != "raw" else ""
    )
    print(
        f"{mode}: {executions} executions of {count:,} events: {kept} held{estimate}; "
        f"peak RSS {peak_mb():.0f} MB (before reading: {base:.0f} MB)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=20)
    parser.add_argument("--events", type=int, default=24_000)
    parser.add_argument("--quick", action="store_true", help="2 executions of 2,000 events (a smoke run)")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    executions, size = (2, 2_000) if args.quick else (args.executions, args.events)
    if args.child:
        child(args.child[0], pathlib.Path(args.child[1]), executions)
        return 0
    from decide_benchmark import country_flow
    from history_parse_benchmark import pages

    events = country_flow().run((size,))[size]
    print(f"python {platform.python_version()}, {platform.machine()}; country flow, {len(events):,} events")
    with tempfile.TemporaryDirectory() as name:
        folder = pathlib.Path(name)
        for number, body in enumerate(pages(events)):
            (folder / f"page-{number:03}.json").write_bytes(body)
        del events
        for mode in ("measure", "cache", "decider", "raw"):
            command = [sys.executable, __file__, "--child", mode, name]
            command += ["--quick"] if args.quick else ["--executions", str(executions), "--events", str(size)]
            subprocess.run(command, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
