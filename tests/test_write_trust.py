"""`flowgen build` and `flowgen check` against hostile files and faults: manifests naming paths
outside the package, symlinks, a failure or a SIGKILL mid-build, spec names that are not UTF-8."""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

import flowgen.write
from flowgen.cli import main
from flowgen.render import MANIFEST
from flowgen.report import printable
from flowgen.write import STAGING_PREFIX

ROOT = pathlib.Path(__file__).resolve().parent.parent
COUNTRY = ROOT / "specs" / "country_flow.yaml"
SECRET = "TOKEN=hunter2-do-not-print"


def _tree(folder: pathlib.Path) -> dict[str, bytes]:
    """Every file under `folder` (not following symlinks) by its path, with its bytes."""
    found = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = pathlib.Path(root, name)
            found[path.relative_to(folder).as_posix()] = (
                b"-> " + os.fsencode(os.readlink(path)) if path.is_symlink() else path.read_bytes()
            )
    return found


@pytest.fixture()
def package(tmp_path: pathlib.Path) -> pathlib.Path:
    out = tmp_path / "out" / "country_flow"
    assert main(["build", "-q", str(COUNTRY), "--out", str(out)]) == 0
    return out


def _build(out: pathlib.Path) -> int:
    return main(["build", "-q", str(COUNTRY), "--out", str(out)])


