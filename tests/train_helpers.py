"""Tiny students for the train tests: a small simulated version, a tokenizer trained on its text, and T5 / Llama
models of a few ten thousand parameters built from config (nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from databuild.cli import app
from databuild.store import Store, open_store
from train.tiny import build_tiny_llama, build_tiny_t5, train_tokenizer, version_texts

__all__ = [
    "CHAT_TEMPLATE",
    "build_tiny_llama",
    "build_tiny_t5",
    "simulated_version",
    "train_tokenizer",
    "version_texts",
]

# A small chat template (user turn, assistant turn closed by EOS): exercises the chat-template path of sft_data.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}"
    "{% if message['role'] == 'assistant' %}</s>{% endif %}{{ '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def simulated_version(root: Path, rows: int = 240, intents: int = 24, test_fraction: float = 0.25) -> tuple[Store, str]:
    """`databuild simulate` + `databuild snapshot` into a fresh store: a small real version."""
    runner = CliRunner()
    logs = root / "logs.jsonl"
    store_root = root / "store"
    result = runner.invoke(app, ["simulate", "--out", str(logs), "--rows", str(rows), "--intents", str(intents)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app,
        ["snapshot", "--logs", str(logs), "--store", str(store_root), "--test-fraction", str(test_fraction)],
    )
    assert result.exit_code == 0, result.output
    store = open_store(store_root)
    name = store.latest()
    assert name is not None
    return store, name
