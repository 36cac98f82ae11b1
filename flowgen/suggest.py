"""`did you mean ...?` for misspelled keys and names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from flowgen.diagnostics import show


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to `word`, if any is close enough to be a likely typo."""
    options = sorted(set(choices))
    if not options or len(word) > 300:
        return None
    lowered = {option.lower(): option for option in options}
    if word.lower() in lowered and lowered[word.lower()] != word:
        return lowered[word.lower()]
    matches = difflib.get_close_matches(word, options, n=1, cutoff=0.75)
    if matches:
        return matches[0]
    # A plural or an extra suffix (`retries` for `retry`, `timeout` for `timeouts`).
    stems = [o for o in options if len(o) >= 4 and (word.startswith(o[:-1]) or o.startswith(word))]
    return stems[0] if len(stems) == 1 and len(word) >= 4 else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`; did you mean "x"?` or the empty string."""
    match = closest(word, choices)
    return f"; did you mean {show(match)}?" if match else ""
