"""Handlers of tests/e2e/slow_flow.yaml.

`slow_step` announces itself in SLOW_FLOW_MARKERS (a folder: one file `ATTEMPT-PID` per call), so
the test knows which worker process holds the task, then works for `seconds` on its first attempt
(long enough to be killed) and at once on later ones, heartbeating as it goes. It reports which
worker ran it (SLOW_FLOW_WORKER, set per process by the test).
"""

from __future__ import annotations

import os
import pathlib
import time
from typing import Any


def slow_step(label: str, seconds: float, context: Any) -> dict[str, Any]:
    markers = pathlib.Path(os.environ["SLOW_FLOW_MARKERS"])
    (markers / f"{context.attempt}-{os.getpid()}").write_text(label)
    deadline = time.monotonic() + (seconds if context.attempt == 1 else 0)
    while time.monotonic() < deadline:
        context.heartbeat(f"working on {label}")
        time.sleep(0.3)
    return {"label": label, "worker": os.environ.get("SLOW_FLOW_WORKER", ""), "attempt": context.attempt}