# -- 1. manifest entries are only ever paths inside the package ----------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        "../../victim.txt",
        "ABSOLUTE",
        "..\\..\\victim.txt",
        "engine/../../../victim.txt",
        "a\0b",
        "",
        "./x",
        "/",
    ],
    ids=["dotdot", "absolute", "backslashes", "through-a-folder", "nul", "empty", "dot", "root"],
)
def test_a_manifest_entry_outside_the_package_is_refused_and_nothing_is_touched(
    package: pathlib.Path, entry: str, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = package.parent.parent / "victim.txt"
    victim.write_text("the user's\n")
    if entry == "ABSOLUTE":
        entry = str(victim)
    manifest = json.loads((package / MANIFEST).read_text())
    manifest["files"][entry] = "0" * 64
    (package / MANIFEST).write_text(json.dumps(manifest))
    (package / "flow.py").write_text("# edited, so a build would write\n")
    before = _tree(package.parent.parent)
    capsys.readouterr()
    assert _build(package) == 2
    err = capsys.readouterr().err
    assert err == (
        f"flowgen: error: {printable(str(package / MANIFEST))}: lists {printable(repr(entry))}, which is not a"
        " path inside the package; flowgen only ever touches its own package's files: remove the package"
        " folder (or that entry) and build again\n"
    )
    assert _tree(package.parent.parent) == before


# -- 2. check never follows a symlink, and build never writes through one -------------------------


def _check(out: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["check", str(COUNTRY), "--out", str(out)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_check_reports_a_symlinked_file_and_never_reads_its_target(
    package: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = package.parent / "environ"
    secret.write_text(SECRET + "\n")
    (package / "README.md").unlink()
    (package / "README.md").symlink_to(secret)
    code, out, err = _check(package, capsys)
    assert code == 1
    assert f"CHANGED {(package / 'README.md').as_posix()}\n" in out
    assert "a symlink" in out
    assert SECRET not in out + err and str(secret) not in out + err


def test_check_reports_a_symlinked_folder_and_never_reads_through_it(
    package: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = package.parent / "elsewhere"
    (package / "engine").rename(elsewhere)
    (elsewhere / "decider.py").write_text(SECRET + "\n")
    (package / "engine").symlink_to(elsewhere, target_is_directory=True)
    code, out, err = _check(package, capsys)
    assert code == 1
    assert out.splitlines()[0] == f"CHANGED {(package / 'engine').as_posix()}"
    assert "a symlink" in out and "MISSING" not in out
    assert SECRET not in out + err


def test_check_reports_a_fifo_without_waiting_on_it(
    package: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (package / "README.md").unlink()
    os.mkfifo(package / "README.md")
    code, out, _ = _check(package, capsys)
    assert code == 1
    assert f"CHANGED {(package / 'README.md').as_posix()}\n" in out and "not a regular file" in out


def test_check_reports_a_symlinked_package_folder_in_generated(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """generated/WORKFLOW/ may come from anyone's branch: a symlink there is not followed."""
    elsewhere = tmp_path / "elsewhere"
    assert _build(elsewhere) == 0
    (elsewhere / "README.md").write_text(SECRET + "\n")
    (tmp_path / "generated").mkdir()
    (tmp_path / "generated" / "country_flow").symlink_to(elsewhere, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["check", str(COUNTRY)]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("CHANGED generated/country_flow\n")
    assert "a symlink" in captured.out and SECRET not in captured.out + captured.err


def test_build_refuses_a_symlinked_file_and_leaves_its_target_alone(
    package: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = package.parent / "users_notes.md"
    target.write_text("mine\n")
    (package / "README.md").unlink()
    (package / "README.md").symlink_to(target)
    capsys.readouterr()
    assert _build(package) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"flowgen: error: {package / 'README.md'}: a symlink"), err
    assert (package / "README.md").is_symlink() and target.read_text() == "mine\n"


# -- 3. build never writes through a symlinked folder ----------------------------------------------


def test_build_never_writes_through_a_symlinked_engine_folder(
    package: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users = package.parent / "users_folder"
    (package / "engine").rename(users)
    (users / "decider.py").write_text("# the user's own decider\n")
    (package / "engine").symlink_to(users, target_is_directory=True)
    before = _tree(users)
    capsys.readouterr()
    assert _build(package) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"flowgen: error: {package / 'engine'}: a symlink"), err
    assert _tree(users) == before


def test_build_refuses_a_symlinked_generated_folder(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "generated").symlink_to(elsewhere, target_is_directory=True)
    monkeypatch.chdir(tmp_path / "project")
    assert main(["build", "-q", str(COUNTRY)]) == 2
    assert "generated: is a symlink" in capsys.readouterr().err
    assert list(elsewhere.iterdir()) == []


def _link_to_a_package(package: pathlib.Path) -> tuple[pathlib.Path, dict[str, bytes]]:
    """A symlinked package folder (as a hostile branch may commit generated/country_flow), pointing
    to a package whose README.md holds a secret; returns the link and the target's tree."""
    (package / "README.md").write_text(SECRET + "\n")
    (package / "flow.py").write_text("# edited, so a build would write\n")
    link = package.parent / "link"
    link.symlink_to(package, target_is_directory=True)
    return link, _tree(package)


def test_build_refuses_an_out_folder_that_is_a_symlink(
    package: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out names the package folder, but a symlink there may be a branch's as well as the user's:
    refused as in generated/, with the way to build where it points."""
    link, before = _link_to_a_package(package)
    capsys.readouterr()
    assert _build(link) == 2
    err = capsys.readouterr().err
    assert err == (
        f"flowgen: error: {link}: is a symlink; flowgen never reads or writes through one; "
        "if you mean the folder it points to, pass that folder to --out\n"
    )
    assert link.is_symlink() and _tree(package) == before


def test_check_refuses_an_out_folder_that_is_a_symlink(
    package: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link, before = _link_to_a_package(package)
    code, out, err = _check(link, capsys)
    assert code == 1
    assert out == (
        f"CHANGED {link.as_posix()}\n{link.as_posix()}: a symlink; flowgen never reads or writes through one; "
        "if you mean the folder it points to, pass that folder to --out\n"
    )
    assert SECRET not in out + err and _tree(package) == before


def test_an_out_folder_reached_through_the_users_symlink_is_built(package: pathlib.Path) -> None:
    """Only the package folder itself must not be a symlink: the path to it is the user's."""
    link = package.parent.parent / "link"
    link.symlink_to(package.parent, target_is_directory=True)
    (package / "flow.py").write_text("# edited\n")
    assert _build(link / package.name) == 0
    assert (package / "flow.py").read_text().startswith("# Code generated by flowgen")


def test_a_rebuilt_package_keeps_the_users_files_and_folder_modes(package: pathlib.Path) -> None:
    data = package / "data"
    data.mkdir()
    (data / "rows.csv").write_text("1,2\n")
    data.chmod(0o555)
    package.chmod(0o750)
    inode = (data / "rows.csv").stat().st_ino
    (package / "flow.py").write_text("# edited\n")
    try:
        assert _build(package) == 0
        assert (data / "rows.csv").stat().st_ino == inode
        assert (data.stat().st_mode & 0o777, package.stat().st_mode & 0o777) == (0o555, 0o750)
        assert not [p for p in os.listdir(package.parent) if p.startswith(".")]
    finally:
        data.chmod(0o755)


def test_a_package_folder_holding_the_current_folder_is_refused(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A package folder is replaced whole, so it cannot be where the user stands."""
    (tmp_path / "notes.txt").write_text("mine\n")
    monkeypatch.chdir(tmp_path)
    assert main(["build", "-q", str(COUNTRY), "--out", "."]) == 2
    assert "holds the current folder" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]


# -- 4. a build is atomic per run -----------------------------------------------------------------


def _two_specs(tmp_path: pathlib.Path, domain: str) -> list[str]:
    specs = []
    for name in ("country_flow", "order_flow"):
        spec = tmp_path / f"{name}.yaml"
        text = (ROOT / "specs" / f"{name}.yaml").read_text()
        spec.write_text(re.sub(r"(?m)^domain: .*$", f"domain: {domain}", text, count=1))
        specs.append(str(spec))
    return specs


@pytest.fixture()
def two_packages(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[str], dict[str, bytes]]:
    """Two packages built from domain `dev` in tmp_path/generated; the specs now say `prod`.
    Returns the specs and the tree as it was."""
    monkeypatch.chdir(tmp_path)
    specs = _two_specs(tmp_path, "dev")
    assert main(["build", "-q", *specs]) == 0
    (tmp_path / "generated" / "order_flow" / "handlers_of_mine.py").write_text("# the user's\n")
    old = _tree(tmp_path / "generated")
    _two_specs(tmp_path, "prod")
    return specs, old


def _no_space_for_order_flow(monkeypatch: pytest.MonkeyPatch) -> Callable[[pathlib.Path, bytes], None]:
    """Writing any file of order_flow's package fails as a full disk would; returns the real writer."""
    real: Callable[[pathlib.Path, bytes], None] = flowgen.write._write_file

    def failing(path: pathlib.Path, body: bytes) -> None:
        if "order_flow" in path.parts:
            raise OSError(28, "No space left on device", str(path))
        real(path, body)

    monkeypatch.setattr(flowgen.write, "_write_file", failing, raising=False)
    return real


def test_a_failure_writing_the_second_package_writes_nothing_of_the_first(
    tmp_path: pathlib.Path,
    two_packages: tuple[list[str], dict[str, bytes]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    specs, old = two_packages
    _no_space_for_order_flow(monkeypatch)
    assert main(["build", "-q", *specs]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert _tree(tmp_path / "generated") == old
    assert sorted(os.listdir(tmp_path / "generated")) == ["country_flow", "order_flow"]


def test_a_failed_first_build_leaves_no_generated_folder(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    specs = _two_specs(tmp_path, "dev")
    _no_space_for_order_flow(monkeypatch)
    assert main(["build", "-q", *specs]) == 2
    assert sorted(os.listdir(tmp_path)) == ["country_flow.yaml", "order_flow.yaml"]


def test_a_failure_swapping_the_second_package_puts_the_first_back(
    tmp_path: pathlib.Path, two_packages: tuple[list[str], dict[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    specs, old = two_packages
    real = flowgen.write._swap
    calls: list[int] = []

    def failing_second(*args: object) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise OSError(5, "Input/output error")
        real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(flowgen.write, "_swap", failing_second)
    assert main(["build", "-q", *specs]) == 2
    assert len(calls) == 2
    assert _tree(tmp_path / "generated") == old


def test_leftovers_of_a_killed_build_are_not_extra_and_are_cleared(
    tmp_path: pathlib.Path,
    two_packages: tuple[list[str], dict[str, bytes]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A staging folder a killed build left (its process gone) holds a package folder it had moved
    away: check does not see it, build puts the folder back before building over it."""
    specs, _ = two_packages
    generated = tmp_path / "generated"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    leftover = generated / f"{STAGING_PREFIX}{int(dead.stdout)}-x"
    (leftover / "new" / "country_flow").mkdir(parents=True)
    (leftover / "new" / "country_flow" / "half.py").write_text("")
    (leftover / "old").mkdir()
    (generated / "order_flow").rename(leftover / "old" / "order_flow")
    capsys.readouterr()
    assert main(["check", *specs]) == 1
    out = capsys.readouterr().out
    assert "EXTRA" not in out and STAGING_PREFIX not in out
    assert main(["build", "-q", *specs]) == 0
    assert sorted(os.listdir(generated)) == ["country_flow", "order_flow"]
    assert (generated / "order_flow" / "handlers_of_mine.py").read_text() == "# the user's\n"
    _only_the_users_file_is_extra(specs, capsys)


def _only_the_users_file_is_extra(specs: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["check", *specs]) == 1
    assert capsys.readouterr().out == "EXTRA generated/order_flow/handlers_of_mine.py\n"


CHILD = """
import os, pathlib, sys, time
import flowgen.write

marker, mode = sys.argv[1], sys.argv[2]
calls = []

def pause():
    pathlib.Path(marker).write_text("paused")
    time.sleep(60)

if mode == "writing":
    # Pause at the third file written: under the old one-file-at-a-time build this is inside
    # the first package.
    real_chmod = os.chmod
    def chmod(path, mode, *args, **kwargs):
        real_chmod(path, mode, *args, **kwargs)
        if mode == 0o644:
            calls.append(path)
            if len(calls) == 3:
                pause()
    os.chmod = chmod
elif mode == "swapping":
    real_swap = flowgen.write._swap
    def swap(*args):
        real_swap(*args)
        pause()
    flowgen.write._swap = swap
else:
    # "renaming-N": no exchange, so each package is swapped in by two renames; pause between the
    # two of the Nth package, its old tree moved into the staging folder and the new one not in.
    flowgen.write.exchange = lambda first, second: False
    real_rename = os.rename
    def rename(source, target, *args, **kwargs):
        real_rename(source, target, *args, **kwargs)
        if pathlib.Path(target).parent.name == "old":
            calls.append(target)
            if len(calls) == int(mode.split("-")[1]):
                pause()
    os.rename = rename

from flowgen.cli import main
sys.exit(main(["build", "-q", *sys.argv[3:]]))
"""


@pytest.mark.parametrize("mode", ["writing", "swapping"])
def test_a_sigkill_mid_build_leaves_each_package_old_or_new(
    tmp_path: pathlib.Path,
    two_packages: tuple[list[str], dict[str, bytes]],
    mode: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    specs, old = two_packages
    expected = tmp_path / "expected"
    for spec in specs:
        assert main(["build", "-q", spec, "--out", str(expected / pathlib.Path(spec).stem)]) == 0
    (expected / "order_flow" / "handlers_of_mine.py").write_text("# the user's\n")
    new = _tree(expected)
    _kill_a_build_at_its_pause(tmp_path, mode, specs)
    generated = tmp_path / "generated"
    assert _old_or_new(generated, old, new) == (["old", "old"] if mode == "writing" else ["new", "old"])
    assert main(["build", "-q", *specs]) == 0
    assert _tree(generated) == new
    assert not [name for name in os.listdir(generated) if name.startswith(".")]
    _only_the_users_file_is_extra(specs, capsys)


@pytest.mark.parametrize("swapped_before", [0, 1], ids=["first-package", "second-package"])
def test_a_sigkill_between_the_two_renames_without_an_exchange_loses_no_tree(
    tmp_path: pathlib.Path,
    two_packages: tuple[list[str], dict[str, bytes]],
    swapped_before: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Where renameat2 cannot exchange, a package is swapped in by two renames. A kill between them
    leaves its folder missing and its old tree, whole, in the staging folder; the next build puts it
    back before building (the user's files in it survive), and check meanwhile reports it missing."""
    specs, _ = two_packages
    generated = tmp_path / "generated"
    (generated / "country_flow" / "notes_of_mine.md").write_text("# the user's too\n")
    old = _tree(generated)
    expected = tmp_path / "expected"
    for spec in specs:
        assert main(["build", "-q", spec, "--out", str(expected / pathlib.Path(spec).stem)]) == 0
    (expected / "order_flow" / "handlers_of_mine.py").write_text("# the user's\n")
    (expected / "country_flow" / "notes_of_mine.md").write_text("# the user's too\n")
    new = _tree(expected)
    _kill_a_build_at_its_pause(tmp_path, f"renaming-{swapped_before + 1}", specs)
    names = ["country_flow", "order_flow"]
    moving = names[swapped_before]
    assert not os.path.lexists(generated / moving)
    (staging,) = [path for path in generated.iterdir() if path.name.startswith(STAGING_PREFIX)]
    assert _tree(staging / "old" / moving) == _package_tree(old, moving)
    for name in names[:swapped_before]:
        assert _tree(generated / name) == _package_tree(new, name)
    for name in names[swapped_before + 1 :]:
        assert _tree(generated / name) == _package_tree(old, name)
    capsys.readouterr()
    assert main(["check", *specs]) == 1
    out = capsys.readouterr().out
    assert f"MISSING generated/{moving}/flow.py\n" in out and STAGING_PREFIX not in out
    assert main(["build", "-q", *specs]) == 0
    assert _tree(generated) == new
    assert not [name for name in os.listdir(generated) if name.startswith(".")]
    capsys.readouterr()
    assert main(["check", *specs]) == 1
    assert capsys.readouterr().out == (
        "EXTRA generated/country_flow/notes_of_mine.md\nEXTRA generated/order_flow/handlers_of_mine.py\n"
    )


def _kill_a_build_at_its_pause(tmp_path: pathlib.Path, mode: str, specs: list[str]) -> None:
    """Run `flowgen build` in a child that pauses as `mode` says (see CHILD), and SIGKILL it there."""
    marker = tmp_path / "paused"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(marker), mode, *specs], cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert marker.exists(), "the build never reached the pause"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()


def _package_tree(tree: dict[str, bytes], name: str) -> dict[str, bytes]:
    """The part of a tree of packages (from _tree) that is the package `name`, by its own paths."""
    return {path.split("/", 1)[1]: body for path, body in tree.items() if path.startswith(f"{name}/")}


def _old_or_new(generated: pathlib.Path, old: dict[str, bytes], new: dict[str, bytes]) -> list[str]:
    """For each package, "old" or "new"; fails if one is neither (a mix of two builds)."""
    outcomes = []
    for name in ("country_flow", "order_flow"):
        tree = _tree(generated / name)
        assert tree in (_package_tree(old, name), _package_tree(new, name)), f"{name} mixes two builds"
        outcomes.append("new" if tree == _package_tree(new, name) else "old")
    return outcomes


# -- 5. spec names that are not UTF-8 ---------------------------------------------------------------


def test_a_spec_name_that_is_not_utf8_is_built_checked_and_shown_escaped(tmp_path: pathlib.Path) -> None:
    name = b"sp\xffec.yaml"
    (tmp_path / os.fsdecode(name)).write_bytes(COUNTRY.read_bytes())
    broken = b"br\xfeoken.yaml"
    (tmp_path / os.fsdecode(broken)).write_bytes(b"flowgen: 1\n")

    def flowgen_(*args: bytes) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, b"-m", b"flowgen", *args], cwd=tmp_path, capture_output=True)

    for command in (b"validate", b"build", b"check"):
        done = flowgen_(command, name)
        assert (done.returncode, b"Traceback" in done.stderr) == (0, False), done.stderr
    header = (tmp_path / "generated" / "country_flow" / "flow.py").read_text(encoding="utf-8")
    assert "from sp\\xffec.yaml" in header.splitlines()[0]
    (tmp_path / "generated" / "country_flow" / "flow.py").write_text("# edited\n")
    stale = flowgen_(b"check", name)
    assert stale.returncode == 1 and b"flowgen build sp\\xffec.yaml" in stale.stderr
    assert b"(from sp\\xffec.yaml)" in stale.stdout
    for command in (b"validate", b"build", b"check"):
        done = flowgen_(command, broken)
        assert done.returncode in (1, 2) and b"Traceback" not in done.stderr, done.stderr
        assert done.stderr.startswith(b"br\\xfeoken.yaml:1:1: "), done.stderr


def test_printing_a_name_that_is_not_utf8_escapes_its_bytes() -> None:
    assert printable(os.fsdecode(b"sp\xffec.yaml")) == "sp\\xffec.yaml"
    assert printable("\ud800 ok") == "\\ud800 ok"
    assert printable("日本.yaml") == "日本.yaml"


# -- 5. --root DIR (packages in DIR/WORKFLOW/) keeps every rule of the default generated/ ----------


def test_a_symlinked_root_or_package_folder_under_it_is_never_followed(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """DIR/WORKFLOW/ is named by a spec, as under generated/: a symlink at either is refused."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "country_flow").mkdir()
    (elsewhere / "country_flow" / "secret.txt").write_text(SECRET)
    before = _tree(elsewhere)
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    (project / "build").symlink_to(elsewhere, target_is_directory=True)
    assert main(["build", "-q", str(COUNTRY), "--root", "build"]) == 2
    assert capsys.readouterr().err.startswith("flowgen: error: build: is a symlink")
    (project / "build").unlink()
    (project / "build").mkdir()
    (project / "build" / "country_flow").symlink_to(elsewhere / "country_flow", target_is_directory=True)
    assert main(["build", "-q", str(COUNTRY), "--root", "build"]) == 2
    assert capsys.readouterr().err.startswith("flowgen: error: build/country_flow: is a symlink")
    assert main(["check", str(COUNTRY), "--root", "build"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("CHANGED build/country_flow\n") and "a symlink" in out and SECRET not in out
    assert _tree(elsewhere) == before


def test_a_manifest_entry_outside_a_package_under_root_is_refused(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["build", "-q", str(COUNTRY), "--root", "build"]) == 0
    package = tmp_path / "build" / "country_flow"
    (tmp_path / "victim.txt").write_text("the user's\n")
    manifest = json.loads((package / MANIFEST).read_text())
    manifest["files"]["../../victim.txt"] = "0" * 64
    (package / MANIFEST).write_text(json.dumps(manifest))
    (package / "flow.py").write_text("# edited, so a build would write\n")
    before = _tree(tmp_path)
    assert main(["build", "-q", str(COUNTRY), "--root", "build"]) == 2
    assert "not a path inside the package" in capsys.readouterr().err
    assert _tree(tmp_path) == before


def test_a_failure_writing_the_second_package_under_root_writes_nothing(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    specs = _two_specs(tmp_path, "dev")
    assert main(["build", "-q", *specs, "--root", "build"]) == 0
    old = _tree(tmp_path / "build")
    _two_specs(tmp_path, "prod")
    real = _no_space_for_order_flow(monkeypatch)
    assert main(["build", "-q", *specs, "--root", "build"]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert _tree(tmp_path / "build") == old
    assert sorted(os.listdir(tmp_path / "build")) == ["country_flow", "order_flow"]
    monkeypatch.setattr(flowgen.write, "_write_file", real, raising=False)
    assert main(["build", "-q", *specs, "--root", "build"]) == 0
    assert main(["check", *specs, "--root", "build"]) == 0
    assert not (tmp_path / "generated").exists()
