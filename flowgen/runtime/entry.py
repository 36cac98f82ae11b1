"""The `main`s behind `python -m PACKAGE.decider|worker|register|starter|local|status|cancel|terminate`.

Generated modules are thin: they pass their plan (and handlers) here, so every
package parses the same options and logs the same way.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from . import logs, operate
from .handlers import HandlerError, check_imports
from .history import CLOSE_STATUS, read_history
from .limits import MAX_REASON
from .localmain import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    InputError,
    check_input,
    input_options,
    local_options,
    log_level_option,
    read_input,
    run_local,
)
from .operate import NotFound, execution_status, latest_run, list_executions, read_events
from .payloads import PayloadError, Payloads, Store, for_plan
from .plan import FlowPlan
from .polling import DeciderLoop
from .register import register
from .status import text as status_text
from .swf import MAX_ATTEMPTS, OPERATOR_ATTEMPTS, stop_on_signals
from .swf import client as swf_client
from .timeline import svg, write_svg
from .worker import Worker

if TYPE_CHECKING:
    from mypy_boto3_swf import SWFClient

# How often `starter --wait` asks whether the execution closed.
WAIT_INTERVAL = 2.0


def _escaped(description: str) -> str:
    # argparse %-formats descriptions; a workflow name may hold a %.
    return description.replace("%", "%%")


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=_escaped(description))
    parser.add_argument("--region", help="AWS region (default: boto3's lookup)")
    parser.add_argument(
        "--endpoint-url", help="another SWF (and S3, for payloads) endpoint, such as a local moto server"
    )
    parser.add_argument("--profile", help="AWS profile from your config files")
    parser.add_argument("--domain", help="override the spec's domain (tests, staging)")
    log_level_option(parser)
    return parser


def _client(args: argparse.Namespace, attempts: int = MAX_ATTEMPTS) -> SWFClient:
    return swf_client(
        region=args.region, endpoint_url=args.endpoint_url, profile=args.profile, max_attempts=attempts
    )


def _payloads(plan: FlowPlan, args: argparse.Namespace) -> Payloads:
    # The S3 client is made only when a value first needs it; without --endpoint-url, botocore's
    # AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL apply, as AWS_ENDPOINT_URL_SWF does to SWF.
    return for_plan(plan, region=args.region, endpoint_url=args.endpoint_url, profile=args.profile)


def _logging(args: argparse.Namespace) -> None:
    logs.configure(args.log_level, getattr(args, "log_format", "text"))


def decider_main(plan: FlowPlan, argv: Sequence[str] | None, prog: str) -> int:
    parser = _parser(prog, f"Decide the {plan.workflow} workflow's tasks on SWF until SIGTERM or SIGINT.")
    parser.add_argument("--identity", help="how this decider appears in histories")
    logs.log_format_option(parser)
    args = parser.parse_args(argv)
    _logging(args)
    stop = threading.Event()
    restore = stop_on_signals(stop, (signal.SIGTERM, signal.SIGINT))
    try:
        DeciderLoop(
            plan, _client(args), identity=args.identity, domain=args.domain, payloads=_payloads(plan, args)
        ).run(stop)
    finally:
        restore()
    return EXIT_OK


def worker_main(
    plan: FlowPlan, spec_handlers: Callable[[], Mapping[str, Any]], argv: Sequence[str] | None, prog: str
) -> int:
    parser = _parser(prog, f"Run the {plan.workflow} workflow's activities from SWF until SIGTERM or SIGINT.")
    parser.add_argument("--identity", help="how this worker appears in histories")
    parser.add_argument("--task-list", action="append", help="serve only this task list (repeatable)")
    parser.add_argument("--concurrency", type=int, default=1, help="tasks at once per task list (default 1)")
    logs.log_format_option(parser)
    args = parser.parse_args(argv)
    _logging(args)
    try:
        check_imports(plan)
    except HandlerError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    worker = Worker(
        plan,
        dict(spec_handlers()),
        _client(args),
        task_list=args.task_list,
        identity=args.identity,
        concurrency=max(args.concurrency, 1),
        domain=args.domain,
        payloads=_payloads(plan, args),
    )
    return serve(worker)


def serve(worker: Worker) -> int:
    """Run `worker` until SIGTERM or SIGINT; 0 when stopped by `stop()`, else 128 + the signal's number.

    A signal is not a clean end: the exit status says the worker was stopped, as a shell would.
    """
    restore = worker.install_signal_handlers((signal.SIGTERM, signal.SIGINT))
    try:
        worker.run()
    finally:
        restore()
    return EXIT_OK if worker.signaled is None else 128 + worker.signaled


def register_main(plan: FlowPlan, argv: Sequence[str] | None, prog: str) -> int:
    parser = _parser(prog, f"Register the {plan.workflow} workflow's domain and types on SWF, idempotently.")
    args = parser.parse_args(argv)
    _logging(args)
    try:
        report = register(plan, _client(args), domain=args.domain)
    except (ClientError, BotoCoreError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    for line in report.lines:
        print(line)
    print(report.summary())
    return EXIT_FAILED if report.drift else EXIT_OK


def start(
    plan: FlowPlan,
    workflow_input: Mapping[str, Any],
    client: SWFClient,
    workflow_id: str | None = None,
    domain: str | None = None,
    payloads: Payloads | Store | None = None,
) -> tuple[str, str]:
    """Start one execution; returns (workflow id, run id).

    An input over the spec's payloads threshold is stored first, under
    `PREFIX/WORKFLOW/WORKFLOW_ID/input/SHA256` (the run id is not known yet), in `payloads`
    (default: the spec's S3 bucket, through boto3's default configuration).
    """
    text = check_input(plan, workflow_input)
    workflow_id = workflow_id or f"{plan.workflow}-{uuid.uuid4().hex}"
    if not isinstance(payloads, Payloads):
        payloads = for_plan(plan, payloads)
    text = payloads.offload(text, workflow_id, "input")
    arguments: dict[str, Any] = {
        "domain": domain or plan.domain,
        "workflowId": workflow_id,
        "workflowType": {"name": plan.workflow, "version": plan.version},
        "taskList": {"name": plan.task_list},
        "input": text,
        "executionStartToCloseTimeout": str(plan.execution_timeout),
        "taskStartToCloseTimeout": "NONE" if plan.decision_timeout is None else str(plan.decision_timeout),
        "childPolicy": plan.child_policy,
    }
    if plan.tags:
        arguments["tagList"] = list(plan.tags)
    response = client.start_workflow_execution(**arguments)
    return workflow_id, response["runId"]


def starter_main(plan: FlowPlan, argv: Sequence[str] | None, prog: str) -> int:
    parser = _parser(prog, f"Start an execution of the {plan.workflow} workflow on SWF.")
    input_options(parser)
    parser.add_argument("--workflow-id", help="the execution's workflow id (default: a fresh one)")
    parser.add_argument(
        "--wait",
        action="store_true",
        help="wait until the execution closes: print its result and exit 0 if it completed, else 1",
    )
    args = parser.parse_args(argv)
    _logging(args)
    try:
        workflow_input = read_input(args)
        client = _client(args)
        payloads = _payloads(plan, args)
        workflow_id, run_id = start(plan, workflow_input, client, args.workflow_id, args.domain, payloads)
    except (InputError, PayloadError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except (OSError, ValueError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (ClientError, BotoCoreError) as error:
        # Not registered yet, the workflow id in use, no credentials, the endpoint unreachable...
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps({"workflowId": workflow_id, "runId": run_id}), flush=True)
    if not args.wait:
        return EXIT_OK
    domain = args.domain or plan.domain
    # On a terminal, the instances done so far, redrawn in place on one line.
    shown = (
        _progress_line(plan, client, domain, workflow_id, run_id, payloads) if sys.stderr.isatty() else None
    )
    try:
        status, closing = wait_for_close(client, domain, workflow_id, run_id, WAIT_INTERVAL, None, shown)
        if shown is not None:
            print(file=sys.stderr)
        result = closing.get("result")
        result = (
            payloads.resolve(result, "the workflow result") if status == "COMPLETED" and result else result
        )
    except (ClientError, BotoCoreError, PayloadError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    if status == "COMPLETED":
        print(json.dumps(json.loads(result) if result else None, indent=2, ensure_ascii=False))
        return EXIT_OK
    why = closing.get("reason") or closing.get("timeoutType") or closing.get("details") or ""
    print(f"{status}: {why}" if why else status, file=sys.stderr)
    return EXIT_FAILED


def _progress_line(
    plan: FlowPlan,
    client: SWFClient,
    domain: str,
    workflow_id: str,
    run_id: str,
    payloads: Payloads | None = None,
) -> Callable[[], None]:
    def show() -> None:
        try:
            done, total = execution_status(plan, client, domain, workflow_id, run_id, payloads).progress()
        except (NotFound, ClientError, BotoCoreError):
            return  # the next look tries again; waiting for the close is what matters
        sys.stderr.write(f"\r{done}/{total} instances done")
        sys.stderr.flush()

    return show


# Closing events of an execution, and the key of their attributes.
_CLOSED = {kind: kind[0].lower() + kind[1:] + "EventAttributes" for kind in CLOSE_STATUS}


def wait_for_close(
    client: SWFClient,
    domain: str,
    workflow_id: str,
    run_id: str,
    interval: float = WAIT_INTERVAL,
    stop: threading.Event | None = None,
    progress: Callable[[], None] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Poll every `interval` seconds until the execution closes; (close status, closing event's attributes).

    `progress` is called after each look that finds it still open."""
    execution: dict[str, str] = {"workflowId": workflow_id, "runId": run_id}
    stop = stop or threading.Event()
    while True:
        info = client.describe_workflow_execution(domain=domain, execution=execution)  # type: ignore[arg-type]
        if info["executionInfo"]["executionStatus"] == "CLOSED":
            status = str(info["executionInfo"].get("closeStatus", "CLOSED"))
            break
        if progress is not None:
            progress()
        stop.wait(interval)
    # The closing event is the newest: first with reverseOrder. An endpoint that ignores
    # reverseOrder is read to the end instead.
    request: dict[str, Any] = {"domain": domain, "execution": execution, "reverseOrder": True}
    newest: tuple[int, dict[str, Any]] = (-1, {})
    while True:
        page = client.get_workflow_execution_history(**request)
        events = page["events"]
        for event in events:
            key = _CLOSED.get(event["eventType"])
            if key is not None and event["eventId"] > newest[0]:
                newest = (event["eventId"], dict(event.get(key, {})))  # type: ignore[call-overload]
        if events and events[0]["eventType"] in _CLOSED:
            return status, newest[1]
        token = page.get("nextPageToken")
        if not token:
            return status, newest[1]
        request["nextPageToken"] = token


