"""The status facts of hand-built histories: child workflow shards followed, times, JSON log lines."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from histories import History
from moto_swf import GENERATED

if str(GENERATED) not in sys.path:
    sys.path.append(str(GENERATED))

import regional_etl.flow

from flowgen.runtime.history import read_history
from flowgen.runtime.logs import JsonFormatter
from flowgen.runtime.operate import execution_status
from flowgen.runtime.plan import FlowPlan
from flowgen.runtime.status import summarize

ETL: FlowPlan = FlowPlan.from_data(regional_etl.flow.PLAN.to_data())
ETL_INPUT = {
    "dataset": "billing",
    "start": "2024-03-01",
    "end": "2024-03-02",
    "spark_conf": {},
    "requested_at": "2024-03-03T06:30:00+00:00",
}


class Histories:
    """get_workflow_execution_history over stored histories, two events a page."""

    def __init__(self, histories: dict[str, list[dict[str, Any]]]) -> None:
        self.histories = histories
        self.pages = 0

    def get_workflow_execution_history(self, **request: Any) -> dict[str, Any]:
        events = self.histories[request["execution"]["workflowId"]]
        start = int(request.get("nextPageToken", 0))
        self.pages += 1
        page: dict[str, Any] = {"events": events[start : start + 2]}
        if start + 2 < len(events):
            page["nextPageToken"] = str(start + 2)
        return page


def child(items: list[dict[str, str]], outcomes: list[str]) -> History:
    h = History({"items": items})
    for index, outcome in enumerate(outcomes):
        h.schedule(f"extract-{index}", "regional_etl.extract")
        if outcome == "completed":
            h.completed(f"extract-{index}", {"path": "s3://x", "rows": 1, "checksum": "c"})
        elif outcome == "open":
            h.start(f"extract-{index}")
    return h


def test_child_workflow_shards_are_counted_under_their_activity() -> None:
    parent = History(ETL_INPUT)
    parent.schedule("list_regions", "regional_etl.list_regions")
    parent.completed("list_regions", {"regions": ["eu", "us"]})
    shard = ETL.shard_plan("extract").workflow
    for workflow_id in ("etl-1-extract-0", "etl-1-extract-1"):
        parent.add(
            "ChildWorkflowExecutionStarted",
            workflowExecution={"workflowId": workflow_id, "runId": "r-" + workflow_id},
            workflowType={"name": shard, "version": ETL.version},
            initiatedEventId=1,
        )
    items = [{"dataset": "billing", "day": "2024-03-01", "region": r} for r in ("eu", "us")]
    client = Histories(
        {
            "etl-1": parent.events,
            "etl-1-extract-0": child(items, ["completed", "completed"]).events,
            "etl-1-extract-1": child(items, ["completed", "open"]).events,
        }
    )
    found = execution_status(ETL, client, "d", "etl-1", "r-1")  # type: ignore[arg-type]
    assert found.status == "OPEN"
    assert found.activities["extract"].counts() == {
        "instances": 4,
        "completed": 3,
        "failed": 0,
        "open": 1,
        "waiting": 0,
        "retrying": 0,
        "reverted": 0,
        "attempts": 4,
    }
    # Every history was read page by page, two events at a time.
    assert client.pages == sum((len(h) + 1) // 2 for h in client.histories.values())
    # The children's handler times are the parent's: each closed attempt took 1 s.
    assert (found.activities["extract"].slowest, found.activities["extract"].total) == (1.0, 3.0)


def test_handler_times_are_read_from_the_attempts_history_records() -> None:
    h = History(ETL_INPUT)
    h.schedule("list_regions", "regional_etl.list_regions")
    h.failed("list_regions", "ValueError: no")
    h.timer_started(
        "retry-1-list_regions", 5, json.dumps({"kind": "retry", "activity_id": "list_regions", "attempt": 1})
    )
    h.fired("retry-1-list_regions")
    h.schedule("list_regions#2", "regional_etl.list_regions")
    started = h.start("list_regions#2")
    h.add("MarkerRecorded", markerName="note")
    h.add("MarkerRecorded", markerName="note")
    h.add(
        "ActivityTaskCompleted",
        result=json.dumps({"regions": []}),
        scheduledEventId=h.scheduled["list_regions#2"],
        startedEventId=started,
    )
    status = summarize(ETL, h.events)
    # From each attempt's ActivityTaskStarted to its close: 1 s, then 3 s; the retry wait is not a handler's.
    found = status.activities["list_regions"]
    assert (found.attempts, found.completed, found.slowest, found.total) == (2, 1, 3.0, 4.0)
    first, second = read_history(h.events).instances["list_regions"].history
    assert (first.outcome, first.handler_seconds, second.outcome, second.handler_seconds) == (
        "failed",
        1.0,
        "completed",
        3.0,
    )


def test_json_log_lines_carry_the_execution_activity_instance_and_attempt() -> None:
    record = logging.LogRecord("w", logging.WARNING, "f.py", 1, "failed after %s s", (2,), None)
    record.__dict__.update(
        domain="shop", workflow_id="o-1", run_id="r", activity_id="close_order-3#2", activity_type="t"
    )
    line = JsonFormatter().format(record)
    data = json.loads(line)
    assert "\n" not in line
    assert {k: v for k, v in data.items() if k != "time"} == {
        "level": "WARNING",
        "logger": "w",
        "message": "failed after 2 s",
        "domain": "shop",
        "workflow_id": "o-1",
        "run_id": "r",
        "activity_id": "close_order-3#2",
        "activity_type": "t",
        "instance": "close_order-3",
        "attempt": 2,
    }


def test_status_reads_the_decider_through_its_public_functions_only() -> None:
    """status.py expands instances with `decider.instances_of`, so a change to the decider's
    internals (any `_name`) cannot break it unseen."""
    import ast
    import inspect

    from flowgen.runtime import status

    tree = ast.parse(inspect.getsource(status))
    used = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "decider"
    }
    assert used and not {name for name in used if name.startswith("_")}


def test_instances_of_expands_as_the_decider_does() -> None:
    from flowgen.runtime.decider import instances_of
    from flowgen.runtime.history import read_history

    parent = History(ETL_INPUT)
    parent.schedule("list_regions", "regional_etl.list_regions")
    regions = [f"r{n:02d}" for n in range(26)]
    parent.completed("list_regions", {"regions": regions})
    found = instances_of(ETL, read_history(parent.events), "etl-1")
    # Two days by 26 regions, over extract's shard_size of 50: counted, built one at a time.
    assert set(found.sharded) == {"extract"} and "extract" not in found.planned
    assert [i.id for i in found.planned["list_regions"]] == ["list_regions"]
    shards = found.sharded["extract"]
    assert (shards.total, shards.count, shards.bounds(1)) == (52, 2, (50, 52))
    last = shards.instance(51)
    assert (last.id, last.values) == ("extract-51", {"day": "2024-03-02", "region": "r25"})
    # An input the decider refuses: nothing expanded, and no exception.
    broken = History({"dataset": 1})
    assert instances_of(ETL, read_history(broken.events)) == type(found)({}, {})
