"""Store rules: lineage as augment relies on it (a new snapshot starts a new baseline and a new neighbour pool), and
files inside the store that are appended to or replaced never write through a symbolic link, versions get the
umask's permissions, and a read-only store still answers `predict`."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from augment.cache import CACHE_FILE, CACHE_SUBDIR, LOCK_FILE, CachedResponse, ResponseCache
from augment.loop import inherited_baseline
from databuild.cli import app
from databuild.contracts import load_rows
from databuild.errors import DatabuildError
from databuild.store import open_store, replacing
from tests.augment_helpers import build_store, write_predictions
from tests.diff_helpers import publish, row
from tests.llm_server import ScriptedLLMServer

FIXTURE = Path(__file__).parents[1] / "fixtures" / "teacher_logs.jsonl"
REPO = Path(__file__).resolve().parents[2]


def test_lineage_stops_at_the_snapshot_a_version_grew_from(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    snapshot_manifest = {"command": "databuild snapshot", "inputs": [{"path": "a.jsonl"}]}
    augment_manifest = {
        "command": "databuild augment",
        "augmentation": {"iteration": 1, "baseline_cosine": {"adjust": 0.5, "selective_adjust": 0.25}},
    }
    publish(store, [row("a", "train"), row("t", "test")], snapshot_manifest)  # v1: snapshot
    publish(store, [row("a", "train"), row("b", "train"), row("t", "test")], augment_manifest)  # v2: augmented
    publish(store, [row("a", "train"), row("c", "train"), row("t", "test")], {**snapshot_manifest, "command": "x"})
    publish(store, [row("c", "train"), row("t", "test")], {"command": "a hand-made subset of v3"})  # v4
    assert store.version_names() == ["v1", "v2", "v3", "v4"]
    assert store.lineage("v3") == ["v3", "v2", "v1"]  # a snapshot's parent is the newest version at build time
    assert store.source_snapshot("v2") == "v1"
    assert store.source_snapshot("v3") == "v3"  # the pool of its own logs, not v1's
    assert inherited_baseline(store, "v2") == ({"adjust": 0.5, "selective_adjust": 0.25}, "v2")
    assert inherited_baseline(store, "v3") is None  # a new snapshot measures its own baseline
    assert store.source_snapshot("v4") == "v3"  # a subset made by hand keeps its snapshot's pool
    assert inherited_baseline(store, "v4") is None


# --- links inside the store: a file databuild appends to or replaces never writes through one ------------------------


def plant_link(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)


def test_the_llm_response_cache_refuses_a_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    store = open_store(tmp_path / "store")
    cache_file = store.cache_dir / CACHE_SUBDIR / CACHE_FILE
    plant_link(cache_file, outside)
    with pytest.raises(DatabuildError, match=r"responses\.jsonl is a symbolic link: databuild does not write"):
        ResponseCache.for_store(store)
    cache_file.unlink()
    cache = ResponseCache.for_store(store)  # a link planted after the cache was read is refused at the write
    plant_link(cache_file, tmp_path / "dangling.txt")
    with pytest.raises(DatabuildError, match="is a symbolic link"):
        cache.put("k", "m", CachedResponse(("SIMILAR_USER_REQUEST: x",), 1, 1))
    plant_link(cache_file.with_name(LOCK_FILE), outside)  # the sender lock records a pid: never through a link
    with pytest.raises(DatabuildError, match=r"responses\.lock is a symbolic link"), cache.exclusive(print):
        pass
    assert outside.read_text() == "precious\n" and not (tmp_path / "dangling.txt").exists()


def test_the_augment_command_stops_at_a_linked_cache(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    store, _ = build_store(tmp_path / "store")
    plant_link(store.cache_dir / CACHE_SUBDIR / CACHE_FILE, outside)
    args = ["augment", "--store", str(store.root), "--predictions", str(write_predictions(tmp_path / "p.jsonl"))]
    env = {"OPENAI_API_KEY": None, "OPENAI_BASE_URL": None}
    with ScriptedLLMServer() as server:
        result = CliRunner().invoke(app, [*args, "--generator", "openai", "--base-url", server.base_url], env=env)
        assert server.count() == 0
    assert result.exit_code == 1
    link = store.cache_dir / CACHE_SUBDIR / CACHE_FILE
    assert result.stderr.splitlines()[-1] == f"Error: {link} is a symbolic link: databuild does not write through links"
    assert outside.read_text() == "precious\n" and store.version_names() == ["v1"]


def test_replacing_a_store_file_replaces_a_link_never_its_target(tmp_path: Path) -> None:
    outside = tmp_path / "outside.parquet"
    outside.write_bytes(b"precious")
    pool = tmp_path / "store" / "cache" / "intent_pool" / "v1.parquet"
    plant_link(pool, outside)
    plant_link(pool.with_suffix(".parquet.tmp"), outside)  # the temporary name earlier versions used
    with replacing(pool) as handle:
        pl.DataFrame({"intent": ["a"]}).write_parquet(handle)
    assert not pool.is_symlink() and pl.read_parquet(pool)["intent"].to_list() == ["a"]
    assert outside.read_bytes() == b"precious"
    with pytest.raises(RuntimeError), replacing(pool) as handle:  # a failed write changes nothing, leaves nothing
        handle.write(b"half")
        raise RuntimeError("killed")
    assert pl.read_parquet(pool)["intent"].to_list() == ["a"]
    assert sorted(p.name for p in pool.parent.iterdir()) == ["v1.parquet", "v1.parquet.tmp"]


def test_a_snapshot_writes_its_intent_pool_past_planted_links(tmp_path: Path) -> None:
    # The pool lives inside the version now; the old place (cache/intent_pool/vN.parquet) is only written to repair
    # a store from before, and that write must replace a planted link, never follow it.
    outside = tmp_path / "outside.parquet"  # a dangling link target: following the link would create it
    store = open_store(tmp_path / "store")
    args = ["snapshot", "--store", str(store.root), "--logs", str(FIXTURE)]
    assert CliRunner().invoke(app, args).exit_code == 0
    (store.version_dir("v1") / "intent_pool.parquet").unlink()  # as an older store has it: no pool in the version
    pool = store.cache_dir / "intent_pool" / "v1.parquet"
    plant_link(pool, outside)
    plant_link(pool.with_suffix(".parquet.tmp"), outside)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "unchanged" in result.output
    assert not outside.exists() and not pool.is_symlink()
    assert pl.read_parquet(pool).height > 0


# --- permissions: a shared store is readable, and a read-only one still predicts ------------------------------------


@pytest.mark.parametrize(
    ("umask", "folder_mode", "file_mode"), [(0o022, 0o755, 0o644), (0o027, 0o750, 0o640)], ids=["022", "027"]
)
def test_a_version_folder_gets_the_umask_permissions(
    tmp_path: Path, umask: int, folder_mode: int, file_mode: int
) -> None:
    store = open_store(tmp_path / "store")
    previous = os.umask(umask)
    try:
        published = publish(store, [row("a", "train"), row("t", "test")], {"command": "test"})
    finally:
        os.umask(previous)
    version = published.path
    assert stat.S_IMODE(version.stat().st_mode) == folder_mode  # mkdtemp alone makes 0700
    for path in version.rglob("*"):
        expected = folder_mode if path.is_dir() else file_mode
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


def unprivileged(command: list[str]) -> list[str]:
    """`command` run without the power to write where the permissions forbid it (root is only stopped when it
    loses CAP_DAC_OVERRIDE)."""
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: a read-only store cannot be simulated")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--", *command]


def test_predict_on_a_read_only_store_goes_on_without_the_embedding_cache(tmp_path: Path) -> None:
    root = tmp_path / "store"
    result = CliRunner().invoke(
        app, ["snapshot", "--store", str(root), "--logs", str(FIXTURE), "--test-fraction", "0.5"]
    )
    assert result.exit_code == 0, result.output
    before = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    output = tmp_path / "out" / "predictions.jsonl"
    output.parent.mkdir()
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    try:
        command = [sys.executable, "-m", "databuild", "predict", "--store", str(root), "--split", "test"]
        done = subprocess.run(
            unprivileged([*command, "--student", "knn", "--output", str(output)]),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        for path in [root, *root.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
    assert done.returncode == 0, done.stderr
    cache = root / "cache" / "embeddings" / "sentence-transformers--all-MiniLM-L6-v2"
    assert f"warning: embedding cache {cache} not written (Permission denied); going on without it" in done.stderr
    predicted = [json.loads(line)["intent"] for line in output.read_text().splitlines()]
    test_intents = load_rows(open_store(root), "v1").filter(pl.col("split") == "test").get_column("intent")
    assert sorted(predicted) == sorted(test_intents) and predicted
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == before  # nothing written
