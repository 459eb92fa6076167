"""A version directory as the Hugging Face ecosystem opens it: `datasets.load_dataset(<version dir>, config)`,
offline, with the card's YAML (configs with `data_files`, `dataset_info`) and no warning; `load_from_disk` as before."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import datasets
import pytest
import yaml

from databuild.store import Store
from tests.eval_helpers import publish, truth_row
from tests.train_helpers import simulated_version

SPLITS = ("train", "test")


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            self.messages.append(record.getMessage())


@pytest.fixture()
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[Records]:
    """No network, and every warning `datasets` logs or raises is collected."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    handler = Records()
    logger = logging.getLogger("datasets")
    logger.addHandler(handler)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield handler
    logger.removeHandler(handler)
    handler.messages += [str(w.message) for w in caught if not issubclass(w.category, DeprecationWarning)]


def card_yaml(version_dir: Path) -> dict[str, Any]:
    text = (version_dir / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def load(version_dir: Path, config: str, cache: Path) -> Any:
    return datasets.load_dataset(str(version_dir), config, cache_dir=str(cache))


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, str]:
    return simulated_version(tmp_path_factory.mktemp("hub"), rows=300, intents=30, test_fraction=0.3)


def test_every_config_loads_with_load_dataset_as_load_from_disk(
    simulated: tuple[Store, str], offline: Records, tmp_path: Path
) -> None:
    store, name = simulated
    version_dir = store.version_dir(name)
    for config in ("rows", "sft"):
        loaded = load(version_dir, config, tmp_path / "cache")
        on_disk = datasets.load_from_disk(str(version_dir / config))
        assert set(loaded) == set(SPLITS)
        for split in SPLITS:
            assert on_disk[split].num_rows > 0
            assert loaded[split].features == on_disk[split].features
            assert loaded[split].column_names == on_disk[split].column_names
            assert loaded[split].to_list() == on_disk[split].to_list()
    # the default config is `rows`
    assert load(version_dir, None, tmp_path / "cache")["train"].to_list() == on_disk_rows(version_dir, "train")
    assert offline.messages == []


def on_disk_rows(version_dir: Path, split: str) -> list[dict[str, Any]]:
    return datasets.load_from_disk(str(version_dir / "rows"))[split].to_list()


def test_card_yaml_is_complete_for_the_hub(simulated: tuple[Store, str]) -> None:
    store, name = simulated
    version_dir = store.version_dir(name)
    meta = card_yaml(version_dir)
    manifest = store.manifest(name)
    assert meta["license"] == "unknown"  # left for the user: the card says so in a comment
    assert "# license: fill in" in (version_dir / "README.md").read_text()
    assert meta["source_datasets"] == ["original"] and "databuild" in meta["tags"]
    assert meta["databuild_fingerprint"] == manifest["fingerprint"]
    assert meta["configs"] == [
        {
            "config_name": "rows",
            "default": True,
            "data_files": [
                {"split": "train", "path": "rows/train/data-*.arrow"},
                {"split": "test", "path": "rows/test/data-*.arrow"},
            ],
        },
        {
            "config_name": "sft",
            "data_files": [
                {"split": "train", "path": "sft/train/data-*.arrow"},
                {"split": "test", "path": "sft/test/data-*.arrow"},
            ],
        },
    ]
    rows_info, sft_info = meta["dataset_info"]
    assert rows_info["config_name"] == "rows" and sft_info["config_name"] == "sft"
    assert [f["name"] for f in rows_info["features"]][:3] == ["intent", "intent_text", "adjust"]
    assert {f["name"]: f["dtype"] for f in rows_info["features"]}["n_calls"] == "int64"
    assert [(f["name"], f["dtype"]) for f in sft_info["features"]] == [
        ("intent", "large_string"),
        ("tool", "large_string"),
        ("prompt", "large_string"),
        ("completion", "large_string"),
    ]
    for info, config in ((rows_info, "rows"), (sft_info, "sft")):
        on_disk = datasets.load_from_disk(str(version_dir / config))
        sizes = {s["name"]: (s["num_examples"], s["num_bytes"]) for s in info["splits"]}
        assert sizes == {split: (on_disk[split].num_rows, on_disk[split].data.nbytes) for split in SPLITS}
        assert info["dataset_size"] == sum(size for _, size in sizes.values())
        files = [f for split in SPLITS for f in (version_dir / config / split).glob("data-*.arrow")]
        assert info["download_size"] == sum(f.stat().st_size for f in files)
    # Used / All and the SFT counts agree with the manifest: 3 SFT rows per intent
    rows_examples = {s["name"]: s["num_examples"] for s in rows_info["splits"]}
    assert rows_examples == {split: manifest["used_all"][split]["rows"] for split in SPLITS}
    assert {s["name"]: s["num_examples"] for s in sft_info["splits"]} == {s: 3 * n for s, n in rows_examples.items()}


