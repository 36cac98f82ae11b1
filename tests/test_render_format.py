"""Generated Python is black's, byte for byte, though black formats only part of it.

flowgen.render writes the parts of flow.py, types.py and worker.py that grow with the plan (the
plan literal, the tables, the TypedDict and Protocol classes, the handlers' imports) in black's
layout directly (flowgen/render/blackstyle.py), and gives black only the templates' skeleton.
`render_python` returns each module both ways: the text the templates wrote and the module as
written. The module must be exactly what black makes of the text, and black must leave it as it
is: on the example specs, on the benchmark's specs (10, 100 and 1,000 activities), on specs
hypothesis makes with hostile strings and very long names, and part by part on data literals,
classes and tables hypothesis makes around the line-length boundary.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import pathlib
import tempfile
from collections.abc import Callable
from types import ModuleType
from typing import Any

import black
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flowgen.render
from flowgen.compiler import compile_spec
from flowgen.plan import build_plan
from flowgen.render import BLACK_MODE, PYTHON_TEMPLATES, Source, blackstyle, py_literal, python_modules
from flowgen.spec.names import package_name_problem
from tests.yaml_text import yaml_string, yaml_value

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
PARTS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def black_of(text: str) -> str:
    return black.format_str(text, mode=BLACK_MODE)


def modules_of(spec: pathlib.Path) -> dict[str, tuple[str, str]]:
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        compiled = compile_spec(str(spec))
    assert compiled.checked is not None, f"{stderr.getvalue()}\n{compiled.diagnostics}\n{spec.read_text()}"
    return python_modules(build_plan(compiled.checked), Source(spec.name, "0" * 64))


def assert_black(modules: dict[str, tuple[str, str]], against_source: bool = True) -> None:
    assert sorted(modules) == sorted(PYTHON_TEMPLATES)
    for name, (source, written) in modules.items():
        if against_source:
            assert written == black_of(source), f"{name}: not what black makes of its source"
        assert black_of(written) == written, f"{name}: black would change it"


def benchmark() -> ModuleType:
    """benchmarks/build_benchmark.py, whose `spec_text(count)` writes the benchmark's specs."""
    path = ROOT / "benchmarks" / "build_benchmark.py"
    spec = importlib.util.spec_from_file_location("build_benchmark", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- whole packages ---------------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_example_specs(spec: pathlib.Path) -> None:
    assert_black(modules_of(spec))


@pytest.mark.parametrize("count", [10, 100, 1000])
def test_benchmark_specs(count: int, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """black sees only the skeleton (no call of more than a few dozen lines), and the result
    is still black's. At 1,000 activities only black's verdict on the result is checked:
    black on the templates' text too would take another 20 seconds."""
    spec = tmp_path / f"bench_{count}.yaml"
    spec.write_text(benchmark().spec_text(count))
    seen: list[int] = []
    original = flowgen.render.format_python

    def recording(text: str) -> str:
        seen.append(text.count("\n"))
        return original(text)

    monkeypatch.setattr(flowgen.render, "format_python", recording)
    modules = modules_of(spec)
    monkeypatch.undo()
    assert seen and max(seen) < 60, seen
    assert_black(modules, against_source=count < 1000)


# -- hostile specs ------------------------------------------------------------------------

FRAGMENTS = ['"', "'", "\\", "\\n", "\n", "\r\n", "\t", '"""', "'''", "\\'", '\\"', "#", "{{", "}}"]
FRAGMENTS += [
    "\x00",
    "\x1b",
    "\x7f",
    "\x85",
    "\u2028",
    "\ufeff",
    "\u200b",
    "\u0301",
    "é",
    "日本語",
    "🙂",
    " ",
]
CHARS = st.characters(codec="utf-8", exclude_categories=["Cs"])
hostile_text = st.one_of(
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(CHARS, max_size=5)), max_size=8).map("".join),
    st.builds(
        lambda fill, n, end: fill * n + end,
        st.sampled_from("x日'\""),
        st.integers(0, 130),
        st.sampled_from(FRAGMENTS),
    ),
)
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        hostile_text,
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(hostile_text, inner, max_size=4)),
    max_leaves=12,
)


def _swf_name(text: str, limit: int) -> str:
    """Within SWF's rules: 1 to `limit` characters, no : / | or control characters, no white
    space at either end, not "arn"."""
    kept = "".join(c for c in text if c not in ":/|" and not (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F))
    name = kept[:limit].strip()
    return "n" if not name else name + "0" if name == "arn" else name


def swf_names(limit: int = 256) -> st.SearchStrategy[str]:
    return hostile_text.map(lambda text: _swf_name(text, limit))


def _workflow_name(name: str) -> str:
    """Not a name whose package would shadow a module (`re`, `?abc` -> `_abc`): flowgen refuses those."""
    return name if package_name_problem(name, []) is None else name[:250] + "-flow"


