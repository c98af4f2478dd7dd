"""chatlocal.package's parts that need no chalice run: unpacking into a clean folder, finding dev
code in a zip, copying the project with another requirements.txt, chalice failing."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from chatlocal import package
from chatlocal.package import Package, PackageError, build, copy_project, unpack


def make_zip(path: Path, names: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(name, f"# {name}\n")
    return path


def test_unpacking_empties_the_folder_first(tmp_path):
    code = tmp_path / "code"
    (code / "chalicelib").mkdir(parents=True)
    (code / "chalicelib" / "left_over.py").write_text("# from an earlier build\n")
    unpack(make_zip(tmp_path / "deployment.zip", ["app.py", "chalicelib/__init__.py"]), code)
    assert sorted(str(p.relative_to(code)) for p in code.rglob("*")) == [
        "app.py",
        "chalicelib",
        "chalicelib/__init__.py",
    ]


def test_dev_code_in_the_zip_is_named(tmp_path):
    names = [
        "app.py",
        "chalicelib/__init__.py",
        "jwt/__init__.py",
        "tests/test_x.py",
        "chatlocal/a.py",
        "moto/x.py",
    ]
    found = Package(tmp_path, make_zip(tmp_path / "d.zip", names), tmp_path, 0).dev_code()
    assert found == {"tests", "chatlocal", "moto"}


def test_a_project_copy_has_the_given_requirements_and_no_caches(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("boto3==1.44.5\n")
    project = copy_project(tmp_path / "project", requirements)
    assert (project / "requirements.txt").read_text() == "boto3==1.44.5\n"
    assert (project / "app.py").read_text() == (package.ROOT / "app.py").read_text()
    assert (project / ".chalice" / "config.json").exists() and (
        project / ".chalice" / "policy-dev.json"
    ).exists()
    assert (project / "chalicelib" / "runtime.py").exists()
    assert not list(project.rglob("__pycache__")) and not (project / ".chalice" / "deployments").exists()
    assert not (project / "tests").exists() and not (project / "chatlocal").exists()


def test_chalice_failing_is_a_package_error_with_its_output(tmp_path):
    with pytest.raises(PackageError, match=r"chalice package failed \(exit 1\)"):
        build(tmp_path / "out", chalice="false")


def test_the_command_says_what_failed(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(package, "_chalice", lambda: "false")
    assert package.main([str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.startswith("chatlocal.package: chalice package failed (exit 1)")
