"""`flowgen build`, `flowgen check` and `flowgen graph`: the whole pipeline, end to end.

load -> validate -> check (flowgen.compiler) -> plan -> render -> write/compare
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from flowgen import __version__
from flowgen.compiler import Compiled, HeldBy, compile_specs
from flowgen.diagnostics import show
from flowgen.plan import build_plan
from flowgen.render import MANIFEST, Source, package_name, render_package
from flowgen.render.graph import mermaid
from flowgen.report import EXIT_INVALID, EXIT_OK, EXIT_USAGE, error, print_diagnostics, printable
from flowgen.write import Drift, Package, WriteError, compare, write_packages
from flowgen.write.tree import read_file

DEFAULT_OUT = Path("generated")
_PROJECT_MARKERS = ("pyproject.toml", ".git")


def project_path(spec: str) -> str:
    """The spec's path from its project's root (the nearest folder with pyproject.toml
    or .git), so headers are the same whatever the working directory."""
    path = Path(spec).resolve()
    for parent in path.parents:
        if any((parent / marker).exists() for marker in _PROJECT_MARKERS):
            return path.relative_to(parent).as_posix()
    return path.name


def _compile_all(specs: list[str], strict: bool, held: HeldBy | None = None) -> tuple[list[Compiled], int]:
    compiled = compile_specs(specs, strict=strict, held=held)
    return compiled, print_diagnostics(compiled)


def _package_directory(out: str | None, root: str | None, package: str) -> Path:
    """Where a package goes: `out` (one spec), else ROOT/PACKAGE/ (`root`, by default generated/).

    --root only moves generated/: the package folder under it is named by the spec, as by
    default, so the same rules hold (neither may be a symlink; see flowgen/write)."""
    return Path(out) if out else Path(root or DEFAULT_OUT) / package


def held_by_another(out: str | None, root: str | None) -> HeldBy:
    """compiler.HeldBy from the manifests on disk: a package folder (--out, else ROOT/PACKAGE/)
    that holds the package of another workflow from another spec, whose name maps to the same
    package name (`日本` and `中国` both make `__`), is not this spec's to replace."""

    def held(package: str, workflow: str, file: str) -> str | None:
        directory = _package_directory(out, root, package)
        other = _built_from(directory)
        if other is None or other[0] == workflow or other[1] == printable(project_path(file)):
            return None  # free, the same workflow, or the same spec renaming its workflow
        where = printable(directory.as_posix())
        return (
            f"{where} holds the package of workflow {show(other[0])} from {show(other[1])}, and "
            f"workflow {show(workflow)} makes the same package name, so building would replace it: "
            f"rename one workflow, or remove {where} first"
        )

    return held


def packages_for(
    specs: list[str], out: str | None, strict: bool, root: str | None = None
) -> tuple[list[Package], int]:
    """Render every spec's package in memory; nothing is written here. A package goes in `out`
    (one spec), else in ROOT/WORKFLOW/ (`root`, by default generated/)."""
    compiled, code = _compile_all(specs, strict, held_by_another(out, root))
    if code != EXIT_OK:
        return [], code
    packages = []
    seen: dict[Path, str] = {}
    for item in compiled:
        assert item.checked is not None
        plan = build_plan(item.checked)
        directory = _package_directory(out, root, package_name(plan.workflow))
        if directory.resolve() in seen:
            return [], error(f"{item.file} and {seen[directory.resolve()]} both build into {directory}")
        seen[directory.resolve()] = item.file
        raw = Path(item.file).read_bytes()
        # A file name that is not UTF-8 is written into the package as printed: with \xNN escapes.
        source = Source(printable(project_path(item.file)), hashlib.sha256(raw).hexdigest())
        packages.append(Package(item.file, directory, render_package(plan, source), named_by_user=bool(out)))
    return packages, EXIT_OK


def _manifest_on_disk(directory: Path) -> dict[str, Any] | None:
    """The manifest of the package in `directory` as written, or None; never read through a link."""
    if directory.is_symlink():
        return None  # refused when written; never read through
    try:
        data = json.loads(read_file(directory / MANIFEST).decode("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _built_from(directory: Path) -> tuple[str, str] | None:
    """(workflow name, spec path) that the package in `directory` was built from, if its
    manifest says (manifests written before flowgen recorded the workflow do not)."""
    try:
        data = _manifest_on_disk(directory) or {}
        workflow, spec = data["workflow"], data["spec"]["path"]
    except (KeyError, TypeError):
        return None
    return (workflow, spec) if isinstance(workflow, str) and isinstance(spec, str) else None


def _engine_upgrade(package: Package, drift: Drift) -> str | None:
    """ "built by flowgen X, this is Y" when what differs is only the engine another flowgen wrote."""
    names = [*drift.missing, *drift.extra, *drift.changed]
    if not all(name.startswith("engine/") or name == MANIFEST for name in names):
        return None
    generator = (_manifest_on_disk(package.directory) or {}).get("generator")
    built = generator.get("flowgen") if isinstance(generator, dict) else None
    if not isinstance(built, str) or built == __version__:
        return None
    return f"{printable(package.directory.as_posix())}: only the engine differs: built by flowgen {printable(built)}, this is {__version__}"


def _where(out: str | None, root: str | None) -> str:
    """The option that chose the packages' folder, as it is written on the command line."""
    if out:
        return f" --out {printable(out)}"
    return f" --root {printable(root)}" if root else ""


def build(specs: list[str], out: str | None, strict: bool, quiet: bool, root: str | None = None) -> int:
    packages, code = packages_for(specs, out, strict, root)
    if code != EXIT_OK:
        return code
    try:
        report = write_packages(packages)
    except (WriteError, OSError) as problem:
        return error(str(problem))
    if not quiet:
        for line in report:
            print(line)
        if not report:
            print(f"{len(packages)} package(s) up to date")
    return EXIT_OK


def check(specs: list[str], out: str | None, strict: bool, root: str | None = None) -> int:
    packages, code = packages_for(specs, out, strict, root)
    if code != EXIT_OK:
        return EXIT_USAGE
    stale = []
    for package in packages:
        try:
            drift = compare(package)
        except OSError as problem:  # a root or generated/ that is a file, an unreadable folder
            return error(str(problem))
        if drift.clean:
            continue
        stale.append(package.spec)
        for name in drift.missing:
            print(f"MISSING {printable((package.directory / name).as_posix())}")
        for name in drift.extra:
            print(f"EXTRA {printable((package.directory / name).as_posix())}")
        for name, diff in sorted(drift.changed.items()):
            print(f"CHANGED {printable((package.directory / name).as_posix())}")
            sys.stdout.write(diff)
        upgrade = _engine_upgrade(package, drift)
        if upgrade is not None:
            print(f"flowgen check: {upgrade}", file=sys.stderr)
    if stale:
        stale_specs = " ".join(printable(spec) for spec in stale)
        print(
            f"flowgen check: out of date; run: flowgen build {stale_specs}{_where(out, root)}",
            file=sys.stderr,
        )
        return EXIT_INVALID
    return EXIT_OK


def graph(spec: str) -> int:
    (compiled,), code = _compile_all([spec], strict=False)
    if code != EXIT_OK or compiled.checked is None:
        return code
    print(mermaid(build_plan(compiled.checked)))
    return EXIT_OK
