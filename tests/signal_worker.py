"""A worker process for tests/test_swf_loops.py's signal tests: a fake SWF, one task, a real signal.

`python tests/signal_worker.py finish|hang`: the handler of the one task prints `started`, then
either waits until the worker has been signalled and completes (`finish`) or never returns
(`hang`). Each report is printed as a JSON line; the exit status is `entry.serve`'s.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

from swf_support import FakeActivitySWF, activity_task, country_plan

from flowgen.runtime.entry import serve
from flowgen.runtime.worker import Worker


def main(mode: str) -> int:
    def report(kind: str, request: dict[str, Any]) -> None:
        print(json.dumps({"report": kind, **request}), flush=True)

    swf = FakeActivitySWF([activity_task()], on_empty=lambda: threading.Event().wait(0.05), on_report=report)
    worker: Worker

    def handler() -> dict[str, str]:
        print("started", flush=True)
        if mode == "hang":
            threading.Event().wait()
        assert worker.stop_event.wait(20), "no signal came"
        return {"run_id": "finished after the signal"}

    worker = Worker(country_plan(), {"activity_1": handler}, swf, identity="w")  # type: ignore[arg-type]
    return serve(worker)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
