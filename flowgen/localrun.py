"""`flowgen run`: compile a spec, import its handlers and run it on the local runner."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

from flowgen.compiler import compile_spec
from flowgen.plan import build_plan
from flowgen.report import EXIT_INVALID, EXIT_OK, EXIT_USAGE, use_colour
from flowgen.runtime.entry import read_input
from flowgen.runtime.handlers import HandlerError, handlers_for
from flowgen.runtime.local import LocalRunner
from flowgen.runtime.plan import FlowPlan


def run_spec(args: argparse.Namespace) -> int:
    compiled = compile_spec(args.spec)
    colour = use_colour(sys.stderr)
    for located in compiled.diagnostics:
        print(located.render(colour), file=sys.stderr)
    if compiled.checked is None:
        return EXIT_USAGE if compiled.unreadable else EXIT_INVALID
    plan = build_plan(compiled.checked)
    if args.no_retries:
        plan = without_retries(plan)
    try:
        workflow_input = read_input(args)
        overrides = dict(_pair(item) for item in args.handler)
        # Handlers are named as importable from the project root, like the generated worker.
        sys.path.insert(0, os.getcwd())
        handlers = handlers_for(plan, overrides)
    except (ValueError, HandlerError) as error:
        print(f"flowgen: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    progress = _Progress() if sys.stderr.isatty() else None
    runner = LocalRunner(plan, handlers, workers=max(args.workers, 1), on_progress=progress)
    outcome = runner.run(workflow_input)
    if progress:
        progress.finish()
    if outcome.status == "COMPLETED":
        print(json.dumps(outcome.result, indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"{outcome.status}: {outcome.reason}", file=sys.stderr)
    return EXIT_INVALID


def without_retries(plan: FlowPlan) -> FlowPlan:
    activities = tuple(
        dataclasses.replace(a, retry=dataclasses.replace(a.retry, max_retries=0)) for a in plan.activities
    )
    return dataclasses.replace(plan, activities=activities)


def _pair(item: str) -> tuple[str, str]:
    name, sep, path = item.partition("=")
    if not sep or not name or ":" not in path:
        raise ValueError(f"--handler takes ACTIVITY=package.module:function, not {item!r}")
    return name, path


class _Progress:
    """`done/total instances` on one terminal line while the flow runs."""

    def __call__(self, done: int, total: int) -> None:
        sys.stderr.write(f"\r{done}/{total} instances done")
        sys.stderr.flush()

    def finish(self) -> None:
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()
