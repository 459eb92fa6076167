"""Errors that used to show an exception's name (`Error: NotADirectoryError: …`) name the path and what is wrong
with it, and `versions` lists the versions that are fine beside a broken one (issue 23, items 6 and 7)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from databuild.cli import app

FIXTURE = Path(__file__).parents[1] / "fixtures" / "teacher_logs.jsonl"
runner = CliRunner()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("named") / "store"
    result = runner.invoke(app, ["snapshot", "--store", str(store), "--logs", str(FIXTURE), "--test-fraction", "0.5"])
    assert result.exit_code == 0, result.output
    return store


def error_of(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Error:" not in lines[0][7:], result.stderr
    return lines[0]


@pytest.mark.parametrize("command", [["snapshot", "--logs", str(FIXTURE)], ["snapshot"], ["versions"]])
def test_a_store_under_a_file_is_named(tmp_path: Path, command: list[str]) -> None:
    a_file = tmp_path / "afile"
    a_file.write_text("mine")
    store = a_file / "store"
    message = error_of(*command, "--store", str(store))
    assert message == f"Error: --store {store} cannot be created: {a_file} is a file, not a directory"
    assert a_file.read_text() == "mine"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_outputs_under_proc_are_named(built: Path) -> None:
    store = str(built)
    expected = "cannot create files in /proc (No such file or directory)"
    assert (
        error_of("predict", "--store", store, "-o", "/proc/preds.jsonl")
        == f"Error: --output /proc/preds.jsonl: {expected}"
    )
    assert (
        error_of("diff", "v1", "v1", "--store", store, "-o", "/proc/d.html")
        == f"Error: --output /proc/d.html: {expected}"
    )
    assert (
        error_of("simulate", "-o", "/proc/logs.jsonl", "--rows", "30") == f"Error: --out /proc/logs.jsonl: {expected}"
    )
    message = error_of("export", "v1", "--store", store, "--format", "jsonl", "-o", "/proc/exported")
    assert message == f"Error: --output /proc/exported: {expected}"


def test_a_lock_that_is_a_folder_is_named(built: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(built, store)
    (store / ".lock").unlink(missing_ok=True)
    (store / ".lock").mkdir()
    message = error_of("snapshot", "--store", str(store), "--logs", str(FIXTURE), "--seed", "3")
    assert message == f"Error: store {store} is damaged: its lock file {store / '.lock'} is a directory (remove it)"


def test_a_negative_seed_names_the_option(tmp_path: Path) -> None:
    message = error_of("simulate", "-o", str(tmp_path / "logs.jsonl"), "--rows", "30", "--seed", "-1")
    assert message == "Error: --seed must be an integer >= 0, not -1"
    assert not (tmp_path / "logs.jsonl").exists()


def test_versions_lists_the_fine_versions_and_names_the_broken_ones(built: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(built, store)
    for name in ("v2", "v3", "v4"):
        shutil.copytree(store / "versions" / "v1", store / "versions" / name)
        (store / "versions" / name / "manifest.json").unlink()
    (store / "versions" / "v2" / "manifest.json").mkdir()
    os.symlink("/dev/zero", store / "versions" / "v3" / "manifest.json")
    result = runner.invoke(app, ["versions", "--store", str(store), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [v["name"] for v in json.loads(result.stdout)] == ["v1"]
    assert result.stderr.splitlines() == [
        "warning: version v2 is broken and left out: its manifest.json is a directory, not a file",
        "warning: version v3 is broken and left out: its manifest.json is a link to /dev/zero, which is not a "
        "regular file",
        "warning: version v4 is broken and left out: it has no manifest.json",
    ]
    result = runner.invoke(app, ["versions", "--store", str(store)], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "v1" in result.stdout and "no versions" not in result.output
    assert len(result.stderr.splitlines()) == 3
