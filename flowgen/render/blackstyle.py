"""black's layout, written directly, for the bulky and regular parts of generated modules.

black (fixed mode: 100 columns, Python 3.11) is the arbiter of every generated module's style,
but it parses and re-emits every line, at about 0.4 ms a line: a plan of 1,000 activities
makes some 65,000 lines and took black 20 s. Nearly all of them belong to a few shapes that
grow with the plan: the plan and its tables as data literals (flow.py), the TypedDict and
Protocol classes, `__all__` and `Handlers` (types.py), and the handlers' imports and table
(worker.py). The functions here lay those shapes out by the rules black applies to them; black
still formats everything else (see `flowgen.render`), and it formats a part here too whenever
that part has a shape these rules do not cover (the functions return None): a line longer than
100 columns that black might wrap otherwise than written here, which takes very long names.

tests/test_render_format.py holds these rules to black itself: on the example specs, the
benchmark's and hypothesis-made plans with hostile strings, every part written here must be
what black makes of its source, byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from black.strings import str_width

LINE_LENGTH = 100
INDENT = "    "

Formatter = Callable[[str], str]  # black on a module's text: flowgen.render.format_python


def width(text: str) -> int:
    """Columns, as black counts them (East Asian wide characters count two)."""
    return len(text) if text.isascii() else str_width(text)


def fits(line: str) -> bool:
    return width(line) <= LINE_LENGTH


# -- data literals -----------------------------------------------------------------------


def string(value: str) -> str:
    """A str literal as black prints it: `repr`, then double quotes unless they would need
    more escapes than repr's quotes (black's `normalize_string_quotes`, for repr's output)."""
    text = repr(value)
    if text[0] == '"':
        return text  # repr chose " because the value holds ' and no "; ' would need escapes
    doubles = value.count('"')
    if not doubles:
        return f'"{text[1:-1]}"'
    if doubles > value.count("'"):
        return text  # more \" to add than \' to drop
    # repr escaped every ' (the value holds both kinds): unescape those, escape the "s
    return '"' + text[1:-1].replace("\\'", "'").replace('"', '\\"') + '"'


def number(value: int | float) -> str:
    """black's spelling of a number: repr with no `+` in an exponent (`1e16`, not `1e+16`)."""
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{exponent.removeprefix('+')}"
    return text


def atom(value: Any) -> str:
    if isinstance(value, str):
        return string(value)
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, (int, float)):
        return number(value)
    raise TypeError(f"no literal for {type(value).__name__}")


class _Literal:
    """Lays out one data literal (dicts, lists and tuples of strings, numbers, bools and None)
    the way black does. Each collection's one-line text and width are computed once."""

    def __init__(self) -> None:
        self._flat: dict[int, tuple[str, int]] = {}

    def flat(self, value: Any) -> tuple[str, int]:
        """The one-line form and its width."""
        if not isinstance(value, (dict, list, tuple)):
            text = atom(value)
            return text, width(text)
        known = self._flat.get(id(value))
        if known is not None:
            return known
        parts: list[str] = []
        total = 0
        if isinstance(value, dict):
            for key, item in value.items():
                key_text, key_width = self.flat(key)
                text, item_width = self.flat(item)
                parts.append(f"{key_text}: {text}")
                total += key_width + 2 + item_width
        else:
            for item in value:
                text, item_width = self.flat(item)
                parts.append(text)
                total += item_width
        inner = ", ".join(parts)
        total += 2 * max(len(parts) - 1, 0) + 2
        if isinstance(value, dict):
            result = "{" + inner + "}"
        elif isinstance(value, list):
            result = "[" + inner + "]"
        elif len(value) == 1:
            result, total = f"({inner},)", total + 1
        else:
            result = f"({inner})"
        self._flat[id(value)] = (result, total)
        return result, total

    def lay(self, value: Any, depth: int, prefix: str, suffix: str, out: list[str]) -> None:
        """Append the lines of `prefix + value + suffix` at `depth`.

        black keeps a line that fits. Otherwise it splits at the line's last bracket pair (a
        literal's line has at most one at its top level): the opening bracket ends the first
        line, the closing one starts the last. Between them, two or more elements (or a
        one-element tuple, whose comma is already there) go one per line, each followed by a
        comma; a single element of a list or dict goes on its own line without one. Each
        element line is laid out the same way. A line with no brackets to split (a long string,
        a key with a short value) or with empty ones stays as it is, however long."""
        indent = INDENT * depth
        if isinstance(value, (dict, list, tuple)) and value:
            text, text_width = self.flat(value)
            if width(indent + prefix) + text_width + width(suffix) <= LINE_LENGTH:
                out.append(indent + prefix + text + suffix)
                return
            if isinstance(value, dict):
                opening, closing = "{", "}"
                items = [(f"{self.flat(key)[0]}: ", item) for key, item in value.items()]
            else:
                opening, closing = ("[", "]") if isinstance(value, list) else ("(", ")")
                items = [("", item) for item in value]
            comma = "," if len(items) > 1 or isinstance(value, tuple) else ""
            out.append(indent + prefix + opening)
            for key, item in items:
                self.lay(item, depth + 1, key, comma, out)
            out.append(indent + closing + suffix)
            return
        out.append(indent + prefix + self.flat(value)[0] + suffix)


