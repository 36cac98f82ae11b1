"""Every hand-built history the decider's tests decide is also decided incrementally.

A test calls `decide(plan, h.events)` on a history it grows task by task; this fixture makes
each such call also fold only the events new since the test's previous call of that history
(`HistoryFolder`) and decide with what the previous call derived (`decider.Memo`), as the
poller does, and asserts that the decisions are the full replay's. So every story the table
tests tell (poisoned results, retries, shards, reverts, cancels) checks the incremental
decider too.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from flowgen.runtime import decider
from flowgen.runtime.history import HistoryFolder
from flowgen.runtime.plan import FlowPlan

_real_decide = decider.decide


class _Shadow:
    """The folds of the histories a test decided, by plan and first event."""

    def __init__(self) -> None:
        self.kept: dict[tuple[int, int], tuple[HistoryFolder, list[dict[str, Any]]]] = {}
        self.incremental = 0

    def decide(
        self,
        plan: FlowPlan,
        events: list[dict[str, Any]],
        workflow_id: str = "",
        execution: Any = None,
        memo: Any = None,
    ) -> list[dict[str, Any]]:
        decisions = _real_decide(plan, events, workflow_id, execution, memo)
        if execution is not None or memo is not None or not events:
            return decisions  # the caller folds on its own
        key = (id(plan), id(events[0]))
        folder, folded = self.kept.get(key, (None, []))
        # The fold goes on only over the very events it folded (a test may change a history).
        follows = (
            folder is not None
            and len(folded) <= len(events)
            and all(a is b for a, b in zip(folded, events, strict=False))
        )
        execution = folder.fold(events[len(folded) :]) if folder is not None and follows else None
        if folder is None or execution is None:
            folder = HistoryFolder()
            execution = folder.fold(events)
        else:
            self.incremental += 1
        if execution is None:
            self.kept.pop(key, None)
            return decisions  # only a whole read can say what is wrong: the replay did
        folder.memo = folder.memo or decider.Memo()
        again = _real_decide(plan, events, workflow_id, execution, folder.memo)
        assert again == decisions, "the incremental decider disagrees with a full replay"
        self.kept[key] = (folder, list(events))
        return decisions


@pytest.fixture(autouse=True)
def _decide_incrementally_too(request: pytest.FixtureRequest) -> Iterator[None]:
    shadow = _Shadow()
    patch = pytest.MonkeyPatch()
    for module in (request.module, sys.modules.get("histories"), sys.modules.get("tests.histories")):
        if module is not None and getattr(module, "decide", None) is _real_decide:
            patch.setattr(module, "decide", shadow.decide)
    try:
        yield
    finally:
        patch.undo()
