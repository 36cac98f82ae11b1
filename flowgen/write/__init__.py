"""Stage 6, write and check: put rendered packages on disk, or compare them with it.

A package's manifest lists the files flowgen owns there. Writing happens only after every package
rendered; files the manifest owns and no longer produces are removed; a file it does not own is
never overwritten or removed. Nothing here follows a symlink inside a package (see tree.py), and a
manifest entry is only ever a path inside its package.

A build is atomic per run: every package that changes is first built whole in a staging folder
next to it (same filesystem), keeping unchanged and unowned files as hard links; only when all are
staged is each swapped into place in one step. A failure before the swaps leaves every package as
it was; a crash leaves each package's old tree or its new one, and the next build clears what is
left of the staging folder.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from flowgen.render import MANIFEST
from flowgen.report import printable
from flowgen.write.tree import Kind, NotAFile, blocked_by, exchange, read_file, scan, write_new_file

IGNORED_DIRS = frozenset({"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"})
STAGING_PREFIX = ".flowgen-build-"
_NOT_FOLLOWED = "flowgen never reads or writes through one"


class WriteError(Exception):
    """A package cannot be written without touching what flowgen does not own."""


@dataclass(frozen=True)
class Package:
    """A rendered package: where it goes, from which spec, and its files."""

    spec: str
    directory: Path
    files: dict[str, bytes]
    # True when the user named the folder (--out): the path to it is the user's and is followed.
    # The folder itself may not be a symlink either way (a branch may commit generated/WORKFLOW as
    # one, and CI may name that with --out); on the default path generated/ may not be one either.
    named_by_user: bool = False


@dataclass
class Drift:
    """How a package on disk differs from what the compiler now writes."""

    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    changed: dict[str, str] = field(default_factory=dict)  # path -> unified diff (or what it is)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.extra or self.changed)


def _symlink_on_the_way(package: Package) -> Path | None:
    """The package folder when it is a symlink, whoever named it, or generated/ when the default
    path goes through a symlink there."""
    on_the_way = () if package.named_by_user else (package.directory.parent,)
    return next((p for p in (*on_the_way, package.directory) if p.is_symlink()), None)


def _symlink_refused(link: Path, what: str = "is a symlink") -> str:
    return (
        f"{printable(link.as_posix())}: {what}; {_NOT_FOLLOWED}; if you mean the folder it points to,"
        " pass that folder to --out"
    )


def package_folder(package: Package) -> Path:
    """The real folder of a package, to read and to replace; raises WriteError if it is reached
    through a symlink flowgen may not follow."""
    link = _symlink_on_the_way(package)
    if link is not None:
        raise WriteError(_symlink_refused(link))
    if package.named_by_user:
        return Path(os.path.realpath(package.directory))
    return Path(os.path.abspath(package.directory))


def is_inside(entry: object) -> bool:
    """Whether a manifest entry names a path inside its package: relative, with `/` between
    parts, no part empty, `.` or `..`, nothing that is not UTF-8, no backslash and no NUL."""
    if not isinstance(entry, str) or not entry or "\\" in entry or "\0" in entry:
        return False
    try:
        entry.encode("utf-8")
    except UnicodeEncodeError:
        return False
    if entry.startswith("/") or (len(entry) > 1 and entry[1] == ":"):  # absolute, or a drive (C:)
        return False
    return all(part not in ("", ".", "..") for part in entry.split("/"))


def owned_files(package: Package, folder: Path, on_disk: dict[str, Kind]) -> set[str]:
    """The files an existing manifest says flowgen wrote (empty when there is none, or it is not a
    manifest); raises WriteError for an entry outside the package."""
    if on_disk.get(MANIFEST) != "file":
        return set()
    try:
        entries = list(json.loads(read_file(folder / MANIFEST).decode("utf-8"))["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    for entry in entries:
        if not is_inside(entry):
            raise WriteError(
                f"{printable(str(package.directory / MANIFEST))}: lists {printable(repr(entry))}, which is not "
                "a path inside the package; flowgen only ever touches its own package's files: remove the "
                "package folder (or that entry) and build again"
            )
    return set(entries) | {MANIFEST}


@dataclass(frozen=True)
class _Plan:
    package: Package
    folder: Path  # the real folder
    exists: bool
    on_disk: dict[str, Kind]
    writes: list[str]  # new or changed
    removes: list[str]  # owned, and no longer written


def _shown(package: Package, names: set[str]) -> str:
    return ", ".join(printable(str(package.directory / name)) for name in sorted(names))


def plan_writes(package: Package) -> _Plan:
    """What writing a package would change; raises WriteError if that needs touching a file
    flowgen does not own or going through a symlink. Reads only."""
    folder = package_folder(package)
    try:
        mode = os.lstat(folder).st_mode
    except FileNotFoundError:
        return _Plan(package, folder, False, {}, sorted(package.files), [])
    if not stat.S_ISDIR(mode):
        raise WriteError(f"{printable(str(package.directory))}: exists and is not a folder")
    here = Path(os.path.realpath(os.getcwd()))
    if here == folder or folder in here.parents:
        # The folder is replaced whole: the shell would be left in the old, removed one.
        raise WriteError(
            f"{printable(str(package.directory))}: holds the current folder; a package goes in a folder "
            "of its own (build replaces it whole)"
        )
    on_disk = scan(folder)
    owned = owned_files(package, folder, on_disk)
    links: set[str] = set()
    conflicts: set[str] = set()
    writes = []
    for name, body in package.files.items():
        at = blocked_by(name, on_disk) or name
        kind = on_disk.get(at)
        if kind is None:
            writes.append(name)
        elif kind in ("link", "other"):
            links.add(at)
        elif kind == "dir" or at != name:
            conflicts.add(at)
        elif read_file(folder / name) != body:
            if name in owned:
                writes.append(name)
            else:
                conflicts.add(name)
    removes = []
    for name in sorted(owned - set(package.files)):
        at = blocked_by(name, on_disk) or name
        if on_disk.get(at) in ("link", "other"):
            links.add(at)
        elif at == name and on_disk.get(name) == "file":
            removes.append(name)
    if links:
        raise WriteError(
            f"{_shown(package, links)}: a symlink or not a regular file; {_NOT_FOLLOWED}: "
            "remove it and build again"
        )
    if conflicts:
        raise WriteError(
            f"{_shown(package, conflicts)}: exists and flowgen does not own it (not in "
            f"{printable(str(package.directory / MANIFEST))}); move it away or build into another --out"
        )
    return _Plan(package, folder, True, on_disk, sorted(writes), removes)


def write_packages(packages: list[Package]) -> list[str]:
    """Write every package, or none; returns one line per file written or removed."""
    for parent in {package_folder(package).parent for package in packages}:
        if parent.is_dir():
            clear_staging(parent)  # first: a killed build may have moved a package away
    plans = [plan for plan in map(plan_writes, packages) if plan.writes or plan.removes]
    by_parent: dict[Path, list[_Plan]] = {}
    for plan in plans:
        by_parent.setdefault(plan.folder.parent, []).append(plan)
    staged: list[tuple[_Plan, Path, Path]] = []  # plan, its new tree, where its old one may go
    made: list[Path] = []
    try:
        for parent, group in by_parent.items():
            missing = [p for p in (parent, *parent.parents) if not p.exists()]
            parent.mkdir(parents=True, exist_ok=True)
            made += reversed(missing)
            staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=parent))
            made.append(staging)
            (staging / "new").mkdir()
            (staging / "old").mkdir()
            for plan in group:
                new = staging / "new" / plan.folder.name
                _stage(plan, new)
                staged.append((plan, new, staging / "old" / plan.folder.name))
        _swap_all(staged)
    finally:
        for path in reversed(made):  # the staging folders (holding the old trees), and new parents if empty
            if path.name.startswith(STAGING_PREFIX):
                _remove_tree(path)
            else:
                with contextlib.suppress(OSError):
                    path.rmdir()
    report = []
    for plan in plans:
        report += [f"wrote {printable(str(plan.package.directory / name))}" for name in plan.writes]
        report += [f"removed {printable(str(plan.package.directory / name))}" for name in plan.removes]
    return report


def _stage(plan: _Plan, new: Path) -> None:
    """Build the package's whole new tree at `new`: what stays is hard-linked from the old one
    (so unowned files keep their inode and times), what changes is written."""
    new.mkdir()
    modes = {new: stat.S_IMODE(os.lstat(plan.folder).st_mode)} if plan.exists else {}
    leaving = set(plan.writes) | set(plan.removes)
    for name, kind in sorted(plan.on_disk.items()):  # a folder sorts before what it holds
        if name in leaving:
            continue
        if kind == "dir":
            os.mkdir(new / name)
            modes[new / name] = stat.S_IMODE(os.lstat(plan.folder / name).st_mode)
        else:
            os.link(plan.folder / name, new / name, follow_symlinks=False)
    for name in plan.writes:
        (new / name).parent.mkdir(parents=True, exist_ok=True)
        _write_file(new / name, plan.package.files[name])
    for name in plan.removes:  # folders a removal left empty go too, as a hand removal would
        folder = (new / name).parent
        while folder != new and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
    # Last, so that a read-only folder of the user's could still be filled.
    for folder, mode in modes.items():
        if folder.is_dir():
            os.chmod(folder, mode)


def _remove_tree(top: Path) -> None:
    """Remove a staging folder, read-only folders of an old tree included; never follows a link."""
    for root, dirs, _ in os.walk(top):
        for name in dirs:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                with contextlib.suppress(OSError):
                    os.chmod(path, 0o700)
    shutil.rmtree(top, ignore_errors=True)


def _write_file(path: Path, body: bytes) -> None:
    write_new_file(path, body)


def _swap_all(staged: list[tuple[_Plan, Path, Path]]) -> None:
    """Put each staged tree in place; if one cannot be, put back the ones already swapped."""
    done: list[tuple[_Plan, Path, Path]] = []
    try:
        for item in staged:
            _swap(*item)
            done.append(item)
    except BaseException:
        for plan, new, old in reversed(done):
            with contextlib.suppress(OSError):
                _unswap(plan, new, old)
        raise


def _swap(plan: _Plan, new: Path, old: Path) -> None:
    if not plan.exists:
        os.rename(new, plan.folder)
    elif not exchange(new, plan.folder):
        # Two renames: a crash between them leaves the old tree in the staging folder's old/,
        # from where the next build puts it back (clear_staging).
        os.rename(plan.folder, old)
        os.rename(new, plan.folder)


def _unswap(plan: _Plan, new: Path, old: Path) -> None:
    if not plan.exists:
        os.rename(plan.folder, new)
    elif old.is_dir():
        os.rename(plan.folder, new)
        os.rename(old, plan.folder)
    elif not exchange(new, plan.folder):
        raise OSError(f"cannot put back {plan.folder}")


def clear_staging(parent: Path) -> None:
    """Remove what a killed build left in `parent`, first putting back any package folder it had
    moved away; a staging folder of a build still running is left alone."""
    with os.scandir(parent) as entries:
        leftovers = [
            Path(e.path)
            for e in entries
            if e.name.startswith(STAGING_PREFIX) and e.is_dir(follow_symlinks=False)
        ]
    for staging in leftovers:
        pid = staging.name[len(STAGING_PREFIX) :].split("-")[0]
        if pid.isdigit() and _running(int(pid)):
            continue
        old = staging / "old"
        if old.is_dir() and not old.is_symlink():
            for tree in old.iterdir():
                if not os.path.lexists(parent / tree.name):
                    os.rename(tree, parent / tree.name)
        _remove_tree(staging)


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _ignored(name: str) -> bool:
    return name.endswith(".pyc") or any(part in IGNORED_DIRS for part in name.split("/"))


def compare(package: Package) -> Drift:
    """What differs between a package on disk and `package`; never reads through a symlink."""
    drift = Drift()
    link = _symlink_on_the_way(package)
    if link is not None:
        drift.changed["."] = _symlink_refused(link, "a symlink") + "\n"
        return drift
    folder = package_folder(package)
    try:
        mode = os.lstat(folder).st_mode
    except FileNotFoundError:
        drift.missing = sorted(package.files)
        return drift
    if not stat.S_ISDIR(mode):
        drift.changed["."] = f"{printable(package.directory.as_posix())}: not a folder\n"
        return drift
    on_disk = {name: kind for name, kind in scan(folder).items() if not _ignored(name)}
    for name, odd in on_disk.items():
        if odd in ("link", "other"):
            what = "a symlink" if odd == "link" else "not a regular file"
            path = printable((package.directory / name).as_posix())
            drift.changed[name] = f"{path}: {what}; {_NOT_FOLLOWED}\n"
    for name, body in package.files.items():
        at = blocked_by(name, on_disk) or name
        found = on_disk.get(at)
        if found in ("link", "other"):
            continue  # reported above, once
        if found != "file" or at != name:
            drift.missing.append(name)
            continue
        try:
            current = read_file(folder / name)
        except NotAFile:
            drift.changed[name] = f"{printable((package.directory / name).as_posix())}: {_NOT_FOLLOWED}\n"
            continue
        if current != body:
            drift.changed[name] = _diff(package, name, current, body)
    drift.extra = sorted(
        name for name, kind in on_disk.items() if kind == "file" and name not in package.files
    )
    return drift


def _diff(package: Package, name: str, current: bytes, expected: bytes) -> str:
    path = printable((package.directory / name).as_posix())
    old = current.decode("utf-8", errors="replace").splitlines(keepends=True)
    new = expected.decode("utf-8", errors="replace").splitlines(keepends=True)
    lines = difflib.unified_diff(old, new, f"{path} (on disk)", f"{path} (from {printable(package.spec)})")
    text = "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )
    return text or f"{path}: bytes differ (sha256 {hashlib.sha256(current).hexdigest()[:12]})\n"
