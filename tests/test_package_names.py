"""Package names: a workflow's package never shadows a module something needs, and two workflows
never share a package, in one command or across builds. Handlers from Python itself are warned of.
"""

from __future__ import annotations

import json
import pathlib

import pytest

from flowgen.cli import main
from flowgen.render import MANIFEST

SPEC = """\
flowgen: 1
domain: d
workflow:
  name: {name}
  version: "1"
  execution_timeout: 1h
activities:
  a:
    handler: {handler}
"""


def write(folder: pathlib.Path, file: str, name: str, handler: str = "project.tasks:a") -> str:
    path = folder / file
    path.write_text(SPEC.format(name=json.dumps(name, ensure_ascii=False), handler=handler), encoding="utf-8")
    return str(path)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]


@pytest.mark.parametrize(
    "name, package",
    [
        ("boto3", "boto3"),
        ("botocore", "botocore"),
        ("json", "json"),
        ("Logging", "logging"),
        ("typing", "typing"),
        ("os", "os"),
        ("sys", "sys"),
        ("?abc", "_abc"),
        ("sitecustomize", "sitecustomize"),
        ("engine", "engine"),
        ("class", "class"),
        ("project", "project"),  # the handlers' own package
    ],
)
def test_a_package_that_would_shadow_a_module_is_refused(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], name: str, package: str
) -> None:
    spec = write(tmp_path, "spec.yaml", name)
    assert main(["validate", spec]) == 1
    (error,) = lines(capsys.readouterr().err)
    assert error.startswith(f"{spec}:4:9: workflow.name: the package name {json.dumps(package)} ")
    assert main(["build", "-q", spec, "--out", str(tmp_path / "out")]) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["json-flow", "boto3_orders", "typing2", "projects", "Engine room"])
def test_names_near_a_module_are_fine(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    assert main(["validate", write(tmp_path, "spec.yaml", name)]) == 0
    assert capsys.readouterr().err == ""


def test_two_workflows_of_one_package_in_one_command_are_refused(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first, second = write(tmp_path, "japan.yaml", "日本"), write(tmp_path, "china.yaml", "中国")
    assert main(["validate", first]) == 0 and main(["validate", second]) == 0
    capsys.readouterr()
    assert main(["validate", first, second]) == 1
    (error,) = lines(capsys.readouterr().err)
    assert error.startswith(f"{second}:4:9: workflow.name: ")
    assert all(text in error for text in ('"中国"', '"日本"', first, '"__"'))
    assert main(["build", "-q", first, second]) == 1
    assert second in capsys.readouterr().err
    assert not (tmp_path / "generated").exists()


def test_a_build_never_replaces_the_package_of_another_workflow(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("")
    japan = write(tmp_path, "japan.yaml", "日本")
    assert main(["build", "-q", japan]) == 0
    manifest = tmp_path / "generated" / "__" / MANIFEST
    before = manifest.read_bytes()
    assert json.loads(before)["workflow"] == "日本"
    china = write(tmp_path, "china.yaml", "中国")
    # Refused by validate (alone, as a pre-commit hook runs it), check and build alike, at the name.
    for command in ("validate", "check", "build"):
        code = main([command, china] if command != "build" else [command, "-q", china])
        assert code == (2 if command == "check" else 1), command
        error = capsys.readouterr().err
        assert error.startswith(f"{china}:4:9: workflow.name: ") and len(lines(error)) == 1, error
        assert all(text in error for text in ('"中国"', '"日本"', "japan.yaml", "generated/__"))
    assert manifest.read_bytes() == before
    # Where packages go elsewhere, validate looks there (--root), as build and check do.
    assert main(["validate", "--root", "elsewhere", china]) == 0
    assert main(["build", "-q", "--root", "elsewhere", china]) == 0
    assert main(["validate", "--root", "elsewhere", japan]) == 1
    capsys.readouterr()
    # The same spec file may rename its workflow: that package is its own.
    write(tmp_path, "japan.yaml", "日-")
    assert main(["build", "-q", japan]) == 0
    assert json.loads(manifest.read_bytes())["workflow"] == "日-"


@pytest.mark.parametrize(
    "handler", ["os:system", "builtins:eval", "json.decoder:scanstring", "subprocess:run"]
)
def test_a_handler_from_python_itself_is_warned_of(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], handler: str
) -> None:
    spec = write(tmp_path, "spec.yaml", "tools", handler)
    assert main(["validate", spec]) == 0
    (warning,) = lines(capsys.readouterr().err)
    assert warning.startswith(f"{spec}:9:14: activities.a.handler: warning: {json.dumps(handler)} ")
    assert "docs/trust.md" in warning
    assert main(["validate", "--strict", spec]) == 1


def test_a_project_handler_is_not_warned_of(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", write(tmp_path, "spec.yaml", "tools", "ostools.shell:run")]) == 0
    assert capsys.readouterr().err == ""
