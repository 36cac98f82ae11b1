"""Reading a decision task's history: every page, and the cache that fetches only new ones.

botocore's Stubber checks the exact requests (page tokens, reverseOrder), which moto
cannot show because it does not page; a paging fake serves the property test.
"""

from __future__ import annotations

import copy
import datetime
import os
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from swf_support import FakeSWF, country_plan

from flowgen.runtime.decider import Memo, decide
from flowgen.runtime.handlers import handlers_for
from flowgen.runtime.history import HistoryFolder
from flowgen.runtime.local import LocalRunner
from flowgen.runtime.polling import (
    FOLD_INSTANCE_BYTES,
    OUTPUT_BYTES,
    HistoryCache,
    compact_events,
    fold_bytes,
    poll_decision_task,
)
from flowgen.runtime.swf import READ_TIMEOUT, client

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
EXECUTION = {"workflowId": "wf", "runId": "run"}
WORKFLOW_TYPE = {"name": "country_flow", "version": "1.0"}


def _event(event_id: int, kind: str = "MarkerRecorded") -> dict[str, Any]:
    return {
        "eventId": event_id,
        "eventType": kind,
        "eventTimestamp": T0 + datetime.timedelta(seconds=event_id),
        "markerRecordedEventAttributes": {"markerName": f"m{event_id}", "decisionTaskCompletedEventId": 1},
    }


def _events(first: int, last: int) -> list[dict[str, Any]]:
    return [_event(n) for n in range(first, last + 1)]


