"""References: `input.FIELD`, `generator.AXIS`, `ACTIVITY`, `ACTIVITY.FIELD`, `ACTIVITY[*].FIELD`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flowgen.diagnostics import show

INPUT = "input"
GENERATOR = "generator"
_REFERENCE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(\[\*\])?(?:\.([A-Za-z_][A-Za-z0-9_]*))?\Z")


@dataclass(frozen=True)
class Reference:
    """A parsed reference. `each` is the `[*]` form over a generated activity."""

    root: str
    field: str | None
    each: bool
    text: str

    @property
    def is_input(self) -> bool:
        return self.root == INPUT

    @property
    def is_generator(self) -> bool:
        return self.root == GENERATOR

    @property
    def activity(self) -> str | None:
        return None if self.root in (INPUT, GENERATOR) else self.root

    def __str__(self) -> str:
        return self.text


def parse_reference(text: str) -> Reference:
    """Parse reference syntax; names are checked later, against the spec."""
    match = _REFERENCE.match(text)
    if match is None:
        raise ValueError(
            f"{show(text)} is not a reference: use input.FIELD, generator.AXIS, ACTIVITY, "
            "ACTIVITY.FIELD or ACTIVITY[*].FIELD (for a literal, write {value: ...})"
        )
    root, each, field = match.group(1), bool(match.group(2)), match.group(3)
    if root in (INPUT, GENERATOR):
        if each:
            raise ValueError(f"{show(text)}: [*] applies to generated activities, not to {root}")
        if field is None:
            what = "FIELD" if root == INPUT else "AXIS"
            raise ValueError(f"{show(text)} needs a name after it: {root}.{what}")
    return Reference(root=root, field=field, each=each, text=text)
