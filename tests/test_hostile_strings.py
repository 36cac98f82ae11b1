"""Hostile strings wherever a spec carries text: the package compiles and carries them unchanged.

Descriptions, literal values (`{value: ...}`, nested, with hostile keys), tags and SWF names
(domain, workflow, versions, task lists; within SWF's rules) are filled with quotes,
backslashes, line breaks, `{{ }}`, triple quotes, `# comments`, Markdown and HTML, NUL,
U+2028 and friends. Each spec is written as YAML whose strings are double-quoted with YAML's
own escapes (so NUL is `\\0`), built with flowgen's own pipeline (`packages_for`, then
`write_packages`), every Python file passes `compile()`, and the package is imported:
`flow.PLAN` must hold every string exactly and each entry point's `--help` must work. The
package's README.md must show a description as one line of plain text (checked with a
CommonMark parser), never as Markdown or HTML.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import math
import pathlib
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from flowgen.build import packages_for
from flowgen.render import package_name
from flowgen.spec.names import package_name_problem
from flowgen.write import Package, write_packages
from tests.yaml_text import yaml_string, yaml_value

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=False
)
HANDLER = "hostile_handlers.module:f0"  # the handlers' package, which the workflow must not shadow
ENTRY_POINTS = ("decider", "worker", "register", "starter", "local")
MODULES = ("__init__", "types", "flow", *ENTRY_POINTS)

# -- hostile text --------------------------------------------------------------------

FRAGMENTS = [
    '"',
    "'",
    "\\",
    "\\n",
    "\n",
    "\r\n",
    "\r",
    "\t",
    "{{",
    "}}",
    "{{ plan.domain }}",
    "{% raw %}",
    "{# c #}",
    '"""',
    "'''",
    '\\"""',
    "# comment",
    "#",
    "\x00",
    "\x07",
    "\x1b[31m",
    "\x7f",
    "\x85",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\u202e",
    "\u200b",
    "\xa0",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<!--",
    "-->",
    "[link](javascript:alert(1))",
    "![img](http://example.invalid/i.png)",
    "<http://example.invalid>",
    "*em*",
    "**strong**",
    "_u_",
    "~~s~~",
    "`code`",
    "```",
    "~~~",
    "| a | b |",
    "# Heading",
    "> quote",
    "- item",
    "1. item",
    "---",
    "===",
    "&amp;",
    "&lt;b&gt;",
    "&#60;",
    "$x^2$",
    "%s",
    "%d",
    "%%",
    "{0}",
    "${HOME}",
    "\\x00",
    "\\u2028",
    "é",
    "日本語",
    "🙂",
    " ",
    "    ",
    "None",
    "True",
    "null",
    "~",
    "0o17",
    "1e3",
    ": ",
    "- ",
    "&anchor",
    "*alias",
    "!!python/object:os.system",
]
CHARS = st.characters(codec="utf-8", exclude_categories=["Cs"])
hostile_text = st.one_of(
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(CHARS, max_size=6)), max_size=8).map("".join),
    st.text(CHARS, max_size=40),
)

# SWF names: 1 to 256 characters (versions 64), no : / | or control characters, no white space
# at either end, not "arn". Everything else goes, including * ? $ (wildcards in IAM).
NAME_FRAGMENTS = [
    f
    for f in FRAGMENTS
    if not any(c in f for c in ":/|") and not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in f)
] + ["*", "?", "$", "${*}", "${aws.username}", "a b", "arn", "-", "."]


def _swf_name(text: str, limit: int) -> str:
    kept = "".join(c for c in text if c not in ":/|" and not (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F))
    name = kept[:limit].strip()
    return "n" if not name else name + "0" if name == "arn" else name


def swf_names(limit: int = 256) -> st.SearchStrategy[str]:
    parts = st.one_of(st.sampled_from(NAME_FRAGMENTS), st.text(CHARS, min_size=1, max_size=6))
    return st.lists(parts, min_size=1, max_size=6).map(lambda p: _swf_name("".join(p), limit))


# Activity types are named `WORKFLOW.a<index>` unless type_name says otherwise: that must fit in 256.
WORKFLOW_LIMIT = 256 - len(".a99")


