"""`databuild show`: the manifest of a handmade version, readable and as JSON; errors exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from databuild.cli import app
from databuild.store import open_store
from tests.diff_helpers import publish_fixture_versions

runner = CliRunner()


@pytest.fixture(scope="module")
def store_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("show") / "store"
    assert publish_fixture_versions(open_store(root)) == ("v1", "v2")
    return root


def show(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["show", *args])
    return result.exit_code, result.stdout, result.stderr


def test_show_snapshot_like_version(store_root: Path) -> None:
    code, out, err = show("v1", "--store", str(store_root))
    assert code == 0, err
    expected_lines = [
        "databuild version v1",
        "  parent: (unset)",  # the first version has no parent
        "  lineage: v1",
        "  command: databuild snapshot --logs logs.jsonl",
        "  parameters.rank: raw",
        "  parameters.test_fraction: 0.1",
        "  - path: logs.jsonl, sha256: " + "ab" * 32 + ", rows: 40",
        "  input_rows: 40",
        "  valid_rows: 31",
        "  quarantined no_json: 6",
        "  quarantined schema_violation: 3",
        "  seen: 9",
        "  kept: 6",
        "  excluded no_exports: 2",
        "  excluded incomplete_tools: 1",
        "Dataset card",
    ]
    lines = out.splitlines()
    for line in expected_lines:
        assert line in lines, f"missing {line!r} in:\n{out}"
    # Used/All of v1, train: 5 rows; adjust used by golden hour, cool morning, vintage film, dark night = 4 (80%);
    # selective by golden hour and dark night = 2 (40%); filter by golden hour, vintage film, x-ray = 3 (60%).
    train_row = next(line for line in lines if "train" in line and "/" in line)
    for cell in ("4 / 5 (80%)", "2 / 5 (40%)", "3 / 5 (60%)"):
        assert cell in train_row
    assert "Augmentation" not in out  # v1 has no augmentation block
    assert str(store_root / "versions" / "v1" / "README.md") in out.replace("\n", "")


def test_show_defaults_to_newest_with_lineage_and_augmentation(store_root: Path) -> None:
    code, out, err = show("--store", str(store_root))
    assert code == 0, err
    lines = out.splitlines()
    assert "databuild version v2" in lines
    assert "  lineage: v2 ← v1" in lines
    assert "  parent: v1" in lines
    for line in (
        "Augmentation",
        "  generator: neighbors",
        "  model: (unset)",
        "  mistakes.adjust: 1",
        "  mistakes.intents: 1",
        "  baseline_cosine.selective_adjust: 0.75",
        "  rejected.in_train: 2",
    ):
        assert line in lines, f"missing {line!r}"
    # v2 test split: sunset glow, x-ray, foggy forest = 3 rows; filter used by x-ray and foggy forest = 2 (67%).
    test_row = next(line for line in lines if "test" in line and "/" in line)
    assert "2 / 3 (67%)" in test_row


def test_show_json_is_the_manifest(store_root: Path) -> None:
    code, out, _ = show("v2", "--store", str(store_root), "--format", "json")
    assert code == 0
    manifest = json.loads(out)
    assert manifest == json.loads((store_root / "versions" / "v2" / "manifest.json").read_text())
    assert manifest["parent"] == "v1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["v9"], "Error: no version 'v9' in store"),
        (["v1", "--format", "yaml"], "Error: --format must be one of table, json, not 'yaml'"),
    ],
)
def test_show_user_errors_exit_1(store_root: Path, args: list[str], message: str) -> None:
    code, out, err = show(*args, "--store", str(store_root))
    assert code == 1
    assert err.startswith(message)
    assert "Traceback" not in err + out


def test_show_empty_store_is_an_error(tmp_path: Path) -> None:
    code, _, err = show("--store", str(tmp_path / "empty"))
    assert code == 1
    assert err.startswith("Error: store ") and "has no dataset versions yet" in err
