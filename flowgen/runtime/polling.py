"""The decider's side of SWF: reading a decision task's whole history, and the decision loop.

A decision task's history comes in pages of at most 1,000 events; the first
comes with the task, the others from PollForDecisionTask called again with the
`nextPageToken` (which returns no new task). `decide` needs every event.

A decider that serves the same execution again and again may remember what it
read: with a `HistoryCache`, polls ask for the newest events first
(`reverseOrder`) and stop paging as soon as they reach an event already known,
so a long history costs one page per task instead of all of them. Correctness
never depends on the cache: whatever does not line up (a gap in event ids, a
known event that reads differently) makes it read the whole history instead.

Also here, shared by the decider's and the worker's loops: what to do when SWF
cannot be reached for longer than botocore's own retries. Polls (and the
worker's reports) are retried with capped exponential backoff and jitter
(`Backoff`), and an outage is logged as one line when it begins, one when its
error changes and one when it ends (`Outage`), not a traceback per attempt.
Time comes from a `Clock`, so tests replace waiting by jumping.
"""

from __future__ import annotations

import logging
import random
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from . import historyparse
from .decider import Memo, decide, fail_decision
from .history import Execution, HistoryFolder
from .limits import MAX_PAGE_SIZE
from .payloads import PayloadError, Payloads, for_plan
from .plan import FlowPlan
from .swf import default_identity

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mypy_boto3_swf import SWFClient
    from mypy_boto3_swf.type_defs import DecisionTaskTypeDef, DecisionTypeDef

log = logging.getLogger(__name__)

Event = dict[str, Any]
Key = tuple[str, str]  # (workflow id, run id)

# Decisions that close the execution: its cached history is of no further use.
_CLOSING = frozenset(
    {
        "CompleteWorkflowExecution",
        "FailWorkflowExecution",
        "CancelWorkflowExecution",
        "ContinueAsNewWorkflowExecution",
    }
)


# Backoff while SWF cannot be reached: the first wait about a second, doubling up to a minute.
BACKOFF_FIRST = 1.0
BACKOFF_CAP = 60.0


class Clock:
    """Monotonic seconds and waits that an event cuts short; tests pass one that jumps instead."""

    def now(self) -> float:
        return time.monotonic()

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait `seconds` or until `event` is set; whether it is set."""
        return event.wait(seconds)


class Backoff:
    """Capped exponential backoff with jitter: waits of about 1, 2, 4 ... up to `cap` seconds.

    Each wait is between half and all of its step, so workers that lost SWF together do not all
    come back in the same second.
    """

    def __init__(
        self,
        first: float = BACKOFF_FIRST,
        cap: float = BACKOFF_CAP,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.first = first
        self.cap = cap
        self.jitter = jitter
        self.failures = 0

    def next(self) -> float:
        """The wait after one more failure."""
        step = min(self.cap, self.first * float(2 ** min(self.failures, 32)))
        self.failures += 1
        return step * (0.5 + 0.5 * self.jitter())

    def reset(self) -> None:
        self.failures = 0


def describe(error: BaseException) -> str:
    """`ErrorClass: message` in one line, whatever the exception's __str__ does."""
    try:
        text = str(error)
    except Exception:
        text = ""
    return " ".join(f"{type(error).__name__}: {text}".split())


def unreachable(error: BaseException) -> bool:
    """Whether `error` says SWF could not answer now (worth retrying later), not that it said no.

    botocore's own errors (no connection, timeouts) and, after botocore's retries, throttling and
    server errors; a 4xx such as UnknownResourceFault or AccessDenied will not change by waiting.
    """
    if isinstance(error, BotoCoreError):
        return True
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return "Throttl" in code or "LimitExceeded" in code or (isinstance(status, int) and status >= 500)
    return False


