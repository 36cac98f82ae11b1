"""The spec's type language: `str`, `list[date]`, `dict[str, int]`, `T | None`, ...

Types are parsed into `TypeExpr` values, compared when references are
resolved, and rendered back to canonical text for messages and generated code.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from flowgen.diagnostics import show

SCALARS = ("str", "int", "float", "bool", "date", "datetime", "any")
_TOKEN = re.compile(r"\s*(?:([A-Za-z_][A-Za-z0-9_]*)|(\[|\]|,|\|))")


class TypeSyntaxError(ValueError):
    """A type string that does not parse; the message says what was expected."""


@dataclass(frozen=True)
class TypeExpr:
    """A parsed type. `kind` is a scalar name, `list`, `dict`, `optional` or `record`.

    `record` is the whole output of an activity (`ACTIVITY` as a reference):
    `name` is the activity and `fields` its declared outputs.
    """

    kind: str
    item: TypeExpr | None = None
    name: str = ""
    fields: tuple[tuple[str, TypeExpr], ...] = ()

    def __str__(self) -> str:
        if self.kind == "list":
            return f"list[{self.item}]"
        if self.kind == "dict":
            return f"dict[str, {self.item}]"
        if self.kind == "optional":
            return f"{self.item} | None"
        if self.kind == "record":
            return f"output of {self.name}"
        if self.kind == "none":
            return "None"
        return self.kind

    @property
    def is_optional(self) -> bool:
        return self.kind == "optional"

    def optional(self) -> TypeExpr:
        """`T | None`; already optional types stay as they are."""
        return self if self.kind in ("optional", "any", "none") else TypeExpr("optional", self)

    def element(self) -> TypeExpr | None:
        """The element type when this is a list (or `any`), else None."""
        if self.kind == "list":
            return self.item
        if self.kind == "any":
            return ANY
        return None


ANY = TypeExpr("any")
NONE = TypeExpr("none")
STR = TypeExpr("str")
INT = TypeExpr("int")
DATE = TypeExpr("date")


def list_of(item: TypeExpr) -> TypeExpr:
    return TypeExpr("list", item)


def parse_type(text: str) -> TypeExpr:
    """Parse a type string; raises TypeSyntaxError with a user-facing message."""
    tokens = _tokenize(text)
    parser = _Parser(tokens, text)
    result = parser.union()
    if parser.index != len(tokens):
        raise TypeSyntaxError(f"unexpected {show(tokens[parser.index])} in type {show(text)}")
    if result.kind == "none" or _holds_bare_none(result):
        raise TypeSyntaxError(
            f"None alone is not a type, in {show(text)}: write T | None for a value that may be missing"
        )
    return result


def _holds_bare_none(t: TypeExpr) -> bool:
    """`list[None]`, `dict[str, None]`: None used alone inside another type."""
    if t.kind in ("list", "dict"):
        assert t.item is not None
        return t.item.kind == "none" or _holds_bare_none(t.item)
    if t.kind == "optional":
        assert t.item is not None
        return _holds_bare_none(t.item)
    return False


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    index = 0
    while index < len(text):
        if text[index:].strip() == "":
            break
        match = _TOKEN.match(text, index)
        if match is None:
            raise TypeSyntaxError(
                f"unexpected character {show(text[index:].lstrip()[0])} in type {show(text)}"
            )
        tokens.append(match.group(1) or match.group(2))
        index = match.end()
    if not tokens:
        raise TypeSyntaxError(
            "a type cannot be empty; use str, int, float, bool, date, datetime, any, list[T], dict[str, T] or T | None"
        )
    return tokens


class _Parser:
    def __init__(self, tokens: list[str], text: str) -> None:
        self.tokens = tokens
        self.text = text
        self.index = 0

    def peek(self) -> str | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def expect(self, token: str) -> None:
        found = self.peek()
        if found != token:
            where = "the end" if found is None else show(found)
            raise TypeSyntaxError(f"expected {show(token)} but found {where} in type {show(self.text)}")
        self.index += 1

    def union(self) -> TypeExpr:
        first = self.atom()
        if self.peek() != "|":
            return first
        self.index += 1
        second = self.atom()
        if second.kind != "none" or first.kind == "none":
            raise TypeSyntaxError(f"only `T | None` unions are supported, not {show(self.text.strip())}")
        if self.peek() == "|":
            raise TypeSyntaxError(f"only `T | None` unions are supported, not {show(self.text.strip())}")
        if first.kind in ("optional", "any"):
            return first
        return TypeExpr("optional", first)

    def atom(self) -> TypeExpr:
        token = self.peek()
        if token is None:
            raise TypeSyntaxError(f"type {show(self.text)} ends too early")
        self.index += 1
        if token in SCALARS:
            return TypeExpr(token)
        if token == "None":
            return NONE
        if token == "list":
            self.expect("[")
            item = self.union()
            self.expect("]")
            return TypeExpr("list", item)
        if token == "dict":
            self.expect("[")
            key = self.peek()
            if key != "str":
                raise TypeSyntaxError(
                    f"dict keys must be str (JSON objects have string keys), in type {show(self.text)}"
                )
            self.index += 1
            self.expect(",")
            item = self.union()
            self.expect("]")
            return TypeExpr("dict", item)
        from flowgen.suggest import did_you_mean

        hint = did_you_mean(token, SCALARS + ("list", "dict", "None") + tuple(_ALIASES))
        alias = _ALIASES.get(token)
        if alias:
            hint = f"; did you mean {show(alias)}?"
        raise TypeSyntaxError(f"unknown type {show(token)}{hint}")


_ALIASES = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "object": "dict[str, any]",
    "array": "list[any]",
    "List": "list",
    "Dict": "dict",
    "Any": "any",
    "timestamp": "datetime",
    "Optional": "T | None",
}


def _is_iso_date(value: str) -> bool:
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _is_iso_datetime(value: str) -> bool:
    try:
        datetime.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def fits(value: object, expected: TypeExpr) -> bool:
    """Whether a JSON value (as loaded) is a valid instance of `expected`."""
    kind = expected.kind
    if kind == "any":
        return True
    if kind in ("optional", "none"):
        return value is None or (expected.item is not None and fits(value, expected.item))
    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "date":
        return isinstance(value, str) and _is_iso_date(value)
    if kind == "datetime":
        return isinstance(value, str) and _is_iso_datetime(value)
    if kind == "list":
        assert expected.item is not None
        return isinstance(value, list) and all(fits(v, expected.item) for v in value)
    if kind == "dict":
        assert expected.item is not None
        return isinstance(value, dict) and all(fits(v, expected.item) for v in value.values())
    if kind == "record":
        fields = dict(expected.fields)
        return (
            isinstance(value, dict)
            and set(value) == set(fields)
            and all(fits(value[k], t) for k, t in fields.items())
        )
    return False


def type_of_literal(value: object) -> TypeExpr:
    """The narrowest spec type of a literal, for typing inputs given `{value: ...}`."""
    if value is None:
        return NONE
    if isinstance(value, bool):
        return TypeExpr("bool")
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return TypeExpr("float")
    if isinstance(value, str):
        return STR
    if isinstance(value, list):
        kinds = {type_of_literal(v) for v in value}
        return list_of(common_type(kinds))
    if isinstance(value, dict):
        kinds = {type_of_literal(v) for v in value.values()}
        return TypeExpr("dict", common_type(kinds))
    return ANY


def common_type(kinds: set[TypeExpr]) -> TypeExpr:
    """One type for the elements of a literal list: the shared one, else `any`."""
    if len(kinds) == 1:
        return next(iter(kinds))
    if NONE in kinds and len(kinds) == 2:
        (other,) = kinds - {NONE}
        return other.optional()
    if kinds == {INT, TypeExpr("float")}:
        return TypeExpr("float")
    return ANY
