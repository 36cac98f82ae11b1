"""`flowgen run`: compile a spec, import its handlers and run it on the local runner."""

from __future__ import annotations

import argparse
import os
import sys

from flowgen.compiler import compile_spec
from flowgen.plan import build_plan
from flowgen.report import EXIT_INVALID, EXIT_USAGE, use_colour
from flowgen.runtime.handlers import handlers_for
from flowgen.runtime.localmain import run_local


def run_spec(args: argparse.Namespace) -> int:
    compiled = compile_spec(args.spec)
    colour = use_colour(sys.stderr)
    for located in compiled.diagnostics:
        print(located.render(colour), file=sys.stderr)
    if compiled.checked is None:
        return EXIT_USAGE if compiled.unreadable else EXIT_INVALID
    plan = build_plan(compiled.checked)
    # Handlers are named as importable from the project root, like the generated worker.
    sys.path.insert(0, os.getcwd())
    # The same run as `python -m PACKAGE.local`, with the spec's handlers imported by their paths.
    return run_local(plan, lambda: handlers_for(plan), args, prog="flowgen")