def local_main(
    plan: FlowPlan, spec_handlers: Callable[[], Mapping[str, Any]], argv: Sequence[str] | None, prog: str
) -> int:
    parser = argparse.ArgumentParser(
        prog=prog, description=_escaped(f"Run the {plan.workflow} workflow in this process, without AWS.")
    )
    local_options(parser)
    return run_local(plan, spec_handlers, parser.parse_args(argv), prog)


# -- operating executions: status, cancel, terminate ---------------------------------------------

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _since(text: str) -> datetime.timedelta:
    """`--closed-since`: `90`, `90s`, `5m`, `2h` or `7d`, as far back as SWF keeps histories."""
    number, unit = (text[:-1], text[-1]) if text[-1:] in _UNITS else (text, "s")
    if not (number.isascii() and number.isdigit()) or len(number) > 9:
        raise argparse.ArgumentTypeError(f"expected a duration such as 90s, 30m, 12h or 7d, not {text!r}")
    return datetime.timedelta(seconds=int(number) * _UNITS[unit])


def _operator_error(prog: str, error: BaseException) -> int:
    # One line: SWF's own words for an unknown domain or execution, or botocore's for credentials.
    print(f"{prog}: error: {' '.join(str(error).split())}", file=sys.stderr)
    return EXIT_FAILED


