"""Handlers of specs/country_flow.yaml: one metrics fetch per (day, country).

`fetch_country_metrics` fails at random, as an external API does, to show that a
failure is contained to one (day, country) instance and retried there.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import random
import uuid


def start_run() -> dict[str, str]:
    """Open a run that every fetch reports into."""
    return {"run_id": uuid.uuid4().hex}


def fetch_country_metrics(country_id: int, day: datetime.date, run_id: str, source: str) -> dict[str, int]:
    """Rows the (pretend) API returns for one country and day; fails now and then."""
    failure_rate = float(os.environ.get("COUNTRY_FLOW_FAILURE_RATE", "0.2"))
    if random.random() < failure_rate:
        raise ConnectionError(f"{source} did not answer for country {country_id} on {day.isoformat()}")
    digest = hashlib.sha256(f"{source}:{country_id}:{day.isoformat()}".encode()).digest()
    return {"rows": int.from_bytes(digest[:2], "big") % 1000}


def report(rows: list[int]) -> dict[str, str]:
    """One line over every instance's rows."""
    return {"report": f"{len(rows)} fetches, {sum(rows)} rows"}
