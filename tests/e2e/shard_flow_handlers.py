"""Handlers of tests/e2e/shard_flow.yaml: failures decided by the input, so a run's result is known."""

from __future__ import annotations

from typing import Any


def square(n: int, context: Any) -> dict[str, int]:
    """n²; an n that is a multiple of 4 fails its first attempt, and 7 its first two."""
    if (n % 4 == 0 and context.attempt == 1) or (n == 7 and context.attempt <= 2):
        raise RuntimeError(f"{n} fails attempt {context.attempt}")
    return {"v": n * n}


def skip(v: int) -> dict[str, int]:
    """v + 1, but a multiple of 3 fails (for good: the activity has no retry)."""
    if v % 3 == 0:
        raise ValueError(f"{v} is a multiple of 3")
    return {"w": v + 1}


def total(ws: list[int | None]) -> dict[str, int]:
    return {"sum": sum(w for w in ws if w is not None)}
