"""Handlers of tests/e2e/big_flow.yaml: labels of a given size, and their concatenation."""

from __future__ import annotations


def label(n: int, size: int) -> str:
    """The label `make` returns for instance `n`: `size` characters, different for each `n`."""
    return (f"{n:02d}" * size)[:size]


def make(n: int, size: int) -> dict[str, str]:
    return {"label": label(n, size)}


def join(labels: list[str], note: str) -> dict[str, object]:
    joined = "".join(labels)
    return {"total": len(joined) + len(note), "joined": joined}
