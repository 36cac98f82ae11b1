"""SWF's naming rules, and the stricter rule for names that become Python names."""

from __future__ import annotations

import keyword
import re

from flowgen.diagnostics import show
from flowgen.runtime.limits import MAX_NAME

_FORBIDDEN = (":", "/", "|")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_HANDLER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*\Z")
# Names a generated module needs for itself.
RESERVED_ACTIVITY_NAMES = ("input", "generator")
RESERVED_INPUT_NAMES = ("context", "result")


def swf_name_problem(value: str, what: str, limit: int = MAX_NAME) -> str | None:
    """Why SWF would refuse `value` as a name (or version), or None."""
    if not 1 <= len(value) <= limit:
        return f"{what} must be 1 to {limit} characters, found {len(value)}"
    for char in _FORBIDDEN:
        if char in value:
            return f"{what} {show(value)} contains {show(char)}, which SWF does not allow"
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value):
        return f"{what} {show(value)} contains a control character, which SWF does not allow"
    if value != value.strip():
        return f"{what} {show(value)} starts or ends with white space, which SWF does not allow"
    if value == "arn":
        return f'{what} cannot be the literal "arn" (SWF reserves it)'
    return None


def identifier_problem(value: str, what: str) -> str | None:
    """Why `value` cannot be a Python name (it becomes one in generated code), or None."""
    # Not an identifier first: "contains a control character, which SWF does not allow"
    # would be wrong for field names, which SWF never sees.
    if value and not _IDENTIFIER.match(value):
        return (
            f"{what} {show(value)} must be a Python identifier (ASCII letters, digits and _, "
            "not starting with a digit), because it becomes a Python name"
        )
    problem = swf_name_problem(value, what)
    if problem is not None:
        return problem
    # Soft keywords (match, case, type, _) are valid names; only hard keywords are refused.
    if keyword.iskeyword(value):
        return f"{what} {show(value)} is a Python keyword and cannot become a Python name"
    return None


def handler_problem(value: str) -> str | None:
    """Why `value` is not `package.module:function`, or None."""
    if not _HANDLER.match(value):
        ascii_only = "" if value.isascii() else " with ASCII names"
        return f"{show(value)} is not a handler: write package.module:function{ascii_only}"
    parts = value.replace(":", ".").split(".")
    for part in parts:
        if keyword.iskeyword(part):
            return f"handler {show(value)} uses the Python keyword {show(part)} as a name"
    return None