_ASSIGNED_TUPLE = re.compile(r"[A-Za-z_]\w*(: [^=]+)? = ")
_ASSIGNED_CALL = re.compile(r"[A-Za-z_]\w*(: [^=]+)? = [A-Za-z_]\w*(\.[A-Za-z_]\w*)?\(")


def literal_statement(source: str, value: Any, literal: str) -> str | None:
    """A top-level statement around one data literal: `source` is `NAME[: TYPE] = (tuple)` or
    `NAME[: TYPE] = callable(literal)`, where `literal` is `value` as the template wrote it.

    One line if it fits. Otherwise black splits at the tuple's parentheses; or, for the call,
    at the call's own parentheses rather than the invisible ones it puts around a right-hand
    side (it prefers them when the line up to them fits), with the argument laid out on its
    own line, one indent in. Any other shape: None."""
    prefix, found, suffix = source.rstrip("\n").partition(literal)
    if not found or "\n" in prefix or suffix not in ("", ")"):
        return None
    writer = _Literal()
    text, text_width = writer.flat(value)
    if width(prefix) + text_width + len(suffix) <= LINE_LENGTH:
        return prefix + text + suffix
    out: list[str] = []
    if suffix == ")" and _ASSIGNED_CALL.fullmatch(prefix) and fits(prefix):
        out.append(prefix)
        writer.lay(value, 1, "", "", out)
        out.append(suffix)
    elif suffix == "" and _ASSIGNED_TUPLE.fullmatch(prefix) and isinstance(value, tuple) and value:
        if not fits(prefix + "("):
            return None
        writer.lay(value, 0, prefix, "", out)
    else:
        return None
    return "\n".join(out)


# -- annotations, classes and signatures -----------------------------------------------------

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_ANNOTATION_TOKEN = re.compile(rf"{_NAME}(?:\.{_NAME})*|\[|\]|, | \| ")


def canonical_annotation(text: str) -> bool:
    """Is `text` an annotation black leaves as it is: dotted names, subscripts and `|`,
    spaced as black spaces them (`dict[str, list[int]] | None`)?"""
    depth = 0
    expect_name = True
    position = 0
    while position < len(text):
        match = _ANNOTATION_TOKEN.match(text, position)
        if match is None:
            return False
        token = match.group()
        position = match.end()
        if token in ("[", "]", ", ", " | "):
            if expect_name and token != "]":
                return False
            if token == "[":
                depth += 1
            elif token == "]":
                if expect_name or depth == 0:
                    return False
                depth -= 1
            elif token == ", " and depth == 0:
                return False
            expect_name = token != "]"
        else:
            if not expect_name:
                return False
            expect_name = False
    return depth == 0 and not expect_name


