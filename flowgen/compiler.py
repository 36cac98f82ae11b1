"""The front of the pipeline: spec file -> located diagnostics and, if valid, a checked spec.

    load (flowgen.load) -> validate (flowgen.spec) -> check (flowgen.check)

Later stages (plan, render, write) start from `Compiled.checked`.
"""

from __future__ import annotations

from dataclasses import dataclass

from flowgen.check import Checked, check
from flowgen.diagnostics import Diagnostic, Located, Severity, show
from flowgen.load import Document, LoadError, read_spec_file
from flowgen.spec.names import package_name
from flowgen.spec.validate import validate


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


def compile_spec(file: str, strict: bool = False) -> Compiled:
    """Load, validate and check one spec file. Never raises for bad input."""
    return _compile(file, strict)[0]


def compile_specs(files: list[str], strict: bool = False) -> list[Compiled]:
    """Compile the specs of one command, and refuse two workflows that make one package:
    each would replace the other's package in generated/."""
    results = [_compile(file, strict) for file in files]
    first: dict[str, tuple[str, str]] = {}  # package name -> (file, workflow name)
    out = []
    for compiled, document in results:
        if compiled.checked is None or document is None:
            out.append(compiled)
            continue
        workflow = compiled.checked.spec.workflow.name
        package = package_name(workflow)
        if package not in first:
            first[package] = (compiled.file, workflow)
            out.append(compiled)
            continue
        other_file, other = first[package]
        clash = Diagnostic(
            ("workflow", "name"),
            f"workflow {show(workflow)} here and workflow {show(other)} in {other_file} both make the "
            f"package {show(package)}, so one would replace the other; rename one of them",
        )
        located = sorted(
            {*compiled.diagnostics, _locate(compiled.file, document, clash)}, key=Located.sort_key
        )
        out.append(Compiled(compiled.file, located, None))
    return out


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
