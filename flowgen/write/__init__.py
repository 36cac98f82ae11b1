"""Stage 6, write and check: put rendered packages on disk, or compare them with it.

A package's manifest lists the files flowgen owns there. Writing happens only
after every package rendered; files the manifest owns and no longer produces
are removed; a file it does not own is never overwritten or removed.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from flowgen.render import MANIFEST

IGNORED_DIRS = frozenset({"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"})


class WriteError(Exception):
    """A package cannot be written without touching what flowgen does not own."""


@dataclass(frozen=True)
class Package:
    """A rendered package: where it goes, from which spec, and its files."""

    spec: str
    directory: Path
    files: dict[str, bytes]


@dataclass
class Drift:
    """How a package on disk differs from what the compiler now writes."""

    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    changed: dict[str, str] = field(default_factory=dict)  # path -> unified diff

    @property
    def clean(self) -> bool:
        return not (self.missing or self.extra or self.changed)


def owned_files(directory: Path) -> set[str]:
    """The files an existing manifest says flowgen wrote (empty when there is none)."""
    try:
        data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        return set(data["files"]) | {MANIFEST}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def _files_on_disk(directory: Path) -> set[str]:
    found: set[str] = set()
    if not directory.is_dir():
        return found
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in IGNORED_DIRS)
        for name in names:
            if name.endswith(".pyc"):
                continue
            found.add(Path(root, name).relative_to(directory).as_posix())
    return found


def plan_writes(package: Package) -> tuple[list[str], list[str]]:
    """The files to write and the owned files to remove; raises if a file is not ours."""
    owned = owned_files(package.directory)
    conflicts = []
    writes = []
    for name, body in package.files.items():
        target = package.directory / name
        if target.exists():
            if target.is_dir():
                conflicts.append(name)
                continue
            current = target.read_bytes()
            if current == body:
                continue
            if name not in owned:
                conflicts.append(name)
                continue
        writes.append(name)
    if conflicts:
        shown = ", ".join(str(package.directory / c) for c in sorted(conflicts))
        raise WriteError(
            f"{shown}: exists and flowgen does not own it (not in {package.directory / MANIFEST}); "
            "move it away or build into another --out"
        )
    removes = sorted(name for name in owned - set(package.files) if (package.directory / name).is_file())
    return writes, removes


def write_packages(packages: list[Package]) -> list[str]:
    """Write every package, or none; returns one line per file written or removed."""
    plans = [(package, *plan_writes(package)) for package in packages]
    report = []
    for package, writes, removes in plans:
        for name in writes:
            _write_atomically(package.directory / name, package.files[name])
            report.append(f"wrote {package.directory / name}")
        for name in removes:
            (package.directory / name).unlink()
            report.append(f"removed {package.directory / name}")
            _prune(package.directory, (package.directory / name).parent)
    return report


def _write_atomically(target: Path, body: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(body)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _prune(top: Path, directory: Path) -> None:
    """Remove folders a removal left empty, up to the package folder."""
    while directory != top and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent


def compare(package: Package) -> Drift:
    drift = Drift()
    on_disk = _files_on_disk(package.directory)
    for name, body in package.files.items():
        if name not in on_disk:
            drift.missing.append(name)
            continue
        current = (package.directory / name).read_bytes()
        if current != body:
            drift.changed[name] = _diff(package, name, current, body)
    drift.extra = sorted(on_disk - set(package.files))
    return drift


def _diff(package: Package, name: str, current: bytes, expected: bytes) -> str:
    path = (package.directory / name).as_posix()
    old = current.decode("utf-8", errors="replace").splitlines(keepends=True)
    new = expected.decode("utf-8", errors="replace").splitlines(keepends=True)
    lines = difflib.unified_diff(old, new, f"{path} (on disk)", f"{path} (from {package.spec})")
    text = "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )
    return text or f"{path}: bytes differ (sha256 {hashlib.sha256(current).hexdigest()[:12]})\n"
