"""Durations: `90` (seconds), `"90s"`, `"5m"`, `"2h"`, `"1d"`, and `none` where allowed."""

from __future__ import annotations

import re
from typing import Literal

from flowgen.diagnostics import kind_of, show

NO_LIMIT: Literal["none"] = "none"
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^([0-9]+)([smhd])$")
# Far above SWF's one-year maximum; keeps arithmetic on hostile input cheap.
_MAX_SECONDS = 100 * 365 * 86400


def parse_duration(value: object, allow_none: bool) -> int | Literal["none"]:
    """Seconds from a spec duration; raises ValueError with the user's message."""
    if isinstance(value, bool) or value is None:
        raise ValueError(_expected(value, allow_none))
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str):
        if value == NO_LIMIT:
            if allow_none:
                return NO_LIMIT
            raise ValueError(
                "none (no limit) is allowed only for the four activity timeouts and decision_timeout"
            )
        match = _DURATION.match(value.strip())
        if match is None or value != value.strip():
            hint = ""
            if value.strip().isdigit():
                hint = f"; write {value.strip()} (a number of seconds) or {value.strip()}s"
            elif value.lower() in ("none", "null", "never", "infinite"):
                hint = "; write none (lower case) for no limit" if allow_none else ""
            raise ValueError(
                f"{show(value)} is not a duration: use seconds (90) or a number with a unit s, m, h or d (90s, 5m, 2h, 1d){hint}"
            )
        if len(match.group(1)) > 12:
            raise ValueError(f"{show(value)} is too long a duration")
        seconds = int(match.group(1)) * UNITS[match.group(2)]
    else:
        raise ValueError(_expected(value, allow_none))
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, found {seconds}")
    if seconds > _MAX_SECONDS:
        raise ValueError(f"{show(value)} is too long a duration")
    return seconds


def _expected(value: object, allow_none: bool) -> str:
    extra = ", or none for no limit" if allow_none else ""
    return (
        f"expected a duration such as 30s, 5m, 2h, 1d or a number of seconds{extra}; found {kind_of(value)}"
    )


def format_duration(seconds: int | Literal["none"]) -> str:
    """The shortest exact spelling: 86400 -> 1d, 90 -> 90s, 'none' -> none."""
    if seconds == NO_LIMIT:
        return NO_LIMIT
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def describe_duration(seconds: float) -> str:
    """Approximate human reading for messages: `2d 3h`, `61m 10s`."""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return " ".join(parts[:2]) or "0s"
