"""Running generated packages against moto's SWF, and where moto is not SWF.

moto 5 differs from SWF in ways an end-to-end test meets; what flowgen does
needs none of it changed (each attempt of an activity has its own id, so moto's
refusal of any id an execution used before never stands in a retry's way). For
time alone, in the test process, under `mock_aws` (never under the servers of
the multi-process tests, which run moto as it is):

- **Timers.** moto fires timers by itself, with a `threading.Timer` per
  StartTimer, in real seconds: a 10 s retry wait takes 10 s. In process,
  `ManualClock` replaces those threads with a virtual clock that the test moves
  (deterministic: a timer fires when the test says no work is left). Histories
  show the spec's waits.
- **Time-outs.** moto checks heartbeat, decision and workflow time-outs only
  when an API call comes in, against the wall clock. `skip_ahead` moves moto's
  clock forward for one call, as if that much time had passed.
- **Empty polls** sleep a second in moto (no long polling); `no_empty_poll_sleep`
  removes the pause for tests that drive the loops one poll at a time.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import itertools
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import moto.swf.models
import moto.swf.models.timeout
import moto.swf.models.workflow_execution as moto_execution
import pytest

from flowgen.runtime.ids import split_attempt_id

ROOT = pathlib.Path(__file__).resolve().parent.parent
GENERATED = ROOT / "generated"
REGION = "us-east-1"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


# -- moto's clock, in process ----------------------------------------------------------------------


def no_empty_poll_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto.swf.models, "sleep", lambda seconds: None)


@dataclass(order=True)
class _Pending:
    due: float
    order: int
    timer: ManualTimer = field(compare=False)


class ManualClock:
    """Virtual time for moto's timers: `fire_next()` jumps to the earliest and fires it.

    Install it with `ManualClock.install(monkeypatch)`; moto's StartTimer then
    creates `ManualTimer`s here instead of threads.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self.fired: list[tuple[float, float]] = []  # (virtual time, the timer's wait), in order
        self._pending: list[_Pending] = []
        self._order = itertools.count()

    @classmethod
    def install(cls, monkeypatch: pytest.MonkeyPatch) -> ManualClock:
        clock = cls()

        def make(interval: float, function: Callable[..., Any], args: Any = None) -> ManualTimer:
            return ManualTimer(clock, interval, function, tuple(args or ()))

        monkeypatch.setattr(moto_execution, "ThreadingTimer", make)
        return clock

    def add(self, timer: ManualTimer) -> None:
        heapq.heappush(self._pending, _Pending(self.now + timer.interval, next(self._order), timer))

    @property
    def pending(self) -> int:
        return sum(1 for p in self._pending if p.timer.alive)

    def fire_next(self) -> bool:
        """Move to the earliest pending timer and fire it; False when none is pending."""
        while self._pending:
            pending = heapq.heappop(self._pending)
            if pending.timer.alive:
                self.now = max(self.now, pending.due)
                self.fired.append((self.now, pending.timer.interval))
                pending.timer.fire()
                return True
        return False

    def fire_due(self) -> int:
        """Fire every pending timer whose wait is over at `now` (a test that moves `now` itself);
        how many fired."""
        fired = 0
        while self._pending and self._pending[0].due <= self.now:
            pending = heapq.heappop(self._pending)
            if pending.timer.alive:
                self.fired.append((self.now, pending.timer.interval))
                pending.timer.fire()
                fired += 1
        return fired


class ManualTimer:
    """Stands in for the `threading.Timer` behind one moto timer."""

    def __init__(
        self, clock: ManualClock, interval: float, function: Callable[..., Any], args: tuple[Any, ...]
    ) -> None:
        self.clock = clock
        self.interval = float(interval)
        self.function = function
        self.args = args
        self.alive = False
        # moto calls _fire_timer(started_event_id, timer_id) on its WorkflowExecution.
        self.execution = getattr(function, "__self__", None)

    def start(self) -> None:
        self.alive = True
        self.clock.add(self)

    def is_alive(self) -> bool:
        return self.alive

    def cancel(self) -> None:
        self.alive = False

    def fire(self) -> None:
        self.alive = False
        # SWF drops the timers of a closed execution; moto's thread would fire into it regardless.
        if self.execution is None or self.execution.open:
            self.function(*self.args)


@contextlib.contextmanager
def skip_ahead(seconds: float) -> Iterator[None]:
    """Inside the block moto's time-out checks see the clock `seconds` ahead."""
    real = moto.swf.models.timeout.unix_time

    def later(dt: Any = None) -> float:
        return real(dt) + seconds

    moto.swf.models.timeout.unix_time = later
    try:
        yield
    finally:
        moto.swf.models.timeout.unix_time = real


# -- histories ------------------------------------------------------------------------------------


