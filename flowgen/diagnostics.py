"""Diagnostics: located errors and warnings, and how they are printed.

Every stage of the pipeline reports problems as `Diagnostic` values that carry a
data path (the keys and indices from the top of the spec down to the value at
fault). The path is turned into a line and column through the loaded document's
position map, and printed as `FILE:LINE:COL: PATH: message`.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass, field
from typing import Union

PathPart = Union[str, int]
Path = tuple[PathPart, ...]

_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*\Z")


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Position:
    """A 1-based line and column in a spec file."""

    line: int
    column: int


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a spec, at a data path."""

    path: Path
    message: str
    severity: Severity = Severity.ERROR
    # The key itself rather than its value is at fault (unknown or duplicate keys).
    at_key: bool = False
    # Set when the position is known up front (the loader knows it; later stages
    # look it up from the path).
    position: Position | None = field(default=None, compare=False)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def format_path(path: Path) -> str:
    """`activities.a.inputs.x`, `requires[1]`, `["odd key"]`; `spec` for the root."""
    if not path:
        return "spec"
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += ("." if out else "") + part
        else:
            out += "[" + _one_line(json.dumps(part, ensure_ascii=False)) + "]"
    return out


def _one_line(text: str) -> str:
    # json.dumps keeps U+2028/U+2029 and other line separators; messages are one line.
    return "".join(ch if ch.isprintable() or ch == " " else f"\\u{ord(ch):04x}" for ch in text)


def show(value: object, limit: int = 60) -> str:
    """A user's value quoted for a one-line message: escaped and shortened."""
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    text = _one_line(text)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def kind_of(value: object) -> str:
    """The user's word for the kind of a loaded value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


@dataclass(frozen=True)
class Located:
    """A diagnostic with its file and resolved position, ready to print."""

    file: str
    position: Position
    diagnostic: Diagnostic

    def sort_key(self) -> tuple[str, int, int, str, str]:
        d = self.diagnostic
        return (self.file, self.position.line, self.position.column, format_path(d.path), d.message)

    def render(self, colour: bool = False) -> str:
        """`FILE:LINE:COL: PATH: message`; colour changes no character, only adds codes."""
        d = self.diagnostic
        where = f"{self.file}:{self.position.line}:{self.position.column}:"
        path = format_path(d.path)
        label = "" if d.is_error else "warning: "
        if colour:
            bold, red, yellow, reset = "\033[1m", "\033[31m", "\033[33m", "\033[0m"
            where = f"{bold}{where}{reset}"
            path = f"{red}{path}{reset}" if d.is_error else path
            label = f"{yellow}warning:{reset} " if label else ""
        return f"{where} {path}: {label}{d.message}"
