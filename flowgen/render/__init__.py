"""Stage 5, render: a plan to the files of its package, all in memory.

Templates (jinja2, StrictUndefined) read a context derived from the plan and
never compute. Python output is black's, with a fixed mode, so the user's black
configuration has no effect: black formats each module in-process, except the
parts a template marks with the `blackstyle` filter block (the parts that grow
with the plan), which `blackstyle` writes in black's layout directly, because
black would take seconds over them (see flowgen/render/blackstyle.py). Strings
from the spec reach Python code only as `repr` literals (the `py` filter) and
Markdown only through the `md` filter.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.resources
import json
import re
from dataclasses import dataclass
from typing import Any

import black
import jinja2
from black.mode import Mode, TargetVersion

from flowgen.render import blackstyle, iam
from flowgen.render.graph import mermaid
from flowgen.render.names import Names, python_type
from flowgen.runtime.handlers import handler_key
from flowgen.runtime.plan import ActivityPlan, FlowPlan, TypeRef
from flowgen.spec.durations import format_duration
from flowgen.spec.names import package_name as package_name  # build and tests import it from here

BLACK_MODE = Mode(target_versions={TargetVersion.PY311}, line_length=100)
PYTHON_TEMPLATES = (
    "__init__.py",
    "types.py",
    "flow.py",
    "decider.py",
    "worker.py",
    "register.py",
    "starter.py",
    "local.py",
)
MANIFEST = "flowgen.manifest.json"


@dataclass(frozen=True)
class Source:
    """Where the spec came from, as it appears in headers."""

    path: str  # relative to the project root, with / separators
    sha256: str


def py_literal(value: Any) -> str:
    """A Python literal for plain data; strings are always `repr`-escaped."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py_literal(k)}: {py_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(py_literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        inner = ", ".join(py_literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    raise TypeError(f"no literal for {type(value).__name__}")


def md_text(value: str) -> str:
    """Spec text inside Markdown: one line, no HTML, Markdown punctuation escaped.

    Characters that are not printable (NUL, ESC, bidi overrides) become spaces; `&`
    (entity references) and `$` (GitHub's math) are escaped with the rest."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in str(value)).split())
    return re.sub(r"([\\`*_{}\[\]<>()#+\-.!|~&$])", r"\\\1", flat)


def md_code(value: str) -> str:
    """Spec text as a Markdown code span: shown as it is, with no escapes to see.

    The fence is one backtick longer than any run inside; SWF names hold no `|`
    or control characters, so a span is safe in a table too."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in str(value)).split())
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith(("`", " ")) or flat.endswith(("`", " ")) else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


@functools.cache
def _environment() -> jinja2.Environment:
    """Built once: templates are compiled on first use and kept for every later package."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(importlib.resources.files("flowgen.templates"))),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    environment.filters["py"] = py_literal
    environment.filters["md"] = md_text
    environment.filters["code"] = md_code
    environment.filters["blackstyle"] = _blackstyle
    return environment


def format_python(text: str) -> str:
    return black.format_str(text, mode=BLACK_MODE)


# -- Python modules: black on the skeleton, blackstyle on the marked parts ----------------

_MARK = "\x00flowgen-part-{}\x00"
_MARK_LINE = re.compile("\x00flowgen-part-([0-9]+)\x00")


@dataclass(frozen=True)
class _Part:
    """What a `blackstyle` filter block rendered: its kind, its text and the data it names."""

    kind: str
    source: str
    args: tuple[Any, ...]


class _WholeModule(Exception):
    """A part inside a block that blackstyle cannot write: black formats the whole module."""


@jinja2.pass_context
def _blackstyle(context: jinja2.runtime.Context, body: str, kind: str, *args: Any) -> str:
    """`{% filter blackstyle(kind, data...) %}...{% endfilter %}`: set the block's text aside
    and leave a mark on its line; the blank lines around it stay in the module's text."""
    if not body.strip():
        return body
    parts: list[_Part] = context["_parts"]
    text = body.strip("\n")
    lead, trail = body[: body.index(text)], body[body.index(text) + len(text) :]
    parts.append(_Part(kind, text, args))
    return lead + _MARK.format(len(parts) - 1) + trail


def _write(part: _Part) -> str:
    """A marked part in black's layout; black formats its source where blackstyle cannot."""
    written: str | None
    if part.kind == "literal":
        (value,) = part.args
        written = blackstyle.literal_statement(part.source, value, py_literal(value))
    elif part.kind == "classes":
        written = blackstyle.classes(part.source, format_python)
    elif part.kind == "names":
        written = blackstyle.names_list(part.source)
    elif part.kind == "typeddict":
        written = blackstyle.typeddict_call(part.source)
    elif part.kind == "body":
        written = blackstyle.imports_and_table(part.source)
        if written is None:
            raise _WholeModule  # statements inside a function: black needs the function
    else:
        raise ValueError(f"unknown blackstyle part {part.kind!r}")
    return written if written is not None else format_python(part.source + "\n").rstrip("\n")


