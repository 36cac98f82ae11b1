"""The seeds' example at its own size: the country flow over 20,000 (day, country) instances.

specs/country_flow.yaml allows 20,000 instances: the compiler runs activity_2 in shards (child
executions of 254 instances) and its report's fan-in of 20,000 rows, over SWF's 32,768 characters,
goes through the spec's payloads (in memory in a local run). This runs the committed package's
local runner as a user would, with the example handlers failing now and then, and checks the
report against the rows computed here.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import subprocess
import sys

from tests.moto_swf import country_report

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_the_country_flow_runs_20000_instances_locally_to_the_right_report() -> None:
    first = datetime.date(2020, 1, 1)
    days = [(first + datetime.timedelta(days=n)).isoformat() for n in range(200)]
    countries = list(range(100))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "generated"), str(ROOT)]),
        # A few failures, each retried (a rate of 0.05 over 3 retries leaves none failing for good
        # with this seed), so the shards' retries are exercised too.
        "COUNTRY_FLOW_FAILURE_RATE": "0.05",
        "COUNTRY_FLOW_SEED": "scale-1",
    }
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "country_flow.local",
            "--input",
            json.dumps({"days": days, "countries": countries}),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout) == country_report(days, countries)
    assert json.loads(run.stdout)["report"].startswith("20000 fetches, ")
