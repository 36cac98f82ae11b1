"""How the `flowgen` commands report: exit codes, colour, diagnostics and error lines.

The commands (flowgen/cli.py dispatches; flowgen/build.py and flowgen/localrun.py run them) all
import from here and never from each other.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from flowgen.compiler import Compiled

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    return hasattr(stream, "isatty") and stream.isatty()


def printable(text: str) -> str:
    """`text` safe to print anywhere: bytes of a file name that are not UTF-8 (which Python keeps as
    lone surrogates) shown as `\\xff`, any other lone surrogate as `\\udc80`."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "backslashreplace")
    return raw.decode("utf-8", "backslashreplace")


def print_diagnostics(compiled: Iterable[Compiled]) -> int:
    """Print every diagnostic on stderr; the exit code they add up to (2 beats 1 beats 0)."""
    colour = use_colour(sys.stderr)
    code = EXIT_OK
    for item in compiled:
        for located in item.diagnostics:
            print(printable(located.render(colour)), file=sys.stderr)
        if item.unreadable:
            code = EXIT_USAGE
        elif item.checked is None and code == EXIT_OK:
            code = EXIT_INVALID
    return code


def error(message: str, code: int = EXIT_USAGE) -> int:
    """Print `flowgen: error: message` on stderr and return `code`."""
    print(f"flowgen: error: {printable(message)}", file=sys.stderr)
    return code
