"""Values on the wire: JSON text, checked against spec types, with dates as ISO strings."""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

from .plan import TypeRef

# How deep a value crossing SWF may nest (workflow input, results). Python's json and the type checks here recurse, so much
# deeper data would end in a RecursionError; the spec loader imports this limit too.
MAX_DEPTH = 100
# A JSON string (skipped whole, brackets in it do not count) or one bracket.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
# json.loads without its per-call checks: the decider decodes every result on every decision task.
_decode = json.JSONDecoder().decode


def read_json(text: str) -> Any:
    """JSON text from SWF, decoded; ValueError saying why if it is not JSON or nested too deeply."""
    try:
        value = _decode(text)
    except RecursionError:
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as error:
        raise ValueError(f"not JSON ({error})") from None
    # Counting brackets is cheap; only text that could be too deep is walked.
    if text.count("[") + text.count("{") > MAX_DEPTH and _too_deep(value):
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
    return value


def _too_deep(value: Any) -> bool:
    stack = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, (list, dict)):
            if depth > MAX_DEPTH:
                return True
            stack.extend(
                (item, depth + 1) for item in (current.values() if isinstance(current, dict) else current)
            )
    return False


def dumps(value: Any) -> str:
    """Compact JSON; `date`/`datetime` become ISO strings, as SPEC.md says they travel."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_encode)


def nesting_problem(text: str) -> str | None:
    """Why JSON text nests too deeply to decode safely, or None; linear, without recursion."""
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                return f"nested more than {MAX_DEPTH} levels deep (at character {match.start() + 1})"
        elif token in ("]", "}"):
            depth -= 1
    return None


def _encode(value: Any) -> Any:
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def describe(value: Any) -> str:
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
        return "an object"
    return type(value).__name__


def problem(value: Any, expected: TypeRef, where: str) -> str | None:
    """Why a decoded JSON value is not an instance of `expected`, or None."""
    kind = expected.kind
    if kind == "any":
        return None
    if kind in ("optional", "none"):
        if value is None:
            return None
        if expected.item is None:
            return f"{where}: expected null, found {describe(value)}"
        return problem(value, expected.item, where)
    if kind == "list":
        if not isinstance(value, list):
            return f"{where}: expected {expected}, found {describe(value)}"
        assert expected.item is not None
        for index, item in enumerate(value):
            found = problem(item, expected.item, f"{where}[{index}]")
            if found:
                return found
        return None
    if kind == "dict":
        if not isinstance(value, dict):
            return f"{where}: expected {expected}, found {describe(value)}"
        assert expected.item is not None
        for key, item in value.items():
            found = problem(item, expected.item, f"{where}.{key}")
            if found:
                return found
        return None
    if kind == "record":
        if not isinstance(value, dict):
            return f"{where}: expected an object, found {describe(value)}"
        for key, field_type in expected.fields:
            found = problem(value.get(key), field_type, f"{where}.{key}")
            if found:
                return found
        return None
    if _scalar_fits(value, kind):
        return None
    shown = json.dumps(value)[:40] if isinstance(value, str) else describe(value)
    return f"{where}: expected {kind}, found {shown}"


def _scalar_fits(value: Any, kind: str) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "date":
        return isinstance(value, str) and _parses(datetime.date.fromisoformat, value) and len(value) == 10
    if kind == "datetime":
        return isinstance(value, str) and _parses(datetime.datetime.fromisoformat, value)
    return False


def _parses(parse: Any, value: str) -> bool:
    try:
        parse(value)
    except ValueError:
        return False
    return True


def decode(value: Any, expected: TypeRef) -> Any:
    """JSON value to what a handler receives: ISO strings become dates where typed so."""
    kind = expected.kind
    if value is None:
        return None
    if kind == "optional" and expected.item is not None:
        return decode(value, expected.item)
    if kind == "date" and isinstance(value, str):
        return datetime.date.fromisoformat(value)
    if kind == "datetime" and isinstance(value, str):
        return datetime.datetime.fromisoformat(value)
    if kind == "list" and isinstance(value, list) and expected.item is not None:
        return [decode(item, expected.item) for item in value]
    if kind == "dict" and isinstance(value, dict) and expected.item is not None:
        return {key: decode(item, expected.item) for key, item in value.items()}
    if kind == "record" and isinstance(value, dict):
        types = dict(expected.fields)
        return {key: decode(item, types[key]) if key in types else item for key, item in value.items()}
    return value


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, marking the cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