class Outage:
    """A loop's failing calls to SWF: the backoff before the next, and one log line per change.

    `failed` logs when an outage begins (or its error changes), `succeeded` when it ends; the
    failures in between are logged at DEBUG only. An error that is not botocore's is a bug, so
    its traceback is logged, once per change too.
    """

    def __init__(self, what: str, clock: Clock, logger: logging.Logger | None = None) -> None:
        self.what = what
        self.clock = clock
        self.log = logger or log
        self.backoff = Backoff()
        self.began: float | None = None
        self.kind: str | None = None
        self.failures = 0

    def failed(self, error: BaseException) -> float:
        """Record a failure; returns the seconds to wait before trying again."""
        kind = type(error).__name__
        if isinstance(error, ClientError):
            kind += ":" + str(error.response.get("Error", {}).get("Code", ""))
        if self.began is None:
            self.began = self.clock.now()
        self.failures += 1
        delay = self.backoff.next()
        if kind != self.kind:
            first = "failed" if self.kind is None else "now fails differently"
            self.kind = kind
            self.log.warning(
                "%s %s: %s; retrying with backoff (up to %.0f s apart), logging again only when this changes",
                self.what,
                first,
                describe(error),
                self.backoff.cap,
                exc_info=None if isinstance(error, (BotoCoreError, ClientError)) else error,
            )
        else:
            self.log.debug("%s failed again (%d): %s", self.what, self.failures, describe(error))
        return delay

    def succeeded(self) -> None:
        if self.began is not None:
            self.log.warning(
                "%s works again after %.0f s and %d failed attempt(s)",
                self.what,
                self.clock.now() - self.began,
                self.failures,
            )
        self.began = None
        self.kind = None
        self.failures = 0
        self.backoff.reset()


@dataclass(frozen=True)
class DecisionTask:
    """A decision task with its full history, oldest event first."""

    token: str
    workflow_id: str
    run_id: str
    workflow_name: str
    workflow_version: str
    events: list[Event]
    # How many PollForDecisionTask calls it took, and whether the cache served the old part.
    pages: int = 1
    from_cache: bool = False

    @property
    def key(self) -> Key:
        return (self.workflow_id, self.run_id)


# The decider's cache holds at most this many bytes of histories (an estimate, see `event_bytes`):
# 20 open executions of 25,000 country-flow events fit in it, and the process stays under 300 MB
# RSS (docs/benchmarks.md#history-cache).
CACHE_BYTES = 160 * 1024 * 1024

# What one event costs in memory beyond its long strings, once compacted (`compact_events`): its
# dict, its attributes' dict, a timestamp, a few ids, and the pointers to the shared values.
# Measured with tracemalloc on the country flow (benchmarks/cache_benchmark.py), rounded up.
EVENT_BYTES = 640

# Strings up to this long are interned (event types, activity names, task lists, ids...): they
# repeat from event to event. Longer ones (inputs, results, details) are counted by their length.
SHORT = 64

# Small dicts of short strings (activity and workflow types, task lists) shared between events: at
# most this many distinct ones are remembered, so the table cannot grow with the histories.
SHARED_DICTS = 4096

# What a history's fold and the decider's memo of it take (`fold_bytes`): per instance and per
# shard (measured with tracemalloc: about 940 bytes an instance on the country flow), and per
# shard output kept decoded beyond its JSON text (about 190 bytes a small output at 100,000), rounded up.
FOLD_INSTANCE_BYTES = 1000
FOLD_CHILD_BYTES = 1000
OUTPUT_BYTES = 200


def fold_bytes(folder: HistoryFolder) -> int:
    """The estimated bytes of a fold and of the memo kept with it."""
    execution = folder.execution
    size = len(execution.instances) * FOLD_INSTANCE_BYTES + len(execution.children) * FOLD_CHILD_BYTES
    if folder.memo is not None:
        characters, outputs = folder.memo.kept_outputs()
        size += characters + outputs * OUTPUT_BYTES
    return size


