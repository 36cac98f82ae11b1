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

import dataclasses
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from flowgen.diagnostics import Diagnostic, Path, Position, kind_of, show

try:  # libyaml is much faster; the pure-Python parser gives the same events.
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 100

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
    except LoadError as error:
        # JSON writers escape characters beyond U+FFFF as surrogate pairs ("\ud83d\ude42"),
        # which YAML refuses: join each pair into one YAML escape ("\U0001F642") and try again.
        if "invalid Unicode character escape" not in error.diagnostic.message:
            raise
        joined, moved = _join_surrogates(text)
        if not moved:
            raise
        try:
            document = _load_text(joined)
        except LoadError as again:
            position = again.diagnostic.position
            if position is not None:
                position = _unmove(position, moved)
            raise LoadError(dataclasses.replace(again.diagnostic, position=position)) from None
        return Document(
            data=document.data,
            values={path: _unmove(at, moved) for path, at in document.values.items()},
            keys={path: _unmove(at, moved) for path, at in document.keys.items()},
            texts=document.texts,
        )


def _join_surrogates(text: str) -> tuple[str, dict[int, list[int]]]:
    """The text with escaped surrogate pairs joined, and where each join shortened a line:
    line -> columns (in the joined text) after which two characters went missing."""
    parts: list[str] = []
    ends: list[int] = []
    last = 0
    for match in _SURROGATE_PAIR.finditer(text):
        high, low = int(match.group(2), 16), int(match.group(3), 16)
        code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        parts += [text[last : match.start()], match.group(1), f"\\U{code:08X}"]
        ends.append(sum(map(len, parts)))
        last = match.end()
    joined = "".join(parts) + text[last:]
    moved: dict[int, list[int]] = {}
    for end in ends:
        at = _text_position(joined, end)
        moved.setdefault(at.line, []).append(at.column)
    return joined, moved


def _unmove(position: Position, moved: dict[int, list[int]]) -> Position:
    shift = 2 * sum(1 for column in moved.get(position.line, ()) if column <= position.column)
    return Position(position.line, position.column + shift)


def _load_text(text: str) -> Document:
    builder = _Builder()
    try:
        for event in yaml.parse(text, Loader=_Loader):
            builder.feed(event)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "cannot be parsed"
        opened = error.context_mark
        if error.context in ("while parsing a flow mapping", "while parsing a flow sequence") and opened:
            problem += (
                f" (in the {{...}} or [...] opened at line {opened.line + 1}, column {opened.column + 1};"
                " quote values that contain [ ] { } , or :)"
            )
        elif "flow" in (error.context or ""):
            problem += " (inside {...} or [...], quote values that contain [ ] { } , or :)"
        elif (error.context or "").startswith("while parsing a block"):
            problem += " (check the indentation)"
        elif "mapping values are not allowed" in problem:
            problem += ' (quote a value that contains ": ")'
        elif mark is not None and _char_at(text, mark.line, mark.column) == "\t":
            problem += " (a tab: YAML indents with spaces only)"
        position = Position(mark.line + 1, mark.column + 1) if mark else Position(1, 1)
        raise LoadError(Diagnostic(builder.path(), f"invalid YAML: {problem}", position=position)) from None
    except yaml.reader.ReaderError as error:
        # libyaml reports a byte offset, the pure-Python reader a character offset:
        # find the character itself (any occurrence of it is just as unacceptable).
        char = chr(error.character) if isinstance(error.character, int) else str(error.character)
        raise LoadError(
            Diagnostic(
                builder.path(),
                f"invalid YAML: the character U+{ord(char[:1] or '?'):04X} is not allowed in YAML text; "
                "write it escaped inside double quotes",
                position=_text_position(text, max(text.find(char), 0)),
            )
        ) from None
    except yaml.YAMLError as error:
        raise LoadError(
            Diagnostic((), f"invalid YAML: {_first_line(str(error))}", position=Position(1, 1))
        ) from None
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


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "cannot be parsed"


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
