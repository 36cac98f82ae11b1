"""Running one activity task: decode its input, call the handler, encode what it returns.

Shared by the SWF worker and the local runner, so a handler behaves the same in
both. Nothing here raises: every outcome is a result or a failure to report,
whatever the handler raises (a BaseException too) and whatever its exception's
`__str__` does.
"""

from __future__ import annotations

import inspect
import json
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .ids import split_attempt_id
from .limits import MAX_HEARTBEAT_DETAILS, MAX_PAYLOAD, MAX_REASON
from .payloads import PayloadError, Payloads, too_large
from .plan import ActivityPlan, TypeRef
from .values import clip, decode, dumps, problem


@dataclass
class TaskContext:
    """What a handler that declares `context` receives about its running task."""

    domain: str
    workflow_id: str
    run_id: str
    activity_id: str
    attempt: int
    _beat: Callable[[str], bool] = field(default=lambda details: False, repr=False)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def instance_id(self) -> str:
        """The instance's id, the same on every attempt (`activity_id` is this attempt's own)."""
        return split_attempt_id(self.activity_id)[0]

    def heartbeat(self, details: str = "") -> None:
        """Tell SWF the task is alive; notices a cancellation request."""
        if self._beat(clip(details, MAX_HEARTBEAT_DETAILS)):
            self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()


@dataclass(frozen=True)
class Outcome:
    """A completed task's result text, or a failure's reason and details."""

    result: str | None = None
    reason: str | None = None
    details: str = ""

    @property
    def failed(self) -> bool:
        return self.reason is not None


def failure(error: BaseException, details: str | None = None) -> Outcome:
    """`ErrorClass: message` and the traceback; never raises, whatever the exception does."""
    name = _safe(lambda: type(error).__name__) or "Exception"
    message = _message(error)
    reason = f"{name}: {message}" if message is not None else name
    text = details if details is not None else _traceback(error, name, message)
    return Outcome(reason=clip(reason, MAX_REASON), details=clip(text, MAX_PAYLOAD))


def _safe(text: Callable[[], object]) -> str | None:
    # A hostile exception's __str__/__repr__ may raise anything, even SystemExit: the task is
    # reported regardless, so nothing that formats it may raise.
    try:
        found = text()
        return found if isinstance(found, str) else None
    except BaseException:
        return None


def _message(error: BaseException) -> str | None:
    """str(error), else repr(error); None when both raise."""
    found = _safe(lambda: str(error))
    return found if found is not None else _safe(lambda: repr(error))


def _traceback(error: BaseException, name: str, message: str | None) -> str:
    found = _safe(lambda: "".join(traceback.format_exception(error)))
    return found if found is not None else (f"{name}: {message}" if message is not None else name)


def run_task(
    activity: ActivityPlan,
    handler: Callable[..., Any],
    input_text: str | None,
    context: TaskContext,
    revert: bool = False,
    payloads: Payloads | None = None,
) -> Outcome:
    """Call `handler` as SPEC.md's "Handlers" says and encode its outcome.

    With `payloads`, an input that is a reference is read first and a result over the threshold is
    stored, and SWF gets its reference; a value that cannot be read or stored fails the attempt.
    """
    if payloads is not None and input_text:
        try:
            input_text = payloads.resolve(input_text, f"the input of {context.activity_id}")
        except PayloadError as error:
            return failure(error, str(error))  # the reason is cut at 256 characters; not the details
    outcome = _run(activity, handler, input_text, context, revert, payloads)
    if payloads is None or not payloads.active or outcome.result is None:
        return outcome
    try:
        return Outcome(result=payloads.offload(outcome.result, context.workflow_id, context.run_id))
    except PayloadError as error:
        stored = PayloadError(f"the result of {context.activity_id} cannot be stored: {error}")
        return failure(stored, str(stored))


def _run(
    activity: ActivityPlan,
    handler: Callable[..., Any],
    input_text: str | None,
    context: TaskContext,
    revert: bool,
    payloads: Payloads | None,
) -> Outcome:
    try:
        envelope = json.loads(input_text) if input_text else {}
        given = envelope.get("input", {})
        types = dict(activity.input_types)
        kwargs = {name: decode(value, types.get(name, TypeRef("any"))) for name, value in given.items()}
        if revert:
            kwargs["result"] = decode(envelope.get("result"), TypeRef("record", fields=activity.outputs))
        if _accepts_context(handler):
            kwargs["context"] = context
    except Exception as error:
        return failure(error)
    try:
        returned = handler(**kwargs)
    except BaseException as error:
        # SystemExit, KeyboardInterrupt or GeneratorExit raised by a handler is its failure, not a
        # reason to end the worker's poller thread (the worker turns real signals into a stop
        # flag, so none of these can come from a signal here).
        return failure(error)
    if revert:
        return Outcome(result=None)
    # With payloads, the caller stores a larger result; without, SWF's limit applies here.
    limit = None if payloads is not None and payloads.active else MAX_PAYLOAD
    try:
        return _encode_result(activity, returned, context.activity_id, limit)
    except BaseException as error:  # a returned object whose methods raise
        return failure(error)


def _accepts_context(handler: Callable[..., Any]) -> bool:
    try:
        return "context" in inspect.signature(handler).parameters
    except (TypeError, ValueError):
        return False


class OutputError(Exception):
    """A handler returned something other than its declared outputs."""


class ResultTooLarge(Exception):
    """A result over SWF's 32,768 characters: failed clearly instead of cut."""


def _encode_result(activity: ActivityPlan, returned: Any, activity_id: str, limit: int | None) -> Outcome:
    outputs = activity.outputs
    if not outputs:
        if returned is not None:
            return failure(
                OutputError(
                    f"{activity.name} declares no outputs but its handler returned {type(returned).__name__}"
                ),
                "",
            )
        return Outcome(result=None)
    if not isinstance(returned, dict):
        names = ", ".join(name for name, _ in outputs)
        return failure(
            OutputError(f"{activity.name} must return a mapping with {names}, not {type(returned).__name__}"),
            "",
        )
    try:
        text = dumps(returned)
    except (TypeError, ValueError) as error:
        return failure(OutputError(f"{activity.name} returned a value that is not JSON: {error}"), "")
    data = json.loads(text)
    for name, expected in outputs:
        if name not in data:
            return failure(OutputError(f"{activity.name} did not return its output {name}"), "")
        found = problem(data[name], expected, name)
        if found:
            return failure(OutputError(f"{activity.name} returned {found}"), "")
    if limit is not None and len(text) > limit:
        message = too_large(f"the result of {activity_id}", len(text))
        return failure(ResultTooLarge(message), message)  # the reason is cut at 256 characters
    return Outcome(result=text)
