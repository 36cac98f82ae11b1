"""The front of the pipeline: spec file -> located diagnostics and, if valid, a checked spec.

    load (flowgen.load) -> validate (flowgen.spec) -> check (flowgen.check)

Later stages (plan, render, write) start from `Compiled.checked`.
"""

from __future__ import annotations

from dataclasses import dataclass

from flowgen.check import Checked, check
from flowgen.diagnostics import Diagnostic, Located, Severity
from flowgen.load import Document, LoadError, read_spec_file
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
    try:
        document = read_spec_file(file)
    except LoadError as error:
        return Compiled(file, [_locate(file, None, error.diagnostic)], None, error.unreadable)
    spec, diagnostics = validate(document)
    checked = None
    if spec is not None:
        checked, diagnostics = check(spec)
    if strict:
        diagnostics = [_as_error(d) for d in diagnostics]
    located = sorted({_locate(file, document, d) for d in diagnostics}, key=Located.sort_key)
    if any(d.diagnostic.is_error for d in located):
        checked = None
    return Compiled(file, located, checked)


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