class HistoryCache:
    """Histories of the executions a decider process served lately, least recently used evicted.

    Bounded in executions and in bytes held in all (`max_bytes`, an estimate made as each event
    is first stored, `event_bytes`, and as each fold is kept, `fold_bytes`). The events are kept
    compact (`compact_events`): values equal to botocore's, but repeated ones shared. Thread-safe,
    so several poller threads may share one.
    """

    def __init__(self, max_executions: int = 1000, max_bytes: int = CACHE_BYTES) -> None:
        self.max_executions = max_executions
        self.max_bytes = max_bytes
        self._histories: OrderedDict[Key, tuple[list[Event], int]] = OrderedDict()
        self._bytes = 0
        self._shared: dict[Any, Any] = {}
        # Each held history's fold so far (`HistoryFolder`, with the decider's memo), the last
        # event it folded, and its estimated bytes (counted in `bytes`).
        self._folders: dict[Key, tuple[HistoryFolder, Event, int]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._histories)

    def __contains__(self, key: object) -> bool:
        return key in self._histories

    @property
    def bytes(self) -> int:
        """The estimated bytes of every history held, and of the folds kept with them."""
        return self._bytes

    def get(self, key: Key) -> list[Event] | None:
        with self._lock:
            entry = self._histories.get(key)
            if entry is None:
                return None
            self._histories.move_to_end(key)
            return entry[0]

    def put(self, key: Key, events: list[Event], checked: int = 0) -> None:
        """Remember `events` (a whole history whose event ids run 1, 2, 3...); anything else is dropped.

        `checked`: how many of the first events the caller already knows to be events 1, 2, 3...
        (the cached history a warm task extends, or a full read `in_order` found contiguous), so
        only the rest are checked, compacted and measured (the first `checked` are the cached
        history's own when it is `get(key)` extended). The list is kept as it is, not copied:
        nothing changes a history once read (`Payloads.resolve_events` copies what it resolves).
        """
        with self._lock:
            old = self._histories.get(key)
            # The fold of the old history stays: `take_folder` checks it folded these events.
            folder = self._folders.get(key)
            self._drop(key)
            if not _contiguous(events[checked:], checked + 1):
                return
            if old is not None and checked and len(old[0]) == checked and events[checked - 1] is old[0][-1]:
                size = old[1] + compact_events(events, checked, self._shared)
            else:
                size = compact_events(events, 0, self._shared)
            if len(self._shared) > SHARED_DICTS:
                self._shared.clear()  # only sharing is lost: the events hold what they share
            if size > self.max_bytes:
                return
            self._histories[key] = (events, size)
            self._bytes += size
            if folder is not None:
                self._folders[key] = folder
                self._bytes += folder[2]
            self._trim()

    def take_folder(self, key: Key, events: list[Event]) -> HistoryFolder | None:
        """The fold of a prefix of `events` (this task's history, as the cache served it), or None.

        Taken, not shared: the caller gives it back with `keep_folder` once it folded the rest.
        None unless the last event it folded is the very event at its place in `events` (so
        the events before it are the cached ones it folded, too).
        """
        with self._lock:
            entry = self._folders.pop(key, None)
            if entry is not None:
                self._bytes -= entry[2]
        if entry is None:
            return None
        folder, last, _ = entry
        if not 0 < folder.count <= len(events) or events[folder.count - 1] is not last:
            return None
        return folder

    def keep_folder(self, key: Key, folder: HistoryFolder, events: list[Event]) -> None:
        """Remember `folder`, the fold of `events` (as the cache holds them), while they are held;
        its bytes count in the budget, so keeping it may evict the least recently used."""
        size = fold_bytes(folder)
        with self._lock:
            entry = self._histories.get(key)
            if entry is not None and entry[0] is events and folder.count == len(events) and events:
                self._forget_folder(key)
                self._folders[key] = (folder, events[-1], size)
                self._bytes += size
                self._trim()

    def evict(self, key: Key) -> None:
        with self._lock:
            self._drop(key)

    def _drop(self, key: Key) -> None:
        self._forget_folder(key)
        entry = self._histories.pop(key, None)
        if entry is not None:
            self._bytes -= entry[1]

    def _forget_folder(self, key: Key) -> None:
        entry = self._folders.pop(key, None)
        if entry is not None:
            self._bytes -= entry[2]

    def _trim(self) -> None:
        """Evict the least recently used until within both bounds."""
        while len(self._histories) > self.max_executions or self._bytes > self.max_bytes:
            self._drop(next(iter(self._histories)))


