"""A Gantt picture of one execution, as plain SVG text: `svg(plan, execution) -> str`.

Pure and standard library only (xml.etree builds the tree, so every name is escaped): the same
history always gives the same bytes. Rows are instances (or activities, when there are too many
instances to read), bars are attempts coloured by outcome, a thin dashed line is the wait between
two attempts (a retry timer, or a retry scheduled at once after a time-out), and the critical path
is outlined. docs/generated-package.md shows one.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field

from .history import Attempt, Child, Execution, Instance
from .history import seconds as _seconds
from .ids import REVERT_SUFFIX
from .plan import FlowPlan

# More instances than this and there is one row per activity (and one per activity's reverts).
MAX_ROWS = 200
COLOURS = {
    "completed": "#2e7d32",
    "failed": "#c62828",
    "timed_out": "#ef6c00",
    "canceled": "#9e9e9e",
    "schedule_failed": "#6a1b9a",
    "open": "#1565c0",
}
SVG_NS = "http://www.w3.org/2000/svg"
LABEL_WIDTH, PLOT_WIDTH, RIGHT = 300, 900, 30
ROW, BAR, TOP, LEGEND = 20, 12, 64, 48
LABEL_CHARS = 44
FONT = "font-family:sans-serif;font-size:12px"


@dataclass
class _Bar:
    start: float
    end: float
    outcome: str
    tip: str


@dataclass
class _Row:
    label: str
    tip: str
    instances: list[str]
    bars: list[_Bar] = field(default_factory=list)
    waits: list[tuple[float, float]] = field(default_factory=list)
    critical: bool = False


def svg(plan: FlowPlan, execution: Execution, *, title: str | None = None, max_rows: int = MAX_ROWS) -> str:
    """The SVG text (UTF-8, no XML declaration) of `execution`'s timeline.

    - `plan`: the flow's plan: it orders the rows (activities in plan order, each activity's
      instances by index, its reverts after them) and gives `requires` for the critical path.
    - `execution`: `history.read_history(events)` of the execution's full history; each
      instance's `history` holds its attempts with their times (`eventTimestamp`).
    - `title`: the heading; default `WORKFLOW: STATUS, DURATION`.
    - `max_rows`: above this many instances, one row per activity (its attempts overlap there).

    Times are seconds from WorkflowExecutionStarted. A history without timestamps, or one whose
    events all share one time (a local run whose handlers took no simulated time), is drawn on
    its event ids instead, and the axis says so. Instances that are not the plan's (a history of
    another version) get rows of their own, after the plan's. A sharded activity's child
    executions are rows `ACTIVITY-shard N`, one bar per start, from the parent's history alone.
    """
    clock = _Clock(execution)
    rows = _rows(plan, execution, clock, max_rows)
    path = _critical_path(plan, execution, clock)
    for row in rows:
        row.critical = any(i in path for i in row.instances)
    span = max(clock.end - clock.start, 1e-9)
    height = TOP + ROW * len(rows) + LEGEND
    width = LABEL_WIDTH + PLOT_WIDTH + RIGHT
    root = ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,
            "width": str(width),
            "height": str(height),
            "viewBox": f"0 0 {width} {height}",
            "class": "flowgen-timeline",
        },
    )
    ET.SubElement(
        root, "rect", {"x": "0", "y": "0", "width": str(width), "height": str(height), "fill": "#fff"}
    )
    heading = title if title is not None else _heading(plan, execution, clock)
    _text(
        root,
        heading,
        8,
        20,
        {"class": "title", "style": "font-family:sans-serif;font-size:15px;font-weight:bold"},
    )

    def x(t: float) -> float:
        return LABEL_WIDTH + (t - clock.start) / span * PLOT_WIDTH

    axis = ET.SubElement(root, "g", {"class": "axis"})
    bottom = TOP + ROW * len(rows)
    for tick in _ticks(clock.start, clock.end, clock.events):
        at = _n(x(tick))
        ET.SubElement(
            axis, "line", {"x1": at, "y1": str(TOP - 8), "x2": at, "y2": str(bottom), "stroke": "#e0e0e0"}
        )
        shown = f"#{int(tick)}" if clock.events else _duration(tick - clock.start)
        _text(axis, shown, x(tick), TOP - 12, {"class": "tick", "text-anchor": "middle", "style": FONT})
    _text(
        axis, clock.unit, LABEL_WIDTH + PLOT_WIDTH, 38, {"class": "unit", "text-anchor": "end", "style": FONT}
    )

    for number, row in enumerate(rows):
        top = TOP + ROW * number
        group = ET.SubElement(root, "g", {"class": "row critical" if row.critical else "row"})
        if row.critical:
            ET.SubElement(
                group,
                "rect",
                {
                    "class": "critical-band",
                    "x": "0",
                    "y": str(top),
                    "width": str(width),
                    "height": str(ROW),
                    "fill": "#fff8c4",
                },
            )
        label = _text(
            group,
            _clip(row.label),
            8,
            top + ROW - 6,
            {"class": "name", "style": FONT + (";font-weight:bold" if row.critical else "")},
        )
        ET.SubElement(label, "title").text = _safe(row.tip)
        middle = _n(top + ROW / 2)
        for start, end in row.waits:
            ET.SubElement(
                group,
                "line",
                {
                    "class": "wait",
                    "x1": _n(x(start)),
                    "y1": middle,
                    "x2": _n(x(end)),
                    "y2": middle,
                    "stroke": "#616161",
                    "stroke-width": "1",
                    "stroke-dasharray": "3,2",
                },
            )
        for bar in row.bars:
            left = x(bar.start)
            attributes = {
                "class": f"attempt {bar.outcome}",
                "x": _n(left),
                "y": _n(top + (ROW - BAR) / 2),
                "width": _n(max(x(bar.end) - left, 2.0)),
                "height": str(BAR),
                "fill": COLOURS[bar.outcome],
            }
            if len(row.instances) > 1:
                attributes["fill-opacity"] = "0.6"
            if row.critical:
                attributes.update({"stroke": "#000", "stroke-width": "1.5"})
            rect = ET.SubElement(group, "rect", attributes)
            ET.SubElement(rect, "title").text = _safe(bar.tip)
    _legend(root, bottom + 22)
    return ET.tostring(root, encoding="unicode") + "\n"


class _Clock:
    """Seconds from the start, or event ids when the history's times say nothing."""

    def __init__(self, execution: Execution) -> None:
        attempts = [a for track, _ in _tracks(execution).values() for a in track]
        times = [_seconds(a.scheduled_at) for a in attempts] + [_seconds(execution.started_at)]
        times += [_seconds(a.closed_at) for a in attempts if a.closed_event]
        self.events = any(t is None for t in times) or len(set(times)) < 2
        if self.events:
            self.start = 1.0
            self.end = float(max(execution.last_event_id, 2))
            self.unit = "event ids (the history's times do not tell the attempts apart)"
        else:
            known = [t for t in times if t is not None]
            began = _seconds(execution.started_at)
            self.start = min(known) if began is None else began
            last = [_seconds(execution.closed_at), _seconds(execution.last_at), max(known)]
            self.end = max(t for t in last if t is not None)
            self.unit = "time since the execution started"

    def scheduled(self, attempt: Attempt) -> float:
        if self.events:
            return float(attempt.scheduled_event)
        at = _seconds(attempt.scheduled_at)
        return self.start if at is None else at

    def closed(self, attempt: Attempt) -> float:
        """When the attempt closed; the end of the picture while it is open."""
        return self.at(attempt.closed_event, attempt.closed_at)

    def at(self, event: int, timestamp: object) -> float:
        """Where event `event` (its `timestamp`) falls; the end of the picture for event 0 (not yet)."""
        if not event:
            return self.end
        if self.events:
            return float(event)
        at = _seconds(timestamp)
        return self.end if at is None else at


