"""The generated packages' command lines, run as a user runs them: `python -m PACKAGE.local`,
`.starter` and `.worker` against hostile input and broken handler modules. No AWS: each case
must end before a client would talk to SWF.
"""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
GENERATED = ROOT / "generated"
DEEP = "[" * 5000 + "]" * 5000
COUNTRY_INPUT = {"days": ["2024-01-01"], "countries": [1, 2]}
# Where nothing listens: a command that reached SWF would fail on the connection instead.
NOWHERE = ["--region", "us-east-1", "--endpoint-url", "http://127.0.0.1:9"]
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def _main(
    module: str, *args: str, cwd: pathlib.Path = ROOT, path: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m module args` with the generated packages (and `path`, first) importable."""
    python_path = ":".join(p for p in (path, str(ROOT), str(GENERATED)) if p)
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": python_path, **AWS_ENV, **(env or {})},
        timeout=120,
    )


def _one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# -- item 7: deeply nested input ---------------------------------------------------------------


@pytest.mark.parametrize(
    "given", [DEEP, json.dumps({"days": "x"})[:-1] + ', "countries": ' + DEEP + "}"], ids=["top", "field"]
)
def test_local_refuses_deeply_nested_input_in_one_line(given: str) -> None:
    done = _main("country_flow.local", "--input", given)
    assert done.returncode == 1
    assert done.stdout == ""
    assert "nested more than 100 levels deep" in _one_line(done.stderr)


def test_starter_refuses_deeply_nested_input_before_calling_swf(tmp_path: pathlib.Path) -> None:
    given = tmp_path / "input.json"
    given.write_text('{"days": ["2024-01-01"], "countries": ' + DEEP + "}")
    done = _main("country_flow.starter", *NOWHERE, "--input-file", str(given))
    assert done.returncode == 1
    assert done.stdout == ""
    line = _one_line(done.stderr)
    assert line.startswith("python -m country_flow.starter: error: ") and "nested more than 100" in line


def test_start_refuses_deeply_nested_python_input_without_calling_swf() -> None:
    if str(GENERATED) not in sys.path:
        sys.path.append(str(GENERATED))
    from country_flow import starter

    class Client:
        def start_workflow_execution(self, **arguments: Any) -> dict[str, str]:
            raise AssertionError("SWF was called")

    nested: list[Any] = []
    for _ in range(5000):
        nested = [nested]
    for days in (nested, nested[0][0][0]):  # too deep for json.dumps, then for the decider
        with pytest.raises(ValueError, match="nested"):
            starter.start({"days": days, "countries": [1]}, client=Client())  # type: ignore[typeddict-item]


# -- item 18a: a handler module that cannot be imported ----------------------------------------

BROKEN = {
    "missing import": ("import a_module_that_is_not_there\n", "ModuleNotFoundError"),
    "syntax error": ("def start_run(:\n", "SyntaxError"),
    "raises on import": ("raise RuntimeError('no config\\nfile')\n", "RuntimeError: no config file"),
    "exits on import": ("import sys\nsys.exit(3)\n", "SystemExit: 3"),
}


def _broken_examples(folder: pathlib.Path, source: str) -> pathlib.Path:
    """A project whose `examples.country_flow` (country_flow's handler module) is `source`."""
    (folder / "examples").mkdir()
    (folder / "examples" / "__init__.py").write_text("")
    (folder / "examples" / "country_flow.py").write_text(source)
    return folder


@pytest.mark.parametrize("case", list(BROKEN))
@pytest.mark.parametrize("command", ["local", "worker"])
def test_a_handler_module_that_cannot_be_imported_is_one_line_naming_it(
    tmp_path: pathlib.Path, command: str, case: str
) -> None:
    source, why = BROKEN[case]
    project = _broken_examples(tmp_path, source)
    args = ["--input", json.dumps(COUNTRY_INPUT)] if command == "local" else NOWHERE
    done = _main(f"country_flow.{command}", *args, cwd=project, path=str(project))
    assert done.returncode == 1
    assert done.stdout == ""
    line = _one_line(done.stderr)
    assert line.startswith(
        f"python -m country_flow.{command}: error: cannot import examples.country_flow "
        "(handler of activity activity_1): "
    ), line
    assert why in line


# -- item 18b: one local run, the same checks and exit codes for flowgen run and PACKAGE.local --

ORDER_INPUT = {
    "order_id": "ord-1",
    "customer_id": "cus-alice",
    "items": {"BOOK-001": 1},
    "shipping_address": "1 Main St",
    "coupon": None,
    "placed_at": "2024-06-01T09:30:00+00:00",
}
SAME = {
    # 40 KB: over SWF's limit, refused before any activity runs (flowgen run used to run them).
    "too large": (["--input", json.dumps({**ORDER_INPUT, "shipping_address": "x" * 40_000})], 1),
    "wrong type": (["--input", json.dumps({**ORDER_INPUT, "items": ["BOOK-001"]})], 1),
    "unknown field": (["--input", json.dumps({**ORDER_INPUT, "gift": True})], 1),
    "not json": (["--input", "{'order_id': 1}"], 1),
    "unknown activity": (["--handler", "nope=examples.order_flow:close_order"], 2),
    "unreadable file": (["--input-file", "/nonexistent/input.json"], 2),
    "stand-in missing": (["--handler", "close_order=examples.order_flow_missing:close_order"], 1),
}


def _flowgen_run(*args: str) -> subprocess.CompletedProcess[str]:
    return _main("flowgen", "run", str(ROOT / "specs" / "order_flow.yaml"), *args)


@pytest.mark.parametrize("case", list(SAME))
def test_flowgen_run_and_local_refuse_alike_before_running(case: str) -> None:
    args, code = SAME[case]
    local = _main("order_flow.local", *args, "--log-level", "DEBUG")
    run = _flowgen_run(*args, "--log-level", "DEBUG")
    assert (local.returncode, run.returncode) == (code, code)
    assert local.stdout == run.stdout == ""
    # One line each, the same after the program's name; no DEBUG line: nothing was scheduled.
    assert _one_line(local.stderr).removeprefix("python -m order_flow.local: ") == _one_line(
        run.stderr
    ).removeprefix("flowgen: ")


# -- item 18c: handler prints go to stderr, the result alone to stdout --------------------------

NOISY = """
import os, subprocess, sys
print("noisy: imported")
from examples import order_flow


def close_order(**inputs):
    print("noisy: closing", inputs["order_id"])
    # Writes that bypass sys.stdout: a child process and the file descriptor itself.
    subprocess.run([sys.executable, "-c", "print('noisy: child process')"], check=True)
    os.write(1, b"noisy: descriptor 1\\n")
    return order_flow.close_order(**inputs)
"""


@pytest.mark.parametrize("command", ["flowgen run", "local"])
def test_stdout_is_the_result_alone_when_a_handler_prints(tmp_path: pathlib.Path, command: str) -> None:
    (tmp_path / "noisy.py").write_text(NOISY)
    args = ["--input", json.dumps(ORDER_INPUT), "--handler", "close_order=noisy:close_order"]
    if command == "local":
        done = _main("order_flow.local", *args, path=str(tmp_path))
    else:
        done = _main("flowgen", "run", str(ROOT / "specs" / "order_flow.yaml"), *args, path=str(tmp_path))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["order_id"] == "ord-1" and result["tracking_number"]
    assert "noisy: imported" in done.stderr and "noisy: closing ord-1" in done.stderr
    assert "noisy: child process" in done.stderr and "noisy: descriptor 1" in done.stderr


# -- item 18d: --log-level DEBUG shows retries and timers on the simulated clock ----------------

COUNTRY_RUN = {"days": ["2024-01-01", "2024-01-02", "2024-01-03"], "countries": [1, 2, 3, 4, 5]}
# With this seed four instances fail once and one fails twice: all recover on retries.
FLAKY = {"COUNTRY_FLOW_FAILURE_RATE": "0.3", "COUNTRY_FLOW_SEED": "flowgen"}


def _country(command: str, *args: str) -> subprocess.CompletedProcess[str]:
    given = ["--input", json.dumps(COUNTRY_RUN), *args]
    if command == "local":
        return _main("country_flow.local", *given, env=FLAKY)
    return _main("flowgen", "run", str(ROOT / "specs" / "country_flow.yaml"), *given, env=FLAKY)


@pytest.mark.parametrize("command", ["flowgen run", "local"])
def test_debug_log_shows_retries_and_timers_on_the_simulated_clock(command: str) -> None:
    done = _country(command, "--log-level", "DEBUG")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"report": "15 fetches, 6249 rows"}
    debug = [line.split(": ", 1)[1] for line in done.stderr.splitlines() if " DEBUG " in line]
    started = [
        line for line in debug if re.fullmatch(r"\[t=0s\] timer retry-1-activity_2-\d+ started.*", line)
    ]
    assert len(started) == 4, debug
    # The retry waits 10 simulated seconds (the spec's retry interval), then runs attempt 2.
    instance = re.search(r"activity_2-\d+", started[0])
    assert instance is not None
    name = instance.group()
    assert started[0] == (
        f"[t=0s] timer retry-1-{name} started, fires at t=10s (the wait to retry {name} after attempt 1)"
    )
    assert f"[t=10s] timer retry-1-{name} fired" in debug
    assert f"[t=10s] retry: scheduled {name}#2 (attempt 2)" in debug  # the attempt's own activity id
    assert sum(line.startswith("[t=10s] retry: scheduled") for line in debug) == 4
    assert any(
        re.fullmatch(r"\[t=30s\] retry: scheduled activity_2-\d+#3 \(attempt 3\)", line) for line in debug
    )


@pytest.mark.parametrize("command", ["flowgen run", "local"])
def test_without_debug_the_run_logs_nothing(command: str) -> None:
    done = _country(command)
    assert (done.returncode, done.stderr) == (0, "")