def compact_events(events: list[Event], first: int, shared: dict[Any, Any]) -> int:
    """Make `events[first:]` compact in place, and return their estimated bytes.

    Compact: every value stays equal, of the same type, but short strings are interned and small
    dicts of short strings (`activityType`, `taskList`...) are shared through `shared`, so the
    thousands of events naming the same activity hold one copy. Only immutable strings and dicts
    that nothing changes are shared (histories are read, never written).
    """
    size = 0
    for event in events[first:]:
        size += EVENT_BYTES + _compact_dict(event, shared)
    return size


def _compact_dict(values: dict[str, Any], shared: dict[Any, Any]) -> int:
    """Compact `values`' own values in place; the bytes of their long strings."""
    size = 0
    for name, value in values.items():
        kind = type(value)
        if kind is str:
            if len(value) <= SHORT:
                values[name] = sys.intern(value)
            else:
                size += len(value)
        elif kind is dict:
            size += _compact_dict(value, shared)
            if all(type(v) is str and len(v) <= SHORT for v in value.values()):
                values[name] = shared.setdefault(tuple(value.items()), value)
        elif kind is list:
            size += sum(_compact_dict(item, shared) for item in value if type(item) is dict)
    return size


def _event_id(event: Event) -> int | None:
    value = event.get("eventId")
    return value if isinstance(value, int) else None


def _contiguous(events: Sequence[Event], first: int) -> bool:
    """Whether the events' ids are first, first + 1, first + 2... in order."""
    return _ids(events) == list(range(first, first + len(events)))


def _ids(events: Sequence[Event]) -> list[Any]:
    """Each event's id as it is (one read of each, in C: this runs over whole histories)."""
    return [event.get("eventId") for event in events]


def poll_decision_task(
    client: SWFClient,
    domain: str,
    task_list: str,
    identity: str,
    cache: HistoryCache | None = None,
) -> DecisionTask | None:
    """Poll once for a decision task and read its whole history; None when the poll was empty."""
    request: dict[str, Any] = {
        "domain": domain,
        "taskList": {"name": task_list},
        "identity": identity,
        "maximumPageSize": MAX_PAGE_SIZE,
    }
    if cache is not None:
        request["reverseOrder"] = True
    first = client.poll_for_decision_task(**request)
    token = first.get("taskToken")
    if not token:
        return None  # an empty poll (moto leaves the key out; SWF sends it empty)
    execution = first["workflowExecution"]
    key = (execution["workflowId"], execution["runId"])
    workflow_type = first.get("workflowType", {"name": "", "version": ""})
    pages = _Pages(client, request, first)
    known = cache.get(key) if cache is not None else None
    events = _with_known(pages, known) if known else None
    from_cache = events is not None
    # How many leading events are known to be 1, 2, 3...: the cache checks only the others.
    checked = len(known) if known and events is not None else 0
    if events is None:
        pages.read_all()
        events, contiguous = pages.in_order()
        checked = len(events) if contiguous else 0
    if cache is not None:
        cache.put(key, events, checked)
    return DecisionTask(
        token=token,
        workflow_id=key[0],
        run_id=key[1],
        workflow_name=workflow_type["name"],
        workflow_version=workflow_type["version"],
        events=events,
        pages=pages.count,
        from_cache=from_cache,
    )


