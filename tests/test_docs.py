"""The documentation's examples are run, so they cannot drift from what flowgen does.

In docs/*.md:

- a fenced ```yaml block whose first line that is not a comment is `flowgen: 1` (or a ```json block
  holding an object with `"flowgen": 1`) is a complete spec: `flowgen validate` must accept it
  with no output at all;
- unless the line just before its fence is `<!-- expect-error: TEXT -->` (the spec must be rejected
  and TEXT appear in the output) or `<!-- expect-warning: TEXT -->` (accepted, with TEXT in a
  warning);
- a ```console block right after such a spec, starting with `$ flowgen validate spec.yaml`, shows
  the exact output: every line after the command must be what flowgen prints;
- every other ```yaml block is a fragment: it must at least load (valid YAML, no duplicate keys);
- every doc renders as CommonMark the way it reads: each fence closes where it should (a fence
  closed by "``` text" runs on to the next fence, swallowing what follows);
- every ```python block type-checks with `mypy --strict`, against the generated packages and
  examples/. A block whose first line is a comment naming a file (`# shop/saga.py ...`) is that
  file, so later blocks can import it.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
from dataclasses import dataclass

import pytest
from markdown_it import MarkdownIt

from flowgen.load import LoadError, load_text

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
_FENCE = re.compile(r"^```([a-z]*)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
_MARKER = re.compile(r"<!--\s*expect-(error|warning):\s*(.*?)\s*-->\s*\Z", re.S)


@dataclass(frozen=True)
class Block:
    doc: str
    line: int
    language: str
    text: str
    expect: tuple[str, str] | None  # ("error" | "warning", TEXT)
    output: list[str] | None  # the console block's lines after the command

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"

    @property
    def is_spec(self) -> bool:
        if self.language == "json":
            try:
                data = json.loads(self.text)
            except ValueError:
                return False
            return isinstance(data, dict) and data.get("flowgen") == 1
        if self.language != "yaml":
            return False
        lines = [line for line in self.text.splitlines() if line.strip() and not line.startswith("#")]
        return bool(lines) and lines[0].strip() == "flowgen: 1"


def _blocks() -> list[Block]:
    found: list[Block] = []
    for doc in DOCS:
        text = doc.read_text()
        fences = list(_FENCE.finditer(text))
        for index, fence in enumerate(fences):
            language, body = fence.group(1), fence.group(2)
            if language not in ("yaml", "json"):
                continue
            before = text[fences[index - 1].end() if index else 0 : fence.start()]
            marker = _MARKER.search(before.rstrip() + "\n")
            expect = (marker.group(1), " ".join(marker.group(2).split())) if marker else None
            output = None
            if index + 1 < len(fences):
                after = fences[index + 1]
                gap = text[fence.end() : after.start()]
                lines = after.group(2).splitlines()
                if (
                    after.group(1) == "console"
                    and not gap.strip()
                    and lines
                    and lines[0].startswith("$ flowgen validate spec.")
                ):
                    output = lines[1:]
            line = text.count("\n", 0, fence.start()) + 1
            found.append(Block(doc.name, line, language, body, expect, output))
    return found


BLOCKS = _blocks()
SPEC_BLOCKS = [b for b in BLOCKS if b.is_spec]
FRAGMENTS = [b for b in BLOCKS if not b.is_spec and b.language == "yaml"]


def _validate(block: Block, folder: pathlib.Path) -> subprocess.CompletedProcess[str]:
    name = "spec.json" if block.language == "json" else "spec.yaml"
    (folder / name).write_text(block.text)
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "flowgen", "validate", name],
        cwd=folder,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_the_docs_have_examples() -> None:
    names = {doc.name for doc in DOCS}
    assert {"spec-language.md", "errors.md", "architecture.md"} <= names
    assert len([b for b in SPEC_BLOCKS if b.doc == "spec-language.md" and b.expect is None]) >= 5
    assert len([b for b in SPEC_BLOCKS if b.doc == "errors.md" and b.expect]) >= 10


@pytest.mark.parametrize("block", SPEC_BLOCKS, ids=lambda b: b.id)
def test_spec_example(block: Block, tmp_path: pathlib.Path) -> None:
    run = _validate(block, tmp_path)
    assert run.stdout == ""
    if block.expect is None:
        assert (run.returncode, run.stderr) == (0, ""), f"{block.id} should be valid:\n{run.stderr}"
    else:
        kind, text = block.expect
        assert run.returncode == (1 if kind == "error" else 0), f"{block.id}:\n{run.stderr}"
        flat = " ".join(run.stderr.split())
        assert text in flat, f"{block.id}: {text!r} not in:\n{run.stderr}"
        if kind == "warning":
            assert all(": warning: " in line for line in run.stderr.splitlines())
    if block.output is not None:
        assert run.stderr.splitlines() == block.output, (
            f"the output shown after {block.id} is not what flowgen prints now; it prints:\n{run.stderr}"
            "\nto update every such block: python tests/test_docs.py --update (then review the diff)"
        )


@pytest.mark.parametrize("block", FRAGMENTS, ids=lambda b: b.id)
def test_yaml_fragment_loads(block: Block) -> None:
    if all(not line.strip() or line.lstrip().startswith("#") for line in block.text.splitlines()):
        return  # only comments, such as the yaml-language-server line
    try:
        load_text(block.text)
    except LoadError as error:
        pytest.fail(f"{block.id}: {error.diagnostic.message}")


def test_every_marker_belongs_to_a_spec() -> None:
    for doc in DOCS:
        text = doc.read_text()
        markers = len(re.findall(r"^<!--\s*expect-(?:error|warning):", text, re.M))
        marked = len([b for b in SPEC_BLOCKS if b.doc == doc.name and b.expect])
        assert markers == marked, f"{doc.name}: an expect- marker is not right before a complete spec"


def test_relative_links_resolve() -> None:
    for doc in [*DOCS, ROOT / "README.md"]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (doc.parent / target).exists(), f"{doc.name} links to {target}, which does not exist"


def _fences(doc: pathlib.Path) -> list[tuple[int, str, str]]:
    """(line, language, text) of every fenced block, as a CommonMark parser sees the document."""
    tokens = MarkdownIt("commonmark").parse(doc.read_text())
    return [(t.map[0] + 1, t.info.strip(), t.content) for t in tokens if t.type == "fence" and t.map]


@pytest.mark.parametrize("doc", [*DOCS, ROOT / "README.md"], ids=lambda d: d.name)
def test_doc_renders_as_written(doc: pathlib.Path) -> None:
    for line, language, text in _fences(doc):
        assert re.fullmatch(r"[a-z]*", language), f"{doc.name}:{line}: a fence's info string is {language!r}"
        stray = [n for n, row in enumerate(text.splitlines(), line + 1) if row.lstrip().startswith("```")]
        assert (
            not stray
        ), f"{doc.name}:{stray[0]}: a fence inside the block opened at line {line} (not closed?)"
    if doc.parent == ROOT / "docs":
        # The examples tested above are found by a regular expression; it must see what CommonMark sees.
        assert [line for line, language, _ in _fences(doc) if language in ("yaml", "json")] == [
            b.line for b in BLOCKS if b.doc == doc.name
        ]


_FILE_COMMENT = re.compile(r"#\s*([\w/]+\.py)\b")


def test_python_examples_type_check(tmp_path: pathlib.Path) -> None:
    files: list[pathlib.Path] = []
    for doc in [*DOCS, ROOT / "README.md"]:
        for line, language, text in _fences(doc):
            if language != "python":
                continue
            named = _FILE_COMMENT.match(text.splitlines()[0]) if text.strip() else None
            path = tmp_path / (named.group(1) if named else f"{doc.stem.replace('-', '_')}_{line}.py")
            assert path not in files, f"{doc.name}:{line}: a second block claims to be {path.name}"
            path.parent.mkdir(parents=True, exist_ok=True)
            for folder in path.relative_to(tmp_path).parents:
                if folder != pathlib.Path(".") and not (tmp_path / folder / "__init__.py").exists():
                    (tmp_path / folder / "__init__.py").write_text("")
            path.write_text(text)
            files.append(path)
    assert len(files) >= 8
    env = {**os.environ, "MYPYPATH": os.pathsep.join([str(ROOT / "generated"), str(ROOT)])}
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file=", "--cache-dir", str(tmp_path / ".cache")]
        + [str(f.relative_to(tmp_path)) for f in files],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def update(folder: pathlib.Path) -> list[str]:
    """Rewrite every console block that follows a spec with what flowgen prints now."""
    changed = []
    for doc in DOCS:
        text = doc.read_text()
        fences = list(_FENCE.finditer(text))
        edits: list[tuple[int, int, str]] = []
        for block in [b for b in _blocks() if b.doc == doc.name and b.is_spec and b.output is not None]:
            index = next(i for i, f in enumerate(fences) if text.count("\n", 0, f.start()) + 1 == block.line)
            console = fences[index + 1]
            command = console.group(2).splitlines()[0]
            run = _validate(block, folder)
            body = "\n".join([command, *run.stderr.splitlines()]) + "\n"
            if body != console.group(2):
                edits.append((console.start(2), console.end(2), body))
        for start, end, body in reversed(edits):
            text = text[:start] + body + text[end:]
        if edits:
            doc.write_text(text)
            changed.append(f"{doc.name}: {len(edits)} block(s)")
    return changed


if __name__ == "__main__":
    import tempfile

    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/test_docs.py --update")
    with tempfile.TemporaryDirectory() as tmp:
        print("\n".join(update(pathlib.Path(tmp))) or "docs are current")