def _order(positions: dict[str, int], instance_id: str) -> tuple[int, int, int, str]:
    """Rows in plan order: an activity's instances by index, then its reverts; others last."""
    revert = instance_id.endswith(REVERT_SUFFIX)
    base = instance_id[: -len(REVERT_SUFFIX)] if revert else instance_id
    name, _, index = base.partition("-")
    position = positions.get(name, len(positions))
    number = int(index) if index.isascii() and index.isdigit() and len(index) < 10 else -1
    return (position, int(revert), number, instance_id)


def _activity_of(instance_id: str) -> tuple[str, bool]:
    revert = instance_id.endswith(REVERT_SUFFIX)
    base = instance_id[: -len(REVERT_SUFFIX)] if revert else instance_id
    return base.partition("-")[0], revert


def _rows(plan: FlowPlan, execution: Execution, clock: _Clock, max_rows: int) -> list[_Row]:
    positions = {a.name: n for n, a in enumerate(plan.activities)}
    tracks = _tracks(execution)
    ids = sorted(tracks, key=lambda i: _order(positions, i))
    by_activity = len(ids) > max_rows
    rows: list[_Row] = []
    groups: dict[tuple[str, bool], _Row] = {}
    for instance_id in ids:
        if by_activity:
            key = _activity_of(instance_id)
            row = groups.get(key)
            if row is None:
                row = groups[key] = _Row("", "", [])
                rows.append(row)
            row.instances.append(instance_id)
            count = len(row.instances)
            row.label = f"{key[0]}{' revert' if key[1] else ''} ({count} instance{'s' if count != 1 else ''})"
            row.tip = row.label
        else:
            row = _Row(instance_id, instance_id, [instance_id])
            rows.append(row)
        attempts, waiting = tracks[instance_id]
        _draw(row, instance_id, attempts, waiting, clock)
    return rows


