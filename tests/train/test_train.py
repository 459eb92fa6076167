"""The train stage on tiny models built from config: `databuild train` (full, LoRA, QLoRA), resume, data-parallel
under torchrun, run records, `databuild runs`, and a trained run as the student of `predict` -> `eval`."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from databuild.cli import app
from databuild.store import Store
from tests.train_helpers import (
    CHAT_TEMPLATE,
    build_tiny_llama,
    build_tiny_t5,
    simulated_version,
    train_tokenizer,
    version_texts,
)
from train import runs
from train.selection import checkpoints_to_keep, select_epoch
from train.sft_data import IGNORE_INDEX, encode_examples

pytestmark = pytest.mark.slow
# Fast settings: a high learning rate so that three tiny epochs visibly lower the loss.
FAST = ["--batch-size", "8", "--lr", "3e-3"]


class Tiny:
    def __init__(self, root: Path) -> None:
        self.store, self.version = simulated_version(root)
        texts = version_texts(self.store, self.version)
        self.tokenizer = train_tokenizer(texts)
        self.chat_tokenizer = train_tokenizer(texts, chat_template=CHAT_TEMPLATE)
        self.t5 = build_tiny_t5(root / "tiny-t5", self.tokenizer)
        self.llama = build_tiny_llama(root / "tiny-llama", self.chat_tokenizer)
        self.store_arg = ["--store", str(self.store.root)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tiny]:
    import torch

    # Models this small spend their time waking threads: one thread is ~40x faster on a shared 2-core machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield Tiny(tmp_path_factory.mktemp("tiny"))
    finally:
        torch.set_num_threads(threads)


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args])


def train_json(tiny: Tiny, *args: str) -> dict[str, Any]:
    result = invoke("train", *tiny.store_arg, "--version", tiny.version, "--format", "json", *FAST, *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def safetensor_names(path: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(path))


# --- selection rule (hand-written sequences) ---------------------------------------------------------------------


def test_selection_picks_the_best_of_the_last_epochs() -> None:
    # 5 epochs, last 3 = epochs 3, 4, 5 scoring .60, .65, .62 -> epoch 4; epoch 2's .70 is outside the window.
    assert select_epoch([0.50, 0.70, 0.60, 0.65, 0.62], 3) == 4
    # a tie between epochs 2 and 3 (.6 = .6) goes to the later one
    assert select_epoch([0.3, 0.6, 0.6], 3) == 3
    # a window wider than the run covers every epoch: .9 at epoch 1 wins
    assert select_epoch([0.9, 0.1], 5) == 1
    # select_last 1: always the last epoch, however bad
    assert select_epoch([0.9, 0.8, 0.1], 1) == 3
    # unscored epochs (no test intents) rank below any score; all unscored -> the later one
    assert select_epoch([0.2, None], 2) == 1
    assert select_epoch([None, None], 2) == 2
    with pytest.raises(ValueError):
        select_epoch([], 3)


def test_checkpoints_kept_while_training() -> None:
    # 5 epochs, window 3..5. After 2 epochs no window epoch is done: keep only the last (2).
    assert checkpoints_to_keep([0.5, 0.7], 5, 3) == {2}
    # after epoch 4 (.55 < epoch 3's .6): keep 4 (to resume) and 3 (best in the window so far)
    assert checkpoints_to_keep([0.5, 0.7, 0.6, 0.55], 5, 3) == {3, 4}
    # after epoch 4 (.65 > .6): epoch 3 can no longer be selected
    assert checkpoints_to_keep([0.5, 0.7, 0.6, 0.65], 5, 3) == {4}
    assert checkpoints_to_keep([], 5, 3) == set()


# --- SFT data: completion-only loss -------------------------------------------------------------------------------


def test_causal_labels_cover_only_the_completion(tiny: Tiny) -> None:
    tokenizer = tiny.tokenizer
    prompt, completion = 'User request: warm sunset\nWrite "Parameters:"', 'Parameters: {"contrast":10}'
    [example], truncated = encode_examples(tokenizer, "causal", [prompt], [completion], 512)
    assert truncated == 0
    prompt_length = len(tokenizer(prompt + "\n")["input_ids"])
    assert example.labels[:prompt_length] == [IGNORE_INDEX] * prompt_length
    learned = example.labels[prompt_length:]
    assert learned == example.input_ids[prompt_length:]
    assert learned[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(learned, skip_special_tokens=True) == completion


def test_chat_template_prompt_and_assistant_turn(tiny: Tiny) -> None:
    tokenizer = tiny.chat_tokenizer
    [example], _ = encode_examples(tokenizer, "causal", ["make it warm"], ['Parameters: {"temperature":30}'], 512)
    masked = sum(1 for label in example.labels if label == IGNORE_INDEX)
    # the model reads the user turn and the assistant header, as the template renders them
    assert tokenizer.decode(example.input_ids[:masked]) == "<|user|>\nmake it warm\n<|assistant|>\n"
    # and learns the assistant turn, closed by the template's EOS
    assert tokenizer.decode(example.input_ids[masked:]) == 'Parameters: {"temperature":30}</s>'


def test_seq2seq_reads_the_prompt_and_learns_the_completion(tiny: Tiny) -> None:
    tokenizer = tiny.tokenizer
    [example], _ = encode_examples(tokenizer, "seq2seq", ["make it warm"], ["Parameters: {}"], 512)
    assert tokenizer.decode(example.input_ids) == "make it warm"
    assert tokenizer.decode(example.labels) == "Parameters: {}</s>"
    # an over-long prompt keeps its end (the request and the instruction)
    long_prompt = "x " * 50 + "make it warm"
    [cut], truncated = encode_examples(tokenizer, "seq2seq", [long_prompt], ["Parameters: {}"], 8)
    assert truncated == 1 and cut.input_ids == tokenizer(long_prompt)["input_ids"][-8:]
    assert tokenizer.decode(cut.input_ids).endswith("it warm")


def test_short_prompt_format_reads_no_chat_template(tiny: Tiny) -> None:
    from databuild.packs.colour.reference import tool as colour_tool
    from train.sft_data import student_prompt

    tokenizer = tiny.chat_tokenizer
    prompt = student_prompt("short", colour_tool("adjust"), "make it warm")
    assert prompt == "adjust: make it warm"
    [example], _ = encode_examples(tokenizer, "causal", [prompt], ['Parameters: {"temperature":30}'], 512, chat=False)
    masked = sum(1 for label in example.labels if label == IGNORE_INDEX)
    assert tokenizer.decode(example.input_ids[:masked]) == "adjust: make it warm\n"
    assert tokenizer.decode(example.input_ids[masked:]) == 'Parameters: {"temperature":30}</s>'


def test_generation_stops_at_the_closing_brace(tiny: Tiny) -> None:
    """Fed token by token, a row is done right after the brace that closes its first object, not before."""
    import torch

    from train.modeling import brace_table, closing_brace_stop

    tokenizer = tiny.tokenizer
    texts = ['Parameters: {"a":{"b":1}} and more text', "no object in this answer at all", "Parameters: {} then"]
    rows = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
    width = max(len(r) for r in rows)
    padded = torch.tensor([r + [tokenizer.pad_token_id] * (width - len(r)) for r in rows])
    stop = closing_brace_stop(*brace_table(tokenizer), len(rows))
    done_after: list[int | None] = [None] * len(rows)
    for step in range(1, width + 1):
        flags = stop[0](padded[:, :step], None)
        for row, flag in enumerate(flags.tolist()):
            if flag and done_after[row] is None:
                done_after[row] = step
    assert tokenizer.decode(rows[0][: done_after[0]]) == 'Parameters: {"a":{"b":1}}'
    assert done_after[1] is None
    assert tokenizer.decode(rows[2][: done_after[2]]) == "Parameters: {}"


def test_auto_precision_is_bf16_on_cpus_with_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from train.trainer import _mixed_precision

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert _mixed_precision("auto") == "no"
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert _mixed_precision("auto") == "bf16"
    assert _mixed_precision("no") == "no"


# --- full fine-tuning, records, runs, predict -> eval --------------------------------------------------------------


def tensorboard_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the run's TensorBoard event files, read back the way TensorBoard reads them."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def assert_tracked_in_tensorboard(run_dir: Path, steps_per_epoch: int) -> None:
    """Per step the loss; per epoch (at its last step) the train loss, overall per subset and the tool metrics."""
    epochs = runs.read_metrics(run_dir)["epochs"]
    scalars = tensorboard_scalars(run_dir)
    ends = [entry["epoch"] * steps_per_epoch for entry in epochs]

    def at_epoch_ends(tag: str, values: list[float]) -> None:
        assert [step for step, _ in scalars[tag]] == ends, tag
        assert [value for _, value in scalars[tag]] == pytest.approx(values, rel=1e-6, abs=1e-7), tag

    at_epoch_ends("train/loss", [e["train_loss"] for e in epochs])
    at_epoch_ends("epoch", [e["epoch"] for e in epochs])
    for subset in ("all", "r3", "r5"):
        at_epoch_ends(f"eval/{subset}/overall", [e["eval"]["subsets"][subset]["overall"] for e in epochs])
    for tool in ("adjust", "selective_adjust", "filter"):
        for name in ("selection", "quality", "final", "precision", "recall"):
            expected = [e["eval"]["subsets"]["all"]["tools"][tool][name] for e in epochs]
            at_epoch_ends(f"eval/all/{tool}/{name}", expected)
    step_losses = scalars["train/step_loss"]
    assert [step for step, _ in step_losses] == list(range(1, len(epochs) * steps_per_epoch + 1))
    # an epoch's train loss is the mean of its steps' losses (one process)
    first_epoch = [value for _, value in step_losses[:steps_per_epoch]]
    assert sum(first_epoch) / steps_per_epoch == pytest.approx(epochs[0]["train_loss"], rel=1e-5)


def test_full_seq2seq_run_records_and_student(tiny: Tiny, tmp_path: Path) -> None:
    trained = invoke(
        "train", *tiny.store_arg, "--version", tiny.version, "--format", "json", *FAST,
        "--model", tiny.t5, "--epochs", "3", "--select-last", "2", "--report-to", "tensorboard",
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    summary = json.loads(trained.stdout)
    assert set(summary) == {"run_dir", "version", "fingerprint", "epochs", "selected_epoch"}
    manifest = tiny.store.manifest(tiny.version)
    assert summary["version"] == tiny.version and summary["fingerprint"] == manifest["fingerprint"]
    assert [e["epoch"] for e in summary["epochs"]] == [1, 2, 3]
    overall = [e["overall"] for e in summary["epochs"]]
    assert all(0.0 <= score <= 1.0 for score in overall)
    # the rule: best of epochs 2 and 3, ties to 3
    assert summary["selected_epoch"] == (2 if overall[1] > overall[2] else 3)
    losses = [e["train_loss"] for e in summary["epochs"]]
    assert losses[2] < losses[0], losses  # it learns

    run_dir = Path(summary["run_dir"])
    assert run_dir.parent == tiny.store.runs_dir
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert len(metrics["epochs"]) == 3 and metrics["selected_epoch"] == summary["selected_epoch"]
    test_intents = manifest["used_all"]["test"]["rows"]
    for entry in metrics["epochs"]:
        assert entry["train_loss"] > 0 and entry["generation_seconds"] > 0 and entry["train_tokens"] > 0
        assert entry["eval"]["version"] == tiny.version and entry["eval"]["split"] == "test"
        assert entry["eval"]["subsets"]["all"]["intents"] == test_intents
        assert entry["eval"]["missing_predictions"] == 0

    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "complete" and record["version"] == tiny.version
    assert record["fingerprint"] == manifest["fingerprint"]
    assert record["mode"] == "full" and record["arch"] == "seq2seq"
    assert record["options"]["epochs"] == 3 and record["options"]["select_last"] == 2
    assert record["options"]["lr"] == 3e-3 and record["options"]["batch_size"] == 8
    assert record["library_versions"]["transformers"] and record["library_versions"]["torch"]
    assert record["device"]["type"] == "cpu" and record["device"]["num_processes"] == 1
    assert record["wall_seconds"] > 0 and record["selected_epoch"] == summary["selected_epoch"]

    # --report-to tensorboard: recorded, and the event files hold the loss and every epoch's scores
    assert record["options"]["report_to"] == "tensorboard"
    assert record["tracking"] == {"tool": "tensorboard", "log_dir": str(run_dir / "tensorboard")}
    train_rows = manifest["used_all"]["train"]["rows"]
    steps = math.ceil(3 * train_rows / 8)  # three SFT rows per intent, batches of 8
    assert record["data"]["steps_per_epoch"] == steps
    assert_tracked_in_tensorboard(run_dir, steps)
    # progress on stderr (not a terminal here: plain lines), per epoch: the steps, then the evaluation's intents
    for epoch in (1, 2, 3):
        assert f"epoch {epoch}/3: {steps}/{steps} steps in " in trained.stderr
        assert f"evaluating epoch {epoch}/3: {test_intents}/{test_intents} intents in " in trained.stderr
    assert "\r" not in trained.stderr

    # only the selected and the last checkpoint stay; only the last can be resumed from
    kept = runs.checkpoint_epochs(run_dir)
    assert kept == sorted({summary["selected_epoch"], 3})
    last = runs.checkpoint_dir(run_dir, 3)
    assert {"config.json", "model.safetensors", "tokenizer.json", "training_state.pt"} <= {
        p.name for p in last.iterdir()
    }
    for epoch in kept[:-1]:
        assert not (runs.checkpoint_dir(run_dir, epoch) / "training_state.pt").exists()

    listed = invoke("runs", *tiny.store_arg, "--format", "json")
    assert listed.exit_code == 0, listed.output
    [row] = [r for r in json.loads(listed.stdout) if r["run_dir"] == str(run_dir)]
    assert row["version"] == tiny.version and row["status"] == "complete"
    assert row["overall"] == overall[summary["selected_epoch"] - 1]
    table = invoke("runs", *tiny.store_arg)
    assert table.exit_code == 0 and run_dir.name in table.stdout

    predictions = tmp_path / "preds.jsonl"
    predicted = invoke(
        "predict", *tiny.store_arg, "--version", tiny.version, "--student", run_dir, "--output", predictions,
        "--format", "json",
    )  # fmt: skip
    assert predicted.exit_code == 0, predicted.output
    assert f"predicting {tiny.version}/test: {test_intents}/{test_intents} intents in " in predicted.stderr
    predict_summary = json.loads(predicted.stdout)
    assert predict_summary["rows"] == test_intents and predict_summary["latency_seconds"] > 0
    lines = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert all(isinstance(line[tool], str) for line in lines for tool in ("adjust", "selective_adjust", "filter"))
    scored = invoke(
        "eval", *tiny.store_arg, "--version", tiny.version, "--predictions", predictions, "--format", "json"
    )
    assert scored.exit_code == 0, scored.output
    report = json.loads(scored.stdout)
    assert report["missing_predictions"] == 0 and 0.0 <= report["subsets"]["all"]["overall"] <= 1.0


def test_causal_student_learns_the_output_format(tiny: Tiny) -> None:
    """End to end through masking, left-padded generation and decoding: a tiny full-fine-tuned Llama (no chat
    template) starts writing completions that parse."""
    model = build_tiny_llama(tiny.store.root.parent / "tiny-llama-plain", tiny.tokenizer)
    summary = train_json(tiny, "--model", model, "--epochs", "12", "--batch-size", "4", "--lr", "5e-3")
    metrics = runs.read_metrics(Path(summary["run_dir"]))["epochs"]
    invalid = [sum(entry["eval"]["invalid_outputs"].values()) for entry in metrics]
    test_intents = tiny.store.manifest(tiny.version)["used_all"]["test"]["rows"]
    assert invalid[0] == 3 * test_intents  # an untrained model writes nothing parseable for any tool
    assert invalid[-1] < invalid[0], (invalid, [e["train_loss"] for e in metrics], summary["run_dir"])
    assert metrics[-1]["train_loss"] < metrics[0]["train_loss"] / 2


# --- LoRA and QLoRA ------------------------------------------------------------------------------------------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("arch", ["seq2seq", "causal"])
def test_static_cache_generates_the_same_ids(tiny: Tiny, arch: str) -> None:
    from train.modeling import generate_ids, load_base_model

    model = load_base_model(tiny.t5 if arch == "seq2seq" else tiny.llama, arch, False, "cpu", None).eval()
    prompts = [[5 + i % 40 for i in range(length)] for length in (3, 17, 70, 9)]  # widths 17 and 70 pad to 64, 128
    kwargs: dict[str, Any] = {"pad_token_id": 0, "stop_ids": [1], "max_new_tokens": 12, "batch_size": 2}
    dynamic = generate_ids(model, prompts, arch, device="cpu", **kwargs)
    assert generate_ids(model, prompts, arch, device="cpu", static_cache=True, **kwargs) == dynamic


def test_generation_reports_progress_per_batch(tiny: Tiny) -> None:
    from train.modeling import load_base_model, load_tokenizer, predict_intents

    model = load_base_model(tiny.t5, "seq2seq", False, "cpu", None).eval()
    reported: list[int] = []
    rows = predict_intents(
        model, load_tokenizer(tiny.t5), "seq2seq", ["warm", "cold", "faded film"],
        max_new_tokens=4, max_source_tokens=512, batch_size=4, device="cpu", on_progress=reported.append,
    )  # fmt: skip
    # 9 prompts in batches of 4: 4, 8 and 9 prompts done -> 1, 2 and 3 whole intents
    assert reported == [1, 2, 3] and [row["intent"] for row in rows] == ["warm", "cold", "faded film"]


def test_lora_trains_only_adapter_weights(tiny: Tiny, tmp_path: Path) -> None:
    base_weights = tiny.llama / "model.safetensors"
    before = _digest(base_weights)
    output = tmp_path / "lora-run"
    summary = train_json(
        tiny, "--model", tiny.llama, "--lora", "--epochs", "2", "--eval-limit", "2", "--output", output
    )
    assert summary["run_dir"] == str(output)
    record = runs.read_run(output)
    assert record["mode"] == "lora" and record["options"]["lora_target"] == "all-linear"
    assert record["options"]["report_to"] == "none" and record["tracking"] == {"tool": "none"}
    assert not (output / "tensorboard").exists()
    assert record["data"]["eval_intents"] == 2 and summary["epochs"][0]["eval_intents"] == 2
    checkpoint = runs.checkpoint_dir(output, summary["selected_epoch"])
    files = {p.name for p in checkpoint.iterdir()}
    assert "adapter_model.safetensors" in files and "adapter_config.json" in files
    assert "model.safetensors" not in files  # the base is not saved again
    adapter = safetensor_names(checkpoint / "adapter_model.safetensors")
    assert adapter and all(".lora_A." in name or ".lora_B." in name for name in adapter)
    # every parameter that trained is in the adapter (record counts requires_grad parameters)
    assert record["trainable_parameters"] == sum(t.numel() for t in adapter.values())
    # LoRA B starts at zero: non-zero B matrices prove the adapters learned
    assert any(float(t.abs().sum()) > 0 for name, t in adapter.items() if ".lora_B." in name)
    assert _digest(base_weights) == before  # the base model on disk is untouched

    # served merged: no adapter layers left, and the same greedy answers as base + adapters
    from peft.tuners.lora import LoraLayer

    from databuild.cli.students import load_student
    from train.modeling import load_adapter, load_base_model, predict_intents

    student: Any = load_student(str(output), tiny.store, tiny.version)
    assert not any(isinstance(m, LoraLayer) for m in student.model.modules())
    intents = ["warm golden evening", "cold blue night"]
    unmerged = load_adapter(load_base_model(tiny.llama, "causal", False, "cpu", None), checkpoint, trainable=False)
    expected = predict_intents(
        unmerged.eval(), student.tokenizer, "causal", intents,
        max_new_tokens=student.max_new_tokens, max_source_tokens=student.max_source_tokens, batch_size=6,
        device=student.device,
    )  # fmt: skip
    answers = student.predict(intents)
    assert answers == [{k: v for k, v in row.items() if k != "intent"} for row in expected]
    # a static KV cache (what a GPU serves with, padded to a multiple of 64 tokens) answers the same
    from train.student import TrainedStudent

    assert student.static_cache is False  # CPU default
    static = TrainedStudent(output, static_cache=True)  # warms up on its usual batch shape first
    assert static.static_cache is True and static.predict(intents) == answers


def test_train_limit_and_short_prompts(tiny: Tiny, tmp_path: Path) -> None:
    """A seeded sample of 5 train intents (all three tools each), recorded; the student answers in its format."""
    output, again = tmp_path / "limited", tmp_path / "limited-again"
    args = ["--model", tiny.llama, "--lora", "--prompt", "short", "--train-limit", "5", "--epochs", "1"]
    train_json(tiny, *args, "--eval-limit", "2", "--output", output)
    record = runs.read_run(output)
    train_intents = tiny.store.manifest(tiny.version)["used_all"]["train"]["rows"]
    assert record["options"]["train_limit"] == 5 and record["options"]["prompt_format"] == "short"
    assert record["data"]["train_intents"] == 5 and record["data"]["train_intents_available"] == train_intents
    assert record["data"]["train_examples"] == 15 and record["data"]["steps_per_epoch"] == 2  # batch 8
    train_json(tiny, *args, "--eval-limit", "2", "--output", again)
    assert runs.read_metrics(again)["epochs"][0]["train_loss"] == runs.read_metrics(output)["epochs"][0]["train_loss"]
    from train.student import TrainedStudent

    student = TrainedStudent(output)
    assert student.prompt_format == "short" and len(student.predict(["warm golden evening"])) == 1


def test_qlora_trains_on_cpu_and_reloads_for_prediction(tiny: Tiny, tmp_path: Path) -> None:
    output = tmp_path / "qlora-run"
    summary = train_json(
        tiny, "--model", tiny.llama, "--lora", "--load-in-4bit", "--epochs", "1", "--eval-limit", "2",
        "--output", output, "--lora-target", "q_proj,v_proj",
    )  # fmt: skip
    assert summary["selected_epoch"] == 1 and summary["epochs"][0]["train_loss"] > 0
    record = runs.read_run(output)
    assert record["mode"] == "qlora" and record["options"]["load_in_4bit"] is True

    import bitsandbytes as bnb

    from databuild.cli.students import load_student

    student: Any = load_student(str(output), tiny.store, tiny.version)
    assert student.name == f"run:{output.name}"
    quantized = [m for m in student.model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert quantized  # the base was loaded in NF4 again, adapters on top
    answers = student.predict(["warm golden evening", "cold blue night", "vintage film"])
    assert len(answers) == 3 and all(set(a) == {"adjust", "selective_adjust", "filter"} for a in answers)
    assert student.last_latency_seconds > 0 and len(student.last_request_latencies) == 3


# --- resume --------------------------------------------------------------------------------------------------------


class Killed(Exception):
    pass


def test_killed_run_resumes_from_its_last_epoch(tiny: Tiny) -> None:
    from train.trainer import TrainOptions, train

    def kill_after_first_epoch(entry: dict[str, Any]) -> None:
        if entry["epoch"] == 1:
            raise Killed

    options = TrainOptions(
        version=tiny.version, model=str(tiny.t5), epochs=2, batch_size=8, lr=3e-3, eval_limit=2, report_to="tensorboard"
    )
    with pytest.raises(Killed):
        train(tiny.store, options, on_epoch_end=kill_after_first_epoch, log=lambda _: None)
    [run_dir] = [p for p in tiny.store.runs_dir.iterdir() if runs.read_run(p)["status"] == "running"]
    first_epoch = runs.read_metrics(run_dir)["epochs"]
    assert len(first_epoch) == 1 and runs.checkpoint_epochs(run_dir) == [1]

    # a run directory knows its store: no --store needed (the default store is somewhere else)
    result = invoke("train", "--resume", str(run_dir), "--format", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [e["epoch"] for e in summary["epochs"]] == [1, 2]
    assert summary["epochs"][0]["train_loss"] == first_epoch[0]["train_loss"]  # epoch 1 was not trained again
    record = runs.read_run(run_dir)
    assert record["status"] == "complete" and record["epochs_done"] == 2
    assert len(runs.read_metrics(run_dir)["epochs"]) == 2
    # the resumed session logs on in the same event directory: each epoch and each step once
    assert_tracked_in_tensorboard(run_dir, record["data"]["steps_per_epoch"])

    again = invoke("train", *tiny.store_arg, "--resume", run_dir.name, "--format", "json")
    assert again.exit_code == 0 and json.loads(again.stdout)["selected_epoch"] == summary["selected_epoch"]


def test_a_killed_run_shows_interrupted_not_running(tiny: Tiny, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    (store / "versions").symlink_to(tiny.store.versions_dir)
    command = [
        sys.executable, "-m", "databuild", "train", "--store", str(store), "--version", tiny.version,
        "--model", str(tiny.t5), "--epochs", "500", "--batch-size", "8",
    ]  # fmt: skip
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ | {"OMP_NUM_THREADS": "1"}
    )
    try:
        deadline = time.monotonic() + 120
        while not list(store.glob("runs/*/run.json")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        [run] = json.loads(invoke("runs", "--store", str(store), "--format", "json").stdout)
        assert run["status"] == "running"
        record = runs.read_run(Path(run["run_dir"]))
        assert record["pid"] == proc.pid and record["status"] == "running"
    finally:
        proc.kill()  # SIGKILL: no handler runs, run.json still says running
        proc.wait()
    [run] = json.loads(invoke("runs", "--store", str(store), "--format", "json").stdout)
    assert run["status"] == "interrupted"
    assert runs.read_run(Path(run["run_dir"]))["status"] == "running"  # the record itself is left as written


def test_a_run_on_another_host_is_interrupted_when_its_heartbeat_stops(tmp_path: Path) -> None:
    run_file = tmp_path / runs.RUN_FILE
    record = {"status": "running", "pid": 1, "host": "elsewhere.invalid", "heartbeat_s": 30.0}
    run_file.write_text(json.dumps(record))
    assert runs.live_status(record, run_file) == "running"  # beat just now
    ten_beats_ago = time.time() - 301
    os.utime(run_file, (ten_beats_ago, ten_beats_ago))
    assert runs.live_status(record, run_file) == "interrupted"
    assert runs.live_status({**record, "status": "complete"}, run_file) == "complete"
    assert runs.live_status({"status": "running"}, run_file) == "running"  # a record from before pids: as written


def test_the_heartbeat_refreshes_run_json_until_its_scope_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs, "HEARTBEAT_S", 0.05)
    run_file = tmp_path / runs.RUN_FILE
    run_file.write_text("{}")
    long_ago = time.time() - 3600
    os.utime(run_file, (long_ago, long_ago))
    with runs.heartbeat_scope() as beat:
        beat(run_file)
        time.sleep(0.3)
        assert time.time() - run_file.stat().st_mtime < 5
    time.sleep(0.2)
    os.utime(run_file, (long_ago, long_ago))
    time.sleep(0.3)
    assert run_file.stat().st_mtime == long_ago  # the thread stopped with its scope


# --- errors before any work ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "{llama}", "--load-in-4bit"], "--load-in-4bit needs --lora"),
        (["--model", "{missing}"], "model not found: no directory {missing}"),
        (["--model", "no-such-org/no-such-model"], "model not found: 'no-such-org/no-such-model' is neither"),
        (["--model", "{llama}", "--version", "v99"], "no version 'v99'"),
        (["--model", "{llama}", "--arch", "seq2seq"], "--arch seq2seq does not fit"),
        (["--model", "{llama}", "--arch", "encoder"], "--arch must be one of auto, seq2seq, causal"),
        (["--model", "{t5}", "--epochs", "0"], "--epochs must be at least 1"),
        (["--model", "{t5}", "--select-last", "0"], "--select-last must be at least 1"),
        (["--model", "{t5}", "--train-limit", "0"], "--train-limit must be at least 1"),
        (["--model", "{t5}", "--prompt", "long"], "--prompt must be one of version, short, not 'long'"),
        (["--model", "{t5}", "--lora-target", "q"], "--lora-target needs --lora"),
        (["--model", "{t5}", "--lora", "--lora-target", "nonexistent_proj"], "LoRA cannot wrap this model"),
        (["--model", "{t5}", "--format", "xml"], "--format must be one of table, json"),
        (["--model", "{t5}", "--report-to", "neptune"], "--report-to must be one of none, tensorboard, wandb, mlflow"),
        ([], "--model is required"),
        (["--resume", "no-such-run"], "no training run at 'no-such-run'"),
    ],
)
def test_user_errors(tiny: Tiny, tmp_path: Path, args: list[str], message: str) -> None:
    paths = {"llama": str(tiny.llama), "t5": str(tiny.t5), "missing": str(tmp_path / "no-model-here")}
    runs_before = set(tiny.store.runs_dir.iterdir()) if tiny.store.runs_dir.is_dir() else set()
    result = invoke("train", *tiny.store_arg, *[a.format(**paths) for a in args])
    assert result.exit_code == 1, result.output
    assert f"Error: {message.format(**paths)}" in result.output
    assert "Traceback" not in result.output
    runs_after = set(tiny.store.runs_dir.iterdir()) if tiny.store.runs_dir.is_dir() else set()
    assert runs_after == runs_before


@pytest.mark.parametrize("tool", ["wandb", "mlflow", "tensorboard"])
def test_report_to_a_tool_that_is_not_installed(tiny: Tiny, monkeypatch: pytest.MonkeyPatch, tool: str) -> None:
    monkeypatch.setitem(sys.modules, tool, None)  # `import <tool>` fails as on a machine without the package
    result = invoke("train", *tiny.store_arg, "--model", tiny.t5, "--report-to", tool)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: --report-to {tool} needs the {tool} package, which is not installed: "
        f"pip install {tool}  (or pip install 'databuild[{tool}]')\n"
    )


def test_a_tracked_run_that_cannot_start_leaves_nothing(tiny: Tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    from train import tracking

    def refuse(self: Any, run_dir: Path, start_step: int) -> None:
        raise PermissionError(f"[Errno 13] Permission denied: '{run_dir / 'tensorboard'}'")

    monkeypatch.setattr(tracking.TensorBoardTracker, "__init__", refuse)
    runs_before = set(tiny.store.runs_dir.iterdir()) if tiny.store.runs_dir.is_dir() else set()
    result = invoke("train", *tiny.store_arg, "--model", tiny.t5, "--report-to", "tensorboard")
    assert result.exit_code == 1
    assert result.output.startswith(
        "Error: --report-to tensorboard: the run could not start: PermissionError: [Errno 13] Permission denied: "
    )
    assert set(tiny.store.runs_dir.iterdir()) == runs_before  # no empty run directory left behind


# --- data-parallel -------------------------------------------------------------------------------------------------


def test_torchrun_two_processes_write_one_run(tiny: Tiny, tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    store.root.mkdir()
    (store.root / "versions").symlink_to(tiny.store.versions_dir)
    torchrun = Path(sys.executable).with_name("torchrun")
    databuild = Path(sys.executable).with_name("databuild")
    command = [
        str(torchrun), "--nproc_per_node", "2", "--master_port", "29517", str(databuild), "train",
        "--store", str(store.root), "--version", tiny.version, "--model", str(tiny.t5), "--epochs", "1",
        "--batch-size", "4", "--eval-limit", "2", "--format", "json",
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, env=os.environ | {"OMP_NUM_THREADS": "1"}
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)  # one JSON document: only rank 0 prints
    [run_dir] = list(store.runs_dir.iterdir())
    assert summary["run_dir"] == str(run_dir)
    record = runs.read_run(run_dir)
    assert record["status"] == "complete" and record["device"]["num_processes"] == 2
    assert len(runs.read_metrics(run_dir)["epochs"]) == 1
    # the data is sharded: E examples in batches of 4 -> ceil(E / 4) batches, half of them (rounded up) per process
    examples = record["data"]["train_examples"]
    assert examples == 3 * tiny.store.manifest(tiny.version)["used_all"]["train"]["rows"]
    assert record["data"]["steps_per_epoch"] == math.ceil(math.ceil(examples / 4) / 2)