class _Pages:
    """The pages of one decision task's history, fetched as needed."""

    def __init__(self, client: SWFClient, request: dict[str, Any], first: DecisionTaskTypeDef):
        self.client = client
        self.request = request
        self.events: list[Event] = list(cast("list[Event]", first.get("events", [])))
        self.token = first.get("nextPageToken")
        self.count = 1

    def more(self) -> bool:
        """Fetch the next page; False when there is none."""
        if not self.token:
            return False
        page = self.client.poll_for_decision_task(**self.request, nextPageToken=self.token)
        self.events.extend(cast("list[Event]", page.get("events", [])))
        self.token = page.get("nextPageToken")
        self.count += 1
        return True

    def read_all(self) -> None:
        while self.more():
            pass

    def oldest_id(self) -> int | None:
        ids = [i for i in map(_event_id, self.events) if i is not None]
        return min(ids) if ids else None

    def in_order(self) -> tuple[list[Event], bool]:
        """Every event fetched, oldest first, whichever order SWF paged them in; and whether their
        ids are 1, 2, 3... (a whole history, as the cache wants it).

        SWF pages a history oldest first, or newest first with `reverseOrder`: each event id is
        read once to see which, and only pages out of both orders are sorted.
        """
        events = self.events
        ids = _ids(events)
        count = len(ids)
        if ids == list(range(1, count + 1)):
            return list(events), True
        if ids == list(range(count, 0, -1)):
            return events[::-1], True
        if all(isinstance(i, int) for i in ids):
            order = sorted(range(count), key=ids.__getitem__)
            return [events[n] for n in order], False
        return list(events), False


def _with_known(pages: _Pages, known: list[Event]) -> list[Event] | None:
    """`known` plus the new events, fetching only the pages that hold new events.

    None when the pages do not line up with `known`; the caller then reads everything.
    """
    last = _event_id(known[-1])
    if last is None:
        return None
    while True:
        oldest = pages.oldest_id()
        if oldest is not None and oldest <= last:
            break
        if not pages.more():
            return None  # the history holds no event we know: not the one we cached
    by_id = {_event_id(event): event for event in pages.events}
    newest = max(i for i in by_id if i is not None)
    if newest < last or by_id.get(last) != known[-1]:
        log.info("history cache: known events do not match; reading the whole history")
        return None
    new = [by_id.get(event_id) for event_id in range(last + 1, newest + 1)]
    if any(event is None for event in new):
        log.info("history cache: a gap in event ids; reading the whole history")
        return None
    return known + cast("list[Event]", new)


