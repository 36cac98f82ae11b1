"""Rewrite every golden case's expected output from the current `flowgen validate`.

    python tests/golden/update.py

Each folder under tests/golden/ holds one spec (spec.yaml or spec.json) and the
exact stderr of `flowgen validate SPEC` run from inside that folder
(expected.txt), plus `exit_code` when the exit code is not 1.
Read the diff before committing it: the expected files are the review.
"""

from __future__ import annotations

import contextlib
import io
import os
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from flowgen.cli import main  # noqa: E402

SPEC_NAMES = ("spec.yaml", "spec.json")


def cases() -> list[pathlib.Path]:
    return sorted(p for p in HERE.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def spec_name(case: pathlib.Path) -> str:
    for name in SPEC_NAMES:
        if (case / name).exists():
            return name
    raise FileNotFoundError(f"{case} holds neither spec.yaml nor spec.json")


def run(case: pathlib.Path) -> tuple[str, int]:
    """The stderr and exit code of `flowgen validate SPEC` run inside `case`."""
    stderr = io.StringIO()
    before = os.getcwd()
    os.chdir(case)
    try:
        with contextlib.redirect_stderr(stderr):
            code = main(["validate", spec_name(case)])
    finally:
        os.chdir(before)
    return stderr.getvalue(), code


def main_update() -> None:
    for case in cases():
        output, code = run(case)
        (case / "expected.txt").write_text(output, encoding="utf-8")
        marker = case / "exit_code"
        if code == 1:
            marker.unlink(missing_ok=True)
        else:
            marker.write_text(f"{code}\n")
        print(f"{case.name}: exit {code}, {len(output.splitlines())} line(s)")


if __name__ == "__main__":
    main_update()
