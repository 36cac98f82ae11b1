"""A generated package runs with the standard library and boto3 alone.

A fresh virtual environment gets boto3 from the package registry (pip's own cache makes
repeated runs fast) and nothing else: no flowgen, jinja2, pydantic or black. Every package
under generated/ and the examples/ handlers are copied into a project folder outside this
repository; there, in that environment, every generated module imports, every entry point
answers --help, and each package's local runner takes its flow to the end. If pip cannot
reach the registry these tests fail (with pip's own words), they are never skipped.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import shutil
import subprocess
import sys
from dataclasses import dataclass

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = sorted(path.parent for path in (ROOT / "generated").glob("*/flowgen.manifest.json"))
ENTRY_POINTS = ("decider", "worker", "register", "starter", "local")
# flowgen and what it needs at build time; none of it may be on a worker host.
BUILD_TIME = ("flowgen", "jinja2", "markupsafe", "pydantic", "pydantic_core", "black", "yaml", "jsonschema")
# boto3 and what boto3 itself pulls in.
BOTO3 = {"boto3", "botocore", "jmespath", "python-dateutil", "s3transfer", "six", "urllib3"}

COUNTRY_INPUT = {"days": ["2024-01-01", "2024-01-02", "2024-01-03"], "countries": [1, 2, 3, 4, 5]}
ORDER_INPUT = {
    "order_id": "ord-1001",
    "customer_id": "cus-alice",
    "items": {"BOOK-001": 2, "MUG-002": 1},
    "shipping_address": "1 Main St, Dublin",
    "coupon": "WELCOME10",
    "placed_at": "2024-06-01T09:30:00+00:00",
}
ETL_INPUT = {
    "dataset": "billing",
    "start": "2024-03-01",
    "end": "2024-03-02",
    "spark_conf": {"spark.executor.memory": "4g"},
    "requested_at": "2024-03-03T06:00:00+00:00",
}
# The Spark loader of regional_etl is external (Java): locally, a stand-in plays its part and
# loads exactly what the extracts wrote.
STAND_IN = '''
"""Plays the external load_warehouse activity in local runs."""
from examples import etl


def load_warehouse(paths, table, spark_conf):
    return {"table": table, "loaded_rows": sum(etl.STORE[path][0] for path in paths)}
'''

# Imports every module of every package, calls spec_handlers() and each entry point's --help,
# then reports what it imported and which build-time modules ended up loaded.
IMPORT_ALL = """
import contextlib, importlib, io, json, pathlib, sys
packages = sys.argv[1:]
imported, helps = [], {}
for package in packages:
    folder = pathlib.Path(package)
    names = [p.stem for p in sorted(folder.glob("*.py"))]
    names = [package if n == "__init__" else f"{package}.{n}" for n in names]
    names += [f"{package}.engine.{p.stem}" for p in sorted((folder / "engine").glob("*.py")) if p.stem != "__init__"]
    for name in names:
        importlib.import_module(name)
        imported.append(name)
    handlers = importlib.import_module(f"{package}.worker").spec_handlers()
    assert handlers and all(callable(h) for h in handlers.values()), package
    for entry in ENTRY_POINTS:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                importlib.import_module(f"{package}.{entry}").main(["--help"])
            except SystemExit as exit_:
                helps[f"{package}.{entry}"] = [exit_.code, out.getvalue().splitlines()[0]]
