"""The decider against histories it cannot trust: huge run-time generators, malformed results and
inputs, events missing or repeated. `decide` must answer with decisions, never raise."""

from __future__ import annotations

import tracemalloc

from flowgen.runtime.decider import decide
from tests.histories import History, inputs_by_id, plan_from, summaries
from tests.test_decider_table import H, spec

# Two date_range axes from the input: the input alone decides how many instances there are.
WIDE = spec(
    f"""
grid:
  handler: "{H}:g"
  generators:
    a: {{date_range: {{start: input.start, end: input.end}}}}
    b: {{date_range: {{start: input.start, end: input.end}}}}
  max_items: 100
  inputs: {{a: generator.a, b: generator.b}}
""",
    input="{start: date, end: date}",
)


def test_a_huge_date_range_is_refused_by_max_items_before_it_is_built() -> None:
    plan = plan_from(WIDE)
    h = History({"start": "0001-01-01", "end": "9999-12-31"})
    h.decision_task()
    tracemalloc.start()
    try:
        decisions = decide(plan, h.events)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    days = 3_652_059  # 0001-01-01 to 9999-12-31, both included
    assert summaries(decisions) == [
        f"fail grid would have {days * days} instances, more than its max_items 100"
    ]
    assert peak < 4 * 2**20


def test_a_date_range_within_max_items_still_gives_every_combination() -> None:
    plan = plan_from(WIDE)
    h = History({"start": "2024-02-28", "end": "2024-03-01"})
    decisions = h.step(plan)
    assert summaries(decisions) == [f"schedule grid-{n}" for n in range(9)]
    assert inputs_by_id(decisions)["grid-5"] == {"a": "2024-02-29", "b": "2024-03-01"}