# A row's last wait for a retry: None (no wait), or the (event id, time) that ended it, where
# (0, None) means the timer is still open (the wait runs to the end of the picture).
_Wait = tuple[int, object] | None


def _tracks(execution: Execution) -> dict[str, tuple[list[Attempt], _Wait]]:
    """Every row's attempts, and its wait for a retry: each instance, and each shard (a child
    execution, one bar per start) as `ACTIVITY-shard N`."""
    tracks: dict[str, tuple[list[Attempt], _Wait]] = {}
    for key, instance in execution.instances.items():
        if instance.history:
            tracks[key] = (instance.history, _retry_wait(instance))
    for (activity, shard), child in execution.children.items():
        if child.history:
            tracks[f"{activity}-shard {shard}"] = (child.history, _retry_wait(child))
    return tracks


def _retry_wait(state: Instance | Child) -> _Wait:
    """The wait after the last attempt (a shard's start), if its retry timer was started for it."""
    if state.open or not (state.timer == "open" and state.timer_attempt == state.attempts):
        return None
    return state.timer_canceled or (0, None)


def _draw(row: _Row, key: str, attempts: list[Attempt], wait: _Wait, clock: _Clock) -> None:
    previous: float | None = None
    for attempt in attempts:
        start, end = clock.scheduled(attempt), clock.closed(attempt)
        if previous is not None and start > previous:
            row.waits.append((previous, start))
        took = "open" if not attempt.closed_event else _duration(end - start, clock.events)
        tip = f"{key} attempt {attempt.number}: {attempt.outcome.replace('_', ' ')}, {took}"
        row.bars.append(_Bar(start, end, attempt.outcome, tip))
        previous = end
    if previous is not None and wait is not None:
        # A retry timer: to the end of the picture while it is open, else to its cancel.
        until = clock.at(*wait)
        if until > previous:
            row.waits.append((previous, until))


def _critical_path(plan: FlowPlan, execution: Execution, clock: _Clock) -> set[str]:
    """The instances whose ends decided the end: from the one that ended last, back through the
    latest-ending instance of the activities it `requires` (for a revert: the latest that ended
    before it was first scheduled)."""
    spans: dict[str, tuple[float, int, float]] = {}
    for key, (attempts, _) in _tracks(execution).items():
        last = attempts[-1]
        spans[key] = (clock.closed(last), last.closed_event, clock.scheduled(attempts[0]))
    if not spans:
        return set()
    requires = {a.name: set(a.requires) for a in plan.activities}
    current = max(spans, key=lambda k: (spans[k][0], spans[k][1], k))
    path = {current}
    while True:
        name, revert = _activity_of(current)
        began = spans[current][2]
        if revert:
            candidates: Iterable[str] = spans
        else:
            needed = requires.get(name, set())
            candidates = (k for k in spans if not k.endswith(REVERT_SUFFIX) and _activity_of(k)[0] in needed)
        before = [k for k in candidates if k not in path and spans[k][0] <= began]
        if not before:
            return path
        current = max(before, key=lambda k: (spans[k][0], spans[k][1], k))
        path.add(current)


