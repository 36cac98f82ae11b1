"""Stage 1, load: spec text to plain data plus the position of every key and value.

YAML and JSON are read by one event-driven builder on top of PyYAML's parser
(libyaml when available). Building from parse events instead of PyYAML's
composer lets us:

- resolve plain scalars by the YAML 1.2 core schema (so `on`, `yes` and `no`
  stay strings and `2024-01-01` stays a string, as in JSON);
- report duplicate keys, which PyYAML silently overwrites;
- bound nesting depth without recursion, so hostile input cannot overflow the
  stack.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from flowgen.diagnostics import Diagnostic, Path, Position, kind_of, show
from flowgen.runtime.values import MAX_DEPTH  # one nesting limit for specs and for values on the wire

try:  # libyaml is much faster; the pure-Python parser gives the same events.
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_BYTES = 1024 * 1024

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_TRUE = re.compile(r"^(?:true|True|TRUE)$")
_FALSE = re.compile(r"^(?:false|False|FALSE)$")
_INT = re.compile(r"^[-+]?[0-9]+$")
_OCT = re.compile(r"^0o[0-7]+$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_SPECIAL_FLOAT = re.compile(r"^(?:[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
_YAML_TAG = "tag:yaml.org,2002:"
# An escaped UTF-16 surrogate pair, as JSON writes characters beyond U+FFFF (not after a backslash).
_SURROGATE_PAIR = re.compile(
    r"(?<!\\)((?:\\\\)*)\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})"
)
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_STR_TAG = _YAML_TAG + "str"
# Tags that change nothing here; any other (!!int, !!python/..., !custom) would be ignored silently.
_HARMLESS_TAGS = ("!", _STR_TAG, _YAML_TAG + "map", _YAML_TAG + "seq")
# Far beyond any real spec value, well inside Python's int-from-string limit.
_MAX_DIGITS = 100


class LoadError(Exception):
    """The text cannot be turned into data; carries one located diagnostic."""

    def __init__(self, diagnostic: Diagnostic, unreadable: bool = False) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic
        # The file could not be read at all (missing, a directory, no permission).
        self.unreadable = unreadable


@dataclass(frozen=True)
class Document:
    """Loaded spec data and where each part of it stands in the file."""

    data: Any
    values: dict[Path, Position]
    keys: dict[Path, Position]
    # How numbers were written (`1.10` loads as 1.1), for messages that quote them.
    texts: dict[Path, str] = field(default_factory=dict)

    def position_of(self, path: Path, at_key: bool = False) -> Position:
        """The position of `path`, or of its nearest ancestor that has one."""
        if at_key and path in self.keys:
            return self.keys[path]
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return Position(1, 1)

    def data_path(self, loc: tuple[Any, ...]) -> tuple[Path, bool]:
        """Map a validator's location onto this document's data.

        Validators add steps that are not in the data (union tags, `[key]`
        markers); walking the data and skipping what does not match keeps only
        the real path. Returns the path and whether a key (not a value) is meant.
        """
        node = self.data
        path: list[str | int] = []
        for step in loc:
            if step == "[key]":
                return tuple(path), True
            if (isinstance(node, dict) and isinstance(step, str) and step in node) or (
                isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)
            ):
                node = node[step]  # type: ignore[index]
                path.append(step)
            elif isinstance(node, dict) and not isinstance(step, int) and _is_field_name(step):
                # A missing or unknown key: point at the mapping, name the key.
                path.append(str(step))
                node = None
        return tuple(path), False


def _is_field_name(step: object) -> bool:
    # pydantic's own steps (union tags, function wrappers) are never spec keys.
    return isinstance(step, str) and not step.startswith(("<", "function-", "tagged-union"))


def read_spec_file(file: str) -> Document:
    """Read and load a spec file; every failure is a LoadError with a position."""
    try:
        if os.path.isdir(file):
            raise IsADirectoryError(file)
        size = os.path.getsize(file)
        if size > MAX_BYTES:
            raise LoadError(
                Diagnostic(
                    (),
                    f"the file is {size:,} bytes; a spec may be at most {MAX_BYTES:,} bytes",
                    position=Position(1, 1),
                )
            )
        with open(file, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except IsADirectoryError:
        raise LoadError(
            Diagnostic((), "is a directory, not a spec file", position=Position(1, 1)), True
        ) from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise LoadError(Diagnostic((), f"cannot read: {reason}", position=Position(1, 1)), True) from None
    return load_bytes(raw)


def load_bytes(raw: bytes) -> Document:
    if len(raw) > MAX_BYTES:
        raise LoadError(Diagnostic((), f"a spec may be at most {MAX_BYTES:,} bytes", position=Position(1, 1)))
    # Strip a byte order mark here: with "utf-8-sig" the error offsets would not count it.
    body = raw.removeprefix(b"\xef\xbb\xbf")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        # Everything before the first bad byte decodes, so columns count characters as elsewhere.
        before = body[: error.start].decode("utf-8")
        utf16 = (
            "; the file looks like UTF-16: save it as UTF-8" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        )
        raise LoadError(
            Diagnostic(
                (),
                f"not UTF-8 text: byte 0x{body[error.start]:02x} cannot be decoded{utf16}",
                position=_text_position(before, len(before)),
            )
        ) from None
    return load_text(text)


def load_text(text: str) -> Document:
    """Load YAML (or JSON, which is YAML) text into a positioned document."""
    try:
        return _load_text(text)
    except LoadError:
        # JSON writers escape characters beyond U+FFFF as surrogate pairs ("\ud83d\ude42"),
        # which YAML refuses: join each pair into one YAML escape ("\U0001F642") and try again.
        joined, moved = _join_surrogates(text)
        if not moved:
            raise
    try:
        document = _load_text(joined)
    except LoadError as again:
        position = again.diagnostic.position
        if position is not None:
            position = moved.unmove(position)
        raise LoadError(dataclasses.replace(again.diagnostic, position=position)) from None
    return Document(
        data=document.data,
        values={path: moved.unmove(at) for path, at in document.values.items()},
        keys={path: moved.unmove(at) for path, at in document.keys.items()},
        texts=document.texts,
    )


class _Joins:
    """Where joining surrogate pairs shortened lines: line -> sorted columns (in the joined text)
    after which two characters went missing."""

    def __init__(self) -> None:
        self.columns: dict[int, list[int]] = {}

    def __bool__(self) -> bool:
        return bool(self.columns)

    def unmove(self, position: Position) -> Position:
        shift = 2 * bisect.bisect_right(self.columns.get(position.line, ()), position.column)
        return Position(position.line, position.column + shift)


def _join_surrogates(text: str) -> tuple[str, _Joins]:
    """The text with escaped surrogate pairs joined, in one pass (a spec may hold thousands)."""
    parts: list[str] = []
    joins = _Joins()
    line, line_start, length, last = 1, 0, 0, 0  # `length` and `line_start` count the joined text
    for match in _SURROGATE_PAIR.finditer(text):
        high, low = int(match.group(2), 16), int(match.group(3), 16)
        code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        before = text[last : match.start()] + match.group(1)
        for brk in _LINE_BREAK.finditer(before):
            line, line_start = line + 1, length + brk.end()
        parts += [before, f"\\U{code:08X}"]
        length += len(before) + 10
        joins.columns.setdefault(line, []).append(length - line_start + 1)
        last = match.end()
    return "".join(parts) + text[last:], joins


def _load_text(text: str) -> Document:
    builder = _Builder()
    event: yaml.Event | None = None
    try:
        for event in yaml.parse(text, Loader=_Loader):
            builder.feed(event)
    except yaml.YAMLError as error:
        if not issubclass(yaml.SafeLoader, _Loader) and _may_nest_too_deep(text, builder, event, error):
            # libyaml has limits of its own (a nesting depth, since 0.2.5) and its own words for
            # them, and it reads ahead of the events it hands out. Walk the events again with
            # PyYAML's own parser, which has no such limit, so that flowgen's nesting limit (a
            # LoadError from the builder) is what the user sees whatever libyaml does. Only that: the
            # pure-Python parser is laxer (it reads lone surrogate escapes), so its success does not
            # overrule libyaml's refusal. It is slow (seconds for 1 MiB), hence the bound first.
            with contextlib.suppress(yaml.YAMLError):
                _build(text, yaml.parse(text, Loader=yaml.SafeLoader))
        raise _syntax_error(text, error, builder.path()) from None
    return _finish(builder)


# Every mapping or sequence starts at one of these characters, each at most one: `[` and `{`, `-`
# (a block sequence), `?` or the `:` after a key (a block mapping, or a one-pair mapping in [...]).
_OPENERS = "[{-?:"


def _may_nest_too_deep(text: str, builder: _Builder, last: yaml.Event | None, error: yaml.YAMLError) -> bool:
    """Whether the text before the parser's error could nest deeper than MAX_DEPTH: an upper bound.

    The builder holds the depth reached by the events handed out so far (at most MAX_DEPTH, or it
    would have refused them). Any level deeper starts after the last of them and before the error,
    at one of `_OPENERS`, so the depth there plus the openers in between bounds how deep the text
    nests before the error. Nesting after the error is not looked for: the error comes first.
    """
    mark = last.start_mark if last is not None else None
    start = _offset(text, mark.line, mark.column, 0) if mark is not None else 0
    end = len(text)
    if isinstance(error, yaml.MarkedYAMLError):
        marks = [mark for mark in (error.problem_mark, error.context_mark) if mark is not None]
        if marks:
            end = max(_offset(text, mark.line, mark.column, len(text)) for mark in marks) + 1
    openers = sum(text.count(opener, start, end) for opener in _OPENERS)
    return len(builder.stack) + openers > MAX_DEPTH


def _offset(text: str, line: int, column: int, otherwise: int) -> int:
    """The index of a 0-based line and column (in characters, as both parsers count them), or
    `otherwise` if the text has no such line."""
    if line == 0:
        return column
    for number, brk in enumerate(_LINE_BREAK.finditer(text), 1):
        if number == line:
            return brk.end() + column
    return otherwise


def _build(text: str, events: Iterator[yaml.Event]) -> Document:
    builder = _Builder()
    for event in events:
        builder.feed(event)
    return _finish(builder)


def _syntax_error(text: str, error: yaml.YAMLError, path: Path) -> LoadError:
    """A YAML error in flowgen's own words, chosen by where the parser stopped, not by its message
    (whose wording is libyaml's and may change)."""
    if isinstance(error, yaml.reader.ReaderError):
        # libyaml reports a byte offset, the pure-Python reader a character offset:
        # find the character itself (any occurrence of it is just as unacceptable).
        char = chr(error.character) if isinstance(error.character, int) else str(error.character)
        return LoadError(
            Diagnostic(
                path,
                f"invalid YAML: the character U+{ord(char[:1] or '?'):04X} is not allowed in YAML text; "
                "write it escaped inside double quotes",
                position=_text_position(text, max(text.find(char), 0)),
            )
        )
    mark = opened = None
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        opened = error.context_mark
    position = Position(mark.line + 1, mark.column + 1) if mark else Position(1, 1)
    here = _char_at(text, mark.line, mark.column) if mark else ""
    opener = _char_at(text, opened.line, opened.column) if opened else ""
    where = f"line {opened.line + 1}, column {opened.column + 1}" if opened else ""
    if here == "\t":
        problem = "a tab here: YAML indents with spaces only"
    elif opener in ("[", "{"):
        closer = "]" if opener == "[" else "}"
        problem = (
            f"the {opener}...{closer} opened at {where} is not closed as expected here: separate its"
            f" items with commas, close it with {closer}, and quote values that contain [ ] {{ }} , or :"
        )
    elif opener in ('"', "'"):
        problem = f"the quoted text opened at {where} is not closed or holds an invalid escape"
    elif here == ":":
        problem = 'a ": " inside a plain value starts a mapping here; quote a value that contains ": "'
    elif here in ("@", "`", "%", "|", ">"):
        problem = f'a plain value cannot start with "{here}" here; quote the value'
    elif mark is not None and mark.index >= len(text):
        problem = "the text ends in the middle of a value"
    else:
        problem = "this does not fit the structure around it (check the indentation)"
    return LoadError(Diagnostic(path, f"invalid YAML: {problem}", position=position))


def _finish(builder: _Builder) -> Document:
    if not builder.documents:
        raise LoadError(
            Diagnostic(
                (),
                "the file is empty; a spec needs flowgen, domain, workflow and activities",
                position=Position(1, 1),
            )
        )
    data = builder.result
    if not isinstance(data, dict):
        raise LoadError(
            Diagnostic(
                (),
                f"a spec is a mapping of keys to values; found {kind_of(data)} at the top",
                position=builder.values.get((), Position(1, 1)),
            )
        )
    return Document(data=data, values=builder.values, keys=builder.keys, texts=builder.texts)


def _text_position(text: str, index: int) -> Position:
    """The line and column of `text[index]`, counting lines as YAML (and so every other position) does."""
    breaks = list(_LINE_BREAK.finditer(text, 0, index))
    return Position(len(breaks) + 1, index - (breaks[-1].end() if breaks else 0) + 1)


def _char_at(text: str, line: int, column: int) -> str:
    """The character at a 0-based line and column, or "" past the end."""
    lines = text.split("\n")
    return lines[line][column : column + 1] if line < len(lines) else ""


def _position(event: yaml.Event) -> Position:
    mark = event.start_mark
    return Position(mark.line + 1, mark.column + 1) if mark is not None else Position(1, 1)


class _Frame:
    """A mapping or list under construction."""

    __slots__ = ("container", "key", "key_position", "path")

    def __init__(self, container: dict[str, Any] | list[Any], path: Path) -> None:
        self.container = container
        self.path = path
        self.key: str | None = None
        self.key_position: Position | None = None


class _Builder:
    """Turns parse events into data and positions, without recursion."""

    def __init__(self) -> None:
        self.stack: list[_Frame] = []
        self.values: dict[Path, Position] = {}
        self.keys: dict[Path, Position] = {}
        self.texts: dict[Path, str] = {}
        self.result: Any = None
        self.documents = 0

    def path(self) -> Path:
        if not self.stack:
            return ()
        top = self.stack[-1]
        if isinstance(top.container, list):
            return top.path + (len(top.container),)
        return top.path + ((top.key,) if top.key is not None else ())

    def feed(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise LoadError(
                    Diagnostic(
                        (),
                        "a spec file holds one YAML document; a second one starts here",
                        position=_position(event),
                    )
                )
        elif isinstance(event, yaml.AliasEvent):
            raise LoadError(
                Diagnostic(
                    self.path(),
                    f"YAML aliases (*{event.anchor}) are not supported; use `defaults` to share values",
                    position=_position(event),
                )
            )
        elif isinstance(event, yaml.ScalarEvent):
            self._scalar(event)
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            self._check_tag(event.tag, event)
            container: dict[str, Any] | list[Any] = {} if isinstance(event, yaml.MappingStartEvent) else []
            path = self._place(container, event)
            if len(self.stack) >= MAX_DEPTH:
                raise LoadError(
                    Diagnostic(
                        path,
                        f"nested more than {MAX_DEPTH} levels deep",
                        position=_position(event),
                    )
                )
            self.stack.append(_Frame(container, path))
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            self.stack.pop()

    def _check_tag(self, tag: str | None, event: yaml.Event) -> None:
        if tag is not None and tag not in _HARMLESS_TAGS:
            written = "!!" + tag[len(_YAML_TAG) :] if tag.startswith(_YAML_TAG) else tag
            raise LoadError(
                Diagnostic(
                    self.path(),
                    f"YAML tags such as {show(written)} are not supported; write the value without it",
                    position=_position(event),
                )
            )

    def _scalar(self, event: yaml.ScalarEvent) -> None:
        frame = self.stack[-1] if self.stack else None
        if frame is not None and isinstance(frame.container, dict) and frame.key is None:
            self._key(frame, event)
            return
        self._check_tag(event.tag, event)
        plain = event.implicit[0] and event.tag is None
        value = _resolve(event.value, event, self.path()) if plain else event.value
        path = self._place(value, event)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self.texts[path] = event.value

    def _key(self, frame: _Frame, event: yaml.ScalarEvent) -> None:
        # Keys are always strings: `1:` and `on:` are the keys "1" and "on".
        key = event.value
        assert isinstance(frame.container, dict)
        if key in frame.container:
            first = self.keys[frame.path + (key,)]
            raise LoadError(
                Diagnostic(
                    frame.path + (key,),
                    f"duplicate key {show(key)} (first at line {first.line}, column {first.column})",
                    at_key=True,
                    position=_position(event),
                )
            )
        frame.key = key
        frame.key_position = _position(event)

    def _place(self, value: Any, event: yaml.Event) -> Path:
        position = _position(event)
        if not self.stack:
            self.result = value
            self.values[()] = position
            return ()
        frame = self.stack[-1]
        if isinstance(frame.container, list):
            path = frame.path + (len(frame.container),)
            frame.container.append(value)
        else:
            if frame.key is None:
                raise LoadError(
                    Diagnostic(
                        frame.path,
                        "mapping keys must be plain strings, not lists or mappings",
                        position=position,
                    )
                )
            path = frame.path + (frame.key,)
            frame.container[frame.key] = value
            assert frame.key_position is not None
            self.keys[path] = frame.key_position
            frame.key = None
        self.values[path] = position
        return path


def _resolve(text: str, event: yaml.Event, path: Path) -> Any:
    """A plain scalar's value by the YAML 1.2 core schema (JSON's types)."""
    if _NULL.match(text):
        return None
    if _TRUE.match(text):
        return True
    if _FALSE.match(text):
        return False
    if _INT.match(text) or _OCT.match(text) or _HEX.match(text):
        if len(text) > _MAX_DIGITS:
            raise LoadError(
                Diagnostic(path, f"the number {show(text)} is too large", position=_position(event))
            )
        return int(text, 0) if text[:2] in ("0o", "0x") else int(text)
    if _SPECIAL_FLOAT.match(text):
        raise LoadError(
            Diagnostic(path, f"{text} is not allowed: numbers must be finite", position=_position(event))
        )
    if _FLOAT.match(text):
        value = float(text)
        if not math.isfinite(value):
            raise LoadError(
                Diagnostic(path, f"the number {show(text)} is too large", position=_position(event))
            )
        return value
    return text