def tails(max_size: int = 110) -> st.SearchStrategy[str]:
    """The rest of an identifier, up to very long: `a3_` + tail."""
    return st.one_of(st.text("abcxyz_019", max_size=12), st.integers(0, max_size).map(lambda n: "x" * n))


plain_types = st.recursive(
    st.sampled_from(["str", "int", "float", "bool", "date", "datetime", "any"]),
    lambda inner: st.one_of(
        inner.map(lambda t: f"list[{t}]"),
        inner.map(lambda t: f"dict[str, {t}]"),
        inner.map(lambda t: f"list[{t} | None]"),
        inner.map(lambda t: f"dict[str, {t} | None]"),
    ),
    max_leaves=4,
)
types = st.one_of(plain_types, plain_types.map(lambda t: f"{t} | None"))


@st.composite
def hostile_specs(draw: Callable[..., Any]) -> str:
    """A valid spec: SWF names, descriptions, tags and literal inputs full of hostile strings;
    activity, field and module names up to ~115 characters; external activities (sometimes
    all of them), reverts, references to the input and to upstream outputs, whole or by field."""
    inputs = [(f"i{k}_{draw(tails())}", draw(types)) for k in range(draw(st.integers(0, 3)))]
    lines = [
        "flowgen: 1",
        f"domain: {yaml_string(draw(swf_names()))}",
        "workflow:",
        f"  name: {yaml_string(draw(swf_names().map(_workflow_name)))}",
        f"  version: {yaml_string(draw(swf_names(64)))}",
        f"  description: {yaml_string(draw(hostile_text))}",
        f"  task_list: {yaml_string(draw(swf_names()))}",
        "  execution_timeout: 1d",
        f"  tags: {yaml_value(draw(st.lists(swf_names(), max_size=4)))}",
    ]
    if inputs:
        lines.append("  input: {" + ", ".join(f"{n}: {yaml_string(t)}" for n, t in inputs) + "}")
        lines.append(f"  result: {{r_{draw(tails())}: input.{inputs[0][0]}}}")
    lines.append("activities:")
    outputs: dict[str, list[str]] = {}
    for index in range(draw(st.integers(1, 4))):
        name = f"a{index}_{draw(tails())}"
        external = draw(st.sampled_from([False, False, True]))
        requires = draw(st.lists(st.sampled_from(sorted(outputs)), unique=True)) if outputs else []
        fields = [(f"o{k}_{draw(tails(60))}", draw(types)) for k in range(draw(st.integers(0, 3)))]
        lines += [
            f"  {name}:",
            f"    description: {yaml_string(draw(hostile_text))}",
            f"    version: {yaml_string(draw(swf_names(64)))}",
            f"    task_list: {yaml_string(draw(swf_names()))}",
        ]
        if external:
            lines.append("    external: true")
        else:
            module = ".".join(f"m{k}_{draw(tails(40))}" for k in range(draw(st.integers(1, 3))))
            lines.append(f"    handler: {module}:h_{draw(tails())}")
            if draw(st.booleans()):
                lines.append(f"    revert: {module}:r_{draw(tails(30))}")
        if requires:
            lines.append(f"    requires: [{', '.join(requires)}]")
        sources = [yaml_value({"value": value}) for value in draw(st.lists(json_values, max_size=2))]
        sources += [f"input.{n}" for n, _ in inputs[: draw(st.integers(0, len(inputs)))]]
        for upstream in requires:
            sources += [upstream] + [f"{upstream}.{field}" for field in outputs[upstream][:1]]
        if sources:
            lines.append("    inputs:")
            lines += [f"      p{k}_{draw(tails(60))}: {source}" for k, source in enumerate(sources)]
        if fields:
            lines.append("    outputs: {" + ", ".join(f"{n}: {yaml_string(t)}" for n, t in fields) + "}")
        outputs[name] = [n for n, _ in fields]
    return "\n".join(lines) + "\n"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=hostile_specs())