def _skeleton(lines: list[str]) -> list[str]:
    """black on the template's own text between two parts; the blank lines at either end
    separate it from the parts and stay as the template wrote them."""
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    middle = format_python("\n".join(lines[start:end]) + "\n").rstrip("\n").split("\n") if start < end else []
    return [""] * start + middle + [""] * (len(lines) - end)


def render_python(template: str, context: dict[str, Any]) -> tuple[str, str]:
    """A Python module: (its source as the template wrote it, the source in black's style).

    The second is what black makes of the first, byte for byte, by construction and under
    test (tests/test_render_format.py); black itself formats only the skeleton between the
    parts a template marks with `blackstyle`."""
    parts: list[_Part] = []
    text = _environment().get_template(template).render(context, _parts=parts)
    source = _MARK_LINE.sub(lambda mark: parts[int(mark.group(1))].source, text)
    if not parts:
        return source, format_python(source)
    out: list[str] = []
    skeleton: list[str] = []
    try:
        for line in text.split("\n"):
            mark = _MARK_LINE.fullmatch(line)
            if mark is None:
                skeleton.append(line)
                continue
            out += _skeleton(skeleton) + [_write(parts[int(mark.group(1))])]
            skeleton = []
    except _WholeModule:
        return source, format_python(source)
    out += _skeleton(skeleton)
    return source, "\n".join(out).rstrip("\n") + "\n"


def python_modules(plan: FlowPlan, source: Source) -> dict[str, tuple[str, str]]:
    """The package's Python modules, name -> (source as the templates wrote it, the module in
    black's style): `render_package` writes the second, tests hold it to black(first)."""
    context = _context(plan, source, package_name(plan.workflow))
    return {name: render_python(f"{name}.j2", context) for name in PYTHON_TEMPLATES}


def render_package(plan: FlowPlan, source: Source) -> dict[str, bytes]:
    """Every file of the package, path (with /) -> bytes, the manifest included."""
    package = package_name(plan.workflow)
    context = _context(plan, source, package)
    environment = _environment()
    files: dict[str, bytes] = {}
    for name in PYTHON_TEMPLATES:
        files[name] = render_python(f"{name}.j2", context)[1].encode()
    files["README.md"] = environment.get_template("README.md.j2").render(context).encode()
    files["py.typed"] = b""
    for role, policy in iam.POLICIES.items():
        files[f"iam/{role}.json"] = _json(policy(plan))
    header = environment.get_template("_header.j2").render(context)
    for name, text in engine_sources().items():
        files[f"engine/{name}"] = (header + text).encode()
    files[MANIFEST] = manifest(files, source, plan.workflow)
    return dict(sorted(files.items()))


def engine_sources() -> dict[str, str]:
    """flowgen's runtime modules, verbatim: the engine every package carries."""
    root = importlib.resources.files("flowgen.runtime")
    return {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in sorted(root.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".py")
    }


def manifest(files: dict[str, bytes], source: Source, workflow: str) -> bytes:
    import flowgen

    data = {
        "generator": {"flowgen": flowgen.__version__, "black": importlib.metadata.version("black")},
        "spec": {"path": source.path, "sha256": source.sha256},
        # `build` refuses to replace a package built from another workflow whose name maps to
        # the same package name (see flowgen.build).
        "workflow": workflow,
        "files": {name: hashlib.sha256(body).hexdigest() for name, body in sorted(files.items())},
    }
    return _json(data)


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


# -- the context templates read ----------------------------------------------------


def _fields(
    pairs: tuple[tuple[str, TypeRef], ...], names: Names, optional_missing: bool = False
) -> list[dict[str, str]]:
    out = []
    for name, t in pairs:
        annotation = python_type(t, names)
        if optional_missing and t.kind in ("optional", "any"):
            annotation = f"NotRequired[{annotation}]"
        out.append({"name": name, "annotation": annotation})
    return out


def _activity_context(activity: ActivityPlan, names: Names) -> dict[str, Any]:
    return {
        "name": activity.name,
        "external": activity.external,
        "revert": activity.revert is not None,
        "input_class": names.of(activity, "Input"),
        "output_class": names.of(activity, "Output"),
        "handler_class": names.of(activity, "Handler"),
        "revert_class": names.of(activity, "Revert"),
        "inputs": _fields(activity.input_types, names),
        "outputs": _fields(activity.outputs, names),
        "returns": names.of(activity, "Output") if activity.outputs else "None",
    }


