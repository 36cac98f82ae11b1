"""Deterministic measures of the work a call does, for tests of linear time without a clock.

`WorkMeter.run(module, function, *args)` counts, while the call runs:

- `characters`: the characters that slices of, iteration over and method calls on a `Metered`
  argument cover (a slice of it is `Metered` too, so a scan of a slice counts), and the characters
  that every regular expression of `module` (compiled at import, or by `module.re` while metering)
  is asked to scan;
- `steps`: the Python lines, calls and returns executed (sys.settrace), anywhere.

A rescan of the text from its start for each of N items shows as N^2 characters; a Python loop over
what came before for each item shows as N^2 steps. What neither counts is a loop inside a C function
on something other than the text (say `sorted` of a growing list): compare two sizes (N and 8N) and
the ratio tells linear from quadratic whatever the constants.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Callable
from typing import Any

# str methods that take (sub, start, end): they scan only the range they are given.
_RANGED = {"count", "find", "rfind", "index", "rindex", "startswith", "endswith"}
# Pattern methods that take (string, pos, endpos), and those that take the string alone or second.
_SCANS = {"finditer", "findall", "search", "match", "fullmatch"}
_WHOLE = {"split": 0, "sub": 1, "subn": 1}


class WorkMeter:
    def __init__(self) -> None:
        self.characters = 0
        self.steps = 0

    def text(self, value: str) -> Metered:
        return Metered(value, self)

    def run(self, module: types.ModuleType, function: Callable[..., Any], *args: Any) -> Any:
        patched = {
            name: _Pattern(value, self)
            for name, value in vars(module).items()
            if isinstance(value, re.Pattern)
        }
        if getattr(module, "re", None) is re:
            patched["re"] = _Re(self)
        saved = {name: getattr(module, name) for name in patched}
        for name, value in patched.items():
            setattr(module, name, value)
        tracer = sys.gettrace()
        sys.settrace(self._trace)
        try:
            return function(*args)
        finally:
            sys.settrace(tracer)
            for name, value in saved.items():
                setattr(module, name, value)

    def _trace(self, frame: Any, event: str, arg: Any) -> Callable[..., Any]:
        self.steps += 1
        return self._trace

    def scanned(self, string: object, pos: int = 0, endpos: int | None = None) -> None:
        if isinstance(string, str):
            end = len(string) if endpos is None else min(endpos, len(string))
            self.characters += max(end - max(pos, 0), 0)


class Metered(str):
    """A str that reports to its meter the characters each operation on it covers."""

    meter: WorkMeter

    def __new__(cls, value: str, meter: WorkMeter) -> Metered:
        made = super().__new__(cls, value)
        made.meter = meter
        return made

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            self.meter.characters += len(range(start, stop, step))
            return Metered(super().__getitem__(key), self.meter)
        self.meter.characters += 1
        return super().__getitem__(key)

    def __iter__(self) -> Any:
        self.meter.characters += len(self)
        return super().__iter__()


def _metered_method(name: str) -> Callable[..., Any]:
    method = getattr(str, name)

    def metered(self: Metered, *args: Any) -> Any:
        if name in _RANGED:
            start, end = (list(args[1:3]) + [None, None])[:2]
            self.meter.characters += len(range(len(self))[slice(start, end)])
        else:
            self.meter.characters += len(self)
        return method(self, *args)

    return metered


for _name in dir(str):
    if (not _name.startswith("_") and _name != "maketrans") or _name in (
        "__contains__",
        "__add__",
        "__mod__",
    ):
        setattr(Metered, _name, _metered_method(_name))


class _Pattern:
    """A compiled pattern that reports the characters it is asked to scan."""

    def __init__(self, pattern: re.Pattern[str], meter: WorkMeter) -> None:
        self._pattern = pattern
        self._meter = meter

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._pattern, name)
        if name in _SCANS:

            def scan(string: str, pos: int = 0, endpos: int | None = None) -> Any:
                self._meter.scanned(string, pos, endpos)
                return attribute(string, pos, len(string) if endpos is None else endpos)

            return scan
        if name in _WHOLE:

            def whole(*args: Any, **kwargs: Any) -> Any:
                self._meter.scanned(args[_WHOLE[name]])
                return attribute(*args, **kwargs)

            return whole
        return attribute


class _Re:
    """The `re` module, with patterns and module-level scans that report to the meter."""

    def __init__(self, meter: WorkMeter) -> None:
        self._meter = meter

    def compile(self, pattern: str, flags: int = 0) -> _Pattern:
        return _Pattern(re.compile(pattern, flags), self._meter)

    def __getattr__(self, name: str) -> Any:
        function = getattr(re, name)
        if name in _SCANS or name in _WHOLE:
            string = 1 + _WHOLE.get(
                name, 0
            )  # re.sub(pattern, repl, string, ...), re.search(pattern, string, ...)

            def scan(*args: Any, **kwargs: Any) -> Any:
                self._meter.scanned(args[string] if len(args) > string else kwargs.get("string"))
                return function(*args, **kwargs)

            return scan
        return function
