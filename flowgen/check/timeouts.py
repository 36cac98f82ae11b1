"""Time-outs and durations: SWF's bounds and the relations SPEC.md requires."""

from __future__ import annotations

from flowgen.check.effective import Effective, TimeoutValue
from flowgen.diagnostics import Diagnostic, Path, Severity
from flowgen.runtime.limits import MAX_EXECUTION_SECONDS, MAX_RETENTION_DAYS
from flowgen.spec.durations import NO_LIMIT, format_duration
from flowgen.spec.models import Spec

DAY = 86400


def check_workflow_durations(spec: Spec) -> list[Diagnostic]:
    diagnostics: list[Diagnostic] = []
    execution = spec.workflow.execution_timeout
    if not 1 <= execution <= MAX_EXECUTION_SECONDS:
        diagnostics.append(
            Diagnostic(
                ("workflow", "execution_timeout"),
                f"must be from 1s to 365d, found {format_duration(execution)}",
            )
        )
    decision = spec.workflow.decision_timeout
    if isinstance(decision, int) and decision < 1:
        diagnostics.append(Diagnostic(("workflow", "decision_timeout"), "must be at least 1s, or none"))
    retention = spec.domain_retention
    if retention % DAY or not 1 <= retention // DAY <= MAX_RETENTION_DAYS:
        diagnostics.append(
            Diagnostic(
                ("domain_retention",),
                f"must be whole days from 1d to {MAX_RETENTION_DAYS}d, found {format_duration(retention)}",
            )
        )
    return diagnostics


def check_activity_timeouts(spec: Spec, settings: dict[str, Effective]) -> list[Diagnostic]:
    diagnostics: list[Diagnostic] = []
    for name, effective in settings.items():
        own: Path = ("activities", name)
        values, paths = effective.timeouts, effective.timeout_paths
        for key, value in values.items():
            path = paths[key]
            if isinstance(value, int) and value < 1 and path is not None:
                diagnostics.append(Diagnostic(path, "must be at least 1s, or none"))
        heartbeat, run = values["heartbeat"], values["start_to_close"]
        if isinstance(heartbeat, int) and isinstance(run, int) and heartbeat >= run >= 1:
            where = _blame(own, paths["heartbeat"], paths["start_to_close"])
            # Named only when the activity itself set one of them: a default is reported once.
            whose = f" (activity {name})" if where[: len(own)] == own else ""
            diagnostics.append(
                Diagnostic(
                    where,
                    f"heartbeat {format_duration(heartbeat)} must be below start_to_close "
                    f"{format_duration(run)}{whose}",
                )
            )
        total = values["schedule_to_close"]
        if not spec.activities[name].external and run == NO_LIMIT and total == NO_LIMIT:
            diagnostics.append(_unbounded(name, heartbeat))
        if isinstance(total, int) and isinstance(run, int) and 1 <= total < run:
            where = _blame(own, paths["schedule_to_close"], paths["start_to_close"])
            diagnostics.append(
                Diagnostic(
                    where,
                    f"schedule_to_close {format_duration(total)} is shorter than start_to_close "
                    f"{format_duration(run)}: every attempt of {name} is cut at {format_duration(total)}",
                    severity=Severity.WARNING,
                )
            )
    return diagnostics


def _unbounded(name: str, heartbeat: TimeoutValue) -> Diagnostic:
    """The worker heartbeats automatically (at a third of `heartbeat`) only until start_to_close,
    or schedule_to_close when start_to_close is none: an automatic heartbeat with no end would keep
    a hung handler's task open for ever."""
    why = f"no timeout bounds {name}'s handler (start_to_close and schedule_to_close are none)"
    if isinstance(heartbeat, int):
        advice = (
            "so the worker sends no automatic heartbeat: the handler must call context.heartbeat() "
            f"at least every {format_duration(heartbeat)}, or SWF times each attempt out"
        )
    else:
        advice = (
            "and heartbeat is none, so a hung attempt stays open until the execution times out: set "
            "start_to_close or schedule_to_close, or a heartbeat that the handler keeps with "
            "context.heartbeat() (the worker heartbeats automatically only while a timeout bounds it)"
        )
    return Diagnostic(("activities", name), f"{why}, {advice}", severity=Severity.WARNING, at_key=True)


def _blame(own: Path, *paths: Path | None) -> Path:
    """Report where the activity itself set a value; else where the default was set."""
    written = [p for p in paths if p is not None]
    for path in written:
        if path[: len(own)] == own:
            return path
    return written[0] if written else own + ("timeouts",)
