"""How long flowgen takes to build a package, by number of activities.

Writes specs of 10, 100 and 1,000 activities into a temporary folder and times
`flowgen.build.packages_for` on each: load, validate, check, plan and render, everything
`flowgen build` does short of writing files. Best of three runs, in wall and CPU seconds (CPU
time is the fairer figure on a busy machine); one more build is split into its stages
(compile = load + validate + check; black's share is taken out of render's).

The specs are shaped like real flows: groups of four activities in a diamond (one fans out
to two that join in a fourth), groups chained one after the other, every input a reference to
an upstream output, and one activity in ten fanned out by a generator over a workflow input
list, whose dependents gather `activity[*].field`.

    .venv/bin/python benchmarks/build_benchmark.py                 # 10, 100 and 1,000
    .venv/bin/python benchmarks/build_benchmark.py --sizes 2000 --repeat 1
    .venv/bin/python benchmarks/build_benchmark.py --profile 1000  # where the time goes
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import io
import itertools
import pathlib
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import flowgen.render
from flowgen.build import packages_for
from flowgen.compiler import compile_spec
from flowgen.plan import build_plan
from flowgen.render import Source

TARGET_SECONDS = 3.0  # for 1,000 activities


def spec_text(count: int) -> str:
    """A valid spec of `count` activities: chained diamonds, references, generators."""
    lines = [
        "flowgen: 1",
        "domain: bench",
        "workflow:",
        f"  name: bench_{count}",
        '  version: "1"',
        f"  description: A generated flow of {count} activities for the build benchmark.",
        "  execution_timeout: 365d",
        "  input:",
        "    regions: list[str]",
        "    day: date",
        "  result:",
        f"    total: a{count - 1:04d}.total",
        "defaults:",
        "  task_list: bench-activities",
        "  timeouts: {schedule_to_start: 1m, start_to_close: 2m}",
        "  retry: 0",
        "activities:",
    ]
    generated: set[int] = set()
    for index in range(count):
        name = f"a{index:04d}"
        position = index % 4
        if index == 0:
            requires = []
        elif position == 0:
            requires = [index - 1]  # the next diamond starts where the last one joined
        elif position in (1, 2):
            requires = [index - position]  # both sides of the diamond hang off its top
        else:
            requires = [index - 2, index - 1]  # the join
        requires = [r for r in requires if r >= 0]
        lines.append(f"  {name}:")
        lines.append(f"    handler: bench.handlers:{name}")
        if index % 7 == 3:
            lines.append(f"    description: Step {index}, which joins its diamond.")
        if requires:
            lines.append(f"    requires: [{', '.join(f'a{r:04d}' for r in requires)}]")
        fan_out = index % 10 == 5 and position in (1, 2)
        if fan_out:
            generated.add(index)
            lines += ["    generators:", "      region: input.regions", "    max_items: 8"]
        lines.append("    inputs:")
        lines.append("      day: input.day")
        if fan_out:
            lines.append("      region: generator.region")
        for required in requires:
            source = f"a{required:04d}[*].total" if required in generated else f"a{required:04d}.total"
            lines.append(f"      from_{required:04d}: {source}")
        if index % 5 == 0:
            lines.append(f'      label: {{value: "step {index} of {count}"}}')
        lines.append("    outputs: {total: int, note: str}")
        if index % 25 == 0:
            lines.append("    retry: {max_retries: 1, interval: 30s}")
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def _quiet() -> Iterator[io.StringIO]:
    """flowgen prints diagnostics on stderr; a benchmark spec has none, so show them if any."""
    captured = io.StringIO()
    with contextlib.redirect_stderr(captured):
        yield captured


def build_in_memory(spec: pathlib.Path) -> None:
    with _quiet() as stderr:
        packages, code = packages_for([str(spec)], str(spec.with_suffix("")), strict=False)
    if code != 0 or len(packages) != 1:
        raise SystemExit(f"{spec.name} did not build (exit {code}):\n{stderr.getvalue()}")


def best_of(repeat: int, work: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the fastest of `repeat` runs. CPU time is this process's
    own, so a busy machine inflates the wall time but hardly the CPU time."""
    runs = []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        runs.append((time.perf_counter() - wall, time.process_time() - cpu))
    return min(runs)


def stages(spec: pathlib.Path) -> dict[str, float]:
    """CPU seconds of one build, stage by stage; black's time is taken out of render's."""
    spent = {"black": 0.0}
    original = flowgen.render.format_python

    def timed_black(text: str) -> str:
        started = time.process_time()
        try:
            return original(text)
        finally:
            spent["black"] += time.process_time() - started

    started = time.process_time()
    compiled = compile_spec(str(spec))
    spent["compile"] = time.process_time() - started
    assert compiled.checked is not None
    started = time.process_time()
    plan = build_plan(compiled.checked)
    spent["plan"] = time.process_time() - started
    flowgen.render.format_python = timed_black
    try:
        started = time.process_time()
        flowgen.render.render_package(plan, Source(spec.name, "0" * 64))
        spent["render"] = time.process_time() - started - spent["black"]
    finally:
        flowgen.render.format_python = original
    return spent


def profile(spec: pathlib.Path, top: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    build_in_memory(spec)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000], help="activities per spec")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the best counts (default 3)")
    parser.add_argument("--profile", type=int, metavar="SIZE", help="profile one build of SIZE activities")
    parser.add_argument("--top", type=int, default=25, help="functions the profile lists (default 25)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        specs = {}
        for size in sorted(set(args.sizes + ([args.profile] if args.profile else []))):
            specs[size] = pathlib.Path(folder) / f"bench_{size}.yaml"
            specs[size].write_text(spec_text(size))
        build_in_memory(specs[min(specs)])  # imports and caches warm, out of the timings

        if args.profile:
            print(profile(specs[args.profile], args.top))
            return 0

        print(
            f"packages_for: best of {args.repeat} runs (wall and CPU seconds); stages: CPU seconds of one more"
        )
        print(
            f"{'activities':>10}  {'wall s':>7}  {'cpu s':>7}  {'cpu s/activity':>14}  "
            f"{'compile':>7}  {'plan':>6}  {'render':>6}  {'black':>6}"
        )
        rows: dict[int, float] = {}
        for size in args.sizes:
            wall, cpu = best_of(args.repeat, functools.partial(build_in_memory, specs[size]))
            split = stages(specs[size])
            rows[size] = cpu
            print(
                f"{size:>10}  {wall:>7.2f}  {cpu:>7.2f}  {cpu / size:>14.4f}  {split['compile']:>7.2f}  "
                f"{split['plan']:>6.2f}  {split['render']:>6.2f}  {split['black']:>6.2f}"
            )
        sizes = sorted(rows)
        for small, large in itertools.pairwise(sizes):
            growth = rows[large] / rows[small]
            excess = growth / (large / small)
            shape = "linear or better" if excess <= 1.15 else f"{excess:.2f}x worse than linear"
            print(f"{small} -> {large} activities: CPU time x{growth:.1f} for x{large / small:g} ({shape})")
        if 1000 in rows:
            verdict = "meets" if rows[1000] < TARGET_SECONDS else "misses"
            print(
                f"1,000 activities: {rows[1000]:.2f} CPU s, which {verdict} the {TARGET_SECONDS:g} s target"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