@pytest.fixture
def swf() -> Any:
    return boto3.client("swf", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def _request(reverse: bool, token: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "domain": "dev",
        "taskList": {"name": "country_flow"},
        "identity": "me",
        "maximumPageSize": 1000,
    }
    if reverse:
        request["reverseOrder"] = True
    if token is not None:
        request["nextPageToken"] = token
    return request


def _stub_pages(stubber: Stubber, pages: list[list[dict[str, Any]]], reverse: bool, task: str = "t") -> None:
    """Queue one decision task whose history comes in `pages` (tokens p1, p2, ...)."""
    for number, events in enumerate(pages):
        # SWF repeats the task's fields on every page; botocore's response shape requires them.
        response: dict[str, Any] = {
            "events": events,
            "startedEventId": 1,
            "taskToken": task,
            "workflowExecution": EXECUTION,
            "workflowType": WORKFLOW_TYPE,
        }
        if number + 1 < len(pages):
            response["nextPageToken"] = f"p{number + 1}"
        stubber.add_response(
            "poll_for_decision_task", response, _request(reverse, f"p{number}" if number else None)
        )


def _ids(events: list[dict[str, Any]]) -> list[int]:
    return [e["eventId"] for e in events]


# -- the client -----------------------------------------------------------------------------------


def test_client_uses_standard_retries_and_outwaits_a_long_poll() -> None:
    swf = client(region="eu-west-1", endpoint_url="http://127.0.0.1:1")
    config = swf.meta.config
    # Ten attempts in all, the first request included (botocore's `max_attempts` would count retries).
    assert config.retries == {"mode": "standard", "total_max_attempts": 10}
    assert config.read_timeout == READ_TIMEOUT > 70
    assert config.connect_timeout is not None and config.connect_timeout < 60
    assert swf.meta.region_name == "eu-west-1"
    assert swf.meta.endpoint_url == "http://127.0.0.1:1"


# -- full reads -----------------------------------------------------------------------------------


def test_full_read_follows_every_page(swf: Any) -> None:
    with Stubber(swf) as stubber:
        _stub_pages(stubber, [_events(1, 1000), _events(1001, 2000), _events(2001, 2345)], reverse=False)
        task = poll_decision_task(swf, "dev", "country_flow", "me")
        stubber.assert_no_pending_responses()
    assert task is not None
    assert _ids(task.events) == list(range(1, 2346))
    assert (task.pages, task.from_cache, task.token) == (3, False, "t")
    assert (task.workflow_id, task.run_id, task.workflow_name, task.workflow_version) == (
        "wf",
        "run",
        "country_flow",
        "1.0",
    )


class _EmptyPolls:
    """SWF ends an empty long poll with an empty taskToken; moto leaves the key out."""

    def __init__(self) -> None:
        self.responses: list[dict[str, Any]] = [
            {"startedEventId": 0, "taskToken": ""},
            {"previousStartedEventId": 0, "startedEventId": 0},
        ]

    def poll_for_decision_task(self, **request: Any) -> dict[str, Any]:
        return self.responses.pop(0)


@pytest.mark.parametrize("cache", [None, HistoryCache()])
def test_empty_poll_gives_none(cache: HistoryCache | None) -> None:
    fake = _EmptyPolls()
    assert poll_decision_task(fake, "dev", "country_flow", "me", cache) is None  # type: ignore[arg-type]
    assert poll_decision_task(fake, "dev", "country_flow", "me", cache) is None  # type: ignore[arg-type]


# -- the cache ------------------------------------------------------------------------------------


def _reverse_pages(last: int, size: int = 1000) -> list[list[dict[str, Any]]]:
    newest_first = list(reversed(_events(1, last)))
    return [newest_first[n : n + size] for n in range(0, len(newest_first), size)]


def test_cache_fetches_only_the_new_pages(swf: Any) -> None:
    cache = HistoryCache()
    with Stubber(swf) as stubber:
        # First task of the execution: the whole history, newest page first.
        _stub_pages(stubber, _reverse_pages(2500), reverse=True, task="t1")
        # Next task: 1,200 new events; two reverse pages reach event 2500, the third is never asked for.
        _stub_pages(stubber, _reverse_pages(3700)[:2], reverse=True, task="t2")
        # Next: 50 new events, one page.
        _stub_pages(stubber, _reverse_pages(3750)[:1], reverse=True, task="t3")
        first = poll_decision_task(swf, "dev", "country_flow", "me", cache)
        second = poll_decision_task(swf, "dev", "country_flow", "me", cache)
        third = poll_decision_task(swf, "dev", "country_flow", "me", cache)
        stubber.assert_no_pending_responses()
    assert first is not None and second is not None and third is not None
    assert (first.pages, first.from_cache, _ids(first.events)) == (3, False, list(range(1, 2501)))
    assert (second.pages, second.from_cache, _ids(second.events)) == (2, True, list(range(1, 3701)))
    assert (third.pages, third.from_cache, _ids(third.events)) == (1, True, list(range(1, 3751)))
    assert third.events == _events(1, 3750)
    assert _ids(cache.get(("wf", "run")) or []) == list(range(1, 3751))


def test_cache_reads_everything_when_a_known_event_differs(swf: Any) -> None:
    cache = HistoryCache()
    cache.put(("wf", "run"), _events(1, 2499) + [_event(2500, "TimerFired")])
    with Stubber(swf) as stubber:
        _stub_pages(stubber, _reverse_pages(2600), reverse=True)
        task = poll_decision_task(swf, "dev", "country_flow", "me", cache)
        stubber.assert_no_pending_responses()
    assert task is not None
    assert (task.pages, task.from_cache) == (3, False)
    assert task.events == _events(1, 2600)
    assert cache.get(("wf", "run")) == _events(1, 2600)


def test_cache_reads_everything_on_a_gap_and_then_forgets_the_execution(swf: Any) -> None:
    cache = HistoryCache()
    cache.put(("wf", "run"), _events(1, 10))
    served = [e for e in reversed(_events(1, 20)) if e["eventId"] != 15]
    with Stubber(swf) as stubber:
        _stub_pages(stubber, [served[:8], served[8:]], reverse=True)
        task = poll_decision_task(swf, "dev", "country_flow", "me", cache)
        stubber.assert_no_pending_responses()
    assert task is not None and not task.from_cache
    assert _ids(task.events) == [n for n in range(1, 21) if n != 15]
    assert ("wf", "run") not in cache  # a history with a gap is never cached


def test_cache_reads_everything_when_the_history_is_shorter_than_known(swf: Any) -> None:
    cache = HistoryCache()
    cache.put(("wf", "run"), _events(1, 30))
    with Stubber(swf) as stubber:
        _stub_pages(stubber, [list(reversed(_events(1, 20)))], reverse=True)
        task = poll_decision_task(swf, "dev", "country_flow", "me", cache)
    assert task is not None and not task.from_cache
    assert task.events == _events(1, 20)


def _size(events: list[dict[str, Any]]) -> int:
    """The bytes the cache counts for `events` (compacting a copy of them)."""
    return compact_events(copy.deepcopy(events), 0, {})


def test_cache_evicts_the_least_recently_used_past_its_byte_budget() -> None:
    ten = _size(_events(1, 10))
    cache = HistoryCache(max_executions=100, max_bytes=3 * ten)
    for name in "abc":
        cache.put((name, "1"), _events(1, 10))
    assert cache.bytes == 3 * ten
    assert cache.get(("a", "1")) is not None  # a is now the most recent: b is the least
    cache.put(("d", "1"), _events(1, 10))
    assert list(cache._histories) == [("c", "1"), ("a", "1"), ("d", "1")]
    cache.put(("e", "1"), _events(1, 20))  # twice the bytes: the two least recent go
    assert list(cache._histories) == [("d", "1"), ("e", "1")]
    assert cache.bytes == ten + _size(_events(1, 20))
    cache.put(("f", "1"), _events(1, 40))  # alone over the budget: not kept, the others stay
    assert ("f", "1") not in cache and len(cache) == 2
    cache.put(("g", "1"), _events(2, 5))  # does not start at event 1: not kept
    assert ("g", "1") not in cache
    cache.evict(("d", "1"))
    cache.evict(("e", "1"))
    assert len(cache) == 0 and cache.bytes == 0


def test_cache_counts_long_values_by_their_length() -> None:
    # One event with a 50,000-character value outweighs twenty plain ones.
    big = _events(1, 3)
    big[1]["markerRecordedEventAttributes"]["details"] = "x" * 50_000
    assert _size(big) >= 50_000 > _size(_events(1, 20))
    cache = HistoryCache(max_bytes=_size(big) + _size(_events(1, 10)))
    cache.put(("small", "1"), _events(1, 10))
    cache.put(("other", "1"), _events(1, 10))
    cache.put(("big", "1"), big)  # the bytes, not the 3 events, push the least recent out
    assert list(cache._histories) == [("other", "1"), ("big", "1")]


def test_cache_counts_the_folds_it_keeps_in_its_byte_budget() -> None:
    """A fold and the decider's memo of it (with a shard's outputs kept decoded) count as bytes:
    a decider cannot hold more than its budget in memos of large fan-ins."""
    ten = _size(_events(1, 10))
    held = {name: _events(1, 10) for name in "abcd"}
    folder = HistoryFolder()
    folder.fold(held["c"])
    folder.execution.instance("a-0")
    folder.execution.instance("a-1")
    folder.memo = Memo()
    folder.memo.shard_outputs[("a", 0)] = ("x" * 1000, 100, [])
    size = fold_bytes(folder)
    assert size == 2 * FOLD_INSTANCE_BYTES + 1000 + 100 * OUTPUT_BYTES
    cache = HistoryCache(max_executions=100, max_bytes=3 * ten + size)
    for name in "abc":
        cache.put((name, "1"), held[name])
    cache.keep_folder(("c", "1"), folder, held["c"])
    assert cache.bytes == 3 * ten + size
    cache.put(("d", "1"), held["d"])  # over the budget with the fold: the least recent goes
    assert list(cache._histories) == [("b", "1"), ("c", "1"), ("d", "1")]
    # Taken for a task, its bytes are given back; kept again, counted again; evicted with its history.
    assert cache.take_folder(("c", "1"), held["c"]) is folder
    assert cache.bytes == 3 * ten
    cache.keep_folder(("c", "1"), folder, held["c"])
    assert cache.bytes == 3 * ten + size
    cache.evict(("c", "1"))
    assert cache.bytes == 2 * ten


def test_cache_still_bounds_the_number_of_executions() -> None:
    cache = HistoryCache(max_executions=2)
    for name in "abc":
        cache.put((name, "1"), _events(1, 5))
    assert list(cache._histories) == [("b", "1"), ("c", "1")]


def test_a_warm_task_measures_only_its_new_events() -> None:
    cache = HistoryCache()
    known = _events(1, 10)
    cache.put(("wf", "run"), known)
    cache.put(("wf", "run"), known + _events(11, 15), checked=10)
    assert cache.bytes == _size(_events(1, 15))


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (a datetime is not a string, nor 1 True)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def test_compacted_events_are_the_parsed_events_with_repeats_shared() -> None:
    for history in HISTORIES:
        compacted = copy.deepcopy(history)
        compact_events(compacted, 0, {})
        assert _same(compacted, history)
    compacted = copy.deepcopy(HISTORIES[0])
    compact_events(compacted, 0, {})
    scheduled = [
        e["activityTaskScheduledEventAttributes"]
        for e in compacted
        if e["eventType"] == "ActivityTaskScheduled"
    ]
    assert len(scheduled) > 1
    # Each distinct activity type (and task list) is held once, however many events name it.
    types = {id(a["activityType"]) for a in scheduled}
    assert len(types) == len({a["activityType"]["name"] for a in scheduled}) < len(scheduled)
    assert len({id(a["taskList"]) for a in scheduled}) == 1


def test_decisions_with_a_small_cache_equal_decisions_without() -> None:
    # Every history served task by task, the executions interleaved, through a cache that holds
    # about one of them: hits, misses and evictions, and every task decides as a full read does.
    plan = country_plan()
    cache = HistoryCache(max_bytes=max(_size(h) for h in HISTORIES) + 1)
    pristine = [copy.deepcopy(h) for h in HISTORIES]
    cached = [FakeSWF(page_size=3) for _ in HISTORIES]
    for number, fake in enumerate(cached):
        fake.workflow_id = f"wf-{number}"
    served = [copy.deepcopy(h) for h in HISTORIES]  # the cached side's copy, compacted as it goes
    hits = 0
    for cut in range(1, max(len(h) for h in HISTORIES) + 1):
        for number, history in enumerate(pristine):
            if cut > len(history):
                continue
            cached[number].events = served[number][:cut]
            task = poll_decision_task(cached[number], "dev", "country_flow", "me", cache)  # type: ignore[arg-type]
            assert task is not None
            hits += task.from_cache
            assert _same(task.events, history[:cut])
            assert decide(plan, task.events, task.workflow_id) == decide(
                plan, history[:cut], task.workflow_id
            )
    assert hits and len(cache) < len(HISTORIES)


# -- no needless work per task (issue 12) --------------------------------------------------------


class _Counted(dict[str, Any]):
    """An event that counts how often its id is read, so a test can see the work done per task."""

    reads = 0

    def get(self, key: str, default: Any = None) -> Any:
        if key == "eventId":
            _Counted.reads += 1
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        if key == "eventId":
            _Counted.reads += 1
        return super().__getitem__(key)


def _counted(first: int, last: int) -> list[dict[str, Any]]:
    return [_Counted(event) for event in _events(first, last)]


@pytest.mark.parametrize("cache", [None, HistoryCache()])
def test_a_full_read_in_order_reads_each_event_id_once(cache: HistoryCache | None) -> None:
    # In order without a cache, newest first with one: either way no sort, no second pass.
    fake = FakeSWF(page_size=100)
    fake.events = _counted(1, 2000)
    _Counted.reads = 0
    task = poll_decision_task(fake, "dev", "country_flow", "me", cache)  # type: ignore[arg-type]
    assert _Counted.reads <= 2000
    assert task is not None and _ids(task.events) == list(range(1, 2001))
    if cache is not None:
        assert cache.get(("wf", "run")) == task.events


def test_a_full_read_out_of_order_is_sorted() -> None:
    fake = FakeSWF(page_size=7)
    fake.events = [_event(n) for n in (3, 1, 2, 5, 4)]
    task = poll_decision_task(fake, "dev", "country_flow", "me", HistoryCache())  # type: ignore[arg-type]
    assert task is not None and _ids(task.events) == [1, 2, 3, 4, 5]


def test_a_warm_task_reads_only_the_pages_it_fetches() -> None:
    # 5,000 known events and 10 new ones, pages of 100: the work is the one page, not the history.
    cache = HistoryCache()
    fake = FakeSWF(page_size=100)
    fake.events = _counted(1, 5000)
    assert poll_decision_task(fake, "dev", "country_flow", "me", cache) is not None  # type: ignore[arg-type]
    fake.events = fake.events + _counted(5001, 5010)
    _Counted.reads = 0
    task = poll_decision_task(fake, "dev", "country_flow", "me", cache)  # type: ignore[arg-type]
    reads = _Counted.reads
    assert task is not None and task.from_cache and task.pages == 1
    assert reads <= 3 * 100
    assert _ids(task.events) == list(range(1, 5011))
    assert cache.get(("wf", "run")) == task.events


# -- the property: cached reading is full reading -------------------------------------------------


def _country_histories() -> list[list[dict[str, Any]]]:
    """Real-looking histories from the local runner: successes, retries with timers, failure, cancel."""
    plan = country_plan()
    handlers = handlers_for(plan)
    day = ["2026-01-01", "2026-01-02"]

    def flaky(activity_id: str, attempt: int) -> str | None:
        return {1: "fail", 2: "START_TO_CLOSE"}.get(attempt) if activity_id.endswith("-1") else None

    def doomed(activity_id: str, attempt: int) -> str | None:
        return "fail" if activity_id == "activity_2-2" else None

    with mock.patch.dict(os.environ, {"COUNTRY_FLOW_FAILURE_RATE": "0"}):
        runs = [
            LocalRunner(plan, handlers).run({"days": day, "countries": [1, 2]}),
            LocalRunner(plan, handlers, fault=flaky).run({"days": day, "countries": [1, 2, 3]}),
            LocalRunner(plan, handlers, fault=doomed).run({"days": day[:1], "countries": [1, 2, 3, 4]}),
            LocalRunner(plan, handlers).run({"days": day, "countries": [7]}, cancel_after=2),
            LocalRunner(plan, handlers).run({"days": "not a list", "countries": []}),
        ]
    return [run.history for run in runs]


HISTORIES = _country_histories()


@st.composite
def _reads(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[int], int, list[bool]]:
    history = draw(st.sampled_from(HISTORIES))
    cuts = sorted(draw(st.sets(st.integers(1, len(history)), min_size=1, max_size=8)))
    page_size = draw(st.integers(1, 40))
    evictions = draw(st.lists(st.booleans(), min_size=len(cuts), max_size=len(cuts)))
    return history, cuts, page_size, evictions


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_reads())
def test_cached_reads_equal_full_reads(read: tuple[list[dict[str, Any]], list[int], int, list[bool]]) -> None:
    history, cuts, page_size, evictions = read
    plan = country_plan()
    cached, full = FakeSWF(page_size), FakeSWF(page_size)
    cache = HistoryCache()
    previous = 0
    for cut, evict in zip(cuts, evictions, strict=True):
        cached.events = full.events = history[:cut]
        if evict:
            cache.evict(("wf", "run"))
        with_cache = poll_decision_task(cached, "dev", "country_flow", "me", cache)  # type: ignore[arg-type]
        without = poll_decision_task(full, "dev", "country_flow", "me")  # type: ignore[arg-type]
        assert with_cache is not None and without is not None
        assert with_cache.events == without.events == history[:cut]
        assert decide(plan, with_cache.events) == decide(plan, without.events)
        # Only what is new is fetched: pages cover the new events plus the one known event.
        assert with_cache.from_cache == bool(previous and not evict)
        if with_cache.from_cache:
            assert with_cache.pages <= 1 + (cut - previous) // page_size
        assert all(c.get("reverseOrder") for c in cached.calls)
        assert all(not c.get("reverseOrder") for c in full.calls)
        assert all(c["maximumPageSize"] == 1000 for c in cached.calls + full.calls)
        previous = cut
