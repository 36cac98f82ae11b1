"""References and their types: every `inputs`, `result` and generator source resolved.

This is where SPEC.md's "References" rules hold: the root exists, an activity
referred to is upstream, output fields and axes exist, `[*]` is used only on
generated activities, generator sources are lists, `date_range` ends are dates,
and each input gets the type of what it refers to (`T | None` after
`on_failure: continue`).
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass, field

from flowgen.diagnostics import Diagnostic, Path, Severity, show
from flowgen.runtime.limits import MAX_PAYLOAD
from flowgen.runtime.plan import TypeRef
from flowgen.spec.models import (
    DateRangeSource,
    ItemsSource,
    LiteralValue,
    RangeSource,
    Spec,
)
from flowgen.spec.references import Reference, parse_reference
from flowgen.spec.types import ANY, DATE, INT, NONE, common_type, list_of, type_of_literal
from flowgen.suggest import did_you_mean

_DATE_TEXT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


@dataclass(frozen=True)
class Axis:
    """One generator axis: its element type and, when known now, its length."""

    name: str
    element: TypeRef
    count: int | None


@dataclass
class Typing:
    """What references make of one activity: axes, instance bound, input types."""

    axes: list[Axis] = field(default_factory=list)
    # Instances known from literal generators (None when a source is dynamic).
    static_instances: int | None = 1
    # Worst case used for the history budget: the static count or max_items.
    max_instances: int = 1
    inputs: dict[str, TypeRef] = field(default_factory=dict)


@dataclass
class Analysis:
    activities: dict[str, Typing]
    result: dict[str, TypeRef]


class _Context:
    """Resolves references seen from one place in the spec."""

    def __init__(
        self,
        spec: Spec,
        upstream: dict[str, set[str]],
        diagnostics: list[Diagnostic],
    ) -> None:
        self.spec = spec
        self.upstream = upstream
        self.diagnostics = diagnostics

    def error(self, path: Path, message: str) -> None:
        self.diagnostics.append(Diagnostic(path, message))

    def resolve(
        self,
        reference: Reference,
        path: Path,
        owner: str | None,
        axes: dict[str, Axis] | None,
    ) -> TypeRef | None:
        """The type `reference` has where it stands, or None after reporting why not.

        `owner` is the activity it belongs to (None in the workflow result);
        `axes` are that activity's own axes (None where generator.* is not allowed).
        """
        spec = self.spec
        if reference.is_input:
            assert reference.field is not None
            declared = spec.workflow.input.get(reference.field)
            if declared is None:
                if not spec.workflow.input:
                    self.error(
                        path,
                        f"unknown input field {show(reference.field)}: workflow.input declares no fields",
                    )
                else:
                    hint = did_you_mean(reference.field, spec.workflow.input)
                    self.error(path, f"unknown input field {show(reference.field)}{hint}")
                return None
            return declared
        if reference.is_generator:
            assert reference.field is not None
            if axes is None:
                where = "the workflow result" if owner is None else "a generator source"
                self.error(path, f"generator.{reference.field} cannot be used in {where}")
                return None
            if not axes and owner is not None and not spec.activities[owner].generators:
                self.error(path, f"{owner} has no generators, so generator.{reference.field} does not exist")
                return None
            axis = axes.get(reference.field)
            if axis is None:
                hint = did_you_mean(reference.field, axes)
                known = "" if hint else f"; its axes are {', '.join(axes)}"
                self.error(path, f"{owner} has no generator axis {show(reference.field)}{hint}{known}")
                return None
            return axis.element
        return self._activity(reference, path, owner)

    def _activity(self, reference: Reference, path: Path, owner: str | None) -> TypeRef | None:
        spec = self.spec
        name = reference.root
        target = spec.activities.get(name)
        if target is None:
            hint = did_you_mean(name, list(spec.activities) + ["input", "generator"])
            self.error(
                path,
                f"unknown reference root {show(name)}: expected input, generator or an activity name{hint}",
            )
            return None
        if owner is not None:
            if name == owner:
                self.error(path, f"{owner} cannot refer to its own output")
                return None
            if name not in self.upstream[owner]:
                self.error(
                    path,
                    f"{name} is not upstream of {owner}: add it to {owner}.requires "
                    "(directly or through an activity it requires)",
                )
                return None
        generated = bool(target.generators)
        if reference.each and not generated:
            self.error(
                path,
                f"{name} is not generated, so {name}[*] does not exist; write {name}"
                + (f".{reference.field}" if reference.field else ""),
            )
            return None
        if generated and not reference.each:
            tail = f".{reference.field}" if reference.field else ""
            self.error(
                path,
                f"{name} is generated (one instance per generator combination): "
                f"write {name}[*]{tail} for the list over its instances",
            )
            return None
        if reference.field is not None:
            declared = target.outputs.get(reference.field)
            if declared is None:
                if not target.outputs:
                    self.error(
                        path, f"unknown output field {show(reference.field)}: {name} declares no outputs"
                    )
                else:
                    hint = did_you_mean(reference.field, target.outputs)
                    known = "" if hint else f"; it declares {', '.join(target.outputs)}"
                    self.error(path, f"unknown output field {show(reference.field)} of {name}{hint}{known}")
                return None
            value = declared
        elif target.outputs:
            value = TypeRef("record", name=name, fields=tuple(target.outputs.items()))
        else:
            value = NONE
        if target.on_failure == "continue":
            value = value.optional()
        return list_of(value) if reference.each else value


def analyse(spec: Spec, upstream: dict[str, set[str]], order: list[str]) -> tuple[Analysis, list[Diagnostic]]:
    diagnostics: list[Diagnostic] = []
    context = _Context(spec, upstream, diagnostics)
    typings: dict[str, Typing] = {}
    for name in order:
        typings[name] = _activity(context, name)
    result: dict[str, TypeRef] = {}
    for key, source in spec.workflow.result.items():
        path = ("workflow", "result", key)
        typed = _source_type(context, source, path, owner=None, axes=None)
        if typed is not None:
            result[key] = typed
    return Analysis(activities=typings, result=result), diagnostics


def _source_type(
    context: _Context,
    source: Reference | LiteralValue,
    path: Path,
    owner: str | None,
    axes: dict[str, Axis] | None,
) -> TypeRef | None:
    if isinstance(source, LiteralValue):
        # With `payloads`, a larger value goes to S3 like any other; without, SWF refuses it.
        size = len(json.dumps(source.value, ensure_ascii=False))
        if size > MAX_PAYLOAD and context.spec.payloads is None:
            context.error(
                path + ("value",),
                f"the literal is {size:,} characters as JSON; SWF inputs hold at most {MAX_PAYLOAD:,}: "
                "set payloads.s3 in the spec to keep larger values in S3",
            )
            return None
        return type_of_literal(source.value)
    return context.resolve(source, path, owner, axes)


def _activity(context: _Context, name: str) -> Typing:
    activity = context.spec.activities[name]
    base: Path = ("activities", name)
    typing = Typing()
    axes: dict[str, Axis] = {}
    for axis_name, source in activity.generators.items():
        axis = _axis(context, name, axis_name, source, base + ("generators", axis_name))
        axes[axis_name] = axis
        typing.axes.append(axis)
    if activity.generators:
        counts = [axis.count for axis in typing.axes]
        static: int | None = 1
        for count in counts:
            static = None if static is None or count is None else static * count
        typing.static_instances = static
        if static is None:
            if activity.max_items is None:
                dynamic = [a.name for a in typing.axes if a.count is None]
                # At the first axis known only at run time, not at whichever axis comes first.
                context.error(
                    base + ("generators", dynamic[0]),
                    f"generator {', '.join(dynamic)} is known only at run time: set max_items, "
                    "the most instances this activity may have (the history budget is checked with it)",
                )
                typing.max_instances = 1
            else:
                typing.max_instances = activity.max_items
        else:
            if activity.max_items is not None and static > activity.max_items:
                context.error(
                    base + ("max_items",),
                    f"the generators give {static:,} instances, more than max_items {activity.max_items:,}",
                )
            typing.max_instances = max(static, 0)
    for key, given in activity.inputs.items():
        typed = _source_type(context, given, base + ("inputs", key), owner=name, axes=axes)
        if typed is not None:
            typing.inputs[key] = typed
    return typing


def _axis(context: _Context, owner: str, name: str, source: object, path: Path) -> Axis:
    if isinstance(source, Reference):
        typed = context.resolve(source, path, owner, axes=None)
        if typed is None:
            return Axis(name, ANY, None)
        element = typed.element()
        if element is None:
            why = ""
            if typed.is_optional:
                why = " (it may be None"
                why += ": its activity has on_failure: continue)" if source.activity else ")"
            context.error(path, f"a generator source must be a list; {source.text} is {typed}{why}")
            return Axis(name, ANY, None)
        return Axis(name, element, None)
    if isinstance(source, ItemsSource):
        kinds = {type_of_literal(item) for item in source.items}
        return Axis(name, common_type(kinds) if kinds else ANY, len(source.items))
    if isinstance(source, RangeSource):
        if len(source.range) == 3 and source.range[2] == 0:
            context.error(path + ("range", 2), "a range step cannot be 0")
            return Axis(name, INT, 0)
        return Axis(name, INT, len(range(*source.range)))
    assert isinstance(source, DateRangeSource)
    ends: list[datetime.date | None] = []
    dynamic = False
    for key in ("start", "end"):
        text = getattr(source.date_range, key)
        end_path = path + ("date_range", key)
        if _DATE_TEXT.match(text):
            ends.append(_literal_date(context, text, end_path))
        else:
            # Only a well-formed reference makes the axis dynamic; a bad one is reported once.
            dynamic = _check_date_reference(context, owner, text, end_path) or dynamic
            ends.append(None)
    start, end = ends
    if not dynamic and (start is None or end is None):
        return Axis(name, DATE, 0)  # a bad literal, already reported
    if start is not None and end is not None:
        count = max((end - start).days + 1, 0)
        if count == 0:
            context.diagnostics.append(
                Diagnostic(
                    path,
                    f"date_range ends before it starts ({start} > {end}): no instances",
                    severity=Severity.WARNING,
                )
            )
        return Axis(name, DATE, count)
    return Axis(name, DATE, None)


def _literal_date(context: _Context, text: str, path: Path) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        context.error(path, f"{show(text)} is not a valid date")
        return None


def _check_date_reference(context: _Context, owner: str, text: str, path: Path) -> bool:
    """Check a date_range end that is not a literal date; whether it is a reference."""
    try:
        reference = parse_reference(text)
    except ValueError as error:
        context.error(path, f"neither an ISO date (2024-01-31) nor a reference: {error}")
        return False
    typed = context.resolve(reference, path, owner, axes=None)
    if typed is not None and typed != DATE:
        context.error(path, f"a date_range end must be a date; {text} is {typed}")
    return True