def attributes(event: dict[str, Any]) -> dict[str, Any]:
    kind = event["eventType"]
    found: dict[str, Any] = event.get(kind[0].lower() + kind[1:] + "EventAttributes", {})
    return found


def of_type(events: Sequence[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [attributes(e) for e in events if e["eventType"] == kind]


def history(client: Any, domain: str, workflow_id: str, run_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    request: dict[str, Any] = {"domain": domain, "execution": {"workflowId": workflow_id, "runId": run_id}}
    while True:
        page = client.get_workflow_execution_history(**request)
        events.extend(page["events"])
        if not page.get("nextPageToken"):
            return events
        request["nextPageToken"] = page["nextPageToken"]


def execution_info(client: Any, domain: str, workflow_id: str, run_id: str) -> dict[str, Any]:
    info: dict[str, Any] = client.describe_workflow_execution(
        domain=domain, execution={"workflowId": workflow_id, "runId": run_id}
    )["executionInfo"]
    return info


_CLOSING = frozenset(
    {"ActivityTaskCompleted", "ActivityTaskFailed", "ActivityTaskTimedOut", "ActivityTaskCanceled"}
)


def scheduled_while_open(events: Sequence[dict[str, Any]]) -> list[str]:
    """Activity ids used a second time, and attempts scheduled while one of their instance was open."""
    open_instances: dict[int, str] = {}
    used: set[str] = set()
    wrong: list[str] = []
    for event in events:
        kind, found = event["eventType"], attributes(event)
        if kind == "ActivityTaskScheduled":
            instance, _ = split_attempt_id(found["activityId"])
            if found["activityId"] in used or instance in open_instances.values():
                wrong.append(found["activityId"])
            used.add(found["activityId"])
            open_instances[event["eventId"]] = instance
        elif kind in _CLOSING:
            open_instances.pop(found["scheduledEventId"], None)
    return wrong


def timers_for_open_activities(events: Sequence[dict[str, Any]]) -> list[str]:
    """Retry timers started for an instance that had an attempt open at the time (a decider bug)."""
    open_ids: dict[int, str] = {}
    wrong: list[str] = []
    for event in events:
        kind, found = event["eventType"], attributes(event)
        if kind == "ActivityTaskScheduled":
            open_ids[event["eventId"]] = split_attempt_id(found["activityId"])[0]
        elif kind in _CLOSING:
            open_ids.pop(found["scheduledEventId"], None)
        elif kind == "TimerStarted":
            control = json.loads(found.get("control") or "{}")
            if control.get("kind") == "retry" and control.get("activity_id") in open_ids.values():
                wrong.append(found["timerId"])
    return wrong


# -- a history the end-to-end tests found the engine wrong on ----------------------------------


def _event(event_id: int, kind: str, **found: Any) -> dict[str, Any]:
    return {"eventId": event_id, "eventType": kind, kind[0].lower() + kind[1:] + "EventAttributes": found}


def _scheduled(event_id: int, activity_id: str, completed: int) -> dict[str, Any]:
    kind = {"name": activity_id.split("-")[0], "version": "1.0"}
    envelope = json.dumps({"input": {}, "attempt": 1})
    return _event(
        event_id,
        "ActivityTaskScheduled",
        activityId=activity_id,
        activityType=kind,
        input=envelope,
        decisionTaskCompletedEventId=completed,
    )


def event_during_a_decision_task() -> list[dict[str, Any]]:
    """A country_flow history in which activity_2-1 completes while decision task 16 is in flight.

    The decider of task 16 read events 1 to 16: activity_2-1 was open, nothing to do. SWF then
    schedules task 20 because of event 18; its decider must schedule activity_3.
    """
    result = json.dumps({"rows": 1})
    return [
        _event(
            1, "WorkflowExecutionStarted", input=json.dumps({"days": ["2026-03-01"], "countries": [1, 2]})
        ),
        _event(2, "DecisionTaskScheduled"),
        _event(3, "DecisionTaskStarted", scheduledEventId=2),
        _event(4, "DecisionTaskCompleted", scheduledEventId=2, startedEventId=3),
        _scheduled(5, "activity_1", 4),
        _event(6, "ActivityTaskStarted", scheduledEventId=5),
        _event(
            7,
            "ActivityTaskCompleted",
            scheduledEventId=5,
            startedEventId=6,
            result=json.dumps({"run_id": "r"}),
        ),
        _event(8, "DecisionTaskScheduled"),
        _event(9, "DecisionTaskStarted", scheduledEventId=8),
        _event(10, "DecisionTaskCompleted", scheduledEventId=8, startedEventId=9),
        _scheduled(11, "activity_2-0", 10),
        _scheduled(12, "activity_2-1", 10),
        _event(13, "ActivityTaskStarted", scheduledEventId=11),
        _event(14, "ActivityTaskCompleted", scheduledEventId=11, startedEventId=13, result=result),
        _event(15, "DecisionTaskScheduled"),
        _event(16, "DecisionTaskStarted", scheduledEventId=15),
        _event(17, "ActivityTaskStarted", scheduledEventId=12),
        _event(18, "ActivityTaskCompleted", scheduledEventId=12, startedEventId=17, result=result),
        _event(19, "DecisionTaskCompleted", scheduledEventId=15, startedEventId=16),
        _event(20, "DecisionTaskScheduled"),
        _event(21, "DecisionTaskStarted", scheduledEventId=20),
    ]


# -- country_flow's results, from examples/country_flow.py's rules written out again -------------


def draw(*parts: object) -> float:
    """The handlers' hash draw: a number in [0, 1) from the parts."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def country_report(days: Sequence[str], countries: Sequence[int]) -> dict[str, str]:
    rows = [int(draw("public-api", country, day) * 1000) for day in days for country in countries]
    return {"report": f"{len(rows)} fetches, {sum(rows)} rows"}


def failing_attempts(seed: str, rate: float, country: int, day: str, limit: int = 10) -> int:
    """How many attempts in a row fail before one succeeds, for one (country, day)."""
    n = 0
    while n < limit and draw(seed, country, day, n + 1) < rate:
        n += 1
    return n


# -- OS processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def process_env(*paths: pathlib.Path | str, **extra: str) -> dict[str, str]:
    """The environment of a flow's processes: dummy credentials, PYTHONPATH, no AWS config files."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PYTHONPATH"}
    env.update(AWS_ENV)
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class Processes:
    """OS processes started by a test, each logging to a file; `close()` ends every one of them."""

    def __init__(self, logs: pathlib.Path, env: dict[str, str], cwd: pathlib.Path = ROOT) -> None:
        self.logs = logs
        self.env = env
        self.cwd = cwd
        self.started: dict[str, subprocess.Popen[bytes]] = {}
        logs.mkdir(parents=True, exist_ok=True)

    def start(
        self, name: str, args: Sequence[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        assert name not in self.started or self.started[name].poll() is not None, f"{name} is running"
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 (closed with the process)
        try:
            process = subprocess.Popen(
                list(args),
                cwd=self.cwd,
                env=env or self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()
        self.started[name] = process
        return process

    def module(self, name: str, module: str, *args: str) -> subprocess.Popen[bytes]:
        return self.start(name, [sys.executable, "-m", module, *args])

    def kill(self, name: str) -> None:
        """SIGKILL: no handler runs, no task is finished or reported."""
        process = self.started[name]
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def tails(self, lines: int = 30) -> str:
        parts = []
        for name in self.started:
            tail = self.log(name).splitlines()[-lines:]
            parts.append(f"--- {name} (last {len(tail)} lines) ---\n" + "\n".join(tail))
        return "\n".join(parts)

    def close(self) -> None:
        """SIGTERM each process still running, then SIGKILL whatever has not ended in 10 s."""
        for process in self.started.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.started.values():
            try:
                process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def wait_for(what: str, condition: Callable[[], bool], timeout: float, interval: float = 0.2) -> None:
    """Poll `condition` until it holds; AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def wait_closed(
    client: Any, domain: str, workflow_id: str, run_id: str, timeout: float, stall: float = 15
) -> None:
    """Wait for the execution to close; fail after `timeout` s, or after `stall` s without a new event."""
    deadline = time.monotonic() + timeout
    seen, since = -1, time.monotonic()
    while execution_info(client, domain, workflow_id, run_id)["executionStatus"] != "CLOSED":
        now = time.monotonic()
        count = len(history(client, domain, workflow_id, run_id))
        if count != seen:
            seen, since = count, now
        if now - since > stall:
            raise AssertionError(f"the execution stalled: no new event in {stall:.0f} s ({seen} events)")
        if now > deadline:
            raise AssertionError(f"the execution did not close in {timeout:.0f} s ({seen} events)")
        time.sleep(0.25)


# -- a moto server in this process, and the mains run against it ------------------------------


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A moto server (SWF, S3, ...) on a free loopback port, in this process; yields its URL.

    In this process, so that moto extensions installed here (tests/moto_swf_children.py) apply to it.
    """
    import logging

    from moto.server import ThreadedMotoServer

    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.WARNING)  # else a line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        werkzeug.setLevel(level)


def run_main(
    env: dict[str, str], module: str, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `python -m module args` to its end (flowgen, register, starter), from the repository."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def build_package(spec: pathlib.Path, out: pathlib.Path) -> pathlib.Path:
    """`flowgen build` of `spec` into out/WORKFLOW (named as the spec file); returns `out`."""
    built = run_main(
        process_env(ROOT), "flowgen", "build", "-q", "--out", str(out / spec.stem), str(spec), timeout=120
    )
    assert built.returncode == 0, built.stderr
    return out