def _handler_wiring(plan: FlowPlan) -> tuple[list[tuple[str, list[tuple[str, str]]]], list[tuple[str, str]]]:
    """Imports of the handlers the spec names, and the Handlers entries using them."""
    modules: dict[str, dict[str, str]] = {}
    entries: list[tuple[str, str]] = []
    for activity in plan.activities:
        if activity.external:
            continue
        for key, path in (
            (handler_key(activity), activity.handler),
            (handler_key(activity, revert=True), activity.revert),
        ):
            if path is None:
                continue
            module, _, function = path.partition(":")
            aliases = modules.setdefault(module, {})
            alias = aliases.setdefault(function, f"_h{sum(len(a) for a in modules.values())}")
            entries.append((key, alias))
    imports = [(module, sorted(functions.items())) for module, functions in modules.items()]
    return imports, entries


def _example_input(plan: FlowPlan) -> str:
    samples = {
        "str": "text",
        "int": 1,
        "float": 1.5,
        "bool": True,
        "date": "2024-01-01",
        "datetime": "2024-01-01T00:00:00",
    }

    def sample(t: TypeRef) -> Any:
        if t.kind == "list":
            assert t.item is not None
            return [sample(t.item)]
        if t.kind == "dict":
            assert t.item is not None
            return {"key": sample(t.item)}
        if t.kind == "optional":
            return None
        return samples.get(t.kind)

    text = json.dumps({name: sample(t) for name, t in plan.input}, ensure_ascii=True)
    return text.replace("'", "\\u0027")


def _activity_row(activity: ActivityPlan) -> dict[str, str]:
    t = activity.timeouts

    def shown(seconds: int | None) -> str:
        return "none" if seconds is None else format_duration(seconds)

    instances = "1"
    if activity.generators:
        axes = " × ".join(g.axis for g in activity.generators)
        instances = f"per {axes}" + (f" (at most {activity.max_items})" if activity.max_items else "")
    return {
        "name": activity.name + (" (external)" if activity.external else ""),
        "type_name": activity.type_name,
        "task_list": activity.task_list,
        "instances": instances,
        "retries": str(activity.retry.max_retries),
        "timeouts": " / ".join(
            shown(s) for s in (t.schedule_to_start, t.start_to_close, t.schedule_to_close, t.heartbeat)
        ),
    }


def _context(plan: FlowPlan, source: Source, package: str) -> dict[str, Any]:
    names = Names(plan)
    activities = [_activity_context(a, names) for a in plan.activities]
    handler_keys: list[tuple[str, str]] = []
    # TaskContext is re-exported so that handlers can annotate `context` from the package's types.
    exports = ["WorkflowInput", "WorkflowResult", "Handlers", "TaskContext"]
    for activity, context in zip(plan.activities, activities, strict=True):
        exports += [context["input_class"], context["output_class"]]
        if activity.external:
            continue
        handler = context["handler_class"]
        handler_keys.append((handler_key(activity), f"{handler} | {handler}WithContext"))
        exports += [handler, f"{handler}WithContext"]
        if activity.revert:
            revert = context["revert_class"]
            handler_keys.append((handler_key(activity, revert=True), f"{revert} | {revert}WithContext"))
            exports += [revert, f"{revert}WithContext"]
    imports, entries = _handler_wiring(plan)
    return {
        "plan": plan,
        "package": package,
        "spec_path": _comment_safe(source.path),
        "spec_sha256": source.sha256,
        "exports": sorted(exports),
        "workflow_input": _fields(plan.input, names, optional_missing=True),
        "workflow_result": _fields(plan.result_types, names),
        "activities": activities,
        "handler_keys": handler_keys,
        "handler_imports": imports,
        "handler_entries": entries,
        "plan_data": plan.to_data(),
        "activity_task_lists": tuple(sorted({a.task_list for a in plan.activities})),
        "activity_types": tuple(
            sorted(
                {(a.type_name, a.version) for a in plan.activities}
                | {(a.revert_type, a.version) for a in plan.activities if a.revert_type}
            )
        ),
        "graph": mermaid(plan),
        "example_input": _example_input(plan),
        "activity_rows": [_activity_row(a) for a in plan.activities],
    }


def _comment_safe(text: str) -> str:
    """A path fit for a one-line comment: anything unprintable is escaped, and so is `>`,
    which could end README.md's HTML comment (`-->`, `--!>`)."""
    return "".join(ch if ch.isprintable() and ch != ">" else f"\\x{ord(ch):02x}" for ch in text)