def _workflow_name(name: str) -> str:
    """A workflow name flowgen takes: not one whose package would shadow a module (`?abc` -> `_abc`)."""
    return name if package_name_problem(name, [HANDLER]) is None else name[: WORKFLOW_LIMIT - 5] + "-flow"


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        hostile_text,
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(hostile_text, inner, max_size=4)),
    max_leaves=10,
)

# -- writing the spec as YAML ----------------------------------------------------------


@dataclass
class Hostile:
    """One spec's worth of hostile strings."""

    domain: str
    workflow: str
    version: str
    task_list: str
    description: str
    tags: list[str]
    activities: list[dict[str, Any]] = field(default_factory=list)

    def yaml(self, named: bool = True) -> str:
        def q(text: str) -> str:
            return yaml_string(text, named)

        lines = [
            "flowgen: 1",
            f"domain: {q(self.domain)}",
            "workflow:",
            f"  name: {q(self.workflow)}",
            f"  version: {q(self.version)}",
            f"  description: {q(self.description)}",
            f"  task_list: {q(self.task_list)}",
            "  execution_timeout: 1d",
            f"  tags: {yaml_value(self.tags, named)}",
            "activities:",
        ]
        for index, activity in enumerate(self.activities):
            lines += [
                f"  a{index}:",
                f"    handler: hostile_handlers.module:f{index}",
                f"    description: {q(activity['description'])}",
                f"    version: {q(activity['version'])}",
                f"    task_list: {q(activity['task_list'])}",
            ]
            if activity["type_name"] is not None:
                lines.append(f"    type_name: {q(activity['type_name'])}")
            if activity["literals"]:
                lines.append("    inputs:")
                for number, value in enumerate(activity["literals"]):
                    lines.append(f"      p{number}: {{value: {yaml_value(value, named)}}}")
        return "\n".join(lines) + "\n"


activities = st.fixed_dictionaries(
    {
        "description": hostile_text,
        "version": swf_names(64),
        "task_list": swf_names(),
        "type_name": st.none() | swf_names(),
        "literals": st.lists(json_values, max_size=3),
    }
)
hostile_specs = st.builds(
    Hostile,
    domain=swf_names(),
    workflow=swf_names(WORKFLOW_LIMIT).map(_workflow_name),
    version=swf_names(64),
    task_list=swf_names(),
    description=hostile_text,
    tags=st.lists(hostile_text.map(lambda t: t[:256]), max_size=5),
    # Each activity needs a type of its own.
    activities=st.lists(activities, min_size=1, max_size=3, unique_by=lambda a: a["type_name"] or object()),
)

# -- building and importing ---------------------------------------------------------------


def build(spec: pathlib.Path, out: pathlib.Path) -> Package:
    """flowgen build SPEC --out OUT, in this process; the rendered package is returned."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        packages, code = packages_for([str(spec)], str(out), strict=False)
    assert code == 0, f"flowgen refused the spec:\n{stderr.getvalue()}\n{spec.read_text()}"
    write_packages(packages)
    return packages[0]


@contextlib.contextmanager
def imported(out: pathlib.Path) -> Iterator[dict[str, ModuleType]]:
    """Every generated module of the package in `out`, imported under the folder's name."""
    name = out.name
    sys.path.insert(0, str(out.parent))
    try:
        modules = {m: importlib.import_module(name if m == "__init__" else f"{name}.{m}") for m in MODULES}
        yield modules
    finally:
        sys.path.remove(str(out.parent))
        for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[module]


def same(left: Any, right: Any) -> bool:
    """Equal, and of the same types all the way down (1 is not 1.0, True is not 1)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return list(left) == list(right) and all(same(left[k], right[k]) for k in left)
    if isinstance(left, (list, tuple)):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, float):
        return left == right and math.copysign(1, left) == math.copysign(1, right)
    return bool(left == right)


def flat(text: str) -> str:
    """A description as README.md shows it: one line, control characters as spaces."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])
README_BLOCKS = [
    "html_block",
    "heading_open:h1",
    "paragraph_open:p",  # the description, when there is one
    "paragraph_open:p",
    "fence:code",
    "heading_open:h2",
    "paragraph_open:p",
    "fence:code",
    "paragraph_open:p",
    "fence:code",
    "heading_open:h2",
    "table_open:table",
    "heading_open:h2",
    "paragraph_open:p",
]