roots = {name.split(".")[0] for name in sys.modules}
print(json.dumps({"imported": imported, "helps": helps, "loaded": sorted(roots & set(BUILD_TIME))}))
"""


@dataclass(frozen=True)
class Bare:
    """A virtual environment holding only boto3, and a project folder with the packages."""

    python: pathlib.Path
    project: pathlib.Path
    env: dict[str, str]

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        # -s: no user site-packages; -E: no PYTHONPATH or other PYTHON* settings from outside.
        return subprocess.run(
            [str(self.python), "-s", "-E", *args],
            cwd=self.project,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Bare:
    root = tmp_path_factory.mktemp("self-contained")
    venv = root / "venv"
    # No pip inside either: pip from this environment installs into it (pip --python).
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-input", "boto3"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert pip.returncode == 0, f"pip could not install boto3 (is the registry reachable?):\n{pip.stderr}"
    project = root / "project"
    ignore = shutil.ignore_patterns("__pycache__")
    for package in PACKAGES:
        shutil.copytree(package, project / package.name, ignore=ignore)
    shutil.copytree(ROOT / "examples", project / "examples", ignore=ignore)
    (project / "spark_stand_in.py").write_text(STAND_IN)
    env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin",
        "HOME": str(root),
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
    }
    return Bare(python, project, env)


def test_there_are_packages_to_carry() -> None:
    assert [p.name for p in PACKAGES] == ["country_flow", "order_flow", "regional_etl"]


def test_the_environment_holds_boto3_and_nothing_of_flowgen(bare: Bare) -> None:
    code = (
        "import importlib.metadata as m, importlib.util as u, json, sys\n"
        f"names = {list(BUILD_TIME)!r} + ['boto3', 'botocore']\n"
        "found = {n: u.find_spec(n) is not None for n in names}\n"
        "dists = sorted(d.metadata['Name'].lower() for d in m.distributions())\n"
        "print(json.dumps({'found': found, 'dists': dists, 'prefix': sys.prefix}))\n"
    )
    done = bare.run("-c", code)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["found"] == {**dict.fromkeys(BUILD_TIME, False), "boto3": True, "botocore": True}
    assert set(report["dists"]) == BOTO3, report["dists"]
    assert pathlib.Path(report["prefix"]) == bare.python.parent.parent


def test_every_generated_module_imports_and_every_entry_point_answers_help(bare: Bare) -> None:
    script = f"ENTRY_POINTS = {ENTRY_POINTS!r}\nBUILD_TIME = {BUILD_TIME!r}\n" + IMPORT_ALL
    done = bare.run("-c", script, *(p.name for p in PACKAGES))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    expected = []
    for package in PACKAGES:
        expected += [
            package.name if p.stem == "__init__" else f"{package.name}.{p.stem}"
            for p in sorted(package.glob("*.py"))
        ]
        expected += [
            f"{package.name}.engine.{p.stem}"
            for p in sorted((package / "engine").glob("*.py"))
            if p.stem != "__init__"
        ]
    assert report["imported"] == expected
    for package in PACKAGES:
        for module in ("types", "flow", "decider", "worker", "register", "starter", "local", "engine.swf"):
            assert f"{package.name}.{module}" in report["imported"]
    for package in PACKAGES:
        for entry in ENTRY_POINTS:
            code, usage = report["helps"][f"{package.name}.{entry}"]
            assert code == 0 and usage.startswith(f"usage: python -m {package.name}.{entry}"), usage
    assert report["loaded"] == []


def _country_report(monkeypatch: pytest.MonkeyPatch) -> str:
    """What the country flow must report: its handlers called directly, here, on the same input."""
    from examples import country_flow

    class Context:
        attempt = 1

    monkeypatch.setenv("COUNTRY_FLOW_FAILURE_RATE", "0")
    rows = [
        country_flow.fetch_country_metrics(
            country, datetime.date.fromisoformat(day), "r", "public-api", Context()
        )["rows"]
        for day in COUNTRY_INPUT["days"]
        for country in COUNTRY_INPUT["countries"]
    ]
    return country_flow.report(rows)["report"]


def test_country_flow_runs_locally_to_its_exact_report(bare: Bare, monkeypatch: pytest.MonkeyPatch) -> None:
    done = bare.run(
        "-m", "country_flow.local", "--input", json.dumps(COUNTRY_INPUT), COUNTRY_FLOW_FAILURE_RATE="0"
    )
    assert done.returncode == 0, done.stderr
    report = _country_report(monkeypatch)
    assert report.startswith("15 fetches, ")
    assert done.stdout == json.dumps({"report": report}, indent=2) + "\n"


def test_order_flow_runs_locally_to_completed(bare: Bare) -> None:
    done = bare.run("-m", "order_flow.local", "--input", json.dumps(ORDER_INPUT))
    assert done.returncode == 0, done.stderr  # exit 0 is the runner's COMPLETED
    result = json.loads(done.stdout)
    assert sorted(result) == [
        "loyalty_points",
        "order_id",
        "payment_id",
        "result_format",
        "status",
        "tracking_number",
    ]
    assert result["order_id"] == "ord-1001" and result["status"] == "completed"
    assert result["result_format"] == 1 and result["payment_id"].startswith("pay-")
    assert isinstance(result["loyalty_points"], int) and result["tracking_number"]
    status = bare.run(
        "-c",
        "import json, sys, order_flow.local as local\n"
        "outcome = local.run(json.loads(sys.argv[1]))\n"
        "print(outcome.status)\n",
        json.dumps(ORDER_INPUT),
    )
    assert (status.returncode, status.stdout) == (0, "COMPLETED\n"), status.stderr


def test_order_flow_reports_a_rejected_order_as_failed(bare: Bare) -> None:
    rejected = {**ORDER_INPUT, "items": {"NOPE-999": 1}}
    done = bare.run("-m", "order_flow.local", "--input", json.dumps(rejected))
    assert done.returncode == 1
    assert done.stderr.startswith("FAILED: validate_order ") and "NOPE-999" in done.stderr


def test_regional_etl_runs_locally_with_a_stand_in_for_its_external_loader(bare: Bare) -> None:
    done = bare.run(
        "-m",
        "regional_etl.local",
        "--input",
        json.dumps(ETL_INPUT),
        "--handler",
        "load_warehouse=spark_stand_in:load_warehouse",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert len(result["rows_per_partition"]) == 4  # 2 days x 2 regions
    assert result["loaded_rows"] == sum(result["rows_per_partition"])
    assert result["table"] == "analytics.events_daily"
    assert result["report"]["checks"] == 12 and result["report"]["status"] == "ok"


def test_regional_etl_without_the_stand_in_is_refused_before_it_runs(bare: Bare) -> None:
    done = bare.run("-m", "regional_etl.local", "--input", json.dumps(ETL_INPUT))
    assert done.returncode == 2
    assert (
        "load_warehouse is external: give a stand-in with --handler load_warehouse=" in done.stderr
    ), done.stderr
    assert "Traceback" not in done.stderr
