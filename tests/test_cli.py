"""The `flowgen` command: help, version, colour, exit codes, and `flowgen run`."""

from __future__ import annotations

import ast
import io
import json
import pathlib
import re
import subprocess
import sys

import pytest

from flowgen import __version__
from flowgen.cli import main
from flowgen.report import use_colour

ROOT = pathlib.Path(__file__).resolve().parent.parent
COUNTRY = str(ROOT / "specs" / "country_flow.yaml")
REPORT = "15 fetches, 6249 rows"
COUNTRY_INPUT = json.dumps({"days": ["2024-01-01", "2024-01-02", "2024-01-03"], "countries": [1, 2, 3, 4, 5]})


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"flowgen {__version__}\n"


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("validate", "schema", "run"):
        assert command in out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_colour(_Terminal()) is True
    assert use_colour(io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_colour(_Terminal()) is False


def _imports(module: str) -> set[str]:
    tree = ast.parse((ROOT / (module.replace(".", "/") + ".py")).read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


@pytest.mark.parametrize("module", ["flowgen.build", "flowgen.localrun"])
def test_commands_share_report_and_never_import_the_cli_or_each_other(module: str) -> None:
    """cli.py dispatches to build.py and localrun.py; what they share is in report.py."""
    imported = _imports(module)
    assert not imported & {"flowgen.cli", "flowgen.build", "flowgen.localrun"}
    assert "flowgen.report" in imported


def test_validate_prints_nothing_for_valid_specs(capsys: pytest.CaptureFixture[str]) -> None:
    specs = sorted(str(p) for p in (ROOT / "specs").glob("*.yaml"))
    assert main(["validate", *specs]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_schema_prints_the_committed_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == (ROOT / "schemas" / "flowgen.schema.json").read_text()


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m flowgen run ...` from the repository root, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "flowgen", "run", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        timeout=120,
    )


def test_run_country_flow_completes_with_the_report() -> None:
    # With this seed four instances fail once and one fails twice: all recover on retries.
    env = {"COUNTRY_FLOW_FAILURE_RATE": "0.3", "COUNTRY_FLOW_SEED": "flowgen"}
    done = _run(COUNTRY, "--input", COUNTRY_INPUT, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"report": REPORT}


def test_run_without_retries_fails_naming_the_instance() -> None:
    done = _run(COUNTRY, "--no-retries", "--input", COUNTRY_INPUT, env={"COUNTRY_FLOW_FAILURE_RATE": "1"})
    assert done.returncode == 1
    assert done.stdout == ""
    # Handlers run in threads, so which instance fails first varies; the reason names it.
    instance = r"activity_2-(\d+) \(day=2024-01-0[123], country_id=[1-5]\)"
    pattern = rf"FAILED: {instance} failed after 1 attempt: ConnectionError: public-api did not answer"
    assert re.match(pattern, done.stderr), done.stderr


def test_run_rejects_bad_input_before_running(tmp_path: pathlib.Path) -> None:
    given = tmp_path / "input.json"
    given.write_text(json.dumps({"days": ["2024-02-30"], "countries": [1]}))
    done = _run(COUNTRY, "--input-file", str(given))
    assert done.returncode == 1
    assert done.stderr == 'flowgen: error: days[0]: expected date, found "2024-02-30"\n'


def test_run_refuses_deeply_nested_input_in_one_line() -> None:
    done = _run(COUNTRY, "--input", '{"days": ' + "[" * 5000 + "]" * 5000 + "}")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == "flowgen: error: the input is nested more than 100 levels deep (at character 109)\n"


@pytest.mark.parametrize(
    ("given", "message"),
    [("[1]", "the input must be a JSON object"), ("{", "the input is not JSON")],
)
def test_run_refuses_input_that_is_not_a_json_object(given: str, message: str) -> None:
    done = _run(COUNTRY, "--input", given)
    assert done.returncode == 1
    assert done.stderr.startswith(f"flowgen: error: {message}") and done.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input-file", "/nonexistent/input.json"], "cannot read /nonexistent/input.json"),
        (["--handler", "nope"], "argument --handler: expected ACTIVITY=package.module:function, not 'nope'"),
        (["--handler", "missing=examples.country_flow:report"], "no activity named missing"),
    ],
)
def test_run_usage_errors_exit_2(args: list[str], message: str) -> None:
    done = _run(COUNTRY, *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_run_external_activity_needs_a_stand_in() -> None:
    done = _run(str(ROOT / "specs" / "etl.yaml"))
    assert done.returncode == 2
    assert "is external: give a stand-in with --handler" in done.stderr


def test_run_shows_progress_only_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COUNTRY_FLOW_FAILURE_RATE", "0")
    monkeypatch.delenv("NO_COLOR", raising=False)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["run", COUNTRY, "--input", COUNTRY_INPUT]) == 0
    shown = terminal.getvalue()
    # One \r-rewritten line per finished task, ending on all 17 done, then cleared.
    assert "\r17/17 instances done" in shown
    assert shown.endswith("\r\033[K")
    assert json.loads(capsys.readouterr().out) == {"report": REPORT}

    piped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", piped)
    assert main(["run", COUNTRY, "--input", COUNTRY_INPUT]) == 0
    assert piped.getvalue() == ""
