"""The project's promises about itself: README's commands, CI, the committed schema."""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys

import jsonschema
import pytest
import yaml

from flowgen.load import read_spec_file
from flowgen.spec.schema import json_schema, schema_text

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.yaml")) + sorted((ROOT / "specs").glob("*.json"))


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)\n```", section, re.S)


def test_readme_has_the_two_set_up_commands() -> None:
    commands = _readme_commands()
    assert len(commands) == 2
    assert commands[0].startswith("python -m pip install -e . && flowgen ")
    assert commands[1].startswith("python -m pip install -e '.[test]' && ")


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert _readme_commands()[1] in ci.splitlines()


def test_committed_schema_is_current() -> None:
    committed = (ROOT / "schemas" / "flowgen.schema.json").read_text()
    assert committed == schema_text(), "run: flowgen schema > schemas/flowgen.schema.json"


def test_schema_is_valid_and_describes_every_field() -> None:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    missing = []
    for name, definition in [("Spec", schema), *schema["$defs"].items()]:
        for key, prop in definition.get("properties", {}).items():
            if "description" not in prop:
                missing.append(f"{name}.{key}")
    assert missing == []


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_every_example_spec_validates_against_the_schema(spec: pathlib.Path) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(schema_text()))
    errors = [e.message for e in validator.iter_errors(read_spec_file(str(spec)).data)]
    assert errors == []


def test_example_specs_exist() -> None:
    assert (ROOT / "specs" / "country_flow.yaml") in SPECS


def test_readme_validate_example_is_real_output() -> None:
    """The console block at the top of README.md is exactly what flowgen prints."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```console\n\$ (flowgen validate [^\n]+)\n(.*?)```", text, re.S)
    assert block is not None
    command, shown = block.group(1).split(), block.group(2)
    done = subprocess.run(
        [sys.executable, "-m", "flowgen", *command[1:]], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr == shown


def _hooks() -> list[dict[str, object]]:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert isinstance(hooks, list)
    return hooks


def _run_hook(hook: dict[str, object], files: list[str], cwd: pathlib.Path, *args: str) -> int:
    """Run a hook as pre-commit does: its entry, its args, then the files its pattern selects."""
    pattern = re.compile(str(hook.get("files", "")))
    selected = [f for f in files if pattern.search(f)]
    command = [*str(hook["entry"]).split(), *args, *(selected if hook.get("pass_filenames", True) else [])]
    assert command[0] == "flowgen"
    run = subprocess.run(
        [sys.executable, "-m", "flowgen", *command[1:]], cwd=cwd, capture_output=True, text=True
    )
    return run.returncode


def test_hooks_take_the_files_pre_commit_passes() -> None:
    hooks = {str(hook["id"]): hook for hook in _hooks()}
    assert set(hooks) == {"flowgen-validate", "flowgen-check"}
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    for hook in hooks.values():
        assert hook.get("pass_filenames", True) is True and not hook.get("always_run")
        assert "*" not in str(hook["entry"]), "a hook must not name its own files"
        assert _run_hook(hook, tracked, ROOT) == 0


def test_hooks_work_in_another_layout(tmp_path: pathlib.Path) -> None:
    """A project with its specs in flows/ and packages in build/ overrides `files:` and `args:`
    (`args: [--root, build]`, as the hooks' header says); `pre-commit run --all-files` passes every
    spec at once, two here."""
    (tmp_path / "flows").mkdir()
    for name in ("country_flow", "order_flow"):
        spec = (ROOT / "specs" / f"{name}.yaml").read_text()
        (tmp_path / "flows" / f"{name}.yaml").write_text(spec)
    hooks = {str(hook["id"]): {**hook, "files": r"^flows/.*\.yaml$"} for hook in _hooks()}
    files = ["flows/country_flow.yaml", "flows/order_flow.yaml", "README.md"]  # --all-files
    assert _run_hook(hooks["flowgen-validate"], files, tmp_path, "--root", "build") == 0
    assert _run_hook(hooks["flowgen-check"], files, tmp_path, "--root", "build") == 1  # not built yet
    build = subprocess.run(
        [sys.executable, "-m", "flowgen", "build", "flows/country_flow.yaml", "flows/order_flow.yaml"]
        + ["--root", "build"],
        cwd=tmp_path,
        capture_output=True,
    )
    assert build.returncode == 0
    assert sorted(p.name for p in (tmp_path / "build").iterdir()) == ["country_flow", "order_flow"]
    assert _run_hook(hooks["flowgen-check"], files, tmp_path, "--root", "build") == 0
    # A commit that changes one spec passes only that one.
    assert _run_hook(hooks["flowgen-check"], files[1:], tmp_path, "--root", "build") == 0
    # --out names one package's folder: with two specs it is a usage error.
    assert _run_hook(hooks["flowgen-check"], files, tmp_path, "--out", "build/country_flow") == 2


def test_the_hooks_header_documents_root_for_another_folder() -> None:
    header = (ROOT / ".pre-commit-hooks.yaml").read_text().split("\n- id:", 1)[0]
    assert "args: [--root, DIR]" in header and "args: [--out" not in header
