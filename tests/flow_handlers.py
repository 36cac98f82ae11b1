"""Handlers for the random flows of test_local_properties: outputs computed from inputs alone.

Every activity of those flows runs `compute`, which takes whatever inputs its spec gives
(among them its own name, as a literal) and returns `{"v": N, "items": [...]}` computed from
them, so a flow's result depends only on its shape and input: any retry or reordering that
changes it is a bug. Reverts run `undo`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def compute(**inputs: Any) -> dict[str, Any]:
    """`v`, a hash of the inputs, and `items`, 0 to 4 numbers derived from it (to fan out over)."""
    text = json.dumps(inputs, sort_keys=True, default=str)
    v = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") % 100_000
    return {"v": v, "items": [v % (7 + n) for n in range(v % 5)]}


def undo(**inputs: Any) -> None:
    """Undo `compute`: nothing to do, but it must receive the forward inputs and the result."""
    assert "result" in inputs and "name" in inputs, inputs
