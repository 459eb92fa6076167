"""Store lineage rules that augment relies on: a new snapshot starts a new baseline and a new neighbour pool."""

from __future__ import annotations

from pathlib import Path

from augment.loop import inherited_baseline
from databuild.store import open_store
from tests.diff_helpers import publish, row


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