def _heading(plan: FlowPlan, execution: Execution, clock: _Clock) -> str:
    if clock.events:
        return f"{plan.workflow} {plan.version}: {execution.status}"
    return f"{plan.workflow} {plan.version}: {execution.status}, {_duration(clock.end - clock.start)}"


def _ticks(start: float, end: float, events: bool) -> list[float]:
    span = end - start
    if events:
        steps: list[float] = [m * 10**e for e in range(0, 8) for m in (1, 2, 5)]
    else:
        steps = [m * 10.0**e for e in range(-3, 0) for m in (1, 2, 5)]
        steps += [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200]
        steps += [86400 * d for d in (1, 2, 5, 10, 20, 50, 100, 200)]
    step = next((s for s in steps if span / s <= 10), steps[-1])
    # Durations from the start read best from 0; event ids at round numbers.
    first = math.ceil(start / step) * step if events else start
    count = int((end - first) / step + 1e-9) + 1
    return [first + n * step for n in range(count)]


def _duration(seconds: float, events: bool = False) -> str:
    """`0s`, `0.25s`, `45s`, `2m30s`, `1h5m`, `2d3h`; or `N events`."""
    if events:
        return f"{int(seconds)} events"
    if seconds < 60 and seconds != int(seconds):
        return f"{seconds:.3g}s"
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{v}{u}" for v, u in parts if v]
    return "".join(shown[:2]) or "0s"


def _legend(root: ET.Element, top: int) -> None:
    group = ET.SubElement(root, "g", {"class": "legend"})
    left = 8
    for outcome, colour in COLOURS.items():
        ET.SubElement(
            group,
            "rect",
            {
                "class": f"key {outcome}",
                "x": str(left),
                "y": str(top - 10),
                "width": "14",
                "height": "10",
                "fill": colour,
            },
        )
        name = outcome.replace("_", " ")
        _text(group, name, left + 18, top, {"style": FONT})
        left += 18 + 7 * len(name) + 18
    ET.SubElement(
        group,
        "line",
        {
            "class": "key wait",
            "x1": str(left),
            "y1": str(top - 5),
            "x2": str(left + 20),
            "y2": str(top - 5),
            "stroke": "#616161",
            "stroke-dasharray": "3,2",
        },
    )
    _text(group, "wait before a retry", left + 24, top, {"style": FONT})
    left += 24 + 7 * 19 + 18
    ET.SubElement(
        group,
        "rect",
        {
            "class": "key critical",
            "x": str(left),
            "y": str(top - 10),
            "width": "14",
            "height": "10",
            "fill": "#fff8c4",
            "stroke": "#000",
        },
    )
    _text(group, "critical path", left + 18, top, {"style": FONT})


def _text(parent: ET.Element, text: str, x: float, y: float, attributes: dict[str, str]) -> ET.Element:
    element = ET.SubElement(parent, "text", {"x": _n(x), "y": _n(y), **attributes})
    element.text = _safe(text)
    return element


def _clip(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "\u2026"


def _safe(text: str) -> str:
    """Text XML 1.0 can hold: a character it cannot (a control character, a lone surrogate) as
    `\\xNN`/`\\uNNNN`, so that a hostile id never makes the picture unreadable. ElementTree
    escapes `<`, `&` and quotes itself."""
    return "".join(
        c if _allowed(c) else f"\\u{ord(c):04x}" if ord(c) > 0xFF else f"\\x{ord(c):02x}" for c in text
    )


def _allowed(c: str) -> bool:
    code = ord(c)
    if code < 0x20:
        return c in "\t\n\r"
    return not (0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF))


def _n(value: float) -> str:
    """A coordinate: two decimals at most, no trailing zeros, the same text on every machine."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def write_svg(path: str, text: str) -> None:
    """Write the whole file or nothing: a temporary file beside it, renamed over it."""
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".timeline-", suffix=".svg")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