def status_main(plan: FlowPlan, argv: Sequence[str] | None, prog: str) -> int:
    parser = _parser(prog, f"Show an execution of the {plan.workflow} workflow on SWF, or list them.")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--workflow-id", help="the execution's workflow id")
    which.add_argument("--list", action="store_true", help="list this workflow type's open executions")
    parser.add_argument("--run-id", help="the run (default: the latest run of the workflow id)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument(
        "--closed-since",
        metavar="DURATION",
        type=_since,
        help="with --list: also the executions closed in the last DURATION (90s, 30m, 12h, 7d)",
    )
    parser.add_argument(
        "--watch", action="store_true", help="refresh until the execution closes; exit 0 if it completed"
    )
    parser.add_argument(
        "--timeline",
        metavar="FILE.svg",
        help="also draw the execution's attempts on a time axis in this SVG file",
    )
    args = parser.parse_args(argv)
    if args.list and (args.run_id or args.watch or args.timeline):
        parser.error("--run-id, --watch and --timeline go with --workflow-id, not --list")
    if args.timeline and not os.path.isdir(os.path.dirname(os.path.abspath(args.timeline))):
        parser.error(f"--timeline {args.timeline}: no such folder")
    if args.closed_since is not None and not args.list:
        parser.error("--closed-since goes with --list")
    _logging(args)
    domain = args.domain or plan.domain
    try:
        client = _client(args, OPERATOR_ATTEMPTS)
        if args.list:
            return _list(plan, client, domain, args)
        payloads = _payloads(plan, args)
        run_id = args.run_id or latest_run(client, domain, plan.workflow, plan.version, args.workflow_id)
        found = execution_status(plan, client, domain, args.workflow_id, run_id, payloads)
        on_terminal = sys.stdout.isatty() and not args.json
        while args.watch and found.status == "OPEN":
            if on_terminal:
                # Clear the screen and draw again, in place.
                sys.stdout.write("\x1b[H\x1b[2J" + status_text(found, now=time.time()))
                sys.stdout.flush()
            time.sleep(WAIT_INTERVAL)
            found = execution_status(plan, client, domain, args.workflow_id, run_id, payloads)
        if args.timeline:
            # The parent's history: a sharded activity's shards are bars of their own.
            events = read_events(client, domain, args.workflow_id, run_id)
            write_svg(args.timeline, svg(plan, read_history(events)))
    except (NotFound, ClientError, BotoCoreError) as error:
        return _operator_error(prog, error)
    except OSError as error:
        print(f"{prog}: error: cannot write {args.timeline}: {error.strerror}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(found.to_data(), indent=2, ensure_ascii=False))
    else:
        if args.watch and sys.stdout.isatty():
            sys.stdout.write("\x1b[H\x1b[2J")
        sys.stdout.write(status_text(found, now=time.time()))
    if args.watch:
        return EXIT_OK if found.status == "COMPLETED" else EXIT_FAILED
    return EXIT_OK


def _list(plan: FlowPlan, client: SWFClient, domain: str, args: argparse.Namespace) -> int:
    since = None
    if args.closed_since is not None:
        since = datetime.datetime.now(datetime.UTC) - args.closed_since
    found = list_executions(client, domain, plan.workflow, plan.version, since)
    if args.json:
        rows = [
            {
                "workflow_id": e.workflow_id,
                "run_id": e.run_id,
                "status": e.status,
                "started": e.started.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z"),
                "closed": (
                    e.closed.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z") if e.closed else None
                ),
            }
            for e in found
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    for e in found:
        started = e.started.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
        closed = e.closed.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S") if e.closed else "-"
        print(f"{e.status:<16} {started}  {closed:<19}  {e.workflow_id}  {e.run_id}")
    return EXIT_OK


def cancel_main(plan: FlowPlan, argv: Sequence[str] | None, prog: str) -> int:
    parser = _parser(prog, f"Request the cancellation of an execution of the {plan.workflow} workflow.")
    parser.add_argument("--workflow-id", required=True, help="the execution's workflow id")
    parser.add_argument("--run-id", help="the run (default: the open run of the workflow id)")
    args = parser.parse_args(argv)
    _logging(args)
    try:
        operate.cancel(
            _client(args, OPERATOR_ATTEMPTS), args.domain or plan.domain, args.workflow_id, args.run_id
        )
    except (ClientError, BotoCoreError) as error:
        return _operator_error(prog, error)
    print(f"cancellation requested: {args.workflow_id}; the decider closes it as CANCELED")
    return EXIT_OK


def terminate_main(plan: FlowPlan, argv: Sequence[str] | None, prog: str) -> int:
    parser = _parser(prog, f"Terminate an execution of the {plan.workflow} workflow at once.")
    parser.add_argument("--workflow-id", required=True, help="the execution's workflow id")
    parser.add_argument("--run-id", help="the run (default: the open run of the workflow id)")
    parser.add_argument("--reason", required=True, help="why, kept in the history (at most 256 characters)")
    args = parser.parse_args(argv)
    if len(args.reason) > MAX_REASON:
        parser.error(f"--reason is {len(args.reason)} characters; SWF keeps at most {MAX_REASON}")
    _logging(args)
    try:
        operate.terminate(
            _client(args, OPERATOR_ATTEMPTS),
            args.domain or plan.domain,
            args.workflow_id,
            args.run_id,
            args.reason,
        )
    except (ClientError, BotoCoreError) as error:
        return _operator_error(prog, error)
    print(f"terminated: {args.workflow_id}")
    return EXIT_OK
