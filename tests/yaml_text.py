"""Spec text for property tests: any string written as a YAML double-quoted scalar."""

from __future__ import annotations

import json
from typing import Any

_NAMED_ESCAPES = {
    "\x00": "\\0",
    "\x07": "\\a",
    "\x08": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\x0b": "\\v",
    "\x0c": "\\f",
    "\r": "\\r",
    "\x1b": "\\e",
    "\x85": "\\N",
    "\xa0": "\\_",
    "\u2028": "\\L",
    "\u2029": "\\P",
    '"': '\\"',
    "\\": "\\\\",
}


def yaml_string(text: str, named: bool = True) -> str:
    """A YAML double-quoted scalar; what is not printable goes through YAML's escapes."""
    out = []
    for char in text:
        if named and char in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[char])
        elif char in '"\\':
            out.append("\\" + char)
        elif char.isprintable() and char != "\ufeff":
            out.append(char)
        elif ord(char) <= 0xFF:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def yaml_value(value: Any, named: bool = True) -> str:
    """Flow-style YAML for JSON-like data (numbers as JSON writes them: valid YAML 1.2)."""
    if isinstance(value, str):
        return yaml_string(value, named)
    if isinstance(value, dict):
        items = (f"{yaml_string(k, named)}: {yaml_value(v, named)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(yaml_value(v, named) for v in value) + "]"
    return json.dumps(value)