def test_handmade_rows_round_trip_and_num_bytes_match_what_datasets_records(offline: Records, tmp_path: Path) -> None:
    rows = [
        truth_row("golden hour", adjust={"temperature": 30}, split="train", n_calls=4),
        truth_row("cold night", adjust={"temperature": -40}, filter={"name": "north", "intensity": 50}, split="train"),
        truth_row("faded film", adjust={"contrast": -10}, split="test", n_calls=2),
    ]
    rows[1] |= {"source": "augmented", "augmented_from": "golden hour", "iteration": 1}
    store, name = publish(tmp_path / "store", rows)
    version_dir = store.version_dir(name)
    loaded = load(version_dir, "rows", tmp_path / "cache")
    assert [r["intent"] for r in loaded["train"]] == ["cold night", "golden hour"]  # sorted by intent
    assert loaded["train"][0]["augmented_from"] == "golden hour" and loaded["train"][1]["augmented_from"] is None
    assert loaded["test"].to_list() == datasets.load_from_disk(str(version_dir / "rows"))["test"].to_list()
    # what `datasets` records while building the split is the size the card announced
    announced = {s["name"]: s["num_bytes"] for s in card_yaml(version_dir)["dataset_info"][0]["splits"]}
    assert {split: loaded[split].info.splits[split].num_bytes for split in SPLITS} == announced
    assert offline.messages == []


def test_an_empty_split_is_left_out_of_the_configs(offline: Records, tmp_path: Path) -> None:
    store, name = publish(tmp_path / "store", [truth_row("golden hour", adjust={"contrast": 10}, split="train")])
    version_dir = store.version_dir(name)
    meta = card_yaml(version_dir)
    assert meta["configs"][0]["data_files"] == [{"split": "train", "path": "rows/train/data-*.arrow"}]
    assert [s["name"] for s in meta["dataset_info"][1]["splits"]] == ["train"]
    assert "`rows/test` is empty" in (version_dir / "README.md").read_text()
    loaded = load(version_dir, "sft", tmp_path / "cache")
    assert list(loaded) == ["train"] and loaded["train"].num_rows == 3
    on_disk = datasets.load_from_disk(str(version_dir / "rows"))  # the contract: both splits, one empty
    assert on_disk["test"].num_rows == 0 and on_disk["train"].num_rows == 1
    assert offline.messages == []


def test_identical_builds_keep_their_fingerprint_and_card(tmp_path: Path) -> None:
    rows = [truth_row("golden hour", adjust={"contrast": 10}, split="train"), truth_row("night", split="test")]
    first_store, first = publish(tmp_path / "a", rows)
    second_store, second = publish(tmp_path / "b", rows)
    assert first_store.manifest(first)["fingerprint"] == second_store.manifest(second)["fingerprint"]
    assert card_yaml(first_store.version_dir(first)) == card_yaml(second_store.version_dir(second))
