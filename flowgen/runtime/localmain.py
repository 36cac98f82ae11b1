"""The workflow input from the command line, and the one local run behind both `flowgen run` and
`python -m PACKAGE.local`: the same options, the same checks in the same order, the same exit codes.

No AWS here (so `flowgen` can build its parser without importing boto3).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from .handlers import HandlerError, check_imports, import_handler
from .history import read_history
from .limits import MAX_PAYLOAD
from .local import LocalRunner
from .payloads import FolderStore, too_large
from .plan import FlowPlan
from .timeline import svg, write_svg
from .values import MAX_DEPTH, dumps, nesting_problem, problem

# 0 completed; 1 refused (input, handler module) or did not complete; 2 a usage error.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class InputError(ValueError):
    """The workflow input is refused (exit 1); the message says why."""


class UsageError(ValueError):
    """The command line asks for what cannot be done (exit 2); the message says what."""


def log_level_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr)


def input_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--input", metavar="JSON", help="the workflow input, a JSON object")
    group.add_argument("--input-file", metavar="FILE", help="a file holding the workflow input")


def handler_option(text: str) -> tuple[str, str]:
    """`--handler ACTIVITY=package.module:function` as (activity, path)."""
    name, sep, path = text.partition("=")
    module, _, function = path.partition(":")
    if not sep or not name or not module or not function:
        raise argparse.ArgumentTypeError(f"expected ACTIVITY=package.module:function, not {text!r}")
    return name, path


def local_options(parser: argparse.ArgumentParser) -> None:
    """Every option of a local run; `flowgen run` and `python -m PACKAGE.local` both take these."""
    input_options(parser)
    parser.add_argument(
        "--handler",
        action="append",
        default=[],
        type=handler_option,
        metavar="ACTIVITY=MODULE:FUNCTION",
        help="use this function for an activity: a stand-in for an external one (repeatable)",
    )
    parser.add_argument(
        "--workers", type=int, default=4, metavar="N", help="handlers run at once (default 4)"
    )
    parser.add_argument("--no-retries", action="store_true", help="run as if every activity had retry: 0")
    parser.add_argument(
        "--payloads-dir",
        metavar="DIR",
        help="with the spec's payloads key: keep values too large for SWF in this folder, not in memory",
    )
    parser.add_argument(
        "--timeline",
        metavar="FILE.svg",
        help="when the run ends, draw its timeline (attempts on the simulated clock) in this SVG file",
    )
    parser.add_argument(
        "--cancel-after",
        type=duration_option,
        metavar="DURATION",
        help="request cancellation once the simulated clock reaches DURATION (90, 90s, 5m, 2h, 1d)",
    )
    log_level_option(parser)


_DURATION = re.compile(r"([0-9]{1,9})([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_option(text: str) -> int:
    """`--cancel-after`'s seconds: `90`, `90s`, `5m`, `2h` or `1d`, as in a spec."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"expected a duration such as 90, 90s, 5m, 2h or 1d, not {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def read_input(args: argparse.Namespace) -> dict[str, Any]:
    """The workflow input from --input or --input-file.

    UsageError for a file that cannot be read, InputError for an input that is refused.
    """
    if args.input_file:
        try:
            with open(args.input_file, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as error:
            why = error.strerror if isinstance(error, OSError) else "not UTF-8"
            raise UsageError(f"cannot read {args.input_file}: {why}") from None
    else:
        text = args.input or "{}"
    deep = nesting_problem(text)
    if deep:
        raise InputError(f"the input is {deep}")
    try:
        data = json.loads(text)
    except ValueError as error:
        raise InputError(f"the input is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise InputError("the input must be a JSON object of the workflow's input fields")
    return data


def check_input(plan: FlowPlan, workflow_input: Mapping[str, Any]) -> str:
    """The input as it travels, after the same checks the decider makes; InputError if bad."""
    declared = dict(plan.input)
    unknown = sorted(set(workflow_input) - set(declared))
    if unknown:
        raise InputError(f"unknown input field {unknown[0]}")
    try:
        text = dumps(dict(workflow_input))
    except RecursionError:
        raise InputError(f"the input is nested too deeply (more than {MAX_DEPTH} levels)") from None
    except (TypeError, ValueError) as error:
        raise InputError(f"the input cannot be sent as JSON: {error}") from None
    # Checked on the text, as the decider will read it.
    deep = nesting_problem(text)
    if deep:
        raise InputError(f"the input is {deep}")
    data = json.loads(text)
    for name, expected in plan.input:
        if name not in data and expected.kind not in ("optional", "any"):
            raise InputError(f"missing input field {name} ({expected})")
        found = problem(data.get(name), expected, name)
        if found:
            raise InputError(found)
    # With payloads, a larger input is stored and SWF gets its reference.
    if plan.payloads is None and len(text) > MAX_PAYLOAD:
        raise InputError(too_large("the workflow input", len(text)))
    return text


def without_retries(plan: FlowPlan) -> FlowPlan:
    """The plan with retry: 0 everywhere, in its shard plans too (where a sharded activity retries)."""
    activities = tuple(
        dataclasses.replace(a, retry=dataclasses.replace(a.retry, max_retries=0)) for a in plan.activities
    )
    shards = tuple(without_retries(shard) for shard in plan.shards)
    return dataclasses.replace(plan, activities=activities, shards=shards)


def run_local(
    plan: FlowPlan,
    spec_handlers: Callable[[], Mapping[str, Any]],
    args: argparse.Namespace,
    prog: str,
) -> int:
    """Run the flow as `local_options` ask: the result alone on stdout, all else on stderr.

    Nothing runs until the options, the input and every handler module have been checked.
    """
    configure_logging(args.log_level)
    if args.no_retries:
        plan = without_retries(plan)
    try:
        stand_ins = _stand_ins(plan, args.handler)
        timeline = getattr(args, "timeline", None)
        if timeline and not os.path.isdir(os.path.dirname(os.path.abspath(timeline))):
            raise UsageError(f"--timeline {timeline}: no such folder")
        workflow_input = read_input(args)
        check_input(plan, workflow_input)
    except InputError as error:
        return _error(prog, error, EXIT_FAILED)
    except UsageError as error:
        return _error(prog, error, EXIT_USAGE)
    progress = _Progress() if sys.stderr.isatty() else None
    # Handlers may print (at import time too): that goes to stderr, so stdout stays the result.
    with _stdout_to_stderr():
        try:
            check_imports(plan)
            handlers = dict(spec_handlers())
            handlers.update((name, import_handler(path, name)) for name, path in stand_ins.items())
        except HandlerError as error:
            return _error(prog, error, EXIT_FAILED)
        store = FolderStore(args.payloads_dir) if args.payloads_dir else None
        runner = LocalRunner(plan, handlers, workers=max(args.workers, 1), on_progress=progress, store=store)
        outcome = runner.run(workflow_input, cancel_at=getattr(args, "cancel_after", None))
    if progress:
        progress.finish()
    if timeline:
        try:
            write_svg(timeline, svg(plan, read_history(outcome.history)))
        except OSError as error:
            print(f"{prog}: error: cannot write {timeline}: {error.strerror}", file=sys.stderr)
            return EXIT_FAILED
    if outcome.status == "COMPLETED":
        print(json.dumps(outcome.result, indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"{outcome.status}: {outcome.reason}", file=sys.stderr)
    return EXIT_FAILED


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send whatever is written to stdout meanwhile to stderr, at the file-descriptor level too.

    `redirect_stdout` alone moves only Python's writes: a handler that runs `echo` or a C library
    that prints writes to descriptor 1 and would land before the result.
    """
    sys.stdout.flush()
    try:
        saved: int | None = os.dup(1)
        os.dup2(2, 1)
    except OSError:  # no descriptor 1 or 2 (an embedding host): Python's writes are still moved
        saved = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


def _stand_ins(plan: FlowPlan, given: Sequence[tuple[str, str]]) -> dict[str, str]:
    """--handler's activity -> path, each naming an activity; every external one needs one."""
    stand_ins = dict(given)
    known = {activity.name for activity in plan.activities}
    for name in stand_ins:
        if name not in known:
            raise UsageError(f"--handler {name}=...: {plan.workflow} has no activity named {name}")
    for activity in plan.activities:
        if activity.handler is None and activity.name not in stand_ins:
            raise UsageError(
                f"{activity.name} is external: give a stand-in with "
                f"--handler {activity.name}=package.module:function"
            )
    return stand_ins


def _error(prog: str, error: Exception, code: int) -> int:
    print(f"{prog}: error: {error}", file=sys.stderr)
    return code


class _Progress:
    """`done/total instances` on one terminal line while the flow runs."""

    def __call__(self, done: int, total: int) -> None:
        sys.stderr.write(f"\r{done}/{total} instances done")
        sys.stderr.flush()

    def finish(self) -> None:
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()