class DeciderLoop:
    """Polls the workflow's task list, reads each task's history, decides, and responds.

    The workflow's shards (child workflow types, `FlowPlan.shards`) share its task list: each
    task is decided by the plan its `workflowType` names.

    A task whose `decide` raises is logged and left uncompleted: SWF times it
    out after the decision timeout and schedules another, so nothing is lost.

    Values too large for SWF (payloads.py): the references in the history are
    resolved before `decide` (through `payloads`' cache, so each value is read
    once per process), and what the decisions carry over the threshold is
    stored after it. A store that cannot be reached leaves the task to time
    out, as above; a value that is gone or is not what was stored fails the
    workflow, saying which.
    """

    def __init__(
        self,
        plan: FlowPlan,
        client: SWFClient,
        identity: str | None = None,
        cache: bool | HistoryCache = True,
        task_list: str | None = None,
        domain: str | None = None,
        payloads: Payloads | None = None,
    ) -> None:
        self.plan = plan
        self.plans = plan.workflow_plans()
        # One store and cache for the workflow and its shards (keys name each execution's id).
        self.payloads = payloads if payloads is not None else for_plan(plan)
        self.client = client
        # History pages parsed by engine/historyparse.py, botocore's values several times faster.
        historyparse.install(client)
        self.identity = identity or default_identity("decider")
        self.domain = domain or plan.domain
        self.task_list = task_list or plan.task_list
        if isinstance(cache, HistoryCache):
            self.cache: HistoryCache | None = cache
        else:
            self.cache = HistoryCache() if cache else None

    def poll_once(self) -> bool:
        """One poll and, if it brought a task, its decisions; returns whether a task came."""
        task = poll_decision_task(self.client, self.domain, self.task_list, self.identity, self.cache)
        if task is None:
            return False
        where = f"{self.domain}/{task.workflow_id}/{task.run_id}"
        extra = {"domain": self.domain, "workflow_id": task.workflow_id, "run_id": task.run_id}
        plan = self.plans.get(task.workflow_name)
        if plan is None or task.workflow_version != plan.version:
            log.error(
                "%s: a task for workflow type %s %s reached the decider of %s %s; left to time out",
                where,
                task.workflow_name,
                task.workflow_version,
                self.plan.workflow,
                self.plan.version,
                extra=extra,
            )
            return True
        decisions: list[dict[str, Any]] | None = None
        execution: Execution | None = None
        folder: HistoryFolder | None = None
        events = task.events
        try:
            execution, folder, events = self._read(task)
        except PayloadError as error:
            if not error.permanent:
                log.error("%s: %s; the task is left to time out and be retried", where, error, extra=extra)
                return True
            log.error("%s: %s; failing the workflow", where, error, extra=extra)
            reason = f"PayloadError: {error}"
            decisions = [fail_decision(reason, {"error": reason})]
        try:
            if decisions is None:
                memo = folder.memo if folder is not None else None
                decisions = decide(plan, events, task.workflow_id, execution, memo)
                if folder is not None and self.cache is not None:
                    # Given back once decided: no other task of this execution used it meanwhile.
                    self.cache.keep_folder(task.key, folder, task.events)
            decisions = self.payloads.offload_decisions(decisions, task.workflow_id, task.run_id)
        except PayloadError as error:
            log.error("%s: %s; the task is left to time out and be retried", where, error, extra=extra)
            return True
        except Exception:
            log.exception(
                "%s: decide() failed on a history of %d events; the task is left to time out and be retried",
                where,
                len(task.events),
                extra=extra,
            )
            self._forget(task)
            return True
        try:
            self.client.respond_decision_task_completed(
                taskToken=task.token, decisions=cast("Sequence[DecisionTypeDef]", decisions)
            )
        except ClientError as error:
            # Most often UnknownResourceFault: the task timed out or the execution closed meanwhile.
            log.warning("%s: could not complete the decision task: %s", where, error, extra=extra)
            return True
        kinds = [d["decisionType"] for d in decisions]
        log.debug("%s: %d decisions %s", where, len(decisions), kinds, extra=extra)
        closing = [kind for kind in kinds if kind in _CLOSING]
        if closing:
            log.info("%s: closed with %s", where, closing[0], extra=extra)
            self._forget(task)
        return True

    def run(self, stop_event: threading.Event, clock: Clock | None = None) -> None:
        """Poll until `stop_event` is set; the task in hand is finished first."""
        clock = clock or Clock()
        outage = Outage(f"polling {self.domain}/{self.task_list}", clock)
        while not stop_event.is_set():
            try:
                self.poll_once()
            except Exception as error:
                # botocore already retried: wait longer and longer rather than spin while SWF is away.
                clock.wait(stop_event, outage.failed(error))
            else:
                outage.succeeded()

    def _read(self, task: DecisionTask) -> tuple[Execution | None, HistoryFolder | None, list[Event]]:
        """The task's history as `decide` reads it, payload references resolved: folded, with the
        fold to give back to the cache once decided (and its memo, what `decide` kept of the
        last task), and the events for `decide` to read when there is no fold.

        A warm task folds and resolves only the events new since the execution's last task; the
        fold is taken from the cache, so no other thread decides with it meanwhile. A first task,
        a history read whole, or a fold that cannot be vouched for is folded whole again (None
        when only a whole read can say what is wrong: `decide` then reads `events`).
        """
        if self.cache is None:
            return None, None, self.payloads.resolve_events(task.events)
        folder = self.cache.take_folder(task.key, task.events) if task.from_cache else None
        if folder is not None:
            execution = folder.fold(self.payloads.resolve_events(task.events, folder.count))
            if execution is not None:
                folder.memo = folder.memo or Memo()
                return execution, folder, task.events  # `decide` reads the fold, not these
        events = self.payloads.resolve_events(task.events)
        folder = HistoryFolder()
        execution = folder.fold(events)
        if execution is None:
            return None, None, events
        folder.memo = Memo()
        return execution, folder, events

    def _forget(self, task: DecisionTask) -> None:
        if self.cache is not None:
            self.cache.evict(task.key)
