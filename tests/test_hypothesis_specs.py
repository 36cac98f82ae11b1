"""Broken and hostile specs: every one ends in located one-line diagnostics, never a traceback.

The valid specs in specs/ are loaded, mutated (keys dropped or renamed, values
replaced by other types or by hostile strings, subtrees copied elsewhere),
written back as YAML or JSON and validated. Raw text and bytes are thrown at
the loader too.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import pathlib
import re
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowgen.cli import main
from flowgen.compiler import Compiled, compile_spec
from flowgen.load import read_spec_file

ROOT = pathlib.Path(__file__).resolve().parent.parent
VALID_SPECS = [path for path in sorted((ROOT / "specs").glob("*.yaml")) if not compile_spec(str(path)).errors]
LINE = re.compile(r"^[^\n]+:\d+:\d+: \S.*$")
# What YAML counts as a line break; positions are counted in these lines.
_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")

SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=False
)

HOSTILE = [
    "",
    " ",
    '"',
    "'",
    "\\",
    "\n",
    "a\nb",
    "line\r\nbreak",
    "{{",
    "}}",
    "{{ activity }}",
    "{% raw %}",
    "%s",
    "%(name)s",
    "{0}",
    "${HOME}",
    "\x00",
    "nul\x00inside",
    "\x07\x1b[31m",
    "\t",
    "\u202e",
    "\u200f",
    "right\u200fto\u202eleft",
    "\u2028",
    "\u2029",
    "\x85",
    "\ufeff",
    "é",
    "日本語",
    "🙂",
    "arn",
    "a:b",
    "a/b",
    "a|b",
    " padded ",
    "None",
    "null",
    "true",
    "~",
    "---",
    "...",
    "*alias",
    "&anchor",
    "!!python/object:os.system",
    "<script>",
    "input.",
    "input",
    "generator.",
    "[*]",
    "activity_1[*]",
    "activity_1[*].rows",
    "x.y.z",
    "a:b:c",
    "import os",
    "class",
    "_",
    "0day",
    "x" * 300,
    "é" * 300,
    "a" * 257,
    "1" * 65,
]

SPEC_WORDS = [
    "flowgen",
    "domain",
    "workflow",
    "activities",
    "defaults",
    "handler",
    "requires",
    "generators",
    "inputs",
    "outputs",
    "timeouts",
    "retry",
    "max_items",
    "max_concurrency",
    "shard_size",
    "on_failure",
    "external",
    "revert",
    "value",
    "items",
    "range",
    "date_range",
    "start",
    "end",
    "heartbeat",
    "start_to_close",
    "schedule_to_start",
    "schedule_to_close",
    "execution_timeout",
    "decision_timeout",
    "domain_retention",
    "max_retries",
    "interval",
    "backoff_rate",
    "max_interval",
    "jitter",
    "errors",
    "context",
    "result",
    "input",
    "generator",
]

PLAUSIBLE = [
    "1d",
    "0",
    "0s",
    "none",
    "366d",
    "91d",
    "36h",
    "-1",
    "str",
    "int",
    "list[date]",
    "list[int] | None",
    "dict[str, any]",
    "input.days",
    "input.countries",
    "generator.day",
    "activity_1.run_id",
    "activity_2[*].rows",
    "examples.country_flow:report",
    "continue",
    "fail_workflow",
    "full",
    "2024-01-01",
    "2024-02-30",
    "TERMINATE",
]

CHARS = st.characters(codec="utf-8", exclude_categories=["Cs"])
strings = st.one_of(
    st.sampled_from(HOSTILE),
    st.sampled_from(PLAUSIBLE),
    st.sampled_from(SPEC_WORDS),
    st.text(CHARS, max_size=40),
    st.text(CHARS, min_size=300, max_size=400),
)
scalars = st.one_of(
    strings,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 1000, 1001, 25_000, 2**31, -(2**31) - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)


def _nested_list(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


values = st.one_of(
    scalars,
    st.builds(_nested_list, st.integers(min_value=1, max_value=150)),
    st.fixed_dictionaries({"value": scalars}),
    st.fixed_dictionaries({"items": st.lists(scalars, max_size=4)}),
    st.fixed_dictionaries({"range": st.lists(st.integers(-5, 5000), max_size=4)}),
    st.fixed_dictionaries({"date_range": st.fixed_dictionaries({"start": strings, "end": strings})}),
    st.recursive(
        scalars,
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(strings, inner, max_size=4)),
        max_leaves=12,
    ),
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _paths(value, (*prefix, index))


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        data = data[step]
    return data


def _mutate(data: Any, draw: st.DrawFn) -> Any:
    """One mutation somewhere in `data`; returns the (possibly new) root."""
    path = draw(st.sampled_from(list(_paths(data))))
    operation = draw(st.sampled_from(["drop", "replace", "rename", "copy", "append", "wrap"]))
    if not path:
        return draw(values) if operation == "replace" else data
    parent, last = _get(data, path[:-1]), path[-1]
    if operation == "drop":
        del parent[last]
    elif operation == "replace":
        parent[last] = draw(values)
    elif operation == "rename" and isinstance(parent, dict):
        new = draw(st.one_of(strings, st.sampled_from(SPEC_WORDS)))
        # Keep the order, as a user editing the file would.
        items = [(new if key == last else key, value) for key, value in parent.items()]
        parent.clear()
        parent.update(items)
    elif operation == "copy":
        source = draw(st.sampled_from(list(_paths(data))))
        parent[last] = copy.deepcopy(_get(data, source))
    elif operation == "append" and isinstance(parent[last], list):
        parent[last].append(draw(values))
    elif operation == "append" and isinstance(parent[last], dict):
        parent[last][draw(strings)] = draw(values)
    elif operation == "wrap":
        parent[last] = draw(
            st.sampled_from([[parent[last]], {"value": parent[last]}, {"items": parent[last]}])
        )
    return data


def _dump(data: Any, draw: st.DrawFn) -> tuple[str, str]:
    """The data as spec text: YAML (block or flow) or JSON; returns (suffix, text)."""
    form = draw(st.sampled_from(["yaml", "yaml-flow", "json", "json-ascii"]))
    if form.startswith("yaml"):
        text = yaml.safe_dump(
            data,
            sort_keys=False,
            allow_unicode=draw(st.booleans()),
            default_flow_style=form == "yaml-flow",
            width=draw(st.sampled_from([80, 10_000])),
        )
        return ".yaml", text
    return ".json", json.dumps(
        data, ensure_ascii=form == "json-ascii", indent=draw(st.sampled_from([None, 2]))
    )


def _lines(raw: bytes) -> list[str]:
    text = raw.decode("utf-8", errors="replace").removeprefix("\ufeff")
    return _BREAKS.split(text)


def _assert_well_reported(compiled: Compiled, raw: bytes) -> None:
    lines = _lines(raw)
    for located in compiled.diagnostics:
        rendered = located.render()
        assert LINE.match(rendered), rendered
        assert len(rendered.splitlines()) == 1, rendered
        message = located.diagnostic.message
        assert message and "\n" not in message and "\r" not in message, message
        assert "Traceback" not in rendered
        line, column = located.position.line, located.position.column
        if (line, column) == (len(lines) + 1, 1):
            continue  # the end of a file without a final line break
        assert 1 <= line <= len(lines), (rendered, len(lines))
        assert 1 <= column <= len(lines[line - 1]) + 1, (rendered, lines[line - 1])
    if compiled.errors:
        assert compiled.checked is None


def _compile_text(raw: bytes, suffix: str = ".yaml") -> Compiled:
    with tempfile.TemporaryDirectory() as folder:
        file = pathlib.Path(folder) / f"spec{suffix}"
        file.write_bytes(raw)
        compiled = compile_spec(str(file))
    _assert_well_reported(compiled, raw)
    return compiled


def test_there_are_valid_specs_to_mutate() -> None:
    assert VALID_SPECS, "specs/ holds no valid spec"


@pytest.mark.parametrize("spec", VALID_SPECS, ids=[p.name for p in VALID_SPECS])
@SETTINGS
@given(data=st.data())
def test_mutated_specs_give_located_errors(spec: pathlib.Path, data: st.DataObject) -> None:
    tree = read_spec_file(str(spec)).data
    tree = copy.deepcopy(tree)
    for _ in range(data.draw(st.integers(min_value=1, max_value=4), label="mutations")):
        tree = _mutate(tree, data.draw)
    try:
        suffix, text = _dump(tree, data.draw)
    except (RecursionError, ValueError, yaml.YAMLError):  # the dumpers' own limits, not ours
        return
    _compile_text(text.encode("utf-8"), suffix)


@pytest.mark.parametrize("spec", VALID_SPECS, ids=[p.name for p in VALID_SPECS])
@SETTINGS
@given(word=strings, data=st.data())
def test_hostile_strings_in_every_string_position(spec: pathlib.Path, word: str, data: st.DataObject) -> None:
    tree = copy.deepcopy(read_spec_file(str(spec)).data)
    places = [p for p in _paths(tree) if p and isinstance(_get(tree, p), str)]
    path = data.draw(st.sampled_from(places), label="path")
    _get(tree, path[:-1])[path[-1]] = word
    suffix, text = _dump(tree, data.draw)
    compiled = _compile_text(text.encode("utf-8"), suffix)
    if word in ("\n", "a\nb") and path[-1] in ("domain", "name", "task_list"):
        assert compiled.errors


YAMLISH = st.text(
    st.one_of(st.sampled_from(list("{}[],:-#&*!|>'\"%@`?~ \t\n\r.\\")), st.sampled_from("ab01é\x00\u2028")),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(CHARS, max_size=200), YAMLISH))
def test_raw_text_never_raises(text: str) -> None:
    _compile_text(text.encode("utf-8"))


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=200))
def test_raw_bytes_never_raise(raw: bytes) -> None:
    _compile_text(raw)


@settings(max_examples=100, deadline=None)
@given(head=st.sampled_from([b"", b"flowgen: 1\n", b"\xef\xbb\xbf", b"{"]), raw=st.binary(max_size=100))
def test_bytes_after_a_plausible_start_never_raise(head: bytes, raw: bytes) -> None:
    _compile_text(head + raw)


def _run_cli(file: pathlib.Path) -> tuple[int, str]:
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = main(["validate", str(file)])
    return code, stderr.getvalue()


def test_a_10_mb_file_is_refused_without_a_traceback(tmp_path: pathlib.Path) -> None:
    file = tmp_path / "huge.yaml"
    file.write_text("flowgen: 1\n" + "# padding padding padding\n" * 400_000)
    assert file.stat().st_size > 10_000_000
    code, output = _run_cli(file)
    assert code == 1
    assert output.startswith(f"{file}:1:1: spec: the file is ")
    assert "at most" in output and "Traceback" not in output
    assert len(output.splitlines()) == 1


@pytest.mark.parametrize(
    "text",
    [
        "[" * 10_000 + "]" * 10_000,
        "{a: " * 10_000 + "1" + "}" * 10_000,
        "- " * 10_000 + "x\n",
        # Block mappings nest by indentation: 500 levels already take a quarter of the size limit.
        "a:\n" + "".join(f"{' ' * (2 * i)}k{i}:\n" for i in range(1, 500)),
    ],
    ids=["flow-lists", "flow-mappings", "block-lists", "block-mappings"],
)
def test_deep_nesting_is_refused_without_a_traceback(tmp_path: pathlib.Path, text: str) -> None:
    file = tmp_path / "deep.yaml"
    file.write_text(text)
    code, output = _run_cli(file)
    assert code == 1
    assert "Traceback" not in output
    assert len(output.splitlines()) == 1
    assert "nested more than" in output


def test_an_empty_file_is_one_error(tmp_path: pathlib.Path) -> None:
    file = tmp_path / "empty.yaml"
    file.write_bytes(b"")
    code, output = _run_cli(file)
    assert code == 1
    assert (
        output
        == f"{file}:1:1: spec: the file is empty; a spec needs flowgen, domain, workflow and activities\n"
    )
