"""`databuild train`: fine-tune a student on a dataset version, evaluating every epoch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from databuild.cli.app import app
from databuild.cli.common import (
    FORMATS_TABLE_JSON,
    StoreOption,
    TableOrJsonOption,
    check_choice,
    options_from,
    print_json,
    store_path,
    user_errors,
)

# The options, named like `train.trainer.TrainOptions`' fields (the command builds its options from them).
_Version = Annotated[str | None, typer.Option("--version", help="Dataset version to train on (default: newest).")]
_Model = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Model directory, Hugging Face id in the local cache, a .gguf file, or smollm2-135m (pip package).",
    ),
]
_Arch = Annotated[str, typer.Option("--arch", help="auto (from the model config), seq2seq or causal.")]
_Lora = Annotated[bool, typer.Option("--lora/--no-lora", help="Train LoRA adapters (peft) instead of all weights.")]
_LoadIn4bit = Annotated[bool, typer.Option("--load-in-4bit", help="Quantize the base to NF4 (QLoRA; needs --lora).")]
_Epochs = Annotated[int, typer.Option("--epochs", help="Training epochs.")]
_SelectLast = Annotated[int, typer.Option("--select-last", help="Keep the best overall score of the last N epochs.")]
_BatchSize = Annotated[int, typer.Option("--batch-size", help="Examples per step and per process.")]
_Lr = Annotated[
    float | None, typer.Option("--lr", help="Learning rate [default: 2e-4 LoRA, 3e-4 seq2seq, 2e-5 causal].")
]
_MaxSourceTokens = Annotated[int, typer.Option("--max-source-tokens", help="Longest prompt (keeps its end).")]
_MaxNewTokens = Annotated[int, typer.Option("--max-new-tokens", help="Generation cap (fitted to the completions).")]
_EvalLimit = Annotated[int | None, typer.Option("--eval-limit", help="Evaluate on the first N test intents only.")]
_EvalBatchSize = Annotated[
    int | None,
    typer.Option(
        "--eval-batch-size", help="Prompts generated together when evaluating [default: max(batch size, 24)]."
    ),
]
_TrainLimit = Annotated[
    int | None,
    typer.Option("--train-limit", help="Train on a seeded sample of N train intents (all their tools)."),
]
_PromptFormat = Annotated[
    str,
    typer.Option("--prompt", help="version (the version's per-tool prompts) or short ('<tool>: <intent>')."),
]
_LoraRank = Annotated[int, typer.Option("--lora-rank", help="LoRA rank r.")]
_LoraAlpha = Annotated[int, typer.Option("--lora-alpha", help="LoRA alpha.")]
_LoraDropout = Annotated[float, typer.Option("--lora-dropout", help="LoRA dropout.")]
_LoraTarget = Annotated[
    str | None,
    typer.Option(
        "--lora-target", help="Comma-separated module names or all-linear [default: q,v seq2seq; all-linear]."
    ),
]
_GradientCheckpointing = Annotated[bool, typer.Option("--gradient-checkpointing", help="Trade compute for memory.")]
_Precision = Annotated[str, typer.Option("--precision", help="Mixed precision: auto (bf16 on GPU), no, bf16, fp16.")]
_Seed = Annotated[int, typer.Option("--seed", help="Seed for initialization and data order.")]
_ReportTo = Annotated[
    str,
    typer.Option(
        "--report-to", help="Track the run: none, tensorboard (STORE/runs/<id>/tensorboard), wandb or mlflow."
    ),
]
_Output = Annotated[Path | None, typer.Option("--output", "-o", help="Run directory [default: STORE/runs/<run-id>].")]
_Resume = Annotated[
    str | None,
    typer.Option("--resume", help="Continue a killed run (its directory or run id) with its own options."),
]


@app.command()
def train(
    ctx: typer.Context,
    store: StoreOption = None,
    version: _Version = None,
    model: _Model = None,
    arch: _Arch = "auto",
    lora: _Lora = False,
    load_in_4bit: _LoadIn4bit = False,
    epochs: _Epochs = 10,
    select_last: _SelectLast = 3,
    batch_size: _BatchSize = 16,
    lr: _Lr = None,
    max_source_tokens: _MaxSourceTokens = 512,
    max_new_tokens: _MaxNewTokens = 96,
    eval_limit: _EvalLimit = None,
    eval_batch_size: _EvalBatchSize = None,
    train_limit: _TrainLimit = None,
    prompt_format: _PromptFormat = "version",
    lora_rank: _LoraRank = 16,
    lora_alpha: _LoraAlpha = 32,
    lora_dropout: _LoraDropout = 0.05,
    lora_target: _LoraTarget = None,
    gradient_checkpointing: _GradientCheckpointing = False,
    precision: _Precision = "auto",
    seed: _Seed = 0,
    report_to: _ReportTo = "none",
    output: _Output = None,
    resume: _Resume = None,
    output_format: TableOrJsonOption = "table",
) -> None:
    """Fine-tune a student on a dataset version; every epoch is scored on the test split.

    Example: databuild train --version v1 --model ./flan-t5-base --epochs 10 --select-last 3

    Example: databuild train --model smollm2-135m --lora --prompt short --train-limit 300 --epochs 3
    """
    with user_errors():
        check_choice("--format", output_format, FORMATS_TABLE_JSON)
        from databuild.store import open_store
        from train.trainer import resume as resume_run
        from train.trainer import train as train_run

        opened = open_store(store_path(store))
        if resume is not None:
            result = resume_run(opened, resume, version=version, recorded_store=store is None)
        else:
            result = train_run(opened, _train_options(opened, ctx.params), output)
        if result is None:
            return
        if output_format == "json":
            print_json(result)
            return
        _print_table(result)


def _train_options(opened: Any, params: dict[str, Any]) -> Any:
    """The run's options from the command's parameters; `--model` is required, the version defaults to the newest."""
    from databuild.errors import DatabuildError
    from train.trainer import TrainOptions

    if params["model"] is None:
        raise DatabuildError("--model is required (a model directory or a cached Hugging Face id)")
    return options_from(TrainOptions, params, version=params["version"] or opened.resolve(None))


def _print_table(result: dict) -> None:
    from rich import box
    from rich.table import Table

    from databuild.cli.common import stdout_console
    from databuild.display import rich_text

    # short headers on a light box: the table fits 80 columns (loss: train loss; tok/s: train tokens per second;
    # train s / gen s: seconds training / generating; chosen: the selected epoch)
    table = Table(title=rich_text(f"{result['run_dir']} ({result['version']})"), box=box.SIMPLE_HEAD)
    for column in ("epoch", "loss", "overall", "invalid", "train s", "tok/s", "gen s", "chosen"):
        table.add_column(column, justify="right", no_wrap=True)
    for entry in result["epochs"]:
        overall = entry.get("overall")
        table.add_row(
            str(entry["epoch"]),
            f"{entry['train_loss']:.4f}",
            "n/a" if overall is None else f"{overall:.4f}",
            str(entry.get("invalid_outputs", "n/a")),
            f"{entry.get('train_seconds', 0):.1f}",
            f"{entry.get('train_tokens_per_second') or 0:.0f}",
            f"{entry.get('generation_seconds', 0):.1f}",
            "*" if entry["epoch"] == result["selected_epoch"] else "",
        )
    stdout_console().print(table)
