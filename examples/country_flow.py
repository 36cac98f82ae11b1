"""Handlers of specs/country_flow.yaml: one metrics fetch per (day, country).

`fetch_country_metrics` fails at random, as an external API does, to show that a
failure is contained to one (day, country) instance and retried there. The draw
comes from a hash of the run, the instance and the attempt, so a run can be
replayed exactly by setting COUNTRY_FLOW_SEED.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import uuid
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    # Handlers depend on the generated package's types, never the reverse.
    from country_flow.types import Activity1Output, Activity2Output, Activity3Output


class Context(Protocol):
    """The part of flowgen's task context these handlers use."""

    @property
    def attempt(self) -> int: ...


def start_run() -> Activity1Output:
    """Open a run that every fetch reports into."""
    return {"run_id": uuid.uuid4().hex}


def _draw(*parts: object) -> float:
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def fetch_country_metrics(
    country_id: int, day: datetime.date, run_id: str, source: str, context: Context
) -> Activity2Output:
    """Rows the (pretend) API returns for one country and day; fails now and then."""
    failure_rate = float(os.environ.get("COUNTRY_FLOW_FAILURE_RATE", "0.2"))
    seed = os.environ.get("COUNTRY_FLOW_SEED", run_id)
    if _draw(seed, country_id, day.isoformat(), context.attempt) < failure_rate:
        raise ConnectionError(f"{source} did not answer for country {country_id} on {day.isoformat()}")
    return {"rows": int(_draw(source, country_id, day.isoformat()) * 1000)}


def report(rows: list[int]) -> Activity3Output:
    """One line over every instance's rows."""
    return {"report": f"{len(rows)} fetches, {sum(rows)} rows"}