def _walk(tokens: list[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        yield from _walk(token.children or [])


def check_readme(text: str, description: str, activity_count: int) -> None:
    tokens = MARKDOWN.parse(text)
    blocks = [f"{t.type}:{t.tag}" if t.tag else t.type for t in tokens if t.level == 0 and t.nesting >= 0]
    expected = list(README_BLOCKS)
    if not flat(description):
        expected.remove("paragraph_open:p")
    assert blocks == expected, text
    html = [t.content for t in _walk(tokens) if t.type in ("html_block", "html_inline")]
    assert len(html) == 1 and all(h.startswith("<!-- ") and h.rstrip().endswith(" -->") for h in html), html
    kinds = {t.type for t in _walk(tokens)}
    assert not kinds & {"link_open", "image", "em_open", "strong_open", "s_open", "hardbreak"}, kinds
    rows = [t for t in tokens if t.type == "tr_open"]
    assert len(rows) == activity_count + 1
    if flat(description):
        inline = tokens[tokens.index(next(t for t in tokens if t.type == "heading_open")) + 4]
        assert inline.type == "inline" and inline.map is not None
        assert [c.type for c in inline.children or []] == ["text"], text
        assert inline.content.count("\n") == 0 and (inline.children or [])[0].content == flat(description)


def check_package(hostile: Hostile, out: pathlib.Path, package: Package) -> None:
    for name, body in sorted(package.files.items()):
        if name.endswith(".py"):
            compile(body.decode("utf-8"), name, "exec")
    check_readme(package.files["README.md"].decode("utf-8"), hostile.description, len(hostile.activities))
    with imported(out) as modules:
        flow = modules["flow"]
        plan = flow.PLAN
        assert (plan.domain, flow.DOMAIN) == (hostile.domain, hostile.domain)
        assert (plan.workflow, flow.WORKFLOW_NAME) == (hostile.workflow, hostile.workflow)
        assert (plan.version, flow.WORKFLOW_VERSION) == (hostile.version, hostile.version)
        assert (plan.task_list, flow.DECIDER_TASK_LIST) == (hostile.task_list, hostile.task_list)
        assert plan.description == hostile.description
        assert plan.tags == tuple(hostile.tags)
        task_lists = flow.ACTIVITY_TASK_LISTS
        assert task_lists == tuple(sorted({a["task_list"] for a in hostile.activities}))
        assert len(plan.activities) == len(hostile.activities)
        types = []
        for index, (activity, wanted) in enumerate(zip(plan.activities, hostile.activities, strict=True)):
            type_name = wanted["type_name"] or f"{hostile.workflow}.a{index}"
            assert activity.type_name == type_name
            types.append((type_name, wanted["version"]))
            assert activity.description == wanted["description"]
            assert activity.version == wanted["version"]
            assert activity.task_list == wanted["task_list"]
            literals = [source.value for _, source in activity.inputs]
            assert all(source.kind == "literal" for _, source in activity.inputs)
            assert len(literals) == len(wanted["literals"])
            for got, value in zip(literals, wanted["literals"], strict=True):
                assert same(got, value), (got, value)
        assert tuple(sorted(types)) == flow.ACTIVITY_TYPES
        for entry in ENTRY_POINTS:
            stdout = io.StringIO()
            with contextlib.redirect_stdout(stdout), pytest.raises(SystemExit) as exit_:
                modules[entry].main(["--help"])
            assert exit_.value.code == 0, entry
            usage = f"usage: python -m {package_name(hostile.workflow)}.{entry}"
            assert stdout.getvalue().startswith(usage), stdout.getvalue()


def run(hostile: Hostile, named: bool = True, file_name: str = "spec.yaml") -> Package:
    with tempfile.TemporaryDirectory() as folder:
        spec = pathlib.Path(folder) / file_name
        spec.write_text(hostile.yaml(named), encoding="utf-8")
        out = pathlib.Path(folder) / f"hostile_{uuid.uuid4().hex}"
        package = build(spec, out)
        check_package(hostile, out, package)
        return package


# -- the tests ----------------------------------------------------------------------------


@SETTINGS
@given(hostile=hostile_specs, named=st.booleans())
def test_hostile_strings_compile_and_arrive_unchanged(hostile: Hostile, named: bool) -> None:
    run(hostile, named)


def _every_fragment() -> Hostile:
    """Each fragment once in every kind of place, in one spec (one build covers them all)."""
    names = [_swf_name(f"x{f}x", 64) for f in NAME_FRAGMENTS]
    chunks = [FRAGMENTS[i : i + 4] for i in range(0, len(FRAGMENTS), 4)]
    return Hostile(
        domain=_swf_name("".join(NAME_FRAGMENTS), 256),
        workflow=_swf_name("".join(reversed(NAME_FRAGMENTS)), WORKFLOW_LIMIT),
        version=names[0],
        task_list=names[-1],
        description="".join(FRAGMENTS),
        tags=["".join(chunk)[:256] for chunk in chunks[:5]],
        activities=[
            {
                "description": "".join(chunk),
                "version": names[index % len(names)],
                "task_list": names[(index * 7) % len(names)],
                "type_name": _swf_name(f"{''.join(chunk)}#{index}", 256) if index % 2 else None,
                "literals": [
                    chunk[0],
                    list(chunk),
                    {c: c for c in chunk},
                    {"nested": [[chunk], {"k": chunk}]},
                ],
            }
            for index, chunk in enumerate(chunks)
        ],
    )


@pytest.mark.parametrize("named", [True, False], ids=["named-escapes", "numeric-escapes"])
def test_every_fragment_in_every_place(named: bool) -> None:
    run(_every_fragment(), named)


SIMPLE = Hostile(
    "dev",
    "wf",
    "1",
    "wf",
    "A plain description.",
    [],
    [{"description": "", "version": "1", "task_list": "tl", "type_name": None, "literals": ["x"]}],
)


def test_a_spec_file_name_cannot_end_the_readme_header_comment() -> None:
    """The spec's path goes into an HTML comment in README.md: `-->` must not close it."""
    package = run(SIMPLE, file_name="x--><img src=x onerror=alert(1)>--!><b>.yaml")
    first = package.files["README.md"].decode().splitlines()[0]
    assert first.startswith("<!-- Code generated by flowgen from x--") and first.endswith(" -->")
    assert first.count(">") == 1  # only the comment's own end: the rest stays inside it
    for name, body in package.files.items():
        if name.endswith(".py") and not name.startswith("engine/"):
            assert body.decode().splitlines()[0].startswith("# Code generated by flowgen from x--")


def test_a_description_cannot_smuggle_raw_control_characters_into_the_readme() -> None:
    """NUL makes git call README.md binary; ESC drives terminals; U+202E reverses text."""
    hostile = Hostile("dev", "wf", "1", "wf", "a\x00b\x1b[31mc\u202ed\u2028e\x85f", [], SIMPLE.activities)
    readme = run(hostile).files["README.md"].decode()
    assert not any(not c.isprintable() and c != "\n" for c in readme), repr(readme)
    assert "\na b [31mc d e f\n" in readme.replace("\\", "")


@pytest.mark.parametrize(
    "text, shown",
    [
        ("&amp; &lt;b&gt; &#60;", "&amp; &lt;b&gt; &#60;"),  # entity references stay as typed
        ("price $x^2$ math", "price $x^2$ math"),
    ],
)
def test_readme_shows_entities_and_dollars_as_typed(text: str, shown: str) -> None:
    hostile = Hostile("dev", "wf", "1", "wf", text, [], SIMPLE.activities)
    readme = run(hostile).files["README.md"].decode()
    tokens = MARKDOWN.parse(readme)
    paragraph = tokens[tokens.index(next(t for t in tokens if t.type == "heading_open")) + 4]
    assert paragraph.children is not None and paragraph.children[0].content == shown
    if "$" in text:
        assert "\\$" in readme  # GitHub renders $...$ as math unless the dollar is escaped


def test_a_workflow_name_with_percent_prog_keeps_help_working() -> None:
    """argparse %-formats a description holding '%(prog)': the engine escapes the name's %."""
    run(Hostile("dev", "x %(prog)s %d", "1", "wf", "", [], SIMPLE.activities))
