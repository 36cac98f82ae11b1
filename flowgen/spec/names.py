"""SWF's naming rules, and the stricter rule for names that become Python names."""

from __future__ import annotations

import keyword
import re
import sys

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


# Top-level modules a generated package needs besides the standard library: boto3 and what it
# imports, and the stubs its type hints name.
PACKAGE_IMPORTS = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six", "mypy_boto3_swf"}
)
# Python imports these from the path at start-up, so a package of that name runs in every program.
STARTUP_MODULES = frozenset({"sitecustomize", "usercustomize"})


def package_name(workflow: str) -> str:
    """The Python package a workflow compiles to: `order-flow` -> `order_flow`, `2fa` -> `flow_2fa`.

    Many workflow names map to one package name (`日本` and `中国` both give `__`); the front end
    refuses two of them in one command, and `build` one that would replace another's package."""
    name = re.sub(r"\W", "_", workflow, flags=re.ASCII).lower()
    if not name or name[0].isdigit():
        name = "flow_" + name
    return name


def package_name_problem(workflow: str, handlers: list[str]) -> str | None:
    """Why the package of `workflow` would shadow a module something needs, or None.

    generated/ goes on the path of the decider, the workers and the tests, so a package there
    named like a module hides that module from every program on that path."""
    name = package_name(workflow)
    what = f"the package name {show(name)}"
    everywhere = "for every program with generated/ on its path; choose another workflow name"
    if keyword.iskeyword(name):
        return (
            f"{what} is a Python keyword, so the package could not be imported; choose another workflow name"
        )
    if name in sys.stdlib_module_names:
        return f"{what} would shadow the standard library's module {name} {everywhere}"
    if name in PACKAGE_IMPORTS:
        return f"{what} would shadow {name}, which every generated package needs, {everywhere}"
    if name in STARTUP_MODULES:
        return f"{what} is a module Python imports at start-up: the package would run {everywhere}"
    if name in ("flowgen", "engine"):
        return f"{what} is flowgen's own (every package carries its runtime as engine/); choose another workflow name"
    for handler in handlers:
        if handler.split(":")[0].split(".")[0] == name:
            return (
                f"{what} would shadow the package of the handler {show(handler)}, so the worker could "
                "not import it; choose another workflow name"
            )
    return None