def _split_top_level(text: str) -> list[str]:
    """`self, *, a: dict[str, int]` -> ['self', '*', 'a: dict[str, int]']."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 2  # ", "
    parts.append(text[start:])
    return parts


_CLASS = re.compile(rf"class {_NAME}\({_NAME}\):")
_FIELD = re.compile(rf"    ({_NAME}): (.+)")
_CALL = re.compile(r"    def __call__\(([^()]*)\) -> (.+): \.\.\.")


def _parameter(text: str) -> bool:
    if text in ("self", "*"):
        return True
    name, colon, annotation = text.partition(": ")
    return bool(colon) and re.fullmatch(_NAME, name) is not None and canonical_annotation(annotation)


def _signature(line: str) -> list[str] | None:
    """A Protocol's `def __call__(...) -> X: ...` line, as black wraps it (left_hand_split: at
    the parameters' brackets): one line if it fits; else the parameters on one line between
    `def __call__(` and `) -> X: ...` if they fit there (`self` alone gets a trailing comma);
    else one parameter per line, each with a trailing comma."""
    match = _CALL.fullmatch(line)
    if match is None:
        return None
    parameters, returns = _split_top_level(match.group(1)), match.group(2)
    if parameters[0] != "self" or not all(_parameter(p) for p in parameters):
        return None
    if not canonical_annotation(returns):
        return None
    if fits(line):
        return [line]
    inner = INDENT * 2
    tail = f"{INDENT}) -> {returns}: ..."
    if len(parameters) == 1:
        body = [f"{inner}self,"]
    elif fits(inner + ", ".join(parameters)):
        body = [inner + ", ".join(parameters)]
    else:
        body = [f"{inner}{parameter}," for parameter in parameters]
    lines = [f"{INDENT}def __call__(", *body, tail]
    return lines if all(fits(text) for text in lines) else None


def _class(lines: list[str]) -> list[str] | None:
    """One class of types.py: `class Name(Base):` over fields, `pass` or one `__call__`."""
    if not (_CLASS.fullmatch(lines[0]) and fits(lines[0])) or len(lines) < 2:
        return None
    out = [lines[0]]
    for line in lines[1:]:
        if line == f"{INDENT}pass":
            out.append(line)
            continue
        if line.startswith(f"{INDENT}def "):
            signature = _signature(line)
            if signature is None:
                return None
            out += signature
            continue
        field = _FIELD.fullmatch(line)
        if field is None or not canonical_annotation(field.group(2)) or not fits(line):
            return None
        out.append(line)
    return out


def classes(source: str, black: Formatter) -> str:
    """Top-level classes, two blank lines apart, each of the shapes `_class` knows; black
    formats any other class on its own, as it would in place."""
    blocks: list[list[str]] = []
    for line in source.rstrip("\n").split("\n"):
        if line.startswith("class "):
            blocks.append([line])
        elif blocks:
            blocks[-1].append(line)
        else:
            return black(source).rstrip("\n")
    out: list[str] = []
    for index, block in enumerate(blocks):
        body = block
        if index < len(blocks) - 1:
            if block[-2:] != ["", ""]:
                return black(source).rstrip("\n")
            body = block[:-2]
        if "" in body:
            return black(source).rstrip("\n")
        laid = _class(body)
        out += laid if laid is not None else black("\n".join(body) + "\n").rstrip("\n").split("\n")
        if index < len(blocks) - 1:
            out += ["", ""]
    return "\n".join(out)


_NAMES_LIST = re.compile(rf"({_NAME}) = \[((?:'{_NAME}', )+)\]")


def names_list(source: str) -> str | None:
    """`__all__ = ['A', 'B', ]`: the trailing comma is magic, so one name per line always."""
    match = _NAMES_LIST.fullmatch(source.rstrip("\n"))
    if match is None:
        return None
    names = re.findall(rf"'({_NAME})', ", match.group(2))
    return "\n".join([f"{match.group(1)} = [", *(f'{INDENT}"{name}",' for name in names), "]"])


_KEY = rf"'({_NAME}(?:\.{_NAME})*)'"
_UNION_ENTRY = re.compile(rf"{INDENT * 2}{_KEY}: ({_NAME}(?: \| {_NAME})*),")
_DOCSTRING = re.compile(r'"""[^\s"\\](?:[^"\\]*[^\s"\\])?"""')


def typeddict_call(source: str) -> str | None:
    """`Name = TypedDict(\\n    "Name",\\n    {\\n        'key': A | B,\\n    },\\n)`, written
    exploded with magic trailing commas, then maybe a one-line docstring. An entry too long
    for its line is split by black before each `|` (its highest-priority delimiter once the
    trailing comma is set aside), and the pieces stay as they are."""
    lines = source.rstrip("\n").split("\n")
    docstring = lines[-1] if lines[-1].startswith('"""') else None
    if docstring is not None:
        if not (_DOCSTRING.fullmatch(docstring) and docstring.isascii() and fits(docstring)):
            return None
        lines = lines[:-1]
    head = re.fullmatch(rf"({_NAME}) = TypedDict\(", lines[0])
    if head is None or lines[1:3] != [f'{INDENT}"{head.group(1)}",', f"{INDENT}{{"]:
        return None
    if lines[-2:] != [f"{INDENT}}},", ")"] or len(lines) < 6:
        return None
    out = lines[:3]
    for line in lines[3:-2]:
        entry = _UNION_ENTRY.fullmatch(line)
        if entry is None:
            return None
        key, annotation = entry.groups()
        written = f'{INDENT * 2}"{key}": {annotation},'
        if fits(written):
            out.append(written)
        else:
            first, *rest = annotation.split(" | ")
            out.append(f'{INDENT * 2}"{key}": {first}')
            out += [f"{INDENT * 2}| {name}" for name in rest]
            out[-1] += ","
    out += lines[-2:]
    if docstring is not None:
        out.append(docstring)
    return "\n".join(out)


_IMPORT = re.compile(
    rf"(\s*)from ({_NAME}(?:\.{_NAME})*) import ({_NAME} as {_NAME}(?:, {_NAME} as {_NAME})*)"
)
_RETURN_ENTRY = re.compile(rf"{INDENT * 2}{_KEY}: ({_NAME}),")


def imports_and_table(source: str) -> str | None:
    """A function's body (one indent in): `from m import f as _h1, g as _h2` lines, then
    `return {\\n        'key': _h1,\\n    }` written exploded with a magic trailing comma.

    black keeps an import that fits; otherwise it puts the names between parentheses, one per
    line with trailing commas. It leaves one blank line after the imports. The table stays
    exploded, its keys in double quotes; a long entry has nothing to split at."""
    lines = source.rstrip("\n").split("\n")
    out: list[str] = []
    while lines and lines[0].startswith(f"{INDENT}from "):
        match = _IMPORT.fullmatch(lines.pop(0))
        if match is None or match.group(1) != INDENT:
            return None
        line = match.group(0)
        if fits(line):
            out.append(line)
        else:
            out.append(f"{INDENT}from {match.group(2)} import (")
            out += [f"{INDENT * 2}{name}," for name in match.group(3).split(", ")]
            out.append(f"{INDENT})")
    if out:
        out.append("")
    if len(lines) < 3 or lines[0] != f"{INDENT}return {{" or lines[-1] != f"{INDENT}}}":
        return None
    out.append(lines[0])
    for line in lines[1:-1]:
        entry = _RETURN_ENTRY.fullmatch(line)
        if entry is None:
            return None
        out.append(f'{INDENT * 2}"{entry.group(1)}": {entry.group(2)},')
    out.append(lines[-1])
    return "\n".join(out)
