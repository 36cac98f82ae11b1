"""The spec's type language: `str`, `list[date]`, `dict[str, int]`, `T | None`, ...

Types are parsed into `TypeRef` values (defined with the plan, because the
runtime checks values against the same types), compared when references are
resolved, and rendered back to canonical text for messages.
"""

from __future__ import annotations

import re

from flowgen.diagnostics import show
from flowgen.runtime.plan import TypeRef

SCALARS = ("str", "int", "float", "bool", "date", "datetime", "any")
_TOKEN = re.compile(r"\s*(?:([A-Za-z_][A-Za-z0-9_]*)|(\[|\]|,|\|))")


class TypeSyntaxError(ValueError):
    """A type string that does not parse; the message says what was expected."""


ANY = TypeRef("any")
NONE = TypeRef("none")
STR = TypeRef("str")
INT = TypeRef("int")
DATE = TypeRef("date")


def list_of(item: TypeRef) -> TypeRef:
    return TypeRef("list", item)


def parse_type(text: str) -> TypeRef:
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


def _holds_bare_none(t: TypeRef) -> bool:
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

    def union(self) -> TypeRef:
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
        return TypeRef("optional", first)

    def atom(self) -> TypeRef:
        token = self.peek()
        if token is None:
            raise TypeSyntaxError(f"type {show(self.text)} ends too early")
        self.index += 1
        if token in SCALARS:
            return TypeRef(token)
        if token == "None":
            return NONE
        if token == "list":
            self.expect("[")
            item = self.union()
            self.expect("]")
            return TypeRef("list", item)
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
            return TypeRef("dict", item)
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


def type_of_literal(value: object) -> TypeRef:
    """The narrowest spec type of a literal, for typing inputs given `{value: ...}`."""
    if value is None:
        return NONE
    if isinstance(value, bool):
        return TypeRef("bool")
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return TypeRef("float")
    if isinstance(value, str):
        return STR
    if isinstance(value, list):
        kinds = {type_of_literal(v) for v in value}
        return list_of(common_type(kinds))
    if isinstance(value, dict):
        kinds = {type_of_literal(v) for v in value.values()}
        return TypeRef("dict", common_type(kinds))
    return ANY


def common_type(kinds: set[TypeRef]) -> TypeRef:
    """One type for the elements of a literal list: the shared one, else `any`."""
    if len(kinds) == 1:
        return next(iter(kinds))
    if NONE in kinds and len(kinds) == 2:
        (other,) = kinds - {NONE}
        return other.optional()
    if kinds == {INT, TypeRef("float")}:
        return TypeRef("float")
    return ANY
