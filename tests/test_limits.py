"""SWF's limits live in one module, flowgen/runtime/limits.py, and every package's engine carries it."""

from __future__ import annotations

import ast
import pathlib

from flowgen.render import engine_sources
from flowgen.runtime import limits

ROOT = pathlib.Path(__file__).resolve().parent.parent
LIMITS_FILE = ROOT / "flowgen" / "runtime" / "limits.py"
# Values distinctive enough that a bare literal elsewhere can only be a copy of a limit.
DISTINCTIVE = {
    limits.MAX_PAYLOAD,
    limits.HISTORY_LIMIT,
    limits.MAX_RESPONSE_BYTES,
    limits.MAX_HEARTBEAT_DETAILS,
}


def _limit_names() -> set[str]:
    tree = ast.parse(LIMITS_FILE.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def _sources() -> list[pathlib.Path]:
    files = sorted((ROOT / "flowgen").rglob("*.py")) + sorted((ROOT / "examples").rglob("*.py"))
    return [f for f in files if f != LIMITS_FILE]


def _assigned_names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def test_limits_module_defines_the_limits() -> None:
    names = _limit_names()
    assert {
        "MAX_OPEN_ACTIVITIES",
        "MAX_REASON",
        "MAX_PAYLOAD",
        "MAX_ID",
        "HISTORY_LIMIT",
        "MAX_PAGE_SIZE",
    } <= names


def test_no_limit_is_defined_outside_limits_module() -> None:
    names = _limit_names()
    found = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for name in _assigned_names(node):
                if name in names:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
            if isinstance(node, ast.Constant) and type(node.value) is int and node.value in DISTINCTIVE:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: the literal {node.value}")
    assert found == []


def test_every_package_engine_carries_limits() -> None:
    assert engine_sources()["limits.py"] == LIMITS_FILE.read_text()
    for package in sorted((ROOT / "generated").iterdir()):
        if (package / "engine").is_dir():
            assert (package / "engine" / "limits.py").is_file(), package.name
