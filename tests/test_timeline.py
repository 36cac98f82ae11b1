"""The timeline picture (flowgen/runtime/timeline.py) and cancelling a local run.

The SVG is checked by parsing it: rows, one bar per attempt with its outcome's class and colour,
the retry waits, the critical path, the axis, and hostile names escaped. Where the machine has
Chromium, it is also rendered once and the picture must not be blank.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import pathlib
import sys
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from flowgen.cli import main
from flowgen.compiler import compile_spec
from flowgen.plan import build_plan
from flowgen.runtime.handlers import handlers_for
from flowgen.runtime.history import read_history
from flowgen.runtime.local import LocalRunner, Result
from flowgen.runtime.plan import FlowPlan
from flowgen.runtime.timeline import COLOURS, svg
from tests.chromium import assert_not_blank, needs_chromium, screenshot
from tests.histories import History

ROOT = pathlib.Path(__file__).resolve().parent.parent
NS = "{http://www.w3.org/2000/svg}"
ORDER = {
    "order_id": "o-1",
    "customer_id": "cus-alice",
    "items": {"BOOK-001": 1},
    "shipping_address": "1 Main St",
    "coupon": None,
    "placed_at": "2024-01-01T00:00:00Z",
}


def _order_plan() -> FlowPlan:
    compiled = compile_spec(str(ROOT / "specs" / "order_flow.yaml"))
    assert compiled.checked is not None
    return build_plan(compiled.checked)


def _run(fault: Any = None, cancel_at: float | None = None) -> tuple[FlowPlan, Result]:
    plan = _order_plan()
    sys.path.insert(0, str(ROOT))
    try:
        runner = LocalRunner(plan, handlers_for(plan), workers=1, fault=fault)
        return plan, runner.run(ORDER, cancel_at=cancel_at)
    finally:
        sys.path.remove(str(ROOT))


def _retries(instance: str, attempt: int) -> str | None:
    """charge_payment times out once (a 10s wait), the e-mail fails twice (1m, then 2m waits)."""
    if instance == "charge_payment" and attempt == 1:
        return "SCHEDULE_TO_START"
    if instance == "send_confirmation_email" and attempt < 3:
        return "fail"
    return None


def _rows(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(NS + "g") if "row" in (g.get("class") or "").split()]


def _name(row: ET.Element) -> str:
    text = row.find(NS + "text")
    assert text is not None and text.text is not None
    return text.text


def _bars(row: ET.Element) -> list[tuple[str, str]]:
    return [
        (r.get("class") or "", r.get("fill") or "")
        for r in row.findall(NS + "rect")
        if "attempt" in (r.get("class") or "")
    ]


def test_one_row_per_instance_one_bar_per_attempt_coloured_by_outcome() -> None:
    plan, result = _run(_retries)
    assert result.status == "COMPLETED"
    root = ET.fromstring(svg(plan, read_history(result.history)))
    rows = {_name(row): row for row in _rows(root)}
    assert list(rows) == [a.name for a in plan.activities]
    completed = ("attempt completed", COLOURS["completed"])
    assert _bars(rows["charge_payment"]) == [("attempt timed_out", COLOURS["timed_out"]), completed]
    failed = ("attempt failed", COLOURS["failed"])
    assert _bars(rows["send_confirmation_email"]) == [failed, failed, completed]
    assert _bars(rows["close_order"]) == [completed]
    # The waits between attempts: one for the payment, two for the e-mail.
    assert len(rows["charge_payment"].findall(NS + "line")) == 1
    waits = rows["send_confirmation_email"].findall(NS + "line")
    assert [w.get("class") for w in waits] == ["wait", "wait"]
    assert float(waits[1].get("x2") or 0) > float(waits[0].get("x2") or 0)
    # The critical path: the e-mail's waits decided when close_order could run.
    critical = [_name(row) for row in _rows(root) if "critical" in (row.get("class") or "")]
    assert critical[-3:] == ["create_shipment", "send_confirmation_email", "close_order"]
    assert "price_order" not in critical and "award_loyalty_points" not in critical
    # The axis: durations from the start, up to the run's 3m10s.
    axis = next(g for g in root.iter(NS + "g") if g.get("class") == "axis")
    ticks = [t.text for t in axis.findall(NS + "text") if t.get("class") == "tick"]
    assert ticks == ["0s", "30s", "1m", "1m30s", "2m", "2m30s", "3m"]


def test_the_same_history_gives_the_same_bytes() -> None:
    plan, first = _run(_retries)
    _, second = _run(_retries)
    assert svg(plan, read_history(first.history)) == svg(plan, read_history(second.history))


def test_too_many_instances_give_one_row_per_activity() -> None:
    plan, result = _run(_retries)
    root = ET.fromstring(svg(plan, read_history(result.history), max_rows=3))
    rows = _rows(root)
    assert [_name(row) for row in rows][3] == "charge_payment (1 instance)"
    assert len(rows) == len(plan.activities)


def test_a_run_that_takes_no_simulated_time_is_drawn_on_event_ids() -> None:
    plan, result = _run()
    assert result.seconds == 0
    root = ET.fromstring(svg(plan, read_history(result.history)))
    unit = next(t for t in root.iter(NS + "text") if t.get("class") == "unit")
    assert (unit.text or "").startswith("event ids")
    starts = [float(r.get("x") or 0) for row in _rows(root) for r in row.findall(NS + "rect")]
    assert len(set(starts)) > 3  # the attempts are apart, not all at 0


def test_hostile_names_are_escaped() -> None:
    hostile = "<script>alert(1)</script>&amp;\x01"
    plan = dataclasses.replace(_order_plan(), workflow="w<script>&")
    h = History({})
    h.schedule(hostile)
    h.completed(hostile, {})
    h.schedule("x&y")
    text = svg(plan, read_history(h.events))
    assert "<script" not in text and "\x01" not in text
    root = ET.fromstring(text)  # well-formed
    assert not list(root.iter(NS + "script")) and not list(root.iter("script"))
    names = [_name(row) for row in _rows(root)]
    assert names == ["<script>alert(1)</script>&amp;\\x01", "x&y"]
    title = next(t for t in root.iter(NS + "text") if t.get("class") == "title")
    assert title.text == "w<script>& 2.1: OPEN, 4s"


def test_open_attempts_are_drawn_to_the_end_of_the_history() -> None:
    plan = _order_plan()
    h = History({})
    h.schedule("validate_order")
    h.add("DecisionTaskScheduled")
    root = ET.fromstring(svg(plan, read_history(h.events)))
    assert _bars(_rows(root)[0]) == [("attempt open", COLOURS["open"])]


@needs_chromium
def test_chromium_renders_a_picture(tmp_path: pathlib.Path) -> None:
    plan, result = _run(_retries)
    page = tmp_path / "timeline.svg"
    page.write_text(svg(plan, read_history(result.history)), encoding="utf-8")
    assert_not_blank(screenshot(page, tmp_path / "timeline.png", 1230, 300))


# -- cancelling a local run ---------------------------------------------------------------------------


def _scheduled(history: list[dict[str, Any]]) -> list[str]:
    return [
        e["activityTaskScheduledEventAttributes"]["activityId"]
        for e in history
        if e["eventType"] == "ActivityTaskScheduled"
    ]


def test_a_local_run_cancelled_mid_way_reverts_what_completed_newest_first() -> None:
    # The e-mail fails once and waits a minute to retry: the cancel at 30s comes in that wait.
    _, result = _run(lambda i, n: "fail" if (i, n) == ("send_confirmation_email", 1) else None, 30)
    assert result.status == "CANCELED"
    assert result.seconds == 30
    reverts = [i for i in _scheduled(result.history) if i.endswith(".revert")]
    assert reverts == ["create_shipment.revert", "charge_payment.revert", "reserve_inventory.revert"]
    kinds = [e["eventType"] for e in result.history]
    assert kinds.index("WorkflowExecutionCancelRequested") < kinds.index("TimerCanceled")
    assert kinds[-1] == "WorkflowExecutionCanceled"
    assert "send_confirmation_email#2" not in _scheduled(result.history)


def test_a_canceled_retry_wait_ends_at_its_cancel() -> None:
    # The e-mail's retry wait is canceled at 30s; the reverts then take a minute (the events
    # after the TimerCanceled are moved on), so the picture ends at 1m30s.
    plan, result = _run(lambda i, n: "fail" if (i, n) == ("send_confirmation_email", 1) else None, 30)
    kinds = [e["eventType"] for e in result.history]
    canceled = kinds.index("TimerCanceled")
    history = [
        {**e, "eventTimestamp": e["eventTimestamp"] + datetime.timedelta(seconds=60)} if n > canceled else e
        for n, e in enumerate(result.history)
    ]
    root = ET.fromstring(svg(plan, read_history(history)))
    rows = {_name(row): row for row in _rows(root)}
    waits = rows["send_confirmation_email"].findall(NS + "line")
    assert [w.get("class") for w in waits] == ["wait"]
    # 300 px of labels, then 900 px for 90 s: the cancel at 30 s is at 600 px, not at the end.
    assert (waits[0].get("x1"), waits[0].get("x2")) == ("300", "600")


def test_a_local_run_that_ends_before_the_cancel_completes() -> None:
    _, result = _run(cancel_at=60)
    assert result.status == "COMPLETED"


def test_flowgen_run_cancel_after_and_timeline(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    picture = tmp_path / "run.svg"
    code = main(
        [
            "run",
            str(ROOT / "specs" / "order_flow.yaml"),
            "--input",
            '{"order_id": "o-1", "customer_id": "cus-alice", "items": {"BOOK-001": 1}, '
            '"shipping_address": "x", "coupon": null, "placed_at": "2024-01-01T00:00:00Z"}',
            "--cancel-after",
            "0s",
            "--timeline",
            str(picture),
            "--log-level",
            "WARNING",
        ]
    )
    assert code == 1
    assert capsys.readouterr().err.splitlines()[-1] == "CANCELED: canceled on request"
    root = ET.parse(picture).getroot()
    title = next(t for t in root.iter(NS + "text") if t.get("class") == "title")
    assert title.text == "order_flow 2.1: CANCELED"
    assert [p.name for p in tmp_path.iterdir()] == ["run.svg"]  # no temporary file left


def test_timeline_into_a_missing_folder_is_a_usage_error(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "nowhere" / "t.svg"
    code = main(["run", str(ROOT / "specs" / "order_flow.yaml"), "--timeline", str(target)])
    assert code == 2
    assert capsys.readouterr().err.strip().endswith(f"--timeline {target}: no such folder")
    assert not os.path.exists(target)


def test_a_sharded_activity_is_drawn_one_bar_per_shard() -> None:
    from tests.test_shard_runtime import _run as run_shards
    from tests.test_shard_runtime import _spec, plan_from, sharded

    plan = sharded(plan_from(_spec()), "fan", 5)
    result = run_shards(plan)
    assert result.status == "COMPLETED"
    root = ET.fromstring(svg(plan, read_history(result.history)))
    rows = {_name(row): row for row in _rows(root)}
    assert list(rows) == [f"fan-shard {k}" for k in range(5)] + ["after"]
    assert all(
        _bars(rows[f"fan-shard {k}"]) == [("attempt completed", COLOURS["completed"])] for k in range(5)
    )
