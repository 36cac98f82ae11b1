"""Golden cases: each folder under tests/golden/ holds a spec and the exact stderr of validating it.

Regenerate every expected file with `python tests/golden/update.py`, then read the diff.
"""

from __future__ import annotations

import difflib
import pathlib

import pytest

from flowgen.cli import main

GOLDEN = pathlib.Path(__file__).resolve().parent / "golden"
UPDATE = "python tests/golden/update.py"
CASES = sorted(p for p in GOLDEN.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def _spec_name(case: pathlib.Path) -> str:
    for name in ("spec.yaml", "spec.json"):
        if (case / name).exists():
            return name
    raise AssertionError(f"{case.name} holds neither spec.yaml nor spec.json")


def _expected_code(case: pathlib.Path) -> int:
    marker = case / "exit_code"
    return int(marker.read_text().strip()) if marker.exists() else 1


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[p.name for p in CASES])
def test_golden(
    case: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(case)
    code = main(["validate", _spec_name(case)])
    captured = capsys.readouterr()
    expected = (case / "expected.txt").read_text(encoding="utf-8")
    problems = []
    if captured.err != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                captured.err.splitlines(keepends=True),
                f"{case.name}/expected.txt",
                "flowgen validate output",
            )
        )
        problems.append(f"stderr differs:\n{diff}")
    if code != _expected_code(case):
        problems.append(f"exit code {code}, expected {_expected_code(case)}")
    if captured.out:
        problems.append(f"validate printed to stdout: {captured.out!r}")
    if problems:
        pytest.fail("\n".join(problems) + f"\nif the new output is right, run: {UPDATE}", pytrace=False)


@pytest.mark.parametrize("case", CASES, ids=[p.name for p in CASES])
def test_golden_output_is_well_formed(case: pathlib.Path) -> None:
    """Every line names the spec, a position and a path; nothing but located diagnostics."""
    name = _spec_name(case)
    expected = (case / "expected.txt").read_text(encoding="utf-8")
    code = _expected_code(case)
    assert code in (0, 1, 2)
    if code != 0:
        assert expected, "a failing case must say why"
    for line in expected.splitlines():
        assert line.startswith(f"{name}:"), line
        where, _, rest = line[len(name) + 1 :].partition(": ")
        row, column = where.split(":")
        assert int(row) >= 1 and int(column) >= 1, line
        assert "Traceback" not in rest
