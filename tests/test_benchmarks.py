"""Every benchmark still runs: a smoke run of each at its smallest size.

The figures themselves are read by hand and recorded in docs/benchmarks.md, never asserted here
(a timed test flakes on a busy machine); this only keeps the scripts working as the code moves.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

SMOKE = {
    "build_benchmark.py": ["--sizes", "10", "--repeat", "1"],
    "cache_benchmark.py": ["--quick"],
    "decide_benchmark.py": ["--runs", "1"],
    "history_parse_benchmark.py": ["--quick"],
    "load_benchmark.py": ["--pairs", "100"],
    "shard_benchmark.py": ["--sizes", "2000"],
}


def test_every_benchmark_has_a_smoke_run() -> None:
    assert sorted(SMOKE) == sorted(p.name for p in (ROOT / "benchmarks").glob("*_benchmark.py"))


@pytest.mark.parametrize("script", sorted(SMOKE))
def test_benchmark_runs(script: str) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *SMOKE[script]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "generated"), str(ROOT)])},
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert any(char.isdigit() for char in run.stdout), run.stdout  # it printed its figures