def test_hostile_specs(spec: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "spec.yaml"
        path.write_text(spec, encoding="utf-8")
        assert_black(modules_of(path))


def test_all_external_activities(tmp_path: pathlib.Path) -> None:
    """No handlers at all: types.py's Handlers and worker.py's table are empty, a shape
    blackstyle leaves to black."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "flowgen: 1\ndomain: d\nworkflow:\n  name: w\n  version: '1'\n  execution_timeout: 1d\n"
        "activities:\n  a:\n    external: true\n    outputs: {n: int}\n"
    )
    modules = modules_of(spec)
    assert_black(modules)
    assert "    {},\n" in modules["types.py"][1] and "    return {}\n" in modules["worker.py"][1]


# -- part by part --------------------------------------------------------------------------

identifiers = st.builds(
    lambda c, n: ("z" + c * n)[: n + 1], st.sampled_from(["a", "B", "_", "q9"]), st.integers(0, 100)
)
atoms = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e16, 1.5e-07, -1e22, -0.0]),
    hostile_text,
)
literals = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(hostile_text, inner, max_size=4),
    ),
    max_leaves=14,
)
STATEMENTS = [
    "ACTIVITY_TYPES: Final[tuple[tuple[str, str], ...]] = ",
    "X = ",
    "N" * 70 + ": Final[tuple[str, ...]] = ",
    "PLAN: Final[FlowPlan] = FlowPlan.from_data(",
    "Y = f(",
    "N" * 85 + " = g.h(",
]


@PARTS
@given(value=hostile_text)
def test_strings_have_blacks_quotes(value: str) -> None:
    assert black_of(f"x = {value!r}\n") == f"x = {blackstyle.string(value)}\n"


@PARTS
@given(prefix=st.sampled_from(STATEMENTS), value=literals)
def test_literal_statements(prefix: str, value: Any) -> None:
    if not prefix.endswith("("):
        value = value if isinstance(value, tuple) else (value,)
    source = prefix + py_literal(value) + (")" if prefix.endswith("(") else "")
    written = blackstyle.literal_statement(source, value, py_literal(value))
    if written is None:  # only the shape whose first line cannot fit
        assert not blackstyle.fits(prefix + "(")
    else:
        assert written == black_of(source + "\n").rstrip("\n")


annotations = st.recursive(
    st.one_of(st.sampled_from(["str", "int", "datetime.date", "Any", "None", "TaskContext"]), identifiers),
    lambda inner: st.one_of(
        inner.map(lambda t: f"list[{t}]"),
        inner.map(lambda t: f"dict[str, {t}]"),
        inner.map(lambda t: f"{t} | None"),
        inner.map(lambda t: f"NotRequired[{t}]"),
    ),
    max_leaves=4,
)
fields = st.lists(st.tuples(identifiers, annotations), max_size=5)


def typed_dict(name: str, fields: list[tuple[str, str]]) -> list[str]:
    return [f"class {name}(TypedDict):"] + ([f"    {n}: {a}" for n, a in fields] or ["    pass"])


def protocol(name: str, fields: list[tuple[str, str]], context: bool, returns: str) -> list[str]:
    parameters = "self" + (", *" if fields or context else "") + "".join(f", {n}: {a}" for n, a in fields)
    parameters += ", context: TaskContext" if context else ""
    return [f"class {name}(Protocol):", f"    def __call__({parameters}) -> {returns}: ..."]


@PARTS
@given(
    classes=st.lists(
        st.one_of(
            st.builds(typed_dict, identifiers, fields),
            st.builds(protocol, identifiers, fields, st.booleans(), annotations),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_classes(classes: list[list[str]]) -> None:
    source = "\n\n\n".join("\n".join(lines) for lines in classes) + "\n"
    assert blackstyle.classes(source, black_of) == black_of(source).rstrip("\n")


handler_keys = st.builds(
    lambda name, revert: name + (".revert" if revert else ""), identifiers, st.booleans()
)


@PARTS
@given(
    entries=st.lists(
        st.tuples(handler_keys, st.lists(identifiers, min_size=1, max_size=3)), min_size=1, max_size=4
    ),
    docstring=st.booleans(),
)
def test_typeddict_call(entries: list[tuple[str, list[str]]], docstring: bool) -> None:
    lines = ["Handlers = TypedDict(", '    "Handlers",', "    {"]
    lines += [f"        {key!r}: {' | '.join(names)}," for key, names in entries] + ["    },", ")"]
    lines += ['"""Activity type name -> handler."""'] if docstring else []
    source = "\n".join(lines) + "\n"
    assert blackstyle.typeddict_call(source) == black_of(source).rstrip("\n")


@PARTS
@given(
    imports=st.lists(
        st.tuples(
            st.lists(identifiers, min_size=1, max_size=4).map(".".join),
            st.lists(st.tuples(identifiers, identifiers), min_size=1, max_size=4),
        ),
        max_size=3,
    ),
    entries=st.lists(st.tuples(handler_keys, identifiers), min_size=1, max_size=4),
)
def test_imports_and_table(
    imports: list[tuple[str, list[tuple[str, str]]]], entries: list[tuple[str, str]]
) -> None:
    body = [f"    from {m} import {', '.join(f'{n} as {a}' for n, a in names)}" for m, names in imports]
    body += ["    return {"] + [f"        {key!r}: {alias}," for key, alias in entries] + ["    }"]
    head = 'def spec_handlers() -> Handlers:\n    """The handlers."""\n'
    written = blackstyle.imports_and_table("\n".join(body) + "\n")
    assert written is not None
    assert head + written + "\n" == black_of(head + "\n".join(body) + "\n")


@PARTS
@given(names=st.lists(identifiers, min_size=1, max_size=5))
def test_names_list(names: list[str]) -> None:
    source = "__all__ = [" + "".join(f"{name!r}, " for name in names) + "]\n"
    assert blackstyle.names_list(source) == black_of(source).rstrip("\n")
