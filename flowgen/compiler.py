"""The front of the pipeline: spec file -> located diagnostics and, if valid, a checked spec.

    load (flowgen.load) -> validate (flowgen.spec) -> check (flowgen.check)

Later stages (plan, render, write) start from `Compiled.checked`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flowgen.check import Checked, check
from flowgen.diagnostics import Diagnostic, Located, Severity, show
from flowgen.load import Document, LoadError, read_spec_file
from flowgen.spec.names import package_name
from flowgen.spec.validate import validate

if TYPE_CHECKING:
    from flowgen.runtime.register import ActivityRegistration


@dataclass(frozen=True)
class Compiled:
    file: str
    diagnostics: list[Located]
    checked: Checked | None
    # The file could not be read at all: a usage problem rather than a bad spec.
    unreadable: bool = False

    @property
    def errors(self) -> list[Located]:
        return [d for d in self.diagnostics if d.diagnostic.is_error]

    @property
    def warnings(self) -> list[Located]:
        return [d for d in self.diagnostics if not d.diagnostic.is_error]


# Whether a package on disk already belongs to another workflow: (package name, workflow name,
# spec file) -> why this spec may not build there, or None. flowgen.build reads the manifests;
# the compiler only asks, so that `validate` refuses what `build` would.
HeldBy = Callable[[str, str, str], str | None]


def compile_spec(file: str, strict: bool = False) -> Compiled:
    """Load, validate and check one spec file. Never raises for bad input."""
    return _compile(file, strict)[0]


def compile_specs(files: list[str], strict: bool = False, held: HeldBy | None = None) -> list[Compiled]:
    """Compile the specs of one command, and refuse two workflows that make one package (each
    would replace the other's package in generated/), a workflow whose package folder holds
    another workflow's package (`held`: built before, by another spec), or two that register
    one activity type differently (SWF keeps the first registration: `register` of the other
    reports drift, or, for a description, keeps the first one's silently)."""
    results = [_compile(file, strict) for file in files]
    first: dict[str, tuple[str, str]] = {}  # package name -> (file, workflow name)
    found: dict[int, list[Diagnostic]] = {}  # index in results -> what the specs together add
    for index, (compiled, document) in enumerate(results):
        if compiled.checked is None or document is None:
            continue
        workflow = compiled.checked.spec.workflow.name
        package = package_name(workflow)
        if package not in first:
            first[package] = (compiled.file, workflow)
            problem = held(package, workflow, compiled.file) if held is not None else None
            if problem is not None:
                found.setdefault(index, []).append(Diagnostic(("workflow", "name"), problem))
            continue
        other_file, other = first[package]
        clash = Diagnostic(
            ("workflow", "name"),
            f"workflow {show(workflow)} here and workflow {show(other)} in {other_file} both make the "
            f"package {show(package)}, so one would replace the other; rename one of them",
        )
        found.setdefault(index, []).append(clash)
    valid = [(i, c.file, c.checked) for i, (c, _) in enumerate(results) if c.checked and i not in found]
    if len(valid) > 1:
        for index, clash in _type_clashes(valid):
            found.setdefault(index, []).append(clash)
    out = []
    for index, (compiled, document) in enumerate(results):
        if index not in found:
            out.append(compiled)
            continue
        added = {_locate(compiled.file, document, d) for d in found[index]}
        out.append(
            Compiled(compiled.file, sorted({*compiled.diagnostics, *added}, key=Located.sort_key), None)
        )
    return out


def _type_clashes(specs: list[tuple[int, str, Checked]]) -> list[tuple[int, Diagnostic]]:
    """Activity types that two of `specs` (index, file, checked) register in one domain with
    different settings: the second one to do so gets an error naming the first."""
    # Built only for several valid specs at once: the plan, and botocore through register.py.
    from flowgen.plan import build_plan
    from flowgen.runtime.register import activity_registrations

    first: dict[tuple[str, str, str], tuple[str, str, ActivityRegistration]] = {}
    clashes: list[tuple[int, Diagnostic]] = []
    for index, file, checked in specs:
        plan = build_plan(checked)
        of_type = {t: a.name for a in plan.activities for t in (a.type_name, a.revert_type) if t}
        reported: set[str] = set()
        for registration in activity_registrations(plan):
            activity = of_type[registration.name]
            key = (plan.domain, registration.name, registration.version)
            if key not in first:
                first[key] = (file, activity, registration)
                continue
            other_file, other_activity, other = first[key]
            difference = _difference(registration, other)
            if difference is None or activity in reported:
                continue
            reported.add(activity)
            explicit = checked.spec.activities[activity].type_name is not None
            clashes.append(
                (
                    index,
                    Diagnostic(
                        ("activities", activity, "type_name") if explicit else ("activities", activity),
                        f"activity type {show(registration.name)} version {show(registration.version)} "
                        f"in domain {show(plan.domain)} is registered here with {difference[0]}, and by "
                        f"activity {other_activity} in {other_file} with {difference[1]}: SWF keeps one "
                        "registration per type, so give one of them its own type_name or version",
                        at_key=not explicit,
                    ),
                )
            )
    return clashes


def _difference(one: ActivityRegistration, other: ActivityRegistration) -> tuple[str, str] | None:
    """The first setting two registrations of one type disagree on, as each has it; None if none."""
    from flowgen.runtime.register import IMPLICIT_DEFAULTS

    for key in sorted({*one.defaults, *other.defaults}):
        # A priority left out is SWF's 0, as register.py compares it.
        mine = one.defaults.get(key, IMPLICIT_DEFAULTS.get(key))
        theirs = other.defaults.get(key, IMPLICIT_DEFAULTS.get(key))
        if mine != theirs:
            return _setting(key, mine), _setting(key, theirs)
    if one.description != other.description:
        return _setting("description", one.description), _setting("description", other.description)
    return None


def _setting(key: str, value: object) -> str:
    if value is None:
        return f"no {key}"
    if isinstance(value, dict):  # defaultTaskList: {"name": ...}
        value = value.get("name")
    return f"{key} {show(value, 40)}"


def _compile(file: str, strict: bool) -> tuple[Compiled, Document | None]:
    try:
        document = read_spec_file(file)
    except LoadError as error:
        return Compiled(file, [_locate(file, None, error.diagnostic)], None, error.unreadable), None
    spec, diagnostics = validate(document)
    checked = None
    if spec is not None:
        checked, diagnostics = check(spec)
    if strict:
        diagnostics = [_as_error(d) for d in diagnostics]
    located = sorted({_locate(file, document, d) for d in diagnostics}, key=Located.sort_key)
    if any(d.diagnostic.is_error for d in located):
        checked = None
    return Compiled(file, located, checked), document


def _as_error(diagnostic: Diagnostic) -> Diagnostic:
    if diagnostic.is_error:
        return diagnostic
    return Diagnostic(
        diagnostic.path, diagnostic.message, Severity.ERROR, diagnostic.at_key, diagnostic.position
    )


def _locate(file: str, document: Document | None, diagnostic: Diagnostic) -> Located:
    position = diagnostic.position
    if position is None:
        assert document is not None
        position = document.position_of(diagnostic.path, diagnostic.at_key)
    return Located(file, position, diagnostic)
